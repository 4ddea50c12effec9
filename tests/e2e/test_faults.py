"""Faults of the running stack, on one stack for the module (store: PostgreSQL behind a
FlakyProxy, so the test can take the database away):

- the action server is killed mid-conversation: the customer gets an apology in their language;
  after a restart the conversation goes on and is recorded once;
- the database is down for 30 s during a load of concurrent customers: replies keep coming, the
  spool keeps every record, and after recovery every conversation is stored exactly once;
- SIGTERM to the action server and to the Rasa server while a request is in flight (held in a
  database lock the test owns): the request completes, the process exits 0, the record is kept;
  and to the action server while records wait in its write-behind queue: they are stored first.

Each test ends with the store exact: one conversation row per conversation, none lost.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text

from bench.common import (
    FIXED_NOW,
    SECRET,
    booking_nl,
    lost_and_duplicated,
    records_written,
    run_load,
    stored_conversations,
)
from bot.action_fallback import APOLOGY
from bot.runtime import start_stack, wait_until_up
from core.engagement import contact_key
from core.settings import REPO_ROOT
from core.store.models import Appointment, Conversation, Lead
from dealer.config import get_dealer
from tests.conftest import pg_schema
from tests.e2e.conftest import say, texts
from tests.e2e.faults import blocked_by, exit_code, wait_for
from tests.e2e.proxy import FlakyProxy

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
OUTAGE_S = 30  # the requirement itself: the database is away this long


class FaultStack:
    """The stack, its environment (to restart a process as it was) and the direct store."""

    def __init__(self, stack, env, log_dir, store, proxy) -> None:  # noqa: ANN001
        self.stack, self.env, self.log_dir, self.store, self.proxy = (
            stack, env, log_dir, store, proxy)  # fmt: skip

    @property
    def actions(self) -> subprocess.Popen:
        return self.stack.processes[0]

    @property
    def rasa(self) -> subprocess.Popen:
        return self.stack.processes[1]

    @property
    def spool(self):  # noqa: ANN201
        return self.log_dir / "spool" / "records.jsonl"

    def restart_actions(self) -> None:
        """Start the action server again with the same command, port and environment."""
        old = self.actions
        assert old.poll() is not None, "the action server is still running"
        log = open(self.log_dir / "actions-restarted.log", "ab")  # noqa: SIM115
        new = subprocess.Popen(old.args, cwd=REPO_ROOT, env=self.env, stdout=log, stderr=log)
        self.stack.processes[0] = new
        wait_until_up(f"http://127.0.0.1:{self.stack.action_port}/health", new, 120)


@pytest.fixture(scope="module")
def faults(model, pg_url, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("faults")
    proxy = FlakyProxy(("127.0.0.1", 5432))
    with pg_schema(pg_url, port=proxy.port) as (url, store):
        env = {
            "DEALERBOT_DATABASE_URL": url,
            "DEALERBOT_FIXED_NOW": FIXED_NOW,
            "DEALERBOT_VAR_DIR": str(log_dir),
            "DEALERBOT_CUSTOMER_CHANNELS": "web,whatsapp,rest",
            "DEALERBOT_CONTACT_KEY_SECRET": SECRET,
            "RASA_TELEMETRY_ENABLED": "false",
        }
        stack = start_stack(model, env=env, log_dir=log_dir)
        try:
            yield FaultStack(stack, {**os.environ, **env}, log_dir, store, proxy)
        finally:
            stack.stop()
            proxy.close()


def rows_for(faults: FaultStack, *senders: str) -> dict[str, int]:
    return stored_conversations(faults.store, list(senders))


def talk(faults: FaultStack, sender: str, messages: list[str]) -> list[str]:
    return [texts(say(faults.stack, sender, m)) for m in messages]


def test_action_server_killed_mid_conversation(faults):
    dealer = get_dealer("autohuis-demo")
    script = booking_nl(900)  # a booking at a slot no other test uses
    talk(faults, "fault-kill-nl", script[:2])  # "hoi", "ik wil een apk inplannen"
    talk(faults, "fault-kill-en", ["hello", "where are you located?"])

    faults.actions.send_signal(signal.SIGKILL)
    faults.actions.wait(timeout=60)
    during_nl = texts(say(faults.stack, "fault-kill-nl", script[2]))  # the plate
    during_en = texts(say(faults.stack, "fault-kill-en", "what are your opening hours?"))
    assert during_nl.count(APOLOGY["nl"].format(phone=dealer.phone)) == 1, during_nl
    assert during_en.count(APOLOGY["en"].format(phone=dealer.phone)) == 1, during_en

    faults.restart_actions()
    after = talk(faults, "fault-kill-nl", script[2:])  # the plate again, then the rest
    assert all(reply.strip() for reply in after)
    assert "Sorry, er gaat" not in "\n".join(after)
    talk(faults, "fault-kill-en", ["thanks, bye"])
    assert records_written(faults.log_dir)  # written just after the replies

    assert rows_for(faults, "fault-kill-nl", "fault-kill-en") == {
        "fault-kill-nl": 1,
        "fault-kill-en": 1,
    }
    with faults.store() as session:
        booked = session.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(Appointment.sender_id == "fault-kill-nl")
        )
        outcome = session.scalar(
            select(Conversation.outcome).where(
                Conversation.contact_key == contact_key(SECRET, "rest", "fault-kill-nl")
            )
        )
    assert (booked, outcome) == (1, "appointment_booked")


def test_database_down_for_30_seconds_during_load(faults):
    state: dict = {}

    def load() -> None:
        state["result"] = asyncio.run(
            run_load(faults.stack.rest_webhook, 3, duration_s=OUTAGE_S + 25, prefix="fault-db",
                     first_number=1000)
        )  # fmt: skip

    before = rows_count(faults)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(load)
        # the outage starts once the load is writing to the store
        wait_for(lambda: rows_count(faults) > before or running.done(), "a record of the load")
        faults.proxy.down()
        try:
            time.sleep(OUTAGE_S)
            spooled = len(faults.spool.read_text().splitlines()) if faults.spool.exists() else 0
        finally:
            faults.proxy.up()
        running.result(timeout=600)
    result = state["result"]
    assert result.failures == [] and result.empty_replies == 0
    # every customer message is recorded: the spool grew while customers kept getting replies
    # (each customer waits for the reply before sending the next message)
    assert spooled >= 3, f"{spooled} records spooled during the outage"
    # the next write after recovery replays the spool first; the load ran on after the outage
    assert records_written(faults.log_dir)
    assert faults.spool.read_text() == ""
    assert not faults.spool.with_suffix(".bad").exists()
    assert lost_and_duplicated(faults.store, result.senders) == (0, 0)
    assert len(result.senders) >= 3


def rows_count(faults: FaultStack) -> int:
    with faults.store() as session:
        return session.scalar(select(func.count()).select_from(Conversation))


# The handoff action stores a lead before it answers: with the leads table locked, the request
# stays in flight in the action server (and in the Rasa server, which waits for it).
HANDOFF = "I would like to speak to a real person please"


def hold_table(faults: FaultStack, table: str):  # noqa: ANN201
    """The test's transaction holding ACCESS EXCLUSIVE on ``table``, and its backend pid."""
    holder = faults.store.kw["bind"].connect()
    holder.begin()
    holder.execute(text(f"lock table {table} in access exclusive mode"))
    return holder, holder.execute(text("select pg_backend_pid()")).scalar()


