"""Fake provider APIs on loopback ports that capture what the bot sends: the Graph API
``messages`` call (WhatsApp Cloud API) and Twilio's Messages REST endpoint."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web


@dataclass
class Captured:
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the form as {key: value}
    status: int  # what the fake answered


@dataclass
class FakeServer:
    """An aiohttp server in its own thread. ``fail_next`` holds statuses for the next POSTs
    (e.g. [500, 500]: two failures, then success)."""

    requests: list[Captured] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake server did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if request.content_type == "application/json":
            body = json.loads(raw)
        else:
            body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        with self._lock:
            status = self.fail_next.pop(0) if self.fail_next else self.ok_status
            self.requests.append(Captured(request.path, dict(request.headers), body, status))
            number = next(self._ids)
        if status >= 300:
            return web.json_response({"error": {"message": "fake failure"}}, status=status)
        return web.json_response(self.ok_body(number, body), status=status)

    ok_status = 200

    def ok_body(self, number: int, body: Any) -> dict:
        return {}

    def delivered(self) -> list[Captured]:
        with self._lock:
            return [r for r in self.requests if r.status < 300]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.fail_next.clear()

    def stop(self) -> None:
        async def shutdown() -> None:
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


class FakeGraph(FakeServer):
    """``POST /<version>/<phone-number-id>/messages`` as the Graph API answers it."""

    def ok_body(self, number: int, body: Any) -> dict:
        return {
            "messaging_product": "whatsapp",
            "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
            "messages": [{"id": f"wamid.out.{number}"}],
        }

    def sent_to(self, wa_id: str) -> list[dict]:
        """The message bodies delivered to one customer, in order."""
        return [r.body for r in self.delivered() if r.body.get("to") == wa_id]


class FakeTwilio(FakeServer):
    """``POST /2010-04-01/Accounts/<sid>/Messages.json``, answered 201 like Twilio."""

    ok_status = 201

    def ok_body(self, number: int, body: Any) -> dict:
        return {"sid": f"SM{number:032d}", "status": "queued", "to": body.get("To")}

    def sent_to(self, to: str) -> list[dict]:
        return [r.body for r in self.delivered() if r.body.get("To") == to]


# --- webhook bodies in each provider's documented format -----------------------------------------


def cloud_webhook(phone_number_id: str, display_number: str, *, messages=(), statuses=()) -> dict:
    """A WhatsApp Cloud API webhook body (``object: whatsapp_business_account``)."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display_number, "phone_number_id": phone_number_id},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": "Klant"}, "wa_id": messages[0]["from"]}]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }


def cloud_message(wa_id: str, message_id: str, timestamp: int, kind: str, **content) -> dict:
    """One entry of ``messages``: kind text / interactive / location / image / ..."""
    return {"from": wa_id, "id": message_id, "timestamp": str(timestamp), "type": kind, **content}


def cloud_text(wa_id: str, message_id: str, timestamp: int, body: str) -> dict:
    return cloud_message(wa_id, message_id, timestamp, "text", text={"body": body})


def cloud_reply(wa_id: str, message_id: str, timestamp: int, sent: dict, title: str) -> dict:
    """The customer taps the option titled ``title`` of an interactive message we ``sent``."""
    interactive = sent["interactive"]
    if interactive["type"] == "button":
        options = [b["reply"] for b in interactive["action"]["buttons"]]
        kind = "button_reply"
    else:
        options = [row for s in interactive["action"]["sections"] for row in s["rows"]]
        kind = "list_reply"
    chosen = next(o for o in options if o["title"] == title)
    reply = {"id": chosen["id"], "title": chosen["title"]}
    return cloud_message(wa_id, message_id, timestamp, "interactive",
                         interactive={"type": kind, kind: reply})  # fmt: skip


def cloud_status(message_id: str, wa_id: str, status: str, timestamp: int) -> dict:
    return {"id": message_id, "status": status, "timestamp": str(timestamp),
            "recipient_id": wa_id}  # fmt: skip


def twilio_form(
    account_sid: str, sid: str, customer: str, to: str, body: str = "", **extra
) -> dict:
    """A Twilio incoming WhatsApp message webhook's form parameters."""
    return {"SmsMessageSid": sid, "NumMedia": "0", "ProfileName": "Klant", "SmsSid": sid,
            "WaId": customer.lstrip("+"), "SmsStatus": "received", "Body": body,
            "To": f"whatsapp:{to}", "NumSegments": "1", "MessageSid": sid,
            "AccountSid": account_sid, "From": f"whatsapp:{customer}", "ApiVersion": "2010-04-01",
            **extra}  # fmt: skip


def twilio_signature(auth_token: str, url: str, params: dict) -> str:
    """Twilio's documented signature: HMAC-SHA1 of the URL + sorted name/value pairs, base64."""
    import base64
    import hashlib
    import hmac

    data = url + "".join(f"{k}{params[k]}" for k in sorted(params))
    return base64.b64encode(
        hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    ).decode()


def meta_signature(app_secret: str, body: bytes) -> str:
    import hashlib
    import hmac

    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
