"""Formatting of dates, times, money and mileage in Dutch or English."""

from __future__ import annotations

import datetime as dt

WEEKDAY_NAMES = {
    "nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
MONTH_NAMES = {
    "nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
           "september", "oktober", "november", "december"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}  # fmt: skip
FUEL_NAMES = {
    "nl": {"petrol": "benzine", "diesel": "diesel", "electric": "elektrisch", "hybrid": "hybride",
           "plug-in hybrid": "plug-in hybride"},
    "en": {"petrol": "petrol", "diesel": "diesel", "electric": "electric", "hybrid": "hybrid",
           "plug-in hybrid": "plug-in hybrid"},
}  # fmt: skip
CONDITION_NAMES = {"nl": {"new": "nieuw", "used": "occasion"}, "en": {"new": "new", "used": "used"}}
GEARBOX_NAMES = {"nl": {"automatic": "automaat", "manual": "handgeschakeld"},
                 "en": {"automatic": "automatic", "manual": "manual"}}  # fmt: skip
BODY_NAMES = {
    "nl": {"suv": "SUV", "estate": "stationwagen", "hatchback": "hatchback", "sedan": "sedan"},
    "en": {"suv": "SUV", "estate": "estate", "hatchback": "hatchback", "sedan": "saloon"},
}


# The languages the bot, its pages and its e-mails speak, and the one of a conversation, dealer or
# report that names none (or one of these does not speak): Dutch, for Dutch dealers' customers.
LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
# Babel's locale for each of our languages (dates and times in the local style).
BABEL_LOCALES = {"nl": "nl_NL", "en": "en_GB"}


def lang_or_default(lang: str | None) -> str:
    """``lang`` if it is one of ``LANGUAGES``, else ``DEFAULT_LANGUAGE``."""
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def format_day(day: dt.date, lang: str) -> str:
    """``dinsdag 24 november`` / ``Tuesday 24 November``."""
    lang = lang_or_default(lang)
    return f"{WEEKDAY_NAMES[lang][day.weekday()]} {day.day} {MONTH_NAMES[lang][day.month - 1]}"


def format_when(moment: dt.datetime, lang: str) -> str:
    """``dinsdag 24 november om 09:00`` / ``Tuesday 24 November at 09:00``."""
    word = "at" if lang_or_default(lang) == "en" else "om"
    return f"{format_day(moment.date(), lang)} {word} {moment:%H:%M}"


def format_button(moment: dt.datetime, lang: str) -> str:
    """Short label for a time button: ``di 24 nov 09:00`` / ``Tue 24 Nov 09:00``."""
    lang = lang_or_default(lang)
    day = WEEKDAY_NAMES[lang][moment.weekday()][: 2 if lang == "nl" else 3]
    month = MONTH_NAMES[lang][moment.month - 1][:3]
    return f"{day} {moment.day} {month} {moment:%H:%M}"


def format_eur(amount: int, lang: str) -> str:
    """``€ 24.950`` / ``€24,950``."""
    if lang_or_default(lang) == "en":
        return f"€{amount:,}"
    return "€ " + f"{amount:,}".replace(",", ".")


def format_km(km: int | None, lang: str) -> str:
    if km is None:
        return "km onbekend" if lang_or_default(lang) == "nl" else "mileage unknown"
    number = f"{km:,}" if lang_or_default(lang) == "en" else f"{km:,}".replace(",", ".")
    return f"{number} km"


def format_hours(opens: dt.time | None, closes: dt.time | None, lang: str) -> str:
    if opens is None:
        return "gesloten" if lang_or_default(lang) == "nl" else "closed"
    return f"{opens:%H:%M}-{closes:%H:%M}"
