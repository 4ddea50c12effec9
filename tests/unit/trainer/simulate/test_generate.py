"""Generated customers: deterministic, every flow in both languages, styles as described."""

import random
import re
from collections import Counter

import pytest

from trainer.simulate.generate import (
    FLOWS,
    HELD_OUT,
    TUNING,
    add_typo,
    generate,
    load_templates,
    lower_no_punctuation,
    sample,
)


@pytest.fixture(scope="module")
def tuning():
    return generate(held_out=False)


def test_the_same_seed_gives_the_same_conversations(tuning):
    again, _seeds = generate(held_out=False)
    assert [(p.id, p.opening, p.answers) for p in again] == [
        (p.id, p.opening, p.answers) for p in tuning[0]
    ]
    other, _seeds = generate(held_out=False, seed=17)
    assert [p.opening for p in other] != [p.opening for p in tuning[0]]


def test_two_hundred_per_language_over_every_flow(tuning):
    profiles, seeds = tuning
    assert Counter(p.language for p in profiles) == {"nl": 200, "en": 200}
    for lang in ("nl", "en"):
        flows = Counter(p.flow for p in profiles if p.language == lang)
        assert set(flows) == set(FLOWS) and min(flows.values()) >= 14
    assert len({p.id for p in profiles}) == 400
    # every move and cancel customer has an appointment to find, on its own plate
    assert {p.id for p in profiles if p.flow in ("move", "cancel")} == set(seeds)
    assert len(
        {p.expect["appointment"]["plate"] for p in profiles if "appointment" in p.expect}
    ) == len([p for p in profiles if "appointment" in p.expect])


def test_the_styles_the_issue_asks_for_all_occur(tuning):
    tags = Counter(tag for p in tuning[0] for tag in p.tags)
    for style in ("oneshot", "neutral", "numberwords", "typos", "lower", "digression",
                  "correction", "buttons"):  # fmt: skip
        assert tags[style] >= 4, style
    oneshot = [p for p in tuning[0] if "oneshot" in p.tags and p.flow == "book"]
    assert all(len(p.given) >= 2 for p in oneshot)
    assert any(p.flow == "off_topic" for p in tuning[0])


def test_held_out_templates_share_no_opening_with_the_tuning_ones():
    tuning, held_out = load_templates(TUNING), load_templates(HELD_OUT)
    for lang in ("nl", "en"):
        for flow in FLOWS:
            mine = set(tuning[lang]["flows"][flow].get("openings", []))
            mine |= set(tuning[lang]["flows"][flow].get("oneshot", []))
            theirs = set(held_out[lang]["flows"][flow].get("openings", []))
            theirs |= set(held_out[lang]["flows"][flow].get("oneshot", []))
            assert not (mine & theirs) - {"-"}, (lang, flow)
        assert not set(tuning[lang]["off_topic"]) & set(held_out[lang]["off_topic"])


def test_held_out_profiles_generate():
    profiles, _seeds = generate(held_out=True, per_language=28)
    assert {p.flow for p in profiles} == set(FLOWS)
    assert all(p.id.startswith("sim-h") for p in profiles)


def test_openings_use_only_known_placeholders():
    for path in (TUNING, HELD_OUT):
        for lang, section in load_templates(path).items():
            for flow, spec in section["flows"].items():
                for text in spec.get("openings", []) + spec.get("oneshot", []):
                    keys = set(re.findall(r"\{(\w+)\}", text))
                    assert keys <= {"greeting", "service", "plate", "km", "when", "car", "name",
                                    "contact"}, (path.name, lang, flow, text)  # fmt: skip


def test_sample_spreads_over_languages_and_flows(tuning):
    picked = sample(tuning[0], 28)
    assert Counter((p.language, p.flow) for p in picked) == {
        (lang, flow): 1 for lang in ("nl", "en") for flow in FLOWS
    }
    assert sample(tuning[0], None) == tuning[0]


def test_lower_case_without_punctuation_keeps_addresses_and_plates():
    assert lower_no_punctuation("Hoi, mijn e-mail is Jan.Vries@Mail.nl. Kenteken 12-ABC-3!") == (
        "hoi mijn e-mail is jan.vries@mail.nl kenteken 12-abc-3"
    )


def test_a_typo_swaps_two_letters_of_one_long_word():
    text = add_typo("ik wil een onderhoudsbeurt", random.Random(1))
    assert text != "ik wil een onderhoudsbeurt"
    assert sorted(text) == sorted("ik wil een onderhoudsbeurt")
    assert add_typo("12-ABC-3", random.Random(1)) == "12-ABC-3"
