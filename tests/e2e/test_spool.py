"""The database goes down during conversations: replies go on, records wait in the spool, and
after recovery every conversation and answer is in PostgreSQL exactly once."""

import pytest
from sqlalchemy import func, select

from bench.common import records_written
from bot.runtime import start_stack
from core.store.models import Conversation, SurveyAnswer
from tests.conftest import FIXED_NOW, pg_schema
from tests.e2e.conftest import say, texts
from tests.e2e.proxy import FlakyProxy

pytestmark = pytest.mark.e2e
TALKS = {
    "spool-1": ["hoi", "wat zijn jullie openingstijden op zaterdag?", "doei", "4", "6", "nee"],
    "spool-2": ["hello", "where are you located?", "bye", "5"],
    "spool-3": ["hebben jullie elektrische auto's?", "wat kost de id.3?"],
}


def test_database_down_then_back(model, pg_url, tmp_path):
    proxy = FlakyProxy(("127.0.0.1", 5432))
    with pg_schema(pg_url, port=proxy.port) as (url, store):
        stack = start_stack(
            model,
            env={"DEALERBOT_DATABASE_URL": url, "DEALERBOT_FIXED_NOW": FIXED_NOW,
                 "DEALERBOT_VAR_DIR": str(tmp_path),
                 "DEALERBOT_CUSTOMER_CHANNELS": "web,whatsapp,rest"},
            log_dir=tmp_path,
        )  # fmt: skip
        try:
            proxy.down()
            for sender, messages in TALKS.items():
                for message in messages:
                    # the customer always gets a reply
                    assert texts(say(stack, sender, message)).strip()
            assert records_written(tmp_path)  # stored or spooled, after the replies
            spool = tmp_path / "spool" / "records.jsonl"
            assert spool.exists() and spool.read_text().count("\n") >= len(TALKS)
            proxy.up()
            say(stack, "spool-after", "hallo")  # the next successful write replays the spool
            assert records_written(tmp_path)
            with store() as session:  # directly, not through the proxy
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
