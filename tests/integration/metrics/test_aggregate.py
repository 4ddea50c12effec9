"""Rollups on SQLite and PostgreSQL against figures computed by hand from a fixed seeded set.

The seeded week is 2026-W47 (Mon 16 - Sun 22 November, Amsterdam = UTC+1) of autohuis-demo.

| id  | contact | channel  | lang | when (UTC)        | qualifies | outcome            | 1st reply | survey                  |
|-----|---------|----------|------|-------------------|-----------|--------------------|-----------|-------------------------|
| c1  | A       | web      | nl   | Mon 16 10:00      | yes       | appointment_booked | 800       | offered, csat 5, ces 6  |
| c2  | A       | web      | nl   | Wed 18 14:00      | yes       | self_served        | 1500      | -                       |
| c3  | B       | whatsapp | en   | Tue 17 09:00      | yes       | handed_off         | 45000     | offered, csat 2, ces 3, comment |
| c4  | C       | whatsapp | nl   | Thu 19 16:00      | yes       | test_drive_booked  | 2500      | offered; csat 1 arrives late |
| c5  | D       | web      | nl   | Fri 20 11:00      | yes       | abandoned          | 500       | -                       |
| c6  | T test  | web      | nl   | Fri 20 12:00      | no (test) | appointment_booked | 700       | -                       |
| c7  | E       | web      | nl   | Sat 21 10:00      | no (1 msg)| abandoned          | 600       | -                       |
| c8  | F       | rest     | nl   | Sat 21 11:00      | no (chan) | self_served        | 900       | -                       |
| c9  | G       | web      | en   | Sun 22 12:00      | yes       | lead_created       | 20000     | offered, csat 4, ces 5, nps 9 |
| c11 | H       | web      | nl   | Sun 15 23:30 = Mon 16 00:30 local | yes | self_served | 3000 | -                  |
| c10 | H       | web      | nl   | Sun 22 23:30 = Mon 23 00:30 local (W48) | yes | self_served | 1000 | -          |
| c20 | A       | web      | nl   | Tue 10 (W46)      | yes       | self_served        | 1200      | -                       |
| c21 | Z       | web      | nl   | Wed 11 (W46)      | yes       | appointment_booked | 900       | offered, csat 3         |

Appointments: c1, c6 (test), c21. Leads: c3 handoff, c4 test drive, c9 trade-in.
"""

import dataclasses
import datetime as dt

from sqlalchemy import select

from core.engagement import ConversationRecord
from core.periods import parse_period
from core.store.models import Appointment, Conversation, MetricSummary
from core.store.recorder import answer, apply, conversation_op
from core.store.repositories import create_lead
from metrics.aggregate import backfill, rebuild, rebuild_period, rollup
from metrics.potential import import_potential

DEALER = "autohuis-demo"
INTENTS = {
    "c1": ("book_service",), "c2": ("ask_opening_hours",), "c3": ("request_human", "ask_price"),
    "c4": ("book_test_drive", "ask_car_availability"), "c5": ("book_service",),
    "c6": ("book_service",), "c7": (), "c8": ("ask_price",), "c9": ("trade_in", "ask_price"),
    "c10": ("ask_location",), "c11": ("ask_location",), "c20": ("ask_price",),
    "c21": ("book_service",),
}  # fmt: skip
SEED = [
    # id, contact, channel, language, started (UTC), qualifies, test, outcome, first reply ms, offered
    ("c1", "A", "web", "nl", (11, 16, 10, 0), True, False, "appointment_booked", 800, True),
    ("c2", "A", "web", "nl", (11, 18, 14, 0), True, False, "self_served", 1500, False),
    ("c3", "B", "whatsapp", "en", (11, 17, 9, 0), True, False, "handed_off", 45000, True),
    ("c4", "C", "whatsapp", "nl", (11, 19, 16, 0), True, False, "test_drive_booked", 2500, True),
    ("c5", "D", "web", "nl", (11, 20, 11, 0), True, False, "abandoned", 500, False),
    ("c6", "T", "web", "nl", (11, 20, 12, 0), False, True, "appointment_booked", 700, False),
    ("c7", "E", "web", "nl", (11, 21, 10, 0), False, False, "abandoned", 600, False),
    ("c8", "F", "rest", "nl", (11, 21, 11, 0), False, False, "self_served", 900, False),
    ("c9", "G", "web", "en", (11, 22, 12, 0), True, False, "lead_created", 20000, True),
    ("c10", "H", "web", "nl", (11, 22, 23, 30), True, False, "self_served", 1000, False),
    ("c11", "H", "web", "nl", (11, 15, 23, 30), True, False, "self_served", 3000, False),
    ("c20", "A", "web", "nl", (11, 10, 9, 0), True, False, "self_served", 1200, False),
    ("c21", "Z", "web", "nl", (11, 11, 9, 0), True, False, "appointment_booked", 900, True),
]
ANSWERS = {
    "c1": [("csat", 5, None), ("ces", 6, None)],
    "c3": [("csat", 2, None), ("ces", 3, None), ("comment", None, "te traag")],
    "c9": [("csat", 4, None), ("ces", 5, None), ("nps", 9, None)],
    "c21": [("csat", 3, None)],
}
W47 = parse_period("2026-W47")


