"""The independent recount (issue 20): every figure of the new definitions, recounted here from
the raw conversation rows with its own restatement of the definition, equals what the registry's
formula (``metrics.figures``) gives over the stored summary row: per day, ISO week and month, on
SQLite and PostgreSQL, across the end of DST (25 October 2026), a month boundary and ISO week 53
(28 December 2026 - 3 January 2027). The dashboard's drill-down lists add up to the same counts.

The conversations pass through the qualifying rule (``core.engagement.qualifies``) and are
recorded by the store's recorder like the action server's; the recount does not use the rule,
the cells or the formulas.
"""

import datetime as dt
import random
from collections import defaultdict

import pytest
from sqlalchemy import select

from core.engagement import ConversationRecord, is_customer_channel, qualifies
from core.periods import parse_period, period_key
from core.store.models import Appointment, Conversation, Lead, SurveyAnswer, from_utc_naive
from core.store.recorder import answer, apply, conversation_op
from core.store.repositories import create_lead
from metrics import aggregate
from metrics.figures import BY_NAME
from metrics.potential import import_potential
from metrics.summary import _Counts
from metrics.web.data import conversation_list
from tests.integration.metrics.test_aggregate import DEALER, appointment

TASKS = ("appointment_booked", "test_drive_booked", "lead_created", "handed_off")
OUTCOMES = (*TASKS, "self_served", "self_served", "abandoned", "out_of_scope")
FIRST, LAST = dt.date(2026, 10, 19), dt.date(2027, 1, 10)  # DST end, W53, Oct/Nov/Dec/Jan
# The figures whose definitions issue 20 changed or added, and their recount from raw rows.
NEW_FIGURES = ("automation_rate", "resolved_by_bot", "handoff_rate", "abandonment_rate",
               "fallback_rate", "csat", "mec", "leads_sales", "leads_trade_in",
               "mec_potential", "mec_share")  # fmt: skip
LEAD_KINDS = ("sales", "financing", "trade_in", "test_drive", "handoff")
NOVEMBER = 150  # the imported potential of 2026-11 (100 appointments + 50 leads)


