"""Scale-out: two Rasa replicas, each with its own action server, share the SQL tracker store
and the store on PostgreSQL and a Redis lock store (bot.runtime.start_replicas,
docs/deployment.md).

In front of them: Debian's nginx with the shipped site config (deploy/nginx/dealerbot.conf),
which publishes the widget's files and socket, the WhatsApp webhooks and the dashboard, and
refuses the REST webhook; and, for the conversation tests over REST, the test-only round-robin
proxy (tests/e2e/roundrobin.py), so that a conversation's messages really alternate between the
replicas. Such a conversation keeps its state and is recorded and counted once."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
import pytest
import redis
from sqlalchemy import select, text

from bench.common import (
    SCRIPTS,
    SECRET,
    booking_en,
    booking_nl,
    conversation_script,
    records_written,
    run_load,
    server_errors,
    stored_conversations,
)
from bot.runtime import free_port
from core.engagement import contact_key
from core.settings import rest_client_headers
from core.store.models import Appointment, Conversation, MetricSummary
from metrics.aggregate import rebuild_period
from tests.conftest import REDIS_URL
from tests.e2e.conftest import REPLICA_REDIS_DB, replica_cluster, texts
from tests.e2e.nginx import UPSTREAM_HEADER as NGINX_UPSTREAM
from tests.e2e.nginx import Nginx, nginx_binary
from tests.e2e.roundrobin import UPSTREAM_HEADER, ProxyServer

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

DEALER = "autohuis-demo"
PARALLEL_CUSTOMERS = 6
VERIFY_TOKEN = "scale-out-verify"
SITE = "http://shop.test"  # the dealer site the widget's socket comes from


class Dashboard:
    """Stands in for the dashboard behind nginx: answers every GET with the headers it got."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                body = json.dumps({"path": self.path, **dict(self.headers)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def cluster(model, pg_url, redis_url, tmp_path_factory):
    env = {
        "DEALERBOT_CONTACT_KEY_SECRET": SECRET,
        "DEALERBOT_WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "DEALERBOT_WEB_ORIGINS": f"{DEALER}={SITE}",
    }
    work = tmp_path_factory.mktemp("scale-out")
    with replica_cluster(model, pg_url, redis_url, work, env) as running:
        running.nginx = running.dashboard = running.proxy = None
        try:
            running.proxy = ProxyServer(running.rasa_urls).start()
            running.rest_webhook = f"{running.proxy.url}/webhooks/rest/webhook"
            if nginx_binary():
                running.dashboard = Dashboard()
                running.nginx = Nginx(work / "nginx", running.rasa_urls, [running.dashboard.url])
                running.nginx.start()
            yield running
        finally:
            for part in (running.nginx, running.dashboard, running.proxy):
                if part is not None:
                    part.stop()


@pytest.fixture(scope="module")
def edge(cluster) -> Nginx:
    if cluster.nginx is None:
        pytest.skip("nginx is not installed (scripts/setup.sh installs it as root; "
                    "apt-get install nginx): the shipped proxy config is not tested")  # fmt: skip
    return cluster.nginx