def utc(month, day, hour, minute):
    return dt.datetime(2026, month, day, hour, minute)


def record(cid, contact, channel, language, when, qualifies, is_test, outcome, first_ms, offered):
    started = utc(*when)
    return ConversationRecord(
        id=cid, dealer_id=DEALER, channel=channel, contact_key=contact * 64, language=language,
        started_at=started, last_message_at=started + dt.timedelta(minutes=5),
        customer_messages=1 if cid == "c7" else 4, bot_messages=4, first_response_ms=first_ms,
        intents=INTENTS[cid], outcome=outcome, qualifies=qualifies,
        qualify_reason="seeded", is_test=is_test, customer_channel=channel in ("web", "whatsapp"),
        survey_offered_at=started + dt.timedelta(minutes=4) if offered else None,
    )  # fmt: skip


def appointment(cid, when):
    return Appointment(
        reference=f"W{cid.upper():0>6}"[:12], dealer_id=DEALER, service_id="apk", plate="12-ABC-3",
        starts_at=when + dt.timedelta(days=3), ends_at=when + dt.timedelta(days=3, hours=1),
        customer_name="Jan", status="booked", language="nl", channel="web", sender_id=cid,
        conversation_id=cid, idempotency_key=f"seed-{cid}",
    )  # fmt: skip


def seed(factory):
    """The fixed set in the module docstring, written through the recorder (as in production)."""
    for row in SEED:
        cid = row[0]
        answers = [
            answer(q, score=s, comment=c, at=utc(*row[4]) + dt.timedelta(minutes=5))
            for q, s, c in ANSWERS.get(cid, [])
        ]
        apply(factory, conversation_op(record(*row), answers))
    with factory.begin() as session:
        for cid in ("c1", "c6", "c21"):
            session.add(appointment(cid, utc(*next(r[4] for r in SEED if r[0] == cid))))
    for cid, kind in (("c3", "handoff"), ("c4", "test_drive"), ("c9", "trade_in")):
        create_lead(factory, key_parts=(cid, kind), dealer_id=DEALER, kind=kind, language="nl",
                    channel="web", sender_id=cid, conversation_id=cid)  # fmt: skip


def late_answer(factory):
    """c4's CSAT arrives after the first rollup (e.g. the survey finished in the next session)."""
    apply(factory, {"op": "answers", "conversation_id": "c4",
                    "answers": [answer("csat", score=1, at=utc(11, 23, 8, 0))]})  # fmt: skip


def summaries(factory, kind="week"):
    with factory() as session:
        rows = session.scalars(select(MetricSummary).where(MetricSummary.period_kind == kind)).all()
        return {
            (r.dealer_id, r.period_key, r.dimension, r.dimension_value): {
                c.name: getattr(r, c.name) for c in MetricSummary.__table__.columns
            }
            for r in rows
        }


def test_recorder_stores_period_keys_in_the_dealer_time_zone(store):
    seed(store)
    with store() as session:
        keys = {
            c.id: (c.day_key, c.week_key, c.month_key)
            for c in session.scalars(select(Conversation))
        }
    # Sunday 23:30 UTC is Monday 00:30 in Amsterdam: the next day and the next ISO week.
    assert keys["c11"] == ("2026-11-16", "2026-W47", "2026-11")
    assert keys["c10"] == ("2026-11-23", "2026-W48", "2026-11")
    assert keys["c9"] == ("2026-11-22", "2026-W47", "2026-11")