def waiting_for(faults: FaultStack, holder_pid: int) -> None:
    with faults.store.kw["bind"].connect() as admin:
        wait_for(lambda: blocked_by(admin, holder_pid), "a statement to wait for the lock")


def in_flight(faults: FaultStack, sender: str, message: str):  # noqa: ANN201
    """Send ``message`` while the leads table is locked; return (pool, future, holder) once the
    action server's write waits for the lock."""
    holder, holder_pid = hold_table(faults, "leads")
    pool = ThreadPoolExecutor(1)
    try:
        reply = pool.submit(say, faults.stack, sender, message)
        waiting_for(faults, holder_pid)
        assert not reply.done(), reply.result()
    except BaseException:
        holder.close()
        raise
    return pool, reply, holder


def port_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def leads_of(faults: FaultStack, sender: str) -> int:
    with faults.store() as session:
        return session.scalar(
            select(func.count()).select_from(Lead).where(Lead.sender_id == sender)
        )


def test_sigterm_action_server_with_a_request_in_flight(faults):
    if faults.actions.poll() is not None:
        faults.restart_actions()
    say(faults.stack, "fault-term-actions", "hallo")
    pool, reply, holder = in_flight(faults, "fault-term-actions", HANDOFF)
    faults.actions.send_signal(signal.SIGTERM)
    holder.rollback()
    holder.close()
    assert "colleague" in texts(reply.result(timeout=120))  # the customer got the answer
    pool.shutdown()
    assert exit_code(faults.actions) == 0  # one SIGTERM: a second one would cut the exit short
    assert rows_for(faults, "fault-term-actions") == {"fault-term-actions": 1}
    assert leads_of(faults, "fault-term-actions") == 1
    faults.restart_actions()


def test_sigterm_action_server_with_records_still_queued(faults):
    """The reply does not wait for the record (core.store.write_behind); a SIGTERM before
    the record is stored waits for it, and the process then exits 0."""
    if faults.actions.poll() is not None:
        faults.restart_actions()
    holder, holder_pid = hold_table(faults, "conversations")
    try:
        assert texts(say(faults.stack, "fault-term-queued", "hoi")).strip()  # answered at once
        waiting_for(faults, holder_pid)  # the record waits for the lock
        faults.actions.send_signal(signal.SIGTERM)
    finally:
        holder.rollback()
        holder.close()
    assert exit_code(faults.actions) == 0  # one SIGTERM: a second one would cut the exit short
    assert rows_for(faults, "fault-term-queued") == {"fault-term-queued": 1}
    assert list(faults.log_dir.glob("spool/pending-*.jsonl")) == []  # the journal is closed
    faults.restart_actions()


def test_sigterm_rasa_server_with_a_request_in_flight(faults):
    say(faults.stack, "fault-term-rasa", "hallo")
    pool, reply, holder = in_flight(faults, "fault-term-rasa", HANDOFF)
    faults.rasa.send_signal(signal.SIGTERM)
    try:  # the Rasa server stops listening first, then waits for the request under way
        wait_for(lambda: port_closed(faults.stack.rasa_port), "the Rasa server to stop listening")
    finally:
        holder.rollback()
        holder.close()
    assert "colleague" in texts(reply.result(timeout=120))
    pool.shutdown()
    assert exit_code(faults.rasa) == 0
    assert rows_for(faults, "fault-term-rasa") == {"fault-term-rasa": 1}
    assert leads_of(faults, "fault-term-rasa") == 1
    assert records_written(faults.log_dir)
    assert faults.spool.read_text() == ""
