"""Rollup cells and dirty days (migration 0008), on SQLite and PostgreSQL: what marks a day, that
weeks and months folded from cells equal distinct counts over the conversations, and that a
change reaches the summary rows through its mark."""

import dataclasses
import datetime as dt
import random
from collections import defaultdict

import pytest
from sqlalchemy import column, delete, insert, select, table

from core.engagement import ConversationRecord
from core.store.migrate import downgrade, upgrade
from core.store.models import (
    Conversation,
    DirtyDay,
    MetricCell,
    SurveyAnswer,
    delete_conversations,
    mark_days,
)
from core.store.recorder import answer, apply, conversation_op
from core.store.repositories import create_lead
from metrics import aggregate
from tests.integration.metrics.test_aggregate import (
    DEALER,
    SEED,
    record,
    seed,
    summaries,
)


def marks(factory) -> set[tuple[str, str]]:
    with factory() as session:
        return set(session.execute(select(DirtyDay.day_key, DirtyDay.dealer_id)).all())


def conversation(cid, contact, channel, language, started, qualifies=True, is_test=False):
    return ConversationRecord(
        id=cid, dealer_id=DEALER, channel=channel, contact_key=contact.ljust(64, "0"),
        language=language, started_at=started, last_message_at=started + dt.timedelta(minutes=5),
        customer_messages=3, bot_messages=3, first_response_ms=900, intents=("ask_price",),
        outcome="self_served", qualifies=qualifies, qualify_reason="test", is_test=is_test,
        customer_channel=channel in ("web", "whatsapp"), survey_offered_at=None,
    )  # fmt: skip


def test_leads_count_by_the_channel_decision_recorded_not_by_the_rollups_setting(store):
    """Whether a conversation was on a customer channel is decided once, when it is recorded
    (``customer_channel``). A rollup in a process with other ``DEALERBOT_CUSTOMER_CHANNELS``
    (here the default, web and WhatsApp) counts the leads by what the servers decided."""
    started = dt.datetime(2026, 11, 17, 9, 0)
    # recorded by servers that count REST as a customer channel (the simulator, the e2e stacks)
    rest = dataclasses.replace(
        conversation("r1", "R", "rest", "nl", started), customer_channel=True
    )
    # recorded by servers that did not count the web (DEALERBOT_CUSTOMER_CHANNELS=whatsapp)
    web = dataclasses.replace(conversation("w1", "W", "web", "nl", started), customer_channel=False)
    for record_, kind in ((rest, "sales"), (web, "test_drive")):
        apply(store, conversation_op(record_))
        create_lead(store, key_parts=(record_.id, kind), dealer_id=DEALER, kind=kind,
                    language="nl", channel=record_.channel, sender_id=record_.id,
                    conversation_id=record_.id)  # fmt: skip
    aggregate.rebuild_period(store, "2026-W47")
    row = summaries(store)[(DEALER, "2026-W47", "all", "")]
    assert (row["leads_sales"], row["leads_test_drive"]) == (1, 0)


def test_writes_through_the_store_mark_their_day_and_a_rebuild_clears_the_marks(store):
    apply(store, conversation_op(record(*SEED[0])))  # c1, Monday 16 November
    assert marks(store) == {("2026-11-16", DEALER)}
    aggregate.rebuild_period(store, "2026-W47")
    assert marks(store) == set()
    late_answer_for_c1 = {"op": "answers", "conversation_id": "c1",
                          "answers": [answer("csat", score=4)]}  # fmt: skip
    apply(store, late_answer_for_c1)
    assert marks(store) == {("2026-11-16", DEALER)}
    aggregate.rebuild_period(store, "2026-W47")
    create_lead(store, key_parts=("c1", "sales"), dealer_id=DEALER, kind="sales", language="nl",
                channel="web", sender_id="c1", conversation_id="c1")  # fmt: skip
    assert marks(store) == {("2026-11-16", DEALER)}
    aggregate.rebuild_period(store, "2026-W47")
    row = summaries(store)[(DEALER, "2026-W47", "all", "")]
    assert (row["csat_n"], row["csat_sum"], row["leads_sales"], row["mec"]) == (1, 4, 1, 1)