def fetch(url: str, method: str = "GET", body: bytes | None = None,
          headers: dict | None = None) -> tuple[int, bytes, str]:  # fmt: skip
    """(status, body, the upstream nginx sent it to: "" when nginx answered itself)."""
    request = urllib.request.Request(url, body, headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read(), response.headers.get(NGINX_UPSTREAM, "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get(NGINX_UPSTREAM, "")


def replica_addresses(cluster) -> set[str]:
    return {url.split("://", 1)[1] for url in cluster.rasa_urls}


def test_nginx_does_not_publish_the_rest_webhook_or_rasas_api(cluster, edge):
    body = json.dumps({"sender": "whatsapp:+31612345678/autohuis-demo", "message": "ja"}).encode()
    headers = {"Content-Type": "application/json"}
    assert fetch(f"{edge.chat_url}/webhooks/rest/webhook", "POST", body, headers)[::2] == (404, "")
    for path in ("/webhooks/rest/", "/", "/status", "/conversations/x/tracker", "/model"):
        assert fetch(edge.chat_url + path)[::2] == (404, ""), path
    # the same request straight to a replica is answered: nginx is what keeps it out
    assert fetch(f"{cluster.rasa_urls[0]}/webhooks/rest/")[0] == 200


def test_nginx_passes_the_whatsapp_webhooks_to_the_replicas_in_turn(cluster, edge):
    query = f"hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=4711"
    answers = [fetch(f"{edge.chat_url}/webhooks/whatsapp_cloud/webhook?{query}") for _ in range(2)]
    assert [(status, body) for status, body, _ in answers] == [(200, b"4711")] * 2
    assert {upstream for *_, upstream in answers} == replica_addresses(cluster)
    # Twilio's webhook reaches Rasa too, which refuses it: no signature (and no credentials)
    status, _body, upstream = fetch(
        f"{edge.chat_url}/webhooks/twilio_whatsapp/webhook", "POST", b"Body=hallo",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert status == 403 and upstream in replica_addresses(cluster)


def test_nginx_serves_the_widget_files_itself(cluster, edge):
    static = Path(__file__).resolve().parents[2] / "bot" / "web" / "static"
    for name in ("widget.js", "widget.css", "socket.io.min.js"):
        status, body, upstream = fetch(f"{edge.chat_url}/static/{name}")
        assert (status, body, upstream) == (200, (static / name).read_bytes(), ""), name
    status, body, upstream = fetch(
        f"{edge.chat_url}/webhooks/socketio/widget/{DEALER}", headers={"Origin": SITE}
    )
    assert status == 200 and json.loads(body)["name"] and upstream in replica_addresses(cluster)


def test_the_widget_socket_goes_through_nginx_and_sticks_to_one_replica(cluster, edge):
    handshake = f"{edge.chat_url}/socket.io/?EIO=4&transport=polling"
    answers = [fetch(handshake, headers={"Origin": SITE}) for _ in range(3)]
    assert all(status == 200 and b'"sid"' in body for status, body, _ in answers), answers
    [upstream] = {upstream for *_, upstream in answers}  # ip_hash: always the same replica
    assert upstream in replica_addresses(cluster)
    assert fetch(handshake, headers={"Origin": "https://evil.test"})[0] == 400  # Origin passed on

    async def open_websocket() -> str:
        url = f"{edge.chat_url}/socket.io/?EIO=4&transport=websocket"
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(url, origin=SITE, timeout=30) as ws,
        ):
            message = await ws.receive(timeout=30)
            return message.data

    opened = asyncio.run(open_websocket())  # engine.io's open packet over the upgraded socket
    assert opened.startswith("0{") and '"sid"' in opened, opened


def test_nginx_sends_the_dashboard_host_to_the_dashboard(edge):
    status, body, upstream = fetch(f"{edge.dashboard_url}/login")
    got = json.loads(body)
    assert (status, got["path"], got["X-Forwarded-Proto"]) == (200, "/login", "http")
    assert upstream  # proxied
    # and the chat host does not publish it
    assert fetch(f"{edge.chat_url}/d/{DEALER}")[::2] == (404, "")


def post(url: str, sender: str, message: str) -> tuple[list[dict], str]:
    """One message; the replies and the upstream that answered (the proxy's header)."""
    body = json.dumps({"sender": sender, "message": message}).encode()
    request = urllib.request.Request(url, body, rest_client_headers())
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read()), response.headers.get(UPSTREAM_HEADER, url)


def number(sender: str) -> int:
    """The conversation number in a load sender id (``prefix-cNN-NNNNNN``)."""
    return int(sender.rsplit("-", 1)[1])


def rows_for(cluster, sender: str) -> list[Conversation]:
    assert records_written(cluster.work)  # written just after the replies, by both servers
    with cluster.store() as session:
        key = contact_key(SECRET, "rest", sender)
        return list(session.scalars(select(Conversation).where(Conversation.contact_key == key)))


def tracker_events(cluster, sender: str) -> dict[str, int]:
    """Rasa's events for the sender in the shared SQL tracker store, counted by type."""
    with cluster.tracker.connect() as conn:
        rows = conn.execute(
            text("select type_name, count(*) from events where sender_id = :s group by type_name"),
            {"s": sender},
        )
        return dict(rows.all())


@pytest.fixture(scope="module")
def booked(cluster):
    """The Dutch booking script through the proxy, then the weekly rollup of its week (before
    any other conversation of this module, so the week holds this one only)."""
    sender = "scale-booking-nl"
    script = booking_nl(0)
    turns = [(message, *post(cluster.rest_webhook, sender, message)) for message in script]
    rows = rows_for(cluster, sender)
    summary = None
    if len(rows) == 1:
        rebuild_period(cluster.store, rows[0].week_key)  # counts what the servers recorded
        with cluster.store() as session:
            summary = session.scalars(
                select(MetricSummary).where(
                    MetricSummary.dealer_id == DEALER,
                    MetricSummary.period_kind == "week",
                    MetricSummary.period_key == rows[0].week_key,
                    MetricSummary.dimension == "all",
                )
            ).one_or_none()
    return sender, script, turns, rows, summary


def test_the_messages_alternated_between_the_replicas(cluster, booked):
    _sender, script, turns, _rows, _summary = booked
    upstreams = [upstream for _message, _replies, upstream in turns]
    assert set(upstreams) == {stack.rasa_url for stack in cluster.stacks}
    assert all(a != b for a, b in zip(upstreams, upstreams[1:], strict=False)), upstreams
    assert len(upstreams) == len(script)


def test_the_form_keeps_its_state_across_replicas(booked):
    _sender, script, turns, _rows, _summary = booked
    by_message = {message: (texts(replies), upstream) for message, replies, upstream in turns}
    summary, summary_upstream = by_message[script[6]]  # the phone number: the form is complete
    # mileage and name were given on the other replica; the plate and the time on this one
    assert by_message[script[3]][1] != summary_upstream != by_message[script[5]][1]
    assert "Klopt dat?" in summary
    for value in ("85.000", script[5], script[2].upper(), "dinsdag 24 november om 08:00"):
        assert value in summary, (value, summary)
    confirmed, confirm_upstream = by_message[script[7]]
    assert "Gelukt" in confirmed and confirm_upstream != summary_upstream


def test_the_conversation_is_recorded_once(cluster, booked):
    sender, script, _turns, rows, _summary = booked
    assert len(rows) == 1
    row = rows[0]
    assert (row.customer_messages, row.outcome, row.qualifies) == (
        len(script),
        "appointment_booked",
        True,
    )
    with cluster.store() as session:
        appointments = session.scalars(select(Appointment).where(Appointment.sender_id == sender))
        [appointment] = appointments.all()
    assert (appointment.plate, appointment.mileage_km, appointment.customer_name) == (
        script[2].upper(),
        85000,
        script[5],
    )
    assert appointment.conversation_id == row.id
    # Rasa's own record: every message stored once, whichever replica handled it
    assert tracker_events(cluster, sender)["user"] == len(script)


def test_the_weekly_rollup_counts_it_once(booked):
    _sender, _script, _turns, rows, summary = booked
    assert summary is not None, f"no week summary row for {rows[0].week_key if rows else '?'}"
    counted = (summary.conversations, summary.qualifying, summary.mec)
    assert counted == (1, 1, 1)
    assert (summary.appointments_booked, summary.bot_appointments) == (1, 1)


def test_simultaneous_messages_of_one_conversation_wait_for_each_other(cluster, booked):
    """Four messages of one conversation at once, two straight to each replica: the Redis lock
    store makes them take turns, so the shared tracker keeps all four. (Two replicas that
    process one conversation at once would each save their own copy of the tracker.)"""
    sender = "scale-simultaneous"
    messages = ["wat kost de golf?", "hebben jullie elektrische auto's?", "waar zitten jullie?",
                "wat zijn jullie openingstijden op zaterdag?"]  # fmt: skip
    webhooks = [stack.rest_webhook for stack in cluster.stacks] * 2
    locks_seen: set[bytes] = set()
    done = threading.Event()
    red = redis.Redis.from_url(f"{REDIS_URL}/{REPLICA_REDIS_DB}")

    def watch_locks() -> None:
        while not done.is_set():
            locks_seen.update(red.scan_iter(match=f"{cluster.lock_prefix}:*"))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch_locks)
    watcher.start()
    try:
        with ThreadPoolExecutor(len(messages)) as pool:
            replies = list(pool.map(lambda wm: post(wm[0], sender, wm[1])[0],
                                    zip(webhooks, messages, strict=True)))  # fmt: skip
    finally:
        done.set()
        watcher.join()
    assert all(replies), replies
    assert any(sender.encode() in key for key in locks_seen), locks_seen
    assert tracker_events(cluster, sender)["user"] == len(messages)
    [row] = rows_for(cluster, sender)
    assert row.customer_messages == len(messages)


