"""The data lint: each rule catches its problem with a clear message, and clean data passes."""

import shutil
from pathlib import Path

import yaml

from trainer.lint import annotated_entities, lint_project, plain_text, variation_language

REPO = Path(__file__).resolve().parents[3]
NL = ["ik wil een afspraak {}", "kan ik langskomen voor {}", "graag een plekje voor {}"]
EN = ["I want an appointment {}", "can I come in for {}", "please book me in for {}"]


def nlu_block(intent, lang, examples):
    return {
        "intent": intent,
        "metadata": {"language": lang},
        "examples": "".join(f"- {e}\n" for e in examples),
    }


def write_project(tmp_path, *, nl=None, en=None, entities=("service_type",), responses=None):
    """A small project: intent book_service with 30 examples per language."""
    data, domain = tmp_path / "data" / "appointments", tmp_path / "bot" / "domain"
    data.mkdir(parents=True)
    domain.mkdir(parents=True)
    nl_blocks = (
        nl
        if nl is not None
        else [nlu_block("book_service", "nl", [t.format(i) for t in NL for i in range(10)])]
    )
    en_blocks = (
        en
        if en is not None
        else [nlu_block("book_service", "en", [t.format(i) for t in EN for i in range(10)])]
    )
    for name, blocks in (("nlu_nl.yml", nl_blocks), ("nlu_en.yml", en_blocks)):
        (data / name).write_text(yaml.safe_dump({"version": "3.1", "nlu": blocks}))
    (data / "rules.yml").write_text("version: '3.1'\nrules: []\n")
    en_condition = [{"type": "slot", "name": "language", "value": "en"}]
    (domain / "core.yml").write_text(
        yaml.safe_dump(
            {
                "intents": ["book_service"],
                "entities": list(entities),
                "responses": responses
                if responses is not None
                else {"utter_hi": [{"condition": en_condition, "text": "Hi"}, {"text": "Hoi"}]},
            }
        )
    )
    return tmp_path / "data", tmp_path / "bot" / "domain"


def messages(problems, rule=None):
    return [str(p) for p in problems if rule is None or p.rule == rule]


def test_a_clean_project_passes(tmp_path):
    assert lint_project(*write_project(tmp_path)) == []


def test_same_example_under_two_intents(tmp_path):
    nl = [
        nlu_block("book_service", "nl", [t.format(i) for t in NL for i in range(10)]),
        nlu_block(
            "cancel_appointment",
            "nl",
            ["Ik wil een afspraak 3!"] + [f"afspraak {i} annuleren" for i in range(25)],
        ),
    ]
    en = [
        nlu_block("book_service", "en", [t.format(i) for t in EN for i in range(10)]),
        nlu_block("cancel_appointment", "en", [f"cancel booking {i}" for i in range(25)]),
    ]
    found = messages(lint_project(*write_project(tmp_path, nl=nl, en=en)))
    assert found == [
        "data/appointments/nlu_nl.yml: 'ik wil een afspraak 3' is an example of 2 "
        "intents (book_service, cancel_appointment): keep it under one"
    ]


def test_too_few_examples_and_an_intent_in_one_language_only(tmp_path):
    nl = [
        nlu_block("book_service", "nl", [f"afspraak {i}" for i in range(24)]),
        nlu_block("trade_in", "nl", [f"inruil {i}" for i in range(25)]),
    ]
    found = messages(lint_project(*write_project(tmp_path, nl=nl)))
    assert found == [
        "data/appointments/nlu_nl.yml: intent book_service has 24 Dutch examples; "
        "at least 25 are needed",
        "data/appointments/nlu_nl.yml: intent trade_in has Dutch examples but no English ones: "
        "add them to the en file",
    ]
    # The minimum is a parameter (the CLI's --min-examples).
    assert len(messages(lint_project(*write_project(tmp_path / "b", nl=nl), min_examples=20))) == 1


def test_entity_missing_from_the_domain(tmp_path):
    en = [
        nlu_block(
            "book_service",
            "en",
            [t.format(f"[apk](service_type) {i}") for t in EN for i in range(9)]
            + [
                "a [golf](model) please",
                '[red]{"entity": "colour", "role": "x"} one',
                "[tmrw](time:tomorrow) ok",
            ],
        )
    ]
    found = messages(lint_project(*write_project(tmp_path, en=en)), "entity")
    assert found == [
        f"data/appointments/nlu_en.yml: entity '{name}' is used in examples but missing from the "
        "domain (add it under entities: in bot/domain/)"
        for name in ("colour", "model", "time")
    ]