def test_only_a_change_the_cells_count_marks_the_day(store):
    first = conversation("m1", "M", "web", "nl", dt.datetime(2026, 11, 17, 9, 0))
    apply(store, conversation_op(first))
    aggregate.rebuild_period(store, "2026-W47")
    assert marks(store) == set()
    more_messages = first.__class__(**{**first.__dict__, "customer_messages": 5,
                                       "last_message_at": first.last_message_at
                                       + dt.timedelta(minutes=3)})  # fmt: skip
    apply(store, conversation_op(more_messages))
    assert marks(store) == set()
    booked = more_messages.__class__(**{**more_messages.__dict__,
                                        "outcome": "appointment_booked"})  # fmt: skip
    apply(store, conversation_op(booked))
    assert marks(store) == {("2026-11-17", DEALER)}
    aggregate.rebuild_period(store, "2026-W47")
    row = summaries(store)[(DEALER, "2026-W47", "all", "")]
    assert (row["appointments_booked"], row["self_served"]) == (1, 0)


def test_an_earlier_conversation_marks_the_contacts_later_days(store):
    seed(store)
    aggregate.rebuild(store, "week", dt.date(2026, 11, 9), dt.date(2026, 11, 22))
    w47 = summaries(store)[(DEALER, "2026-W47", "all", "")]
    assert (w47["mec"], w47["returning_contacts"]) == (6, 1)  # only A returns
    # G (c9, Sunday 22 November) turns out to have written in W46 as well.
    g_before = conversation("g0", "G", "web", "en", dt.datetime(2026, 11, 12, 9, 0))
    g_before = g_before.__class__(**{**g_before.__dict__, "contact_key": "G" * 64})
    apply(store, conversation_op(g_before))
    assert {("2026-11-12", DEALER), ("2026-11-22", DEALER)} <= marks(store)
    aggregate.rebuild_period(store, "2026-W47")
    w47 = summaries(store)[(DEALER, "2026-W47", "all", "")]
    assert (w47["mec"], w47["returning_contacts"]) == (6, 2)


def test_a_bulk_delete_marks_by_the_same_rule_and_the_contact_returns_no_more(store):
    """The erasure's delete (``delete_conversations``, no mapper events) marks the deleted rows'
    days and the contact's later days: A's first conversation gone, c2 is A's first in W47."""
    seed(store)
    aggregate.rebuild(store, "week", dt.date(2026, 11, 9), dt.date(2026, 11, 22))
    assert summaries(store)[(DEALER, "2026-W47", "all", "")]["returning_contacts"] == 1
    with store.begin() as session:
        session.execute(delete(DirtyDay))  # marks outside the rebuilt weeks: not this test's
    with store.begin() as session:
        session.execute(delete(SurveyAnswer).where(SurveyAnswer.conversation_id == "c20"))
        assert delete_conversations(session.connection(), ["c20", "unknown"]) == 1
    # c20's day, and A's later days (c1 Monday 16, c2 Wednesday 18 November)
    assert marks(store) == {("2026-11-10", DEALER), ("2026-11-16", DEALER), ("2026-11-18", DEALER)}
    aggregate.rebuild_period(store, "2026-W47")
    assert summaries(store)[(DEALER, "2026-W47", "all", "")]["returning_contacts"] == 0


def test_rows_written_around_the_store_count_once_their_day_is_marked(store):
    seed(store)
    aggregate.rebuild_period(store, "2026-W47")
    conversations = Conversation.__table__
    values = {c.name: getattr(record(*SEED[4]), c.name, None) for c in conversations.columns
              if hasattr(record(*SEED[4]), c.name)}  # fmt: skip
    values.update(id="raw1", contact_key="R" * 64, intents="", updated_at=dt.datetime(2026, 11, 23),
                  day_key="2026-11-20", week_key="2026-W47", month_key="2026-11")  # fmt: skip
    with store.begin() as session:  # e.g. an import in plain SQL: no mapper events
        session.execute(insert(conversations).values(**values))
    aggregate.rebuild_period(store, "2026-W47")
    assert summaries(store)[(DEALER, "2026-W47", "all", "")]["mec"] == 6  # not seen yet
    with store.begin() as session:
        mark_days(session.connection(), [("2026-11-20", DEALER)])
    aggregate.rebuild_period(store, "2026-W47")
    assert summaries(store)[(DEALER, "2026-W47", "all", "")]["mec"] == 7
    # A day rebuild recomputes its days from the conversations, marked or not.
    with store.begin() as session:
        session.execute(delete(conversations).where(conversations.c.id == "raw1"))
    aggregate.rebuild(store, "day", dt.date(2026, 11, 20), dt.date(2026, 11, 20))
    aggregate.rebuild_period(store, "2026-W47")
    assert summaries(store)[(DEALER, "2026-W47", "all", "")]["mec"] == 6