def test_weekly_rollup_matches_the_hand_computed_figures(store):
    seed(store)
    result = rebuild(store, "week", dt.date(2026, 11, 9), dt.date(2026, 11, 29))
    assert (result.first_key, result.last_key, result.skipped) == ("2026-W46", "2026-W48", 0)
    rows = summaries(store)
    w47 = rows[(DEALER, "2026-W47", "all", "")]
    assert {k: w47[k] for k in ("conversations", "qualifying", "mec", "returning_contacts")} == {
        "conversations": 9, "qualifying": 7, "mec": 6, "returning_contacts": 1,
    }  # fmt: skip
    assert {k: w47[k] for k in ("appointments_booked", "appointments_changed",
                                "appointments_cancelled", "test_drives", "leads_created",
                                "handoffs", "self_served", "abandoned")} == {
        "appointments_booked": 1, "appointments_changed": 0, "appointments_cancelled": 0,
        "test_drives": 1, "leads_created": 1, "handoffs": 1, "self_served": 2, "abandoned": 1,
    }  # fmt: skip
    assert {k: w47[k] for k in ("surveys_offered", "csat_n", "csat_sum", "csat_top2", "ces_n",
                                "ces_sum", "ces_top3", "nps_n", "nps_promoters",
                                "nps_detractors")} == {
        "surveys_offered": 4, "csat_n": 3, "csat_sum": 11, "csat_top2": 2, "ces_n": 3,
        "ces_sum": 14, "ces_top3": 2, "nps_n": 1, "nps_promoters": 1, "nps_detractors": 0,
    }  # fmt: skip
    assert (w47["first_response_n"], w47["first_response_30s"]) == (7, 6)
    assert w47["first_response_histogram"] == "0,1,1,1,2,0,0,1,0,1,0"
    # The test sender's appointment (c6) is not the bot's work for a customer.
    assert {k: w47[k] for k in ("bot_appointments", "leads_test_drive", "leads_trade_in",
                                "leads_sales", "leads_handoff")} == {
        "bot_appointments": 1, "leads_test_drive": 1, "leads_trade_in": 1, "leads_sales": 0,
        "leads_handoff": 1,
    }  # fmt: skip
    assert (w47["potential"], w47["potential_estimated"]) == (3, True)
    # Breakdowns: the channel MECs add up to the total; test senders are left out.
    web, whatsapp, rest = (
        rows[(DEALER, "2026-W47", "channel", ch)] for ch in ("web", "whatsapp", "rest")
    )
    assert (web["conversations"], web["qualifying"], web["mec"]) == (6, 5, 4)
    assert (whatsapp["conversations"], whatsapp["qualifying"], whatsapp["mec"]) == (2, 2, 2)
    assert (rest["conversations"], rest["qualifying"], rest["mec"]) == (1, 0, 0)
    nl, en = (rows[(DEALER, "2026-W47", "language", lang)] for lang in ("nl", "en"))
    assert (nl["conversations"], nl["qualifying"], nl["mec"], nl["csat_n"]) == (7, 5, 4, 1)
    assert (en["conversations"], en["qualifying"], en["mec"], en["csat_n"]) == (2, 2, 2, 2)
    assert web["returning_contacts"] is None and web["potential"] is None
    w46 = rows[(DEALER, "2026-W46", "all", "")]
    assert (w46["mec"], w46["returning_contacts"], w46["csat_n"], w46["potential"]) == (2, 0, 1, 1)
    w48 = rows[(DEALER, "2026-W48", "all", "")]
    assert (w48["mec"], w48["returning_contacts"], w48["conversations"]) == (1, 1, 1)


