"""The quality report on a small fixture of Rasa's output: parsing, comparison, Markdown, PNG."""

import datetime as dt
import json
from pathlib import Path

import pytest

from trainer.report import (
    IntentScore,
    ReportError,
    accuracy,
    compare,
    failed_story_names,
    parse_intent_report,
    read_intent_report,
    render_markdown,
    top_confusions,
    write_report,
)

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def scores():
    return read_intent_report(FIXTURES / "intent_report.json")


def test_parse_leaves_out_the_averages(scores):
    assert sorted(scores) == ["ask_price", "book_service", "reschedule_appointment"]
    assert scores["ask_price"] == IntentScore(
        1.0, 0.5, 0.667, 8, {"ask_financing": 3, "nlu_fallback": 1}
    )
    assert accuracy(scores) == pytest.approx((8 + 6 + 4) / 24)
    assert accuracy({}) is None


def test_bad_reports_are_clear_errors(tmp_path):
    with pytest.raises(ReportError, match="intent 'x'"):
        parse_intent_report({"x": {"precision": 1}})
    (tmp_path / "r.json").write_text("{")
    with pytest.raises(ReportError, match="cannot be read"):
        read_intent_report(tmp_path / "r.json")


def test_top_confusions(scores):
    assert top_confusions(scores) == [
        ("ask_price", "ask_financing", 3),
        ("book_service", "reschedule_appointment", 2),
        ("ask_price", "nlu_fallback", 1),
    ]
    assert top_confusions(scores, n=1) == [("ask_price", "ask_financing", 3)]


def test_compare_with_the_previous_report(scores):
    previous = {"book_service": 0.9, "reschedule_appointment": 0.85, "ask_price": 0.5, "gone": 1.0}
    better, worse = compare(previous, scores)
    assert better == [("ask_price", 0.5, 0.667)]
    assert worse == [("book_service", 0.9, 0.847)]  # 0.857 vs 0.85: noise


def test_markdown(scores):
    text = render_markdown(
        {"Held-out nl": scores},
        previous={"Held-out nl": {"ask_price": 0.9}},
        failed_stories=["a story"],
        images={"Held-out nl": "cm.png"},
        generated=dt.datetime(2026, 11, 23, 9),
    )
    assert "## Held-out nl" in text and "Accuracy: 75.0% (n=24)" in text
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert table[0] == "| intent | precision | recall | F1 | n |"
    assert table[1] == "| ask_price | 1.00 | 0.50 | 0.67 | 8 |"  # worst F1 first
    assert "1. ask_price taken for ask_financing: 3×" in text
    assert "- **Worse** (F1 ± 0.02 or more): ask_price 0.90 → 0.67" in text
    assert "- **Better** (F1 ± 0.02 or more): none" in text
    assert "![confusion matrix Held-out nl](cm.png)" in text
    assert "1 failed:" in text and "- a story" in text
    assert "All test stories pass." in render_markdown({}, failed_stories=[])
    assert "No previous report to compare with." in render_markdown({"x": scores})


def test_failed_stories():
    assert failed_story_names(FIXTURES / "failed_test_stories.yml") == [
        "book an apk in Dutch (tests/stories/test_appointments.yml)",
        "ask the price (tests/stories/test_sales.yml)",
    ]
    assert failed_story_names(FIXTURES / "missing.yml") == []


def test_write_report_compares_with_the_previous_run(tmp_path, scores):
    out = tmp_path / "report"
    path = write_report(out, {"Held-out nl": scores}, failed_stories=[])
    assert "No previous report" in path.read_text()
    png = out / "confusion-held-out-nl.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "summary.json").read_text())["Held-out nl"]["ask_price"] == 0.667
    worse = {**scores, "ask_price": IntentScore(1.0, 0.25, 0.4, 8)}
    text = write_report(out, {"Held-out nl": worse}, failed_stories=None).read_text()
    assert "**Worse** (F1 ± 0.02 or more): ask_price 0.67 → 0.40" in text
    assert "Conversation stories" not in text
    assert (out / "summary.previous.json").exists()


def test_no_model_is_a_clear_error(tmp_path):
    from trainer.report import latest_model

    with pytest.raises(ReportError, match="dealerbot train"):
        latest_model(tmp_path)
    (tmp_path / "a.tar.gz").write_bytes(b"")
    assert latest_model(tmp_path) == tmp_path / "a.tar.gz"


@pytest.fixture
def fake_rasa(monkeypatch):
    """Each Rasa run writes the fixtures' reports where the real one would."""
    import shutil

    from trainer import report

    runs = []

    def run(args: list[str], timeout: int) -> None:
        runs.append(args[:2])
        out = Path(args[args.index("--out") + 1])
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / "intent_report.json", out / "intent_report.json")
        shutil.copy(FIXTURES / "failed_test_stories.yml", out / "failed_test_stories.yml")

    monkeypatch.setattr(report, "_rasa", run)
    return runs


def test_the_report_shows_progress_per_rasa_run_on_a_stream(fake_rasa, tmp_path):
    import io

    from trainer.report import run_report

    stream = io.StringIO()
    path = run_report(out=tmp_path, model=tmp_path / "m.tar.gz", progress=stream)
    assert path.exists() and len(fake_rasa) == 5  # cross-validation and held-out per language
    assert "5/5" in stream.getvalue() and "stories" in stream.getvalue()


def test_the_report_is_quiet_when_stderr_is_not_a_terminal(fake_rasa, tmp_path, capsys):
    from trainer.report import run_report

    run_report(out=tmp_path, model=tmp_path / "m.tar.gz", cross_validation=False)
    assert len(fake_rasa) == 3 and capsys.readouterr().err == ""
