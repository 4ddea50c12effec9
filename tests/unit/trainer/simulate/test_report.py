"""The conversation loop with a scripted bot, the figures of a run, and the command."""

import json

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
    f = figures(sample_run())
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
