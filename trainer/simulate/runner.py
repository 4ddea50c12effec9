"""Run simulated customers against the real stack over the REST webhook and check the store.

The stack is the one the e2e tests run (:func:`bot.runtime.start_stack`) with its own SQLite
store, the simulator's frozen clock and REST counted as a customer channel. A few customers talk
at a time, each in its own thread. When all are done the stack stops, which makes the action
server store every queued record (the write-behind queue drains at exit); then every
conversation is checked against the store: the expected outcome, exactly one expected row, the
survey answers the customer gave.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from core.engagement import BUSINESS_INTENTS, TASK_OUTCOMES, contact_key
from core.settings import get_settings
from core.store.migrate import upgrade
from core.store.models import (
    Appointment,
    Conversation,
    Erasure,
    Lead,
    SurveyAnswer,
    from_utc_naive,
)
from core.store.repositories import AppointmentRequest, book_appointment
from core.store.session import make_engine, make_session_factory
from dealer.config import get_dealer
from dealer.parsing import normalize_plate
from trainer.simulate.customer import Customer, Profile, Transcript, question_of
from trainer.simulate.generate import SIM_NOW, Seed
from trainer.simulate.responses import Catalog

MAX_TURNS = 30  # customer messages; a longer conversation is a loop
IN_SCOPE_EXCLUDED = ("off_topic",)


@dataclass
class Result:
    """One conversation: the transcript and what the store check found."""

    transcript: Transcript
    problems: list[str] = field(default_factory=list)

    @property
    def profile(self) -> Profile:
        return self.transcript.profile

    @property
    def success(self) -> bool:
        return not self.problems


def post_json(url: str, payload: dict, timeout: float = 120) -> Any:
    body = json.dumps(payload).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def converse(
    profile: Profile, send: Callable[[str, str], list[dict]], catalog: Catalog
) -> Transcript:
    """One conversation: the opening, then an answer to each bot turn until the customer stops."""
    customer = Customer(profile)
    message: str | None = customer.opening()
    turns = 0
    while message is not None and turns < MAX_TURNS:
        turns += 1
        started = time.monotonic()
        try:
            raw = send(profile.id, message)
        except (OSError, ValueError) as exc:
            customer.t.error = f"REST call failed: {type(exc).__name__}"
            break
        seconds = time.monotonic() - started
        replies = catalog.replies(raw)
        customer.observe(message, replies)
        question = question_of(replies)[0]
        customer.t.reply_seconds.setdefault(question, []).append(seconds)
        message = customer.respond(replies)
    if message is not None and turns >= MAX_TURNS:
        customer.t.error = f"no end after {MAX_TURNS} messages"
    return customer.t


def seed_appointments(factory: sessionmaker, seeds: dict[str, Seed]) -> None:
    """Book the appointments that move and cancel customers will look for."""
    dealer = get_dealer(None)
    durations = {s.id: s.duration_min for s in dealer.services}
    for pid, seed in seeds.items():
        book_appointment(
            factory,
            dealer,
            AppointmentRequest(
                dealer_id=dealer.id, service_id=seed.service_id, plate=seed.plate,
                starts_at=seed.starts_at, duration_min=durations[seed.service_id],
                customer_name=seed.name, phone=seed.phone, email=seed.email, mileage_km=None,
                language=seed.language, channel="web", sender_id=f"seed-{pid}",
            ),
        )  # fmt: skip


def _local(moment: dt.datetime) -> str:
    tz = get_dealer(None).timezone
    return from_utc_naive(moment).astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def _contact_problems(row: Any, expect: dict) -> list[str]:
    """The name and the phone number or e-mail address a row must carry."""
    problems = []
    if "name" in expect and (row.customer_name or "").lower() != expect["name"].lower():
        problems.append(f"name {row.customer_name!r} is not {expect['name']!r}")
    if "phone" in expect and row.phone != expect["phone"]:
        problems.append(f"phone {row.phone!r} is not {expect['phone']!r}")
    if "email" in expect and (row.email or "").lower() != expect["email"]:
        problems.append(f"e-mail {row.email!r} is not {expect['email']!r}")
    return problems


def check(factory: sessionmaker, t: Transcript, secret: str) -> list[str]:
    """What is wrong with a finished conversation, judged by the store (empty: success)."""
    p, expect = t.profile, t.profile.expect
    problems = []
    if t.error:
        problems.append(t.error)
    if t.dead_end:
        problems.append(f"dead end: {t.dead_end} asked {t.asks[t.dead_end]} times")
    wanted = expect.get("replies")
    if wanted and not set(wanted) & set(t.names):
        problems.append(f"no {' or '.join(wanted)} reply")
    key = contact_key(secret, "rest", p.id)
    with factory() as session:
        conversations = session.scalars(
            select(Conversation).where(Conversation.contact_key == key)
        ).all()
        leads = session.scalars(select(Lead).where(Lead.sender_id == p.id)).all()
        own = session.scalars(select(Appointment).where(Appointment.sender_id == p.id)).all()
        ids = [c.id for c in conversations]
        stored = {
            a.question: a.score if a.score is not None else a.comment
            for a in session.scalars(
                select(SurveyAnswer).where(SurveyAnswer.conversation_id.in_(ids))
            )
        }
        plate = expect.get("appointment", {}).get("plate")
        by_plate = (
            session.scalars(select(Appointment).where(Appointment.plate == plate)).all()
            if plate
            else []
        )
        erasures = session.scalars(select(Erasure).where(Erasure.contact_key == key)).all()

    if p.flow == "erase":
        if len(erasures) != 1:
            problems.append(f"{len(erasures)} erasure rows, expected 1")
        return problems
    if len(conversations) != 1:
        problems.append(f"{len(conversations)} conversation rows, expected 1")
    else:
        row = conversations[0]
        if expect["outcome"] and row.outcome != expect["outcome"]:
            problems.append(f"outcome {row.outcome}, expected {expect['outcome']}")
        if p.flow == "off_topic" and row.qualifies:
            problems.append(f"an off-topic conversation qualifies ({row.qualify_reason})")
        # the qualifying rule: a task outcome qualifies, however few messages it took (a
        # one-message handoff included; docs/metrics.md)
        if row.outcome in TASK_OUTCOMES and not row.qualifies:
            problems.append(f"a conversation with outcome {row.outcome} does not qualify "
                            f"({row.qualify_reason})")  # fmt: skip
    if "appointment" in expect:
        problems += _appointment_problems(p, expect["appointment"], own, by_plate, t)
    elif own:
        problems.append(f"{len(own)} appointments booked, expected none")
    if "lead" in expect:
        problems += _lead_problems(expect["lead"], leads)
    elif leads:
        kinds = ", ".join(lead.kind for lead in leads)
        problems.append(f"{len(leads)} leads ({kinds}), expected none")
    if stored != t.survey_given:
        problems.append(f"survey answers stored {stored}, given {t.survey_given}")
    if p.flow == "survey" and not {"csat", "ces"} <= set(t.survey_given):
        problems.append("the survey was not asked")
    return problems


def _appointment_problems(
    p: Profile, want: dict, own: list, by_plate: list, t: Transcript
) -> list[str]:
    rows = own if p.flow == "book" else by_plate
    if len(rows) != 1:
        return [f"{len(rows)} appointments for {want['plate']}, expected 1"]
    row, problems = rows[0], []
    if normalize_plate(row.plate) != normalize_plate(want["plate"]):
        problems.append(f"plate {row.plate} is not {want['plate']}")
    if row.status != want.get("status", "booked"):
        problems.append(f"appointment {row.status}, expected {want.get('status', 'booked')}")
    if "service_id" in want and row.service_id != want["service_id"]:
        problems.append(f"service {row.service_id}, expected {want['service_id']}")
    if "mileage_km" in want and row.mileage_km != want["mileage_km"]:
        problems.append(f"mileage {row.mileage_km}, expected {want['mileage_km']}")
    if want.get("at") and not t.time_flexible and _local(row.starts_at) != want["at"]:
        problems.append(f"appointment at {_local(row.starts_at)}, expected {want['at']}")
    if p.flow == "book":
        problems += _contact_problems(row, want)
    return problems


def _lead_problems(want: dict, leads: list) -> list[str]:
    matching = [lead for lead in leads if lead.kind == want["kind"]]
    others = [lead.kind for lead in leads if lead.kind != want["kind"]]
    if len(matching) != 1:
        return [f"{len(matching)} {want['kind']} leads, expected 1"]
    row, problems = matching[0], []
    if others:
        problems.append(f"also leads: {', '.join(others)}")
    problems += _contact_problems(row, want)
    if "plate" in want and normalize_plate(row.plate or "") != normalize_plate(want["plate"]):
        problems.append(f"plate {row.plate}, expected {want['plate']}")
    if "mileage_km" in want and row.mileage_km != want["mileage_km"]:
        problems.append(f"mileage {row.mileage_km}, expected {want['mileage_km']}")
    if "model" in want and want["model"].lower() not in (row.car or "").lower():
        problems.append(f"car {row.car!r}, expected a {want['model']}")
    return problems


def parse_intents(
    rasa_url: str, messages: Iterable[str], workers: int = 4, token: str | None = None
) -> list[str]:
    """The intent the running server's NLU gives each message (``POST /model/parse``; ``token``:
    its API token)."""
    query = f"?{urllib.parse.urlencode({'token': token})}" if token else ""
    url = f"{rasa_url}/model/parse{query}"

    def one(text: str) -> str:
        return post_json(url, {"text": text})["intent"]["name"]

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, messages))


def business_share(intents: list[str]) -> float:
    """The share of messages given a business intent (:data:`core.engagement.BUSINESS_INTENTS`);
    an out-of-scope message should get none."""
    return sum(i in BUSINESS_INTENTS for i in intents) / len(intents) if intents else 0.0


@dataclass
class Run:
    results: list[Result]
    out_of_scope: dict[str, list[tuple[str, str]]]  # language -> (message, intent)
    seconds: float


def simulate(
    profiles: list[Profile],
    seeds: dict[str, Seed],
    model: Path,
    *,
    out_of_scope: dict[str, list[str]] | None = None,
    workers: int = 4,
    work_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    start_stack: Callable[..., Any],
) -> Run:
    """Start a stack, run every profile and the out-of-scope messages, stop the stack.

    ``start_stack`` is :func:`bot.runtime.start_stack`, passed in by the caller (the command
    line, the gate test): the trainer's tools do not import the bot (README, "What is where").
    """
    started = time.monotonic()
    tmp = Path(work_dir or tempfile.mkdtemp(prefix="dealerbot-sim-"))
    tmp.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{tmp / 'store.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    seed_appointments(factory, {p.id: seeds[p.id] for p in profiles if p.id in seeds})
    stack = start_stack(
        model,
        env={
            "DEALERBOT_DATABASE_URL": url,
            "DEALERBOT_FIXED_NOW": SIM_NOW,
            "DEALERBOT_VAR_DIR": str(tmp),
            "DEALERBOT_CUSTOMER_CHANNELS": "web,whatsapp,rest",
            "DEALERBOT_TEST_SENDERS": "test-,__readiness__",
        },
        enable_api=True,
        log_dir=tmp,
    )
    catalog = Catalog.from_domain()
    try:

        def send(sender: str, text: str) -> list[dict]:
            payload = {"sender": sender, "message": text}
            for _attempt in range(5):
                try:
                    return post_json(stack.rest_webhook, payload)
                except urllib.error.HTTPError as exc:
                    if exc.code != 429:
                        raise
                    time.sleep(1)
            return post_json(stack.rest_webhook, payload)

        done = 0

        def run_one(profile: Profile) -> Transcript:
            nonlocal done
            transcript = converse(profile, send, catalog)
            done += 1
            if progress:
                progress(done, len(profiles))
            return transcript

        with ThreadPoolExecutor(workers) as pool:
            transcripts = list(pool.map(run_one, profiles))
        oos = {
            lang: list(zip(messages, parse_intents(stack.rasa_url, messages, workers,
                                                   stack.api_token), strict=True))
            for lang, messages in (out_of_scope or {}).items()
        }  # fmt: skip
    finally:
        # The action server stores its queued records when it stops (core.store.write_behind
        # drains at exit, SIGTERM included): after this every record is in the store.
        stack.stop()
    secret = get_settings().contact_key_secret
    results = [Result(t, check(factory, t, secret)) for t in transcripts]
    engine.dispose()
    return Run(results, oos, time.monotonic() - started)