def random_conversations(seed_value: int = 7, n: int = 160) -> list[ConversationRecord]:
    """Contacts with a fixed channel each, both languages, across weeks and a month boundary."""
    rng = random.Random(seed_value)
    contacts = {f"K{i:02d}": rng.choice(("web", "whatsapp")) for i in range(18)}
    start = dt.datetime(2026, 10, 19)
    rows = []
    for i in range(n):
        contact = rng.choice(sorted(contacts))
        started = start + dt.timedelta(minutes=rng.randrange(35 * 24 * 60))
        is_test = rng.random() < 0.05  # the qualifying rule: a test sender never qualifies
        rows.append(
            conversation(f"r{i:03d}", contact, contacts[contact], rng.choice(("nl", "nl", "en")),
                         started, qualifies=not is_test and rng.random() < 0.7, is_test=is_test)
        )  # fmt: skip
    return rows


def expected_distinct(factory, kind: str) -> dict[tuple, int]:
    """MEC per breakdown and returning contacts, by count(DISTINCT) over the conversations."""
    with factory() as session:
        rows = session.execute(
            select(Conversation.contact_key, Conversation.channel, Conversation.language,
                   getattr(Conversation, f"{kind}_key"))
            .where(Conversation.qualifies, Conversation.is_test.is_(False))
        ).all()  # fmt: skip
    engaged: dict[tuple, set] = defaultdict(set)
    first_period: dict[str, str] = {}
    for contact, channel, language, key in rows:
        engaged[(key, "all", "")].add(contact)
        engaged[(key, "channel", channel)].add(contact)
        engaged[(key, "language", language)].add(contact)
        first_period[contact] = min(first_period.get(contact, key), key)
    result = {(key, dim, value, "mec"): len(who) for (key, dim, value), who in engaged.items()}
    for (key, dim, _value), who in engaged.items():
        if dim == "all":
            result[(key, "all", "", "returning")] = sum(first_period[c] < key for c in who)
    return result


@pytest.mark.parametrize("kind", ["day", "week", "month"])
def test_folded_cells_equal_distinct_counts_over_the_conversations(store, kind):
    for item in random_conversations():
        apply(store, conversation_op(item))
    aggregate.backfill(store, dt.date(2026, 10, 19), dt.date(2026, 11, 23), progress=None)
    got = {}
    for (_dealer, key, dim, value), row in summaries(store, kind).items():
        if row["mec"]:
            got[(key, dim, value, "mec")] = row["mec"]
        if dim == "all" and row["mec"]:
            got[(key, "all", "", "returning")] = row["returning_contacts"]
    expected = {k: v for k, v in expected_distinct(store, kind).items() if v or k[3] == "returning"}
    expected = {k: v for k, v in expected.items() if expected.get((*k[:3], "mec"), 0)}
    assert got == expected
    assert any(k[3] == "returning" and v > 0 for k, v in expected.items())


def test_week_cells_are_the_sums_of_their_day_cells(store):
    for item in random_conversations(seed_value=3, n=60):
        apply(store, conversation_op(item))
    aggregate.rebuild(store, "week", dt.date(2026, 10, 19), dt.date(2026, 11, 22))
    cell = MetricCell.__table__
    with store() as session:
        days = session.execute(select(cell).where(cell.c.period_kind == "day")).mappings().all()
        weeks = session.execute(select(cell).where(cell.c.period_kind == "week")).mappings().all()
    sums: dict[tuple, int] = defaultdict(int)
    for row in days:
        sums[(row["week_key"], row["channel"], row["language"])] += row["conversations"]
    assert {(r["period_key"], r["channel"], r["language"]): r["conversations"] for r in weeks} == {
        k: v for k, v in sums.items() if v
    }
    assert sum(sums.values()) == sum(1 for r in random_conversations(3, 60) if not r.is_test)


