"""The running stack's security defaults (issue 15), through the real servers: the REST channel
wants its bearer token and never speaks for a WhatsApp customer, every server listens on
loopback, Sanic refuses big bodies before our code, and the files in var/ are owner-only."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot.runtime import (
    ACTION_REQUEST_MAX_BYTES,
    RASA_REQUEST_MAX_BYTES,
    free_port,
    start_stack,
    wait_until_up,
)
from core.whatsapp import sender_id
from tests.conftest import FIXED_NOW, REPO

TOKEN = "e2e-rest-token-5b1c9e"


@pytest.fixture(scope="module")
def secured(model, tmp_path_factory):
    """A stack with DEALERBOT_REST_TOKEN set, its var/ in a temporary folder, the store created by
    `dealerbot db upgrade` and the tracker store a SQLite file the Rasa server creates."""
    var = tmp_path_factory.mktemp("secured") / "var"
    env = {
        "DEALERBOT_VAR_DIR": str(var),
        "DEALERBOT_DATABASE_URL": f"sqlite:///{var / 'dealerbot.sqlite3'}",
        "DEALERBOT_FIXED_NOW": FIXED_NOW,
        "DEALERBOT_REST_TOKEN": TOKEN,
        "DEALERBOT_TEST_SENDERS": "test-,__readiness__",
    }
    upgraded = subprocess.run([sys.executable, "-m", "cli.main", "db", "upgrade"], cwd=REPO,
                              env={**os.environ, **env}, capture_output=True, text=True)  # fmt: skip
    assert upgraded.returncode == 0, upgraded.stderr
    running = start_stack(
        model,
        env=env,
        tracker_db_url=f"sqlite:///{var / 'tracker.sqlite3'}",
        log_dir=var / "logs",
        with_scheduler=True,
        web_port=free_port(),
    )
    running.var_dir = var
    yield running
    running.stop()


def post(url: str, data: bytes, headers: dict[str, str]) -> tuple[int, object]:
    request = urllib.request.Request(url, data, {"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def message(sender: str, text: str) -> bytes:
    return json.dumps({"sender": sender, "message": text}).encode()


# ---- the REST channel -----------------------------------------------------------------------


def test_the_rest_channel_answers_only_with_the_bearer_token(secured):
    webhook = secured.rest_webhook
    assert post(webhook, message("test-sec-1", "hallo"), {}) == (
        401, {"error": "unauthorized", "detail": "send Authorization: Bearer "
              "<DEALERBOT_REST_TOKEN>"})  # fmt: skip
    wrong = post(webhook, message("test-sec-1", "hallo"), {"Authorization": "Bearer nope"})
    assert wrong[0] == 401
    status, replies = post(webhook, message("test-sec-1", "hallo"),
                           {"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
    assert status == 200 and replies and "Autohuis De Vries" in replies[0]["text"]


def test_the_rest_channel_cannot_erase_a_whatsapp_customers_data(secured):
    victim = sender_id("31612345678", "autohuis-demo")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for text in ("verwijder mijn gegevens", "ja"):
        status, body = post(secured.rest_webhook, message(victim, text), auth)
        assert (status, body["error"]) == (403, "sender_not_allowed")
    with urllib.request.urlopen(
        f"{secured.rasa_url}/webhooks/rest/", timeout=30
    ) as health:  # the channel itself is up
        assert health.status == 200
    assert not (secured.var_dir / "tracker.sqlite3").read_bytes().count(victim.encode())


# ---- bind addresses -------------------------------------------------------------------------


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the TCP sockets listening on ``port`` (from /proc/net/tcp{,6})."""
    found = set()
    for table, size in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] == "0A" and int(port_hex, 16) == port and len(address) == size:
                found.add(_address(address))
    return found


def _address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


LOOPBACK = {"127.0.0.1", "::1"}


def test_every_server_of_the_stack_listens_on_loopback_only(secured):
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp on this system: cannot read the bound addresses")
    ports = {"action server": secured.action_port, "rasa": secured.rasa_port}
    ports.update(_served_ports(secured))
    for name, port in ports.items():
        addresses = listening_addresses(port)
        assert addresses, f"nothing listens on the {name}'s port {port}"
        assert addresses <= LOOPBACK, f"the {name} listens on {addresses}"


def _served_ports(stack) -> dict[str, int]:
    """The web page's port, from the command line start_stack ran, once it answers (the Rasa
    server, ``python -m bot.rasa_server``, is checked by its own port)."""
    ports = {}
    for process in stack.processes:
        args = [str(a) for a in process.args]
        if "--port" in args and args[:3] == [sys.executable, "-m", "cli.main"]:
            ports[args[3]] = int(args[args.index("--port") + 1])
    assert set(ports) == {"web"}, ports
    wait_until_up(f"http://127.0.0.1:{ports['web']}/", stack.processes[-1], 120)
    return ports


def own_addresses() -> set[str]:
    """This machine's non-loopback IPv4 addresses: its host name's, and the one it would send
    from (a UDP socket's connect sends nothing)."""
    found = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only the route is looked up
            found.add(probe.getsockname()[0])
        except OSError:
            pass
    return {a for a in found if not a.startswith("127.") and a != "0.0.0.0"}


def test_the_action_server_is_not_reachable_on_the_hosts_own_address(secured):
    others = own_addresses()
    if not others:
        print("SKIP: this machine has no non-loopback IPv4 address to try")
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    for address in others:
        with socket.socket() as sock, pytest.raises(OSError):
            sock.settimeout(5)
            sock.connect((address, secured.action_port))


# ---- request size -----------------------------------------------------------------------------


def head_only(port: int, path: str, length: int) -> tuple[int, bytes]:
    """Announce a body of ``length`` bytes, send 1 KiB of it, and read the answer: a server that
    refuses the size answers at once, before the body (and before any handler)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {TOKEN}\r\nContent-Length: {length}\r\n\r\n".encode()
            + b" " * 1024
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, answer


def test_sanic_refuses_big_bodies_before_our_code(secured):
    status, answer = head_only(secured.rasa_port, "/webhooks/rest/webhook", 2 * 1024 * 1024)
    assert status == 413, answer[:200]
    assert b"body_too_large" not in answer  # Sanic's refusal, not the channel's 64 KiB guard
    status, answer = head_only(secured.action_port, "/webhook", ACTION_REQUEST_MAX_BYTES + 1)
    # rasa-sdk's catch-all error handler turns Sanic's 413 into a 500; the body was not read
    assert status in (413, 500) and b"exceeds the size limit" in answer, answer[:300]
    assert RASA_REQUEST_MAX_BYTES == 1024 * 1024  # the value docs/limits.md gives


# ---- files in var/ ----------------------------------------------------------------------------


def test_the_files_in_var_are_readable_by_their_owner_only(secured):
    files = [p for p in secured.var_dir.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"dealerbot.sqlite3", "tracker.sqlite3"} <= names
    assert any(n.startswith("rasa-") and n.endswith(".log") for n in names)
    assert any(n.startswith("endpoints-") for n in names)
    loose = {str(p.relative_to(secured.var_dir)): oct(stat.S_IMODE(p.stat().st_mode))
             for p in files if stat.S_IMODE(p.stat().st_mode) & 0o077}  # fmt: skip
    assert loose == {}
