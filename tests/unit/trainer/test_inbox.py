"""The NLU inbox for trainers: the list grouped by intent, and the Rasa YAML export."""

import datetime as dt
from types import SimpleNamespace

import yaml

from trainer.inbox import export_yaml, group_by_intent, render_list


def row(id, text, intent, language="nl", suggested=None, confidence=0.3):
    return SimpleNamespace(
        id=id,
        text=text,
        intent=intent,
        language=language,
        reason="fallback",
        suggested_intent=suggested or intent,
        confidence=confidence,
        sent_at=dt.datetime(2026, 11, 23, 8),
        dealer_id="d1",
    )


def test_list_groups_by_predicted_intent_with_counts():
    rows = [
        row(1, "a", "ask_price"),
        row(2, "b", "nlu_fallback", suggested="trade_in"),
        row(3, "c", "nlu_fallback", language="en", suggested="trade_in"),
    ]
    assert [(k, len(v)) for k, v in group_by_intent(rows)] == [
        ("nlu_fallback", 2),
        ("ask_price", 1),
    ]
    text = render_list(rows)
    assert text.startswith("3 open items (en 1, nl 2)")
    assert "nlu_fallback: 2" in text and "ask_price: 1" in text and "-> trade_in?" in text
    assert render_list([]) == "The inbox is empty."


def test_export_is_rasa_nlu_yaml_per_language_with_the_suggestion():
    rows = [
        row(1, "wat kost ie", "ask_price"),
        row(2, "inruilen kan dat", "nlu_fallback", suggested="trade_in"),
        row(4, "wat kost ie", "ask_price"),
        row(3, "swap my car", "nlu_fallback", language="en", suggested="trade_in"),
        row(5, "- [odd]: text #1", "nlu_fallback", language="en", suggested=None),
    ]
    rows[4].suggested_intent = None
    files = export_yaml(rows)
    assert set(files) == {"nl", "en"}
    nl = yaml.safe_load(files["nl"])
    assert nl["version"] == "3.1"
    assert nl["nlu"] == [
        {"intent": "ask_price", "metadata": {"language": "nl"}, "examples": "- wat kost ie\n"},
        {"intent": "trade_in", "metadata": {"language": "nl"}, "examples": "- inruilen kan dat\n"},
    ]
    assert "items 1, 4" in files["nl"]
    en = yaml.safe_load(files["en"])
    assert {b["intent"]: b["examples"] for b in en["nlu"]} == {
        "nlu_fallback": "- - [odd]: text #1\n",
        "trade_in": "- swap my car\n",
    }


def test_export_is_read_by_rasa(tmp_path):
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    rows = [row(1, "wat kost ie", "ask_price"), row(2, "hoe duur", "ask_price")]
    data = RasaYAMLReader().reads(export_yaml(rows)["nl"])
    assert sorted(m.get("text") for m in data.intent_examples) == ["hoe duur", "wat kost ie"]
    assert {m.get("intent") for m in data.intent_examples} == {"ask_price"}


def test_add_to_data_starts_a_block_or_a_file_for_an_intent_new_in_a_language(tmp_path):
    from trainer.inbox import add_to_data

    topic = tmp_path / "data" / "sales"
    topic.mkdir(parents=True)
    english = 'version: "3.1"\nnlu:\n- intent: trade_in\n  metadata:\n    language: en\n'
    (topic / "nlu_en.yml").write_text(english + "  examples: |\n    - swap my car\n")
    (topic / "nlu_nl.yml").write_text('version: "3.1"\n# kept as it was\nnlu:\n')
    done = add_to_data(tmp_path / "data", intent="trade_in", language="nl",
                       examples=["wat is mijn auto nog waard"])  # fmt: skip
    assert done.path == topic / "nlu_nl.yml"
    text = done.path.read_text()
    assert text.startswith('version: "3.1"\n# kept as it was\nnlu:\n- intent: trade_in\n')
    assert yaml.safe_load(text)["nlu"] == [{"intent": "trade_in", "metadata": {"language": "nl"},
                                            "examples": "- wat is mijn auto nog waard\n"}]  # fmt: skip
    (topic / "nlu_nl.yml").unlink()
    add_to_data(tmp_path / "data", intent="trade_in", language="nl", examples=["inruilen?"])
    assert yaml.safe_load((topic / "nlu_nl.yml").read_text())["nlu"][0]["examples"] == (
        "- inruilen?\n"
    )
