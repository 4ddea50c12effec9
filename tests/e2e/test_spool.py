"""The database goes down during conversations: replies go on, records wait in the spool, and
after recovery every conversation and answer is in PostgreSQL exactly once."""

import uuid

import pytest
from sqlalchemy import func, select, text

from bot.runtime import start_stack
from metrics.store.migrate import upgrade
from metrics.store.models import Conversation, SurveyAnswer
from metrics.store.session import make_engine, make_session_factory
from tests.conftest import FIXED_NOW
from tests.e2e.conftest import say, texts
from tests.e2e.proxy import FlakyProxy

pytestmark = pytest.mark.e2e
TALKS = {
    "spool-1": ["hoi", "wat zijn jullie openingstijden op zaterdag?", "doei", "4", "6", "nee"],
    "spool-2": ["hello", "where are you located?", "bye", "5"],
    "spool-3": ["hebben jullie elektrische auto's?", "wat kost de id.3?"],
}


@pytest.fixture
def pg_schema(pg_url):
    schema = f"spool_{uuid.uuid4().hex[:10]}"
    admin = make_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f'create schema "{schema}"'))
    yield schema
    with admin.begin() as conn:
        conn.execute(text(f'drop schema "{schema}" cascade'))
    admin.dispose()


def test_database_down_then_back(model, pg_url, pg_schema, tmp_path):
    proxy = FlakyProxy(("127.0.0.1", 5432))
    options = f"-csearch_path%3D{pg_schema}"
    url = f"postgresql+psycopg2://postgres@127.0.0.1:{proxy.port}/test?options={options}"
    upgrade(make_engine(url))
    stack = start_stack(
        model,
        env={"DEALERBOT_DATABASE_URL": url, "DEALERBOT_FIXED_NOW": FIXED_NOW,
             "DEALERBOT_VAR_DIR": str(tmp_path), "DEALERBOT_CUSTOMER_CHANNELS": "web,whatsapp,rest"},
        log_dir=tmp_path,
    )  # fmt: skip
    try:
        proxy.down()
        for sender, messages in TALKS.items():
            for message in messages:
                assert texts(
                    say(stack, sender, message)
                ).strip()  # the customer always gets a reply
        spool = tmp_path / "spool" / "records.jsonl"
        assert spool.exists() and spool.read_text().count("\n") >= len(TALKS)
        proxy.up()
        say(stack, "spool-after", "hallo")  # the next successful write replays the spool first
        store = make_session_factory(
            make_engine(f"postgresql+psycopg2://postgres@127.0.0.1:5432/test?options={options}")
        )
        with store() as session:
            rows = session.scalars(
                select(Conversation).where(Conversation.is_test.is_(False))
            ).all()
            answers = session.scalar(select(func.count()).select_from(SurveyAnswer))
        by_messages = sorted(r.customer_messages for r in rows)
        assert by_messages == sorted([*(len(m) for m in TALKS.values()), 1])
        assert answers == 3  # spool-1: csat, ces (no comment); spool-2: csat
        assert spool.read_text() == ""
    finally:
        stack.stop()
        proxy.close()
