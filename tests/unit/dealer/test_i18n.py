"""One default language and one list of languages (``dealer.i18n``) for the bot, the engagement
log, the dealer files and the reports."""

import yaml

from core.settings import REPO_ROOT
from dealer.i18n import DEFAULT_LANGUAGE, LANGUAGES, lang_or_default
from metrics.report.render import TEXTS, language_of


def test_an_unknown_or_missing_language_is_the_default_everywhere():
    assert DEFAULT_LANGUAGE == "nl" and DEFAULT_LANGUAGE in LANGUAGES
    for lang in (None, "", "de", "EN"):
        assert lang_or_default(lang) == language_of(lang) == DEFAULT_LANGUAGE
    for lang in LANGUAGES:
        assert lang_or_default(lang) == language_of(lang) == lang


def test_the_reports_and_the_domain_speak_the_same_languages():
    assert set(TEXTS) == set(LANGUAGES)
    domain = yaml.safe_load((REPO_ROOT / "bot" / "domain" / "core.yml").read_text())
    slot = domain["slots"]["language"]
    assert slot["initial_value"] == DEFAULT_LANGUAGE and slot["values"] == list(LANGUAGES)


def test_a_conversation_without_a_language_slot_is_logged_in_the_default():
    from core.engagement import summarize
    from tests.trackers import user_event

    events = [{"event": "session_started", "timestamp": 1_795_420_700.0},
              user_event("hoi", "greet"), user_event("prijs?", "ask_price")]  # fmt: skip
    record = summarize(events, sender_id="c", secret="s", default_dealer="autohuis-demo",
                       customer_channels=("web",))  # fmt: skip
    assert record.language == DEFAULT_LANGUAGE


def test_the_modules_that_loop_over_the_languages_use_the_one_list():
    import importlib

    for name in ("dealer.config", "trainer.lint", "trainer.report", "trainer.simulate.generate",
                 "trainer.simulate.report"):  # fmt: skip
        assert importlib.import_module(name).LANGUAGES is LANGUAGES, name
