"""The conversation loop with a scripted bot, the figures of a run, and the command."""

import json
from pathlib import Path

from cli.main import main
from trainer.simulate import runner
from trainer.simulate.customer import Answer, Profile, Transcript
from trainer.simulate.report import figures, markdown
from trainer.simulate.responses import Catalog
from trainer.simulate.runner import Result, Run, converse

PLATE_Q = "Wat is het kenteken van de auto? (bijvoorbeeld 12-ABC-3)"
MILEAGE_Q = "Wat is ongeveer de kilometerstand?"
HOURS = "Onze openingstijden:\nmaandag: showroom 09:00-18:00, werkplaats 07:30-17:00"
DEFAULT_EN = "Sorry, I didn't understand that. Could you say it differently? You can also choose one of these:"  # noqa: E501


def test_converse_answers_each_question_until_the_customer_stops():
    answers = {"plate": Answer("12-abc-3"), "mileage": Answer("85k", "85000")}
    profile = Profile(id="sim-x", flow="book", language="nl", opening="ik wil een apk",
                      answers=answers)  # fmt: skip
    script = [[PLATE_Q], ["Sorry, ik heb de kilometerstand nodig als getal, bijvoorbeeld 85000. "
              'Weet u het niet, typ dan "weet ik niet".', MILEAGE_Q], [MILEAGE_Q], [HOURS]]  # fmt: skip
    sent = []

    def send(sender, text):
        sent.append(text)
        return [{"recipient_id": sender, "text": t} for t in script.pop(0)]

    t = converse(profile, send, Catalog.from_domain())
    assert sent == ["ik wil een apk", "12-abc-3", "85k", "85000"]
    assert t.reprompts == {"mileage": 1} and t.asks == {"plate": 1, "mileage": 2}
    assert (t.did_not_understand, t.wrong_language, t.error) == (0, 0, None)
    # each bot turn's reply time, by the question it asked (the hours turn asks none)
    assert {q: len(v) for q, v in t.reply_seconds.items()} == {"plate": 1, "mileage": 2, None: 1}
    assert all(s >= 0 for v in t.reply_seconds.values() for s in v)


def test_a_failing_server_ends_the_conversation_with_an_error():
    profile = Profile(id="sim-x", flow="hours", language="en", opening="hours?")

    def send(sender, text):
        raise ConnectionRefusedError

    assert converse(profile, send, Catalog.from_domain()).error == (
        "REST call failed: ConnectionRefusedError"
    )


def result(lang, flow, problems=(), dnu=0, wrong=0, reprompts=None):
    t = Transcript(Profile(id=f"sim-{lang}-{flow}", flow=flow, language=lang, opening="x"))
    t.did_not_understand, t.wrong_language = dnu, wrong
    t.reprompts.update(reprompts or {})
    t.turns = [("x", [])] * 3
    return Result(t, list(problems))


def sample_run():
    results = [
        result("nl", "book", reprompts={"mileage": 2}),
        result("nl", "book", problems=["outcome abandoned, expected appointment_booked"], dnu=1),
        result("nl", "off_topic", dnu=2),
        result("en", "hours", wrong=3),
    ]
    oos = {"nl": [("weer?", "out_of_scope"), ("grap", "ask_location")], "en": []}
    return Run(results, oos, 12.3)


def test_figures_per_language():
    run = sample_run()
    run.results[0].transcript.reply_seconds = {"plate": [1.0, 3.0], None: [0.5]}
    run.results[1].transcript.reply_seconds = {"mileage": [1.0]}
    f = figures(run)
    assert f["nl"]["seconds_by_question"] == {"plate": 2.0, "mileage": 1.0, "(no question)": 0.5}
    assert list(f["nl"]["seconds_by_question"])[0] == "plate"  # slowest first
    assert f["en"]["seconds_by_question"] == {}
    nl, en = f["nl"], f["en"]
    assert (nl["success"], nl["flows"]) == (0.667, {"book": [1, 2], "off_topic": [1, 1]})
    assert nl["did_not_understand"] == 0.5  # one of the two in-scope conversations
    assert (nl["max_reprompts"], nl["oos_business"], nl["oos_messages"]) == (2, 0.5, 2)
    assert (en["success"], en["wrong_language"], en["oos_business"]) == (1.0, 3, None)


def test_markdown_report_names_the_failures():
    text = markdown(sample_run(), "Test", show_failures=5)
    assert "| end-to-end success | 66.7 % | 100.0 % |" in text
    assert "| book | 1/2 | – |" in text
    assert "outcome abandoned, expected appointment_booked (1)" in text
    assert "### sim-nl-book" in text


def test_a_sample_for_the_quality_report(monkeypatch):
    from trainer.simulate.command import run_sample

    calls = {}

    def fake_simulate(profiles, seeds, model, **kwargs):
        calls.update(n=len(profiles), oos=kwargs["out_of_scope"], stack=kwargs["start_stack"])
        return sample_run()

    monkeypatch.setattr(runner, "simulate", fake_simulate)
    f = run_sample(Path("m.tar.gz"), conversations=28, start_stack=print)
    assert calls == {"n": 28, "oos": None, "stack": print}
    assert {p for p in f if p in ("nl", "en")} == {"nl", "en"} and f["nl"]["success"] == 0.667
    run_sample(Path("m.tar.gz"), conversations=4, start_stack=print, out_of_scope=True)
    assert len(calls["oos"]["en"]) >= 300


def test_the_command_prints_the_report_and_writes_json(monkeypatch, tmp_path, capsys):
    calls = {}

    def fake_simulate(profiles, seeds, model, **kwargs):
        calls.update(n=len(profiles), oos=kwargs["out_of_scope"], model=model)
        return sample_run()

    monkeypatch.setattr(runner, "simulate", fake_simulate)
    out = tmp_path / "fig.json"
    args = ["trainer", "simulate", "--held-out", "--sample", "28", "--model", "m.tar.gz",
            "--json", str(out)]  # fmt: skip
    assert main(args) == 0
    assert calls["n"] == 28 and str(calls["model"]) == "m.tar.gz"
    assert len(calls["oos"]["nl"]) >= 300
    assert "# Simulated conversations: HELD-OUT templates" in capsys.readouterr().out
    assert json.loads(out.read_text())["nl"]["success"] == 0.667


def test_replies_outside_the_domain_are_counted_and_shown():
    run = sample_run()
    run.results[0].transcript.unknown_texts.append("Sorry, something is not working on our side")
    assert "- 1x 'Sorry, something is not working on our side'" in markdown(run, "Test")
