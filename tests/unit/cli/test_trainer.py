"""The ``dealerbot trainer`` commands, end to end on the default store of the test."""

import yaml

from cli.main import main
from core.engagement import summarize
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


def test_export_by_id_writes_the_items_into_data_and_closes_them(tmp_path, capsys):
    import shutil

    from core.settings import REPO_ROOT
    from trainer.inbox import open_items

    data = tmp_path / "data"
    shutil.copytree(REPO_ROOT / "data", data, ignore=shutil.ignore_patterns("dealers"))
    events = session()
    record = summarize(events, sender_id="s1", secret=SECRET, default_dealer="autohuis-demo")
    factory = default_session_factory()
    Recorder(factory, Spool(tmp_path / "s.jsonl")).write(conversation_op(record, events=events))
    item = next(r for r in open_items(factory) if r.intent == "nlu_fallback")
    assert item.text == "mijn nummer is <phone>, bak maakt herrie"
    args = ["trainer", "export", "--data", str(data), "--id", str(item.id),
            "--intent", "book_service"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    written = "mijn nummer is 0612345678, bak maakt herrie"
    assert f"{data / 'appointments' / 'nlu_nl.yml'}: + book_service: {written}" in out
    assert f"    - {written}\n" in (data / "appointments" / "nlu_nl.yml").read_text()
    assert item.id not in {r.id for r in open_items(factory)}  # handled: out of the inbox
    assert main(["trainer", "export", "--data", str(data), "--id", "999", "--intent", "x"]) == 2
    assert "no inbox items [999]" in capsys.readouterr().err
    assert main(["trainer", "export", "--id", "1"]) == 2  # no --intent
    assert main(["trainer", "export", "--id", "1", "--intent", "x", "--entity", "oops"]) == 2
    assert main(["trainer", "lint", "--data", str(data)]) == 0
