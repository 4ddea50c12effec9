"""The abbreviations of the dashboard and the weekly e-mail (MEC, CSAT, CES, NPS, p90),
explained in Dutch and English: as ``<abbr title>`` where they appear, and as a legend."""

from __future__ import annotations

import re

from markupsafe import Markup

from dealer.i18n import lang_or_default

# The abbreviations on the pages and in the e-mail, explained (``<abbr title>``, the legend).
ABBREVIATIONS: dict[str, dict[str, str]] = {
    "MEC": {
        "nl": "Klanten in gesprek: unieke contacten met minstens één kwalificerend gesprek",
        "en": "Engaged contacts: distinct contacts with at least one qualifying conversation",
    },
    "CSAT": {
        "nl": "Klanttevredenheid: aandeel beoordelingen 4 of 5 op een schaal van 1 tot 5",
        "en": "Customer satisfaction: share of ratings 4 or 5 on a scale of 1 to 5",
    },
    "CES": {
        "nl": "Klantinspanning: hoe makkelijk het ging, 1 (moeilijk) tot 7 (makkelijk)",
        "en": "Customer effort: how easy it was, 1 (hard) to 7 (easy)",
    },
    "NPS": {
        "nl": "Net Promoter Score: % aanbevelers (9-10) min % criticasters (0-6)",
        "en": "Net Promoter Score: % promoters (9-10) minus % detractors (0-6)",
    },
    "p90": {
        "nl": "90e percentiel: 9 van de 10 keer ging het sneller",
        "en": "90th percentile: 9 times out of 10 it was faster",
    },
    "p50": {
        "nl": "mediaan: de helft van de keren ging het sneller",
        "en": "median: half of the times it was faster",
    },
}


_PATTERN = re.compile(r"\b(" + "|".join(ABBREVIATIONS) + r")\b")


def abbreviations_in(text: str) -> list[str]:
    """The abbreviations of ``ABBREVIATIONS`` that ``text`` uses, in the order of the dict."""
    found = set(_PATTERN.findall(text))
    return [a for a in ABBREVIATIONS if a in found]


def explain(text: str, lang: str) -> Markup:
    """``text`` (escaped) with each abbreviation in it wrapped in ``<abbr title="...">``."""
    lang = lang_or_default(lang)
    parts = _PATTERN.split(str(text))  # odd items: the abbreviations
    return Markup("").join(
        Markup('<abbr title="{}">{}</abbr>').format(ABBREVIATIONS[part][lang], part)
        if i % 2 else Markup.escape(part)
        for i, part in enumerate(parts)
    )  # fmt: skip


def legend(text: str, lang: str) -> list[tuple[str, str]]:
    """(abbreviation, explanation) for each abbreviation that ``text`` uses, in ``lang``."""
    lang = lang_or_default(lang)
    return [(a, ABBREVIATIONS[a][lang]) for a in abbreviations_in(text)]
