"""The columns migration 0007 adds for fast rollups stay in step with what they copy, on SQLite
and PostgreSQL: the first-response bucket, the survey scores, and returning contacts counted
from each contact's first period (for short and for long ranges alike)."""

import datetime as dt

from sqlalchemy import column, insert, select, table

from core.engagement import bucket_index
from core.store.migrate import downgrade, upgrade
from core.store.models import Conversation, SurveyAnswer
from core.store.recorder import answer, apply, conversation_op
from metrics import aggregate
from tests.integration.metrics.test_aggregate import SEED, record, seed, summaries


def scores(factory, cid):
    with factory() as session:
        row = session.get(Conversation, cid)
        return row.first_response_bucket, row.csat, row.ces, row.nps


def test_bucket_and_scores_follow_the_record_and_its_answers(store):
    apply(
        store, conversation_op(record(*SEED[0]), [answer("csat", score=5), answer("ces", score=6)])
    )
    assert scores(store, "c1") == (bucket_index(800), 5, 6, None)
    apply(store, {"op": "answers", "conversation_id": "c1",
                  "answers": [answer("csat", score=2, at=dt.datetime(2030, 1, 1)),
                              answer("nps", score=9), answer("comment", comment="ok")]})  # fmt: skip
    assert scores(store, "c1") == (bucket_index(800), 2, 6, 9)
    with store.begin() as session:  # a new snapshot with a slower first reply
        row = session.get(Conversation, "c1")
        row.first_response_ms = 45_000
    with store.begin() as session:
        session.delete(
            session.scalars(select(SurveyAnswer).where(SurveyAnswer.question == "ces")).one()
        )
    assert scores(store, "c1") == (bucket_index(45_000), 2, None, 9)


def test_migration_0007_back_fills_bucket_and_scores(store):
    engine = store.kw["bind"]
    downgrade(engine, "0006")
    old = table("conversations", *[column(c.name) for c in Conversation.__table__.columns
                                   if c.name not in ("first_response_bucket", "csat", "ces", "nps",
                                                      "fallback_messages", "person_key", "person",
                                                      "customer_channel")])  # fmt: skip
    values = {c.name: getattr(record(*SEED[0]), c.name, None) for c in old.columns}
    values.update(intents="", updated_at=dt.datetime(2026, 11, 23), day_key="2026-11-16",
                  week_key="2026-W47", month_key="2026-11")  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(old).values(**values))
        for question, score, comment in (("csat", 4, None), ("comment", None, "fine")):
            conn.execute(insert(SurveyAnswer.__table__).values(
                conversation_id="c1", question=question, score=score, comment=comment,
                answered_at=values["updated_at"],
            ))  # fmt: skip
    upgrade(engine)
    assert scores(store, "c1") == (bucket_index(800), 4, None, None)


def test_returning_contacts_over_a_range_of_weeks(store):
    seed(store)
    # A's conversations in W46 and W47, H's in W47 and W48: returning in W47 and W48.
    aggregate.rebuild(store, "week", dt.date(2026, 11, 9), dt.date(2026, 11, 29))
    short = summaries(store)
    returning = {k[1]: v["returning_contacts"] for k, v in short.items() if k[2] == "all"}
    assert returning == {"2026-W46": 0, "2026-W47": 1, "2026-W48": 1}
