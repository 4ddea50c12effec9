"""``dealerbot metrics summary`` reads the store as it is now (issue 20): the week's dirty days
(conversations since the last rollup, an erasure) are rolled up first."""

import re

from cli.main import main
from core.store.models import SurveyAnswer, delete_conversations
from core.store.session import default_session_factory
from tests.integration.metrics.test_aggregate import DEALER, seed


def mec_line(text: str) -> list[str]:
    """The MEC row's columns: figure, value, change, n (two or more spaces between them)."""
    line = next(line for line in text.splitlines() if line.startswith("MEC (engaged"))
    return re.split(r"\s{2,}", line.strip())


def test_metrics_summary_counts_what_was_recorded_since_the_last_rollup(capsys):
    from sqlalchemy import delete

    factory = default_session_factory()
    seed(factory)  # recorded, never rolled up
    args = ["metrics", "summary", "--dealer", DEALER, "--week", "2026-W47", "--language", "en"]
    assert main(args) == 0
    assert mec_line(capsys.readouterr().out)[1] == "6"
    with factory.begin() as session:  # contact G (c9) is erased
        session.execute(delete(SurveyAnswer).where(SurveyAnswer.conversation_id == "c9"))
        delete_conversations(session.connection(), ["c9"])
    assert main(args) == 0
    assert mec_line(capsys.readouterr().out)[1] == "5"