def random_conversations(seed_value: int = 20, n: int = 220) -> list[ConversationRecord]:
    rng = random.Random(seed_value)
    contacts = {f"P{i:02d}": rng.choice(("web", "whatsapp", "rest")) for i in range(24)}
    # one person across channels: contacts P00/P01, P02/P03 ... P10/P11 share a phone number,
    # always shown on WhatsApp, on the web only in the conversations that gave it
    people = {f"P{i:02d}": f"X{i // 2}".ljust(64, "x") for i in range(12)}
    span = int((dt.datetime.combine(LAST, dt.time()) - dt.datetime.combine(FIRST, dt.time()))
               .total_seconds() // 60)  # fmt: skip
    rows = []
    for i in range(n):
        contact = rng.choice(sorted(contacts))
        channel = contacts[contact]
        started = dt.datetime.combine(FIRST, dt.time()) + dt.timedelta(minutes=rng.randrange(span))
        if i % 17 == 0:  # around the DST change and the new year, in local and UTC terms
            started = rng.choice((dt.datetime(2026, 10, 25, 0, 30), dt.datetime(2026, 10, 25, 1, 30),
                                  dt.datetime(2026, 12, 31, 23, 30), dt.datetime(2027, 1, 3, 23, 10),
                                  dt.datetime(2026, 11, 30, 23, 5)))  # fmt: skip
        outcome = rng.choice(OUTCOMES)
        messages = rng.choice((1, 1, 2, 3, 5))
        intents = () if rng.random() < 0.15 else ("ask_price",)
        is_test = rng.random() < 0.05
        ok, reason = qualifies(channel=channel, is_test=is_test, customer_messages=messages,
                               business_intents=intents, outcome=outcome)  # fmt: skip
        rows.append(ConversationRecord(
            id=f"q{i:03d}", dealer_id=DEALER, channel=channel, contact_key=contact.ljust(64, "0"),
            language=rng.choice(("nl", "en")), started_at=started,
            last_message_at=started + dt.timedelta(minutes=3), customer_messages=messages,
            bot_messages=messages, first_response_ms=rng.choice((None, 400, 1200, 9000)),
            intents=intents, outcome=outcome, qualifies=ok, qualify_reason=reason,
            is_test=is_test, customer_channel=is_customer_channel(channel), survey_offered_at=None,
            fallback_messages=rng.choice((0, 0, 0, 1, 2)),
            person_key=people.get(contact) if channel == "whatsapp" or rng.random() < 0.3
            else None,
        ))  # fmt: skip
    return rows


def recount(rows: list[dict], kind: str) -> dict[str, dict[str, tuple]]:
    """Each new figure per period of ``kind``, from the raw rows, as (value, n). Each row
    carries its leads' kinds and its appointments (``created``)."""
    by_period: dict[str, list[dict]] = defaultdict(list)
    # a contact is its person once any of its conversations showed a person key
    person = {r["contact_key"]: r["person_key"] for r in rows if r["person_key"]}
    for row in rows:
        if not row["is_test"]:
            local = from_utc_naive(row["started_at"]).astimezone(row["zone"]).date()
            by_period[period_key(kind, local)].append(row)
    result = {}
    for key, items in by_period.items():
        engaged = [r for r in items if r["channel"] in ("web", "whatsapp")
                   and r["outcome"] != "out_of_scope"
                   and (r["outcome"] in TASKS or (r["customer_messages"] >= 2 and r["intents"]))]  # fmt: skip
        q = len(engaged)
        resolved = sum(r["outcome"] not in ("handed_off", "abandoned") for r in engaged)
        handed = sum(r["outcome"] == "handed_off" for r in engaged)
        abandoned = sum(r["outcome"] == "abandoned" for r in engaged)
        unclear = sum(r["fallback_messages"] > 0 for r in items)
        scores = [r["csat"] for r in engaged if r["csat"] is not None]
        contacts = {person.get(r["contact_key"], r["contact_key"]) for r in engaged}
        # made by customers (web, WhatsApp; never REST), whether the conversation qualified or not
        made = [k for r in items if r["channel"] in ("web", "whatsapp") for k in r["created"]]
        sales = sum(k in ("sales", "financing") for k in made)
        trade_in = sum(k == "trade_in" for k in made)
        floor = sum(k != "handoff" for k in made)  # appointments, test drives, sales, trade-in
        period = parse_period(key) if kind != "day" else None
        if kind == "month" and key == "2026-11":
            potential, share = NOVEMBER, len(contacts) / NOVEMBER
        elif kind == "week" and period.start.month == period.last_day.month == 11:
            potential = round(NOVEMBER * 7 / 30)  # November spread by days over its weeks
            share = len(contacts) / potential
        else:  # the floor from chat: no share of it
            potential, share = floor, None
        result[key] = {
            "automation_rate": (resolved / q if q else None, q),
            "resolved_by_bot": (float(resolved), q),
            "handoff_rate": (handed / q if q else None, q),
            "abandonment_rate": (abandoned / q if q else None, q),
            "fallback_rate": (unclear / len(items), len(items)),
            "csat": (sum(s >= 4 for s in scores) / len(scores) if scores else None, len(scores)),
            "mec": (float(len(contacts)), len(contacts)),
            "leads_sales": (float(sales), sales),
            "leads_trade_in": (float(trade_in), trade_in),
            "mec_potential": (float(potential), potential),
            "mec_share": (share, potential if share is not None else 0),
        }
    return result


def stored(factory, kind: str) -> dict[str, dict[str, tuple]]:
    from core.store.models import MetricSummary

    with factory() as session:
        rows = session.scalars(
            select(MetricSummary).where(MetricSummary.period_kind == kind,
                                        MetricSummary.dimension == "all")
        ).all()  # fmt: skip
        return {r.period_key: {name: BY_NAME[name].formula(_Counts(r)) for name in NEW_FIGURES}
                for r in rows if r.conversations}  # fmt: skip


def raw_rows(factory) -> list[dict]:
    from core.periods import dealer_timezone

    zone = dealer_timezone(DEALER)
    created = defaultdict(list)
    with factory() as session:
        for cid, kind in session.execute(select(Lead.conversation_id, Lead.kind)):
            created[cid].append(kind)
        for (cid,) in session.execute(select(Appointment.conversation_id)):
            created[cid].append("appointment")
        conversations = session.scalars(select(Conversation)).all()
        return [{"zone": zone, "intents": [i for i in c.intents.split(",") if i],
                 "created": created[c.id],
                 **{col.name: getattr(c, col.name) for col in Conversation.__table__.columns
                    if col.name != "intents"}} for c in conversations]  # fmt: skip


def approx(figures: dict) -> dict:
    return {key: {name: (pytest.approx(v) if v is not None else None, n)
                  for name, (v, n) in values.items()} for key, values in figures.items()}  # fmt: skip


@pytest.fixture
def recorded(store):
    rng = random.Random(5)
    for item in random_conversations():
        answers = [answer("csat", score=rng.randint(1, 5))] if rng.random() < 0.4 else []
        apply(store, conversation_op(item, answers))
        if item.outcome in ("lead_created", "handed_off", "test_drive_booked"):
            kind = {"handed_off": "handoff", "test_drive_booked": "test_drive"}.get(
                item.outcome, rng.choice(LEAD_KINDS[:3])
            )
            create_lead(store, key_parts=(item.id, kind), dealer_id=DEALER, kind=kind,
                        language="nl", channel=item.channel, sender_id=item.id,
                        conversation_id=item.id)  # fmt: skip
        if item.outcome == "appointment_booked":
            with store.begin() as session:
                session.add(appointment(item.id, item.started_at))
    import_potential(store, [{"dealer": DEALER, "period": "2026-11", "service_appointments": 100,
                              "sales_leads": 50}], rebuild=False)  # fmt: skip
    aggregate.backfill(store, FIRST, LAST, progress=None)
    return store


@pytest.mark.parametrize("kind", ["day", "week", "month"])
def test_every_new_figure_equals_its_recount_from_the_raw_conversations(recorded, kind):
    expected = recount(raw_rows(recorded), kind)
    got = stored(recorded, kind)
    assert got == approx(expected)
    if kind == "week":  # the seed reaches what the test is about
        assert {"2026-W43", "2026-W53"} <= set(got)
        assert any(v["abandonment_rate"][0] for v in got.values())
        assert any(v["fallback_rate"][0] for v in got.values())
        assert any(v["leads_sales"][0] for v in got.values())
        assert got["2026-W46"]["mec_potential"] == (35.0, 35)  # 150 × 7/30
    if kind == "month":
        assert {"2026-10", "2026-11", "2026-12", "2027-01"} <= set(got)


def test_one_message_task_outcomes_are_in_the_recount(recorded):
    one_shot = [r for r in raw_rows(recorded) if r["customer_messages"] == 1 and r["qualifies"]]
    assert one_shot and all(r["outcome"] in TASKS for r in one_shot)


@pytest.mark.parametrize("week", ["2026-W43", "2026-W49", "2026-W53"])
def test_drill_downs_list_the_conversations_behind_each_figure(recorded, week):
    period = parse_period(week)
    figures = stored(recorded, "week")[week]
    listed = {drill: conversation_list(recorded, DEALER, period, drill)
              for drill in ("csat", "resolved", "handoffs", "abandoned", "fallback", "all")}  # fmt: skip
    assert len(listed["csat"]) == figures["csat"][1]  # every CSAT answer, the 3s included
    if listed["csat"]:
        top = sum(item.csat >= 4 for item in listed["csat"])
        assert top / len(listed["csat"]) == pytest.approx(figures["csat"][0])
    assert len(listed["resolved"]) == figures["resolved_by_bot"][0]
    q = figures["automation_rate"][1]
    assert len(listed["resolved"]) + len(listed["handoffs"]) + len(listed["abandoned"]) == q
    assert len(listed["fallback"]) == round((figures["fallback_rate"][0] or 0) * len(listed["all"]))
    with recorded() as session:  # CSAT 3 answers exist and are listed
        threes = session.scalars(select(SurveyAnswer.conversation_id).where(
            SurveyAnswer.score == 3)).all()  # fmt: skip
    assert threes


def test_migration_0013_back_fills_the_fallbacks_from_the_nlu_inbox(store):
    from sqlalchemy import column, insert, table

    from core.store.migrate import downgrade, upgrade
    from core.store.models import DirtyDay, NluInboxItem
    from tests.integration.metrics.test_aggregate import SEED, record

    engine = store.kw["bind"]
    downgrade(engine, "0012")
    item = record(*SEED[0])  # c1, Monday 16 November
    values = {c.name: getattr(item, c.name) for c in Conversation.__table__.columns
              if hasattr(item, c.name)
              and c.name not in ("fallback_messages", "person_key", "person",
                                 "customer_channel")}  # fmt: skip
    values.update(intents="", updated_at=dt.datetime(2026, 11, 23), day_key="2026-11-16",
                  week_key="2026-W47", month_key="2026-11")  # fmt: skip
    old = table("conversations", *[column(name) for name in values])
    with engine.begin() as conn:
        conn.execute(insert(old).values(**values))
        for minute, reason in ((1, "fallback"), (2, "fallback"), (3, "low_confidence")):
            conn.execute(insert(NluInboxItem.__table__).values(
                conversation_id="c1", sent_at=dt.datetime(2026, 11, 16, 10, minute),
                dealer_id=DEALER, language="nl", text="?", intent="nlu_fallback",
                confidence=0.2, reason=reason, status="open", created_at=dt.datetime(2026, 11, 16),
            ))  # fmt: skip
    upgrade(engine)
    with store() as session:
        assert session.get(Conversation, "c1").fallback_messages == 2
        assert session.execute(select(DirtyDay.day_key)).scalars().all() == ["2026-11-16"]
    aggregate.rebuild_period(store, "2026-W47")
    assert stored(store, "week")["2026-W47"]["fallback_rate"] == (1.0, 1)


def test_the_weekly_summary_has_the_exact_bot_first_response(recorded):
    """p50/p90 by nearest rank and the 30 s share, recounted from the raw rows of each week."""
    from metrics.summary import build_weekly_summary

    weeks: dict[str, list[int]] = defaultdict(list)
    for row in raw_rows(recorded):
        if row["qualifies"] and row["first_response_ms"] is not None:
            weeks[row["week_key"]].append(row["first_response_ms"])
    assert {"2026-W43", "2026-W53"} <= set(weeks)
    for week, times in weeks.items():
        times.sort()
        s = build_weekly_summary(recorded, DEALER, week)
        rank = [times[max(1, -(-q * len(times) // 10)) - 1] for q in (5, 9)]
        assert [s.first_response_p50.value, s.first_response_p90.value] == rank, week
        within = sum(t <= 30_000 for t in times) / len(times)
        assert (s.answered_within_30s.value, s.answered_within_30s.n) == (within, len(times))


def test_one_person_across_channels_counts_once(recorded):
    rows = raw_rows(recorded)
    linked = {r["contact_key"] for r in rows if r["person_key"]}
    assert all(r["person"] == next(x["person_key"] for x in rows if x["person_key"]
                                   and x["contact_key"] == r["contact_key"])
               for r in rows if r["contact_key"] in linked)  # fmt: skip
    assert all(r["person"] == r["contact_key"] for r in rows if r["contact_key"] not in linked)
    weekly = recount(rows, "week")
    by_contact = {key: len({r["contact_key"] for r in rows if r["qualifies"]
                            and r["week_key"] == key}) for key in weekly}  # fmt: skip
    assert any(weekly[key]["mec"][1] < by_contact[key] for key in weekly)  # persons did merge
