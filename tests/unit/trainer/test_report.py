"""The quality report on small inputs: Rasa's output, the held-out scoring, comparison, Markdown,
HTML with the embedded PNG, the simulator's figures, the command line options."""

import argparse
import base64
import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

from cli.trainer import add_trainer_commands, report_options
from trainer.gate import Parsed
from trainer.report import (
    FULL_SAMPLE,
    QUICK_SAMPLE,
    IntentScore,
    ReportError,
    accuracy,
    compare,
    failed_story_names,
    holdout_scores,
    load_simulation,
    macro_f1,
    nlu_only_config,
    parse_intent_report,
    read_intent_report,
    render_html,
    render_markdown,
    simulation_views,
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
    assert "## Held-out nl" in text and "Accuracy: 75.0%, F1 (macro): " in text
    assert "(n=24)" in text
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


HOLDOUT = [
    Parsed("a", "ask_price", "nl", "ask_price", "nl"),
    Parsed("b", "ask_price", "nl", "ask_financing", "nl"),
    Parsed("c", "ask_financing", "nl", "ask_financing", "nl"),
    Parsed("d", "out_of_scope", "nl", "nlu_fallback", "nl"),  # counts as right (the gate's rule)
    Parsed("e", "ask_price", "en", "ask_price", "en"),
]


def test_holdout_scores_per_language():
    result = holdout_scores(HOLDOUT)
    assert sorted(result) == ["en", "nl"]
    nl = result["nl"]
    assert nl["ask_price"] == IntentScore(1.0, 0.5, 0.667, 2, {"ask_financing": 1})
    assert nl["ask_financing"] == IntentScore(0.5, 1.0, 0.667, 1, {})
    assert nl["out_of_scope"] == IntentScore(1.0, 1.0, 1.0, 1, {})
    assert accuracy(nl) == pytest.approx(3 / 4)
    assert macro_f1(nl) == pytest.approx((0.667 + 0.667 + 1.0) / 3)
    assert macro_f1({}) is None
    assert top_confusions(nl) == [("ask_price", "ask_financing", 1)]


SIMULATION = {
    "conversations": 3,
    "nl": {
        "conversations": 2,
        "success": 0.5,
        "flows": {"book": [1, 1], "move": [0, 1]},
        "oos_messages": 10,
        "oos_business": 0.2,
        "reprompts_by_question": {"plate": 2, "name": 0, "time": 1},
        "seconds_by_question": {"time": 2.5, "plate": 0.4, "-": 0.3},
    },
    "en": {"conversations": 1, "success": 1.0, "flows": {"book": [1, 1]}, "oos_messages": 0,
           "oos_business": None, "reprompts_by_question": {}},
}  # fmt: skip


def test_simulation_views():
    nl, en = simulation_views(SIMULATION, top=2)
    assert nl["language"] == "nl" and nl["flows"] == [("book", 1, 1), ("move", 0, 1)]
    assert nl["slowest"] == [("time", 2.5), ("plate", 0.4)]
    assert nl["reprompted"] == [("plate", 2), ("time", 1)]  # never re-prompted: left out
    assert en["slowest"] == [] and en["oos_business"] is None
    assert simulation_views(None) == []


def test_markdown_with_the_simulation(scores):
    text = render_markdown({"Held-out nl": scores}, simulation=SIMULATION)
    assert "## Simulated conversations nl" in text and "## Simulated conversations en" in text
    assert "Success: 50.0% of 2 conversations" in text
    assert "out-of-scope messages given a business intent: 20.0% (n=10)" in text
    assert "| move | 0/1 |" in text
    assert "1. time: 2.50 s" in text and "1. plate: 2×" in text
    assert "none recorded" in text  # en: no reply times


def test_html_is_self_contained_and_escaped(scores):
    png = b"\x89PNG\r\n\x1a\nfake"
    hostile = {**scores, "<script>x</script>": IntentScore(1.0, 1.0, 1.0, 1)}
    page = render_html(
        {"Held-out nl": hostile},
        images={"Held-out nl": png},
        simulation=SIMULATION,
        failed_stories=["a <b> story"],
        generated=dt.datetime(2026, 11, 23, 9),
    )
    assert page.startswith("<!doctype html>") and "Generated 2026-11-23 09:00." in page
    assert f'src="data:image/png;base64,{base64.b64encode(png).decode()}"' in page
    assert "<script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "a &lt;b&gt; story" in page
    assert "ask_price taken for ask_financing: 3×" in page
    assert "Simulated conversations nl" in page and "time: 2.50 s" in page
    assert "http" not in page.replace("<!doctype html>", "")  # nothing fetched from elsewhere


def test_write_report_writes_html_with_the_png_inside(tmp_path, scores):
    write_report(tmp_path, {"Held-out nl": scores}, failed_stories=None, simulation=SIMULATION)
    png = (tmp_path / "confusion-held-out-nl.png").read_bytes()
    page = (tmp_path / "report.html").read_text()
    assert base64.b64encode(png).decode() in page
    assert "## Simulated conversations nl" in (tmp_path / "report.md").read_text()


def test_nlu_only_config(tmp_path):
    config = tmp_path / "config.yml"
    config.write_text("language: nl\npipeline:\n- name: A\npolicies:\n- name: B\n")
    data = yaml.safe_load(nlu_only_config(config, tmp_path / "nlu.yml").read_text())
    assert data == {"language": "nl", "pipeline": [{"name": "A"}]}


def test_load_simulation(tmp_path):
    (tmp_path / "f.json").write_text(json.dumps(SIMULATION))
    assert load_simulation(tmp_path / "f.json") == SIMULATION
    with pytest.raises(ReportError, match="cannot be read"):
        load_simulation(tmp_path / "missing.json")


def _options(*argv: str) -> dict:
    parser = argparse.ArgumentParser()
    add_trainer_commands(parser.add_subparsers())
    return report_options(parser.parse_args(["trainer", "report", *argv]))


def test_report_options():
    assert _options() == {"folds": None, "stories": True, "simulation": None,
                          "sample": FULL_SAMPLE, "out_of_scope": True}  # fmt: skip
    assert _options("--quick") == {"folds": None, "stories": False, "simulation": None,
                                   "sample": QUICK_SAMPLE, "out_of_scope": False}  # fmt: skip
    assert _options("--quick", "--sample", "4")["sample"] == 4
    assert _options("--folds", "3")["folds"] == 3
    assert _options("--simulation", "f.json")["sample"] == 0
    assert _options("--no-simulation", "--no-stories") == {
        "folds": None, "stories": False, "simulation": None, "sample": 0, "out_of_scope": True}  # fmt: skip


@pytest.fixture
def fake_rasa(monkeypatch):
    """Each Rasa run writes the fixtures' reports where the real one would; the held-out set
    is parsed by no model but :data:`HOLDOUT`."""
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
    monkeypatch.setattr(report, "parse_model_holdout", lambda model: HOLDOUT)
    return runs


def test_the_report_shows_progress_per_step_on_a_stream(fake_rasa, tmp_path):
    import io

    from trainer.report import run_report

    calls = []

    def simulate(progress):
        progress(1, 2)
        calls.append("sim")
        return SIMULATION

    stream = io.StringIO()
    path = run_report(
        out=tmp_path, model=tmp_path / "m.tar.gz", folds=2, simulate=simulate, progress=stream
    )
    assert len(fake_rasa) == 3 and calls == ["sim"]  # cross-validation per language, stories
    assert "4/4" in stream.getvalue() and "stories" in stream.getvalue()
    text = path.read_text()
    assert "## Cross-validation nl" in text and "## Held-out en" in text
    assert "## Simulated conversations nl" in text


def test_the_report_is_quiet_when_stderr_is_not_a_terminal(fake_rasa, tmp_path, capsys):
    from trainer.report import run_report

    run_report(out=tmp_path, model=tmp_path / "m.tar.gz", stories=False)
    assert fake_rasa == [] and capsys.readouterr().err == ""
    assert (tmp_path / "report.html").exists()


def test_the_command_reads_a_simulation_file_and_prints_the_markdown(fake_rasa, tmp_path, capsys):
    from cli.main import main

    sim = tmp_path / "sim.json"
    sim.write_text(json.dumps(SIMULATION))
    out = tmp_path / "out"
    argv = ["trainer", "report", "--quick", "--simulation", str(sim), "--model", "m.tar.gz",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "## Held-out nl" in printed and "## Simulated conversations nl" in printed
    assert fake_rasa == []  # --quick: no stories, no cross-validation
    assert "Simulated conversations en" in (out / "report.html").read_text()
    assert main([*argv[:4], str(tmp_path / "missing.json"), *argv[5:]]) == 1
    assert "cannot be read" in capsys.readouterr().err