def test_migration_0008_marks_every_day_that_has_conversations(store):
    engine = store.kw["bind"]
    downgrade(engine, "0007")
    values = {c.name: getattr(record(*SEED[0]), c.name, None) for c in Conversation.__table__.columns
              if hasattr(record(*SEED[0]), c.name)
              and c.name not in ("fallback_messages", "person_key", "person",
                                 "customer_channel")}  # fmt: skip
    values.update(intents="", updated_at=dt.datetime(2026, 11, 23), day_key="2026-11-16",
                  week_key="2026-W47", month_key="2026-11")  # fmt: skip
    old = table("conversations", *[column(name) for name in values])
    with engine.begin() as conn:
        conn.execute(insert(old).values(**values))
    upgrade(engine)
    assert marks(store) == {("2026-11-16", DEALER)}
    aggregate.rebuild_period(store, "2026-W47")
    assert summaries(store)[(DEALER, "2026-W47", "all", "")]["mec"] == 1


def test_migration_0015_takes_the_customer_channel_from_the_stored_qualifying_reason(store):
    """The rule checks the channel first: a conversation on another channel says so in its
    reason, every other one was on a customer channel. Days with leads are marked dirty."""
    engine = store.kw["bind"]
    downgrade(engine, "0014")
    started = dt.datetime(2026, 11, 17, 9, 0)
    stored = {"r1": ("rest", "channel 'rest' is not a one-to-one customer channel"),
              "w1": ("web", "outcome lead_created")}  # fmt: skip
    for cid, (channel, reason) in stored.items():
        base = conversation(cid, cid.upper(), channel, "nl", started)
        values = {c.name: getattr(base, c.name) for c in Conversation.__table__.columns
                  if hasattr(base, c.name) and c.name != "customer_channel"}  # fmt: skip
        values.update(qualify_reason=reason, intents="", updated_at=started, person=base.contact_key,
                      day_key="2026-11-17", week_key="2026-W47", month_key="2026-11")  # fmt: skip
        with engine.begin() as conn:
            conn.execute(insert(table("conversations", *map(column, values))).values(**values))
        create_lead(store, key_parts=(cid, "sales"), dealer_id=DEALER, kind="sales",
                    language="nl", channel=channel, sender_id=cid, conversation_id=cid)  # fmt: skip
    with store.begin() as session:
        session.execute(delete(DirtyDay))  # as if rolled up before the upgrade
    upgrade(engine)
    with store() as session:
        found = dict(session.execute(select(Conversation.id, Conversation.customer_channel)).all())
    assert found == {"r1": False, "w1": True}
    assert marks(store) == {("2026-11-17", DEALER)}
    aggregate.rebuild_period(store, "2026-W47")
    assert summaries(store)[(DEALER, "2026-W47", "all", "")]["leads_sales"] == 1


def test_a_bad_rollup_work_mem_is_refused_on_postgresql(pg_factory, monkeypatch):
    monkeypatch.setenv("DEALERBOT_ROLLUP_WORK_MEM", "64MB; drop table conversations")
    with pytest.raises(ValueError, match="DEALERBOT_ROLLUP_WORK_MEM"):
        aggregate.rebuild_period(pg_factory, "2026-W47")
    monkeypatch.setenv("DEALERBOT_ROLLUP_WORK_MEM", "128MB")
    assert aggregate.rebuild_period(pg_factory, "2026-W47").rows == 0


def test_interleaved_writes_and_rebuilds_match_a_rebuild_from_scratch(store):
    """Writes in any order (earlier conversations after later ones, late answers), each
    followed by a week and month rebuild, give the rows a rebuild from scratch gives."""
    items = random_conversations(seed_value=11, n=90)
    first, last = dt.date(2026, 10, 19), dt.date(2026, 11, 22)
    for start in range(0, len(items), 30):
        for item in items[start : start + 30]:
            apply(store, conversation_op(item))
        apply(store, {"op": "answers", "conversation_id": items[start].id,
                      "answers": [answer("csat", score=5)]})  # fmt: skip
        aggregate.rebuild(store, "week", first, last)
        aggregate.rebuild(store, "month", first, last)
    incremental = {kind: summaries(store, kind) for kind in ("week", "month")}
    aggregate.backfill(store, first, last, progress=None)
    assert {kind: summaries(store, kind) for kind in ("week", "month")} == incremental
    assert any(row["returning_contacts"] for row in incremental["week"].values())
