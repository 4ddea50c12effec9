"""The dashboard's client of Rasa's HTTP API (``rasa run --enable-api --auth-token``, loopback):
pause and resume a conversation, send a staff message, read the conversation.

Why Rasa's API for the staff message: ``POST /conversations/{id}/tracker/events`` with a
``BotUttered`` event, ``output_channel=latest`` and ``execute_side_effects=true`` records the
message in the conversation (under the conversation's lock, with ``metadata.staff`` naming who
wrote it) and sends it through the output channel of the channel the customer last used: the
widget's socket room, the WhatsApp Cloud or Twilio send API (our channels' ``get_output_channel``
already serve Rasa's trigger API). One call, no second path into the socket server, and the
transcript and the customer see the same message. ``ConversationPaused`` / ``ConversationResumed``
(``pause`` / ``resume``) are appended the same way: while paused Rasa records the customer's
messages and predicts nothing, so the bot is silent.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import aiohttp

log = logging.getLogger(__name__)
TIMEOUT = aiohttp.ClientTimeout(total=15)
SENDER_SAFE = ":/+@-_.~"  # besides letters and digits: the characters our sender ids use
# Rasa's events that end an active form (``ActiveLoop(None)`` and no requested slot).
END_FORM = ({"event": "active_loop", "name": None},
            {"event": "slot", "name": "requested_slot", "value": None})  # fmt: skip


class RasaAPIError(RuntimeError):
    """Rasa's API refused or did not answer."""


class RasaAPI:
    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token

    def _url(self, sender_id: str, path: str) -> str:
        """Rasa's route takes the id as a raw path (``<conversation_id:path>``; Sanic does not
        decode ``%2F`` or ``%2B`` there), so ids go in as they are: a widget session id, or
        ``whatsapp:+316.../dealer``. An id that would need escaping is refused, never sent
        to another conversation."""
        if not sender_id or quote(sender_id, safe=SENDER_SAFE) != sender_id:
            raise RasaAPIError("this conversation id cannot be addressed through Rasa's API")
        return f"{self.base_url}/conversations/{sender_id}/{path}"

    async def _request(self, method: str, url: str, *, params: dict | None = None,
                       json: Any = None) -> Any:  # fmt: skip
        params = {**(params or {}), **({"token": self.token} if self.token else {})}
        try:
            async with (
                aiohttp.ClientSession(timeout=TIMEOUT) as session,
                session.request(method, url, params=params, json=json) as response,
            ):
                if response.status >= 400:
                    # Rasa's error bodies may repeat the events: log the status only.
                    raise RasaAPIError(f"Rasa's API answered {response.status}")
                return await response.json()
        except aiohttp.ClientError as exc:
            raise RasaAPIError(f"Rasa's API is unreachable: {type(exc).__name__}") from exc

    async def append(self, sender_id: str, events: list[dict], *, deliver: bool = False) -> dict:
        """Append ``events``; with ``deliver`` send their bot messages to the customer's channel."""
        params = {"output_channel": "latest", "execute_side_effects": "true"} if deliver else {}
        return await self._request("POST", self._url(sender_id, "tracker/events"),
                                   params=params, json=events)  # fmt: skip

    async def pause(self, sender_id: str) -> None:
        """Silence the bot. A form it was asking (e.g. the contact details after a handoff)
        ends too: the person takes it from there, and after the hand-back the bot does not
        read the customer's next message as the answer to a question asked before."""
        await self.append(sender_id, [{"event": "pause"}, *END_FORM])

    async def resume(self, sender_id: str) -> None:
        await self.append(sender_id, [{"event": "resume"}])

    async def say(self, sender_id: str, text: str, staff: str | None) -> None:
        """Send ``text`` to the customer in their channel; ``staff`` names the writer in the
        record (None: a message of the system, e.g. the automatic hand-back)."""
        metadata = {"staff": staff} if staff else {"system": "takeover"}
        await self.append(sender_id, [{"event": "bot", "text": text, "metadata": metadata}],
                          deliver=True)  # fmt: skip

    async def tracker(self, sender_id: str) -> dict:
        """The conversation's current session (``paused``, ``latest_input_channel``, events)."""
        return await self._request("GET", self._url(sender_id, "tracker"),
                                   params={"include_events": "AFTER_RESTART"})  # fmt: skip