def test_monthly_and_daily_rollups(store):
    seed(store)
    rebuild(store, "month", dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    rebuild(store, "day", dt.date(2026, 11, 16), dt.date(2026, 11, 23))
    month = summaries(store, "month")[(DEALER, "2026-11", "all", "")]
    # A, B, C, D, G, H, Z; a contact with several conversations counts once.
    assert (month["mec"], month["qualifying"], month["returning_contacts"]) == (7, 10, 0)
    days = summaries(store, "day")
    assert days[(DEALER, "2026-11-16", "all", "")]["mec"] == 2  # c1 and c11 (00:30 local)
    assert days[(DEALER, "2026-11-23", "all", "")]["mec"] == 1  # c10
    assert days[(DEALER, "2026-11-18", "all", "")]["returning_contacts"] == 1  # A again
    assert (DEALER, "2026-11-15", "all", "") not in days  # outside the range


def test_rebuilding_twice_gives_identical_rows(store):
    seed(store)
    rebuild(store, "week", dt.date(2026, 11, 9), dt.date(2026, 11, 29))
    first = summaries(store)
    rebuild(store, "week", dt.date(2026, 11, 9), dt.date(2026, 11, 29))
    rebuild_period(store, "2026-W47")
    assert summaries(store) == first
    backfill(store, dt.date(2026, 11, 1), dt.date(2026, 11, 29), progress=None)
    assert summaries(store) == first


def test_late_answers_and_late_potential_are_picked_up_by_the_next_run(store, now):
    seed(store)
    rebuild_period(store, W47)
    before = summaries(store)[(DEALER, "2026-W47", "all", "")]
    assert (before["csat_n"], before["csat_sum"], before["csat_top2"]) == (3, 11, 2)
    late_answer(store)
    rollup(store, now)  # the hourly job: current and previous week (W48, W47)
    after = summaries(store)[(DEALER, "2026-W47", "all", "")]
    assert (after["csat_n"], after["csat_sum"], after["csat_top2"]) == (4, 12, 2)
    assert summaries(store, "month")[(DEALER, "2026-11", "all", "")]["csat_n"] == 5
    assert summaries(store, "day")[(DEALER, "2026-11-23", "all", "")]["mec"] == 1
    import_potential(store, [{"dealer": DEALER, "period": "2026-W47",
                              "service_appointments": 20, "sales_leads": 10}], rebuild=False)  # fmt: skip
    assert summaries(store)[(DEALER, "2026-W47", "all", "")]["potential"] == 3  # not yet
    rebuild_period(store, "2026-W47")
    row = summaries(store)[(DEALER, "2026-W47", "all", "")]
    assert (row["potential"], row["potential_estimated"]) == (30, False)


def test_the_hourly_rollup_covers_the_previous_week_in_each_dealers_time_zone(
    store, tmp_path, monkeypatch
):
    """At 23:30 UTC on Sunday it is Monday in Amsterdam but still Sunday in London: for the
    London dealer W47 is the current week and W46 the previous one, which the job rebuilds."""
    from tests.unit.core.test_periods import SUNDAY_NIGHT, london_dealer

    monkeypatch.setenv("DEALERBOT_DEALERS_DIR", london_dealer(tmp_path))
    wednesday = record(*SEED[1])
    apply(store, conversation_op(wednesday.__class__(**{**wednesday.__dict__, "dealer_id": "london",
                                                        "started_at": utc(11, 11, 14, 0)})))  # fmt: skip
    rollup(store, SUNDAY_NIGHT)
    assert summaries(store)[("london", "2026-W46", "all", "")]["conversations"] == 1


def test_a_potential_without_conversations_still_gets_a_row(store):
    import_potential(store, [{"dealer": "other", "period": "2026-11",
                              "service_appointments": 4, "sales_leads": 1}])  # fmt: skip
    (row,) = summaries(store, "month").values()
    assert (row["dealer_id"], row["mec"], row["potential"], row["potential_estimated"]) == (
        "other", 0, 5, False,
    )  # fmt: skip


def test_periods_older_than_the_retention_period_are_left_alone(store, monkeypatch):
    seed(store)
    rebuild(store, "week", dt.date(2026, 11, 9), dt.date(2026, 11, 22))
    kept = summaries(store)
    monkeypatch.setenv("DEALERBOT_RETENTION_DAYS", "5")  # W46 and W47 may be purged now
    with store.begin() as session:
        session.query(Conversation).delete()
    result = rebuild(store, "week", dt.date(2026, 11, 9), dt.date(2026, 11, 29))
    assert (result.first_key, result.skipped) == ("2026-W48", 2)
    assert {k: v for k, v in summaries(store).items() if k[1] != "2026-W48"} == kept


def test_backfill_draws_a_progress_bar(store, capsys):
    import sys

    seed(store)
    results = backfill(store, dt.date(2026, 11, 1), dt.date(2026, 11, 30), kinds=("week",),
                       progress=sys.stderr)  # fmt: skip
    err = capsys.readouterr().err
    assert "100%" in err and err.endswith("\n")
    assert sum(r.rows for r in results) == len(summaries(store))
    assert [dataclasses.astuple(r)[:3] for r in results] == [
        ("week", "2026-W44", "2026-W48"), ("week", "2026-W49", "2026-W49"),
    ]  # fmt: skip


def test_backfill_is_quiet_when_stderr_is_not_a_terminal(store, capsys):
    seed(store)
    backfill(store, dt.date(2026, 11, 1), dt.date(2026, 11, 30), kinds=("week",))
    assert capsys.readouterr().err == ""  # a log file or a pipe gets no progress bar


# Conversation columns that migrations after 0002 add (0003 keys, 0007 bucket and scores).
ADDED_AFTER_0002 = (
    "day_key", "week_key", "month_key", "first_response_bucket", "csat", "ces", "nps",
    "fallback_messages", "person_key", "person", "customer_channel",
)  # fmt: skip


def test_migration_0003_back_fills_the_period_keys(store):
    from sqlalchemy import column, insert, table

    from core.store.migrate import downgrade, upgrade

    engine = store.kw["bind"]
    downgrade(engine, "0002")
    conversations = Conversation.__table__
    values = {c.name: getattr(record(*SEED[0]), c.name, None) for c in conversations.columns
              if c.name not in ADDED_AFTER_0002}  # fmt: skip
    values.update(intents="", updated_at=dt.datetime(2026, 11, 23))
    before = table("conversations", *[column(name, conversations.c[name].type) for name in values])
    with engine.begin() as conn:
        conn.execute(insert(before).values(**values))  # a row written before 0003
    upgrade(engine, "0003")
    with engine.connect() as conn:
        row = conn.execute(select(conversations.c.day_key, conversations.c.week_key,
                                  conversations.c.month_key)).one()  # fmt: skip
    assert tuple(row) == ("2026-11-16", "2026-W47", "2026-11")
    upgrade(engine)