def test_response_without_both_language_variations(tmp_path):
    en_condition = [{"type": "slot", "name": "language", "value": "en"}]
    nl_condition = [{"type": "slot", "name": "language", "value": "nl"}]
    responses = {
        "utter_only_nl": [{"text": "Hoi"}],
        "utter_only_en": [{"condition": en_condition, "text": "Hi"}],
        "utter_both_conditions": [
            {"condition": en_condition, "text": "Hi"},
            {"condition": nl_condition, "text": "Hoi"},
        ],
    }
    found = messages(lint_project(*write_project(tmp_path, responses=responses)))
    assert found == [
        "bot/domain/core.yml: response utter_only_en has no Dutch variation",
        "bot/domain/core.yml: response utter_only_nl has no English variation",
    ]


def test_block_language_must_match_the_file(tmp_path):
    nl = [nlu_block("book_service", "en", [t.format(i) for t in NL for i in range(10)])]
    found = messages(lint_project(*write_project(tmp_path, nl=nl)), "language")
    assert found == [
        "data/appointments/nlu_nl.yml: intent book_service: the block says language "
        "en, the file is nl"
    ]


def test_unreadable_files_are_problems_not_crashes(tmp_path):
    data, domain = write_project(tmp_path)
    (data / "appointments" / "nlu_en.yml").write_text("nlu: [\n")
    assert messages(lint_project(data, domain), "read")[0].startswith(
        "data/appointments/nlu_en.yml: cannot be read as YAML"
    )
    assert messages(lint_project(tmp_path / "nope", domain)) == [
        f"{tmp_path / 'nope'}: the data folder does not exist"
    ]


def copy_real_data(tmp_path):
    shutil.copytree(REPO / "data", tmp_path / "data", ignore=shutil.ignore_patterns("dealers"))
    shutil.copytree(REPO / "bot" / "domain", tmp_path / "bot" / "domain")
    return tmp_path / "data", tmp_path / "bot" / "domain"


def add_examples(path: Path, intent: str, lang: str, examples: list[str]) -> None:
    content = yaml.safe_load(path.read_text())
    content["nlu"].append(nlu_block(intent, lang, examples))
    path.write_text(yaml.safe_dump(content, allow_unicode=True))


def test_wrong_language_is_found_without_flagging_neutral_texts(tmp_path):
    """The language check on the project's own data: a real English sentence in the Dutch file
    is found; names, plates, numbers, brands and "ok" in the English file are not."""
    data, domain = copy_real_data(tmp_path)
    baseline = {str(p) for p in lint_project(data, domain) if p.rule == "language"}
    add_examples(
        data / "core" / "nlu_nl.yml",
        "affirm",
        "nl",
        ["yes please, that would be really great thanks"],
    )
    add_examples(
        data / "core" / "nlu_en.yml",
        "inform",
        "en",
        [
            "Henk de Jong",
            "12-ABC-3",
            "0612345678",
            "ok",
            "Volkswagen Golf GTI 2019",
            "Peugeot 208 1.2 PureTech",
            "Jan-Willem van der Berg",
            "AB-123-C 45000 km",
        ],
    )
    found = [m for m in messages(lint_project(data, domain), "language") if m not in baseline]
    assert found == [
        "data/core/nlu_nl.yml: intent affirm: 'yes please, that would be really "
        "great thanks' looks English, not Dutch: move it to the en file"
    ]


def test_annotations():
    assert plain_text("een [golf](model) of [tmrw](time:tomorrow)") == "een golf of tmrw"
    assert plain_text('[rood]{"entity": "colour"} graag') == "rood graag"
    assert annotated_entities('[a](x) [b](y:z) [c]{"entity": "w", "role": "r"}') == ["x", "y", "w"]
    assert variation_language({"text": "hoi"}) == "nl"
    assert (
        variation_language({"condition": [{"type": "slot", "name": "language", "value": "en"}]})
        == "en"
    )


def test_a_dealer_service_word_missing_from_the_lookup_table(tmp_path):
    data, domain = write_project(tmp_path)
    shutil.copytree(REPO / "data" / "dealers" / "autohuis-demo", data / "dealers" / "autohuis-demo")
    lookup = (REPO / "data" / "appointments" / "lookups.yml").read_text(encoding="utf-8")
    (data / "appointments" / "lookups.yml").write_text(lookup.replace("    - rare geluiden\n", ""))
    assert messages(lint_project(data, domain), "lookup") == [
        "autohuis-demo: service word 'rare geluiden' is not in the service_type lookup"
    ]


def test_a_lookup_word_that_names_no_service_of_a_dealer(tmp_path):
    data, domain = write_project(tmp_path)
    shutil.copytree(REPO / "data" / "dealers" / "autohuis-demo", data / "dealers" / "autohuis-demo")
    lookup = (REPO / "data" / "appointments" / "lookups.yml").read_text(encoding="utf-8")
    (data / "appointments" / "lookups.yml").write_text(lookup + "    - spoiler\n")
    assert messages(lint_project(data, domain), "lookup") == [
        "autohuis-demo: lookup word 'spoiler' names none of the services"
    ]