def test_parallel_conversations_through_the_proxy_are_each_recorded_once(cluster, booked):
    before = cluster.proxy.counts
    load = asyncio.run(
        run_load(
            cluster.rest_webhook,
            PARALLEL_CUSTOMERS,
            conversations_each=1,
            prefix="scale-parallel",
            first_number=1,  # conversation 0 is the booking above
        )
    )
    assert load.failures == []
    assert len(load.senders) == PARALLEL_CUSTOMERS
    after = cluster.proxy.counts
    assert all(after[url] > before[url] for url in after), (before, after)
    stored = stored_conversations(cluster.store, load.senders)
    assert stored == dict.fromkeys(load.senders, 1)
    for sender in load.senders:
        events = tracker_events(cluster, sender)
        assert events["user"] == len(conversation_script(number(sender))), sender
    bookings = [
        s for s in load.senders if SCRIPTS[number(s) % len(SCRIPTS)] in (booking_nl, booking_en)
    ]
    with cluster.store() as session:
        booked_senders = session.scalars(
            select(Appointment.sender_id).where(Appointment.sender_id.in_(load.senders))
        ).all()
    assert sorted(booked_senders) == sorted(bookings)


def test_no_server_logged_an_error(cluster, booked):
    assert server_errors(cluster.work) == []
