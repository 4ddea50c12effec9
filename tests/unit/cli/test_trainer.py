"""The ``dealerbot trainer`` commands, end to end on the default store of the test."""

import yaml

from cli.main import main
from core.store.recorder import Recorder, conversation_op
from core.store.session import default_session_factory
from core.store.spool import Spool
from tests.integration.trainer.test_inbox_store import SECRET, session
from tests.unit.trainer.test_lint import write_project


def test_lint_exit_codes(tmp_path, capsys):
    data, domain = write_project(tmp_path / "ok")
    assert main(["trainer", "lint", "--data", str(data), "--domain", str(domain)]) == 0
    assert capsys.readouterr().out.strip() == "the training data is clean"
    data, domain = write_project(tmp_path / "bad", responses={"utter_x": [{"text": "Hoi"}]})
    assert main(["trainer", "lint", "--data", str(data), "--domain", str(domain)]) == 1
    captured = capsys.readouterr()
    assert "response utter_x has no English variation" in captured.out
    assert "1 problems in the training data" in captured.err


def test_inbox_export_and_mark_done(tmp_path, capsys):
    from core.engagement import summarize

    events = session()
    record = summarize(events, sender_id="s1", secret=SECRET, default_dealer="autohuis-demo")
    Recorder(default_session_factory(), Spool(tmp_path / "s.jsonl")).write(
        conversation_op(record, events=events)
    )
    assert main(["trainer", "inbox"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 open items (en 1, nl 2)") and "nlu_fallback: 1" in out
    assert main(["trainer", "inbox", "--language", "en"]) == 0
    assert capsys.readouterr().out.startswith("1 open items (en 1)")

    assert main(["trainer", "export", "--out", str(tmp_path / "out")]) == 0
    nl = yaml.safe_load((tmp_path / "out" / "inbox_nl.yml").read_text())
    assert [b["intent"] for b in nl["nlu"]] == ["ask_price", "book_service"]
    assert (tmp_path / "out" / "inbox_en.yml").exists()
    capsys.readouterr()

    assert main(["trainer", "mark-done"]) == 2
    assert "say which items" in capsys.readouterr().err
    assert main(["trainer", "mark-done", "--id", "x"]) == 2
    assert main(["trainer", "mark-done", "--intent", "ask_price"]) == 0
    assert capsys.readouterr().out.strip() == "1 items marked done"
    assert main(["trainer", "mark-done", "--all"]) == 0
    assert main(["trainer", "inbox"]) == 0
    assert capsys.readouterr().out.strip().endswith("The inbox is empty.")
