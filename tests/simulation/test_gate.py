"""CI gate of issue 16: simulated customers from the HELD-OUT templates against the real stack.

Fails when a figure falls below its floor in ``floors.yml`` (or above its ceiling). The floors are
what the bot achieved when they were last set, minus a small margin; raise them when the bot gets
better (docs/training.md, "Simulated conversations"). The figures are printed in the test output.
"""

from pathlib import Path

import pytest
import yaml

from bot.runtime import start_stack
from trainer.simulate.command import load_out_of_scope
from trainer.simulate.generate import generate, sample
from trainer.simulate.report import figures, markdown
from trainer.simulate.runner import simulate

pytestmark = pytest.mark.e2e
FLOORS = yaml.safe_load((Path(__file__).with_name("floors.yml")).read_text(encoding="utf-8"))
LANGUAGES = ("nl", "en")


@pytest.fixture(scope="module")
def measured(model, tmp_path_factory):
    profiles, seeds = generate(held_out=True, seed=FLOORS["seed"])
    picked = sample(profiles, FLOORS["sample"], FLOORS["seed"])
    run = simulate(picked, seeds, model, out_of_scope=load_out_of_scope(),
                   work_dir=tmp_path_factory.mktemp("simulation"), start_stack=start_stack)  # fmt: skip
    return run, figures(run)


def test_print_the_figures(measured, capsys):
    run, _figures = measured
    with capsys.disabled():
        print("\n" + markdown(run, "Simulator gate: held-out templates"))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_end_to_end_success_holds_its_floor(measured, lang):
    got, floor = measured[1][lang]["success"], FLOORS["success_min"][lang]
    assert got >= floor, f"{lang}: success {got:.1%} below the floor {floor:.1%}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_did_not_understand_share_holds_its_ceiling(measured, lang):
    got, ceiling = measured[1][lang]["did_not_understand"], FLOORS["did_not_understand_max"][lang]
    assert got <= ceiling, f"{lang}: 'did not understand' in {got:.1%}, ceiling {ceiling:.1%}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_wrong_language_replies_hold_their_ceiling(measured, lang):
    got, ceiling = measured[1][lang]["wrong_language"], FLOORS["wrong_language_max"][lang]
    assert got <= ceiling, f"{lang}: {got} wrong-language replies, ceiling {ceiling}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_reprompts_per_question_hold_their_ceiling(measured, lang):
    got, ceiling = measured[1][lang]["max_reprompts"], FLOORS["max_reprompts_max"][lang]
    assert got <= ceiling, f"{lang}: a question asked again {got} times, ceiling {ceiling}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_out_of_scope_business_intent_rate_holds_its_ceiling(measured, lang):
    got, ceiling = measured[1][lang]["oos_business"], FLOORS["oos_business_max"][lang]
    assert measured[1][lang]["oos_messages"] >= 300
    assert got <= ceiling, f"{lang}: {got:.1%} of out-of-scope messages got a business intent"
