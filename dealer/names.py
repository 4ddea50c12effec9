"""People's names in chat answers: the one rule for what is a name, used by the NLU (a name
introduced in a longer message) and by the forms (an answer to "what name?")."""

from __future__ import annotations

import re
import unicodedata

from dealer.parsing import find_emails, find_phones, normalize_plate

# Sign-offs before a name at the end of a message ("groet Eva Jansen") or after it ("Jan, mvg").
_SIGN_OFF = r"groet(?:en|jes)?|gr\.?|mvg|(?:met )?vriendelijke groet(?:en)?|(?:kind |best )?regards"
# The words of a name: up to five, letters first ("Kees van Dijk", "Mary-Jane O'Brien").
_NAME_WORDS = r"([^\W\d_][\w'\u2019-]*(?:\s+(?:'t|[^\W\d_][\w'\u2019-]*)){0,4})"

_NAME_PREFIX = re.compile(
    r"^\s*(mijn naam is|m'?n naam is|ik ben|ik heet|naam is|de naam is|naam:|dit is|my name is|"
    r"i am|i'm|im|its|this is|the name is|name's|the name's|zet (?:het |hem )?(?:maar )?op|"
    r"schrijf (?:het |hem )?(?:maar )?op|noteer(?: het| hem)?(?: maar)?(?: op)?|"
    r"put (?:it|me) down (?:as|under)|put (?:it|me) under|book (?:it|me) (?:in )?under|"
    r"you can put|write (?:it )?down|"
    r"name is|name:|it's under|it's|het is|op naam van|op de naam|in the name of|"
    r"under the name|under|onder|voor|for|u spreekt met|je spreekt met|"
    rf"{_SIGN_OFF}|met|call me|dat ben ik|ja dat is|dat is|hoor|"
    r"op mijn naam(?: graag)?|naam\s*=|mijn naam\?|"
    r"(?:voor)?naam|(?:first |full )?name|gewoon)[\s:,]+",  # after "naam is", "name is"
    re.I,
)
# A yes or a greeting before the name ("ja, Thijs Verbeek", "sure, Raj Singh", "hoi, met Tom"):
# stripped, but "ja" only when a comma follows it or two words are left: "Ja Rule" is a name.
_YES_FIRST = re.compile(
    r"^\s*(?:ja|jawel|jazeker|zeker|prima|oké|oke|ok|okay|yes|yeah|yep|sure|of course|natuurlijk|"
    r"hoi|hallo|hi|hello|hey|hee|goedemorgen|goedemiddag|goedenavond|good morning|"
    r"good afternoon|good evening)(?:\s*[,.!:]\s*|\s+(?=\S+\s+\S)|(?<!ja)\s+(?=\S))",
    re.I,
)
# Politeness after the name: "Lotte de Boer graag", "Daniel Kim please".
_NAME_SUFFIX = re.compile(
    r"[\s,]+(graag|alsjeblieft|alstublieft|aub|a\.u\.b\.?|please|thanks|thank you|thx|bedankt|"
    r"dank je( wel)?|dank u( wel)?|hier|here|is mijn naam|is de naam|is my name|is the name|"
    rf"cheers|hoor|is fine|is goed|is prima|{_SIGN_OFF}|by the way|btw|trouwens)"
    r"\s*[.!]*\s*$",
    re.I,
)
# Answers that are clearly no name: yes/no, greetings, thanks, "stop" (issue 16: "Yes please"
# was stored as a name). A reply made only of these words is refused.
_NOT_NAME_TEXT = (
    "ja jawel jazeker graag alsjeblieft alstublieft aub ok oke oké okay okido prima goed klopt "
    "correct zeker nee neen niet niks nee hoor geen hoi hallo hai hey hee hoii goedemorgen "
    "goedemiddag goedenavond goeiedag dag doei tot ziens bedankt dankjewel dankuwel dank je u wel "
    "stop stoppen annuleer annuleren laat maar weet ik het "
    "yes yeah yep yup sure please thanks thank you thx no nope nah not none nothing hi hello hiya "
    "hey good morning afternoon evening bye goodbye cheers cancel quit never mind i don't know "
    "dunno idk there daar allemaal iedereen everyone naam name met gewoon"
)
_NOT_NAME_WORDS = frozenset(_NOT_NAME_TEXT.split())
# Words of a wish for a person or of a sentence: a reply with one of them is no bare name, though
# the rest may pass for one ("een medewerker", "real person", "ik wil bellen").
_REQUEST_TEXT = (
    "een iemand medewerker medewerkers mens mensen persoon collega verkoper adviseur monteur "
    "echt echte andere live spreken praten bellen bel help hulp ik wil kan mag me mij u je jij "
    "a an the someone somebody anyone person human people agent staff employee operator real "
    "talk speak call want to with i can could forget vergeet it this dit that skip liever "
    "rather zin doe"
)
_REQUEST_WORDS = frozenset(_REQUEST_TEXT.split())
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")
_NAME_PARTICLES = {"van", "de", "der", "den", "het", "ten", "ter", "te", "'t", "in", "op", "von",
                   "la", "le", "du", "da", "di"}  # fmt: skip
# A name introduced inside a longer message ("proefrit zaterdag, mijn naam is Kees van Dijk").
# Only explicit introductions: "ik ben" / "I'm" start too many other sentences ("ik ben op zoek").
_INTRODUCTION = re.compile(
    r"\b(?:mijn naam is|m'?n naam is|ik heet|op (?:de )?naam van|naam:|my name is|the name is|"
    r"name's|name:|in the name of|under the name(?: of)?|"
    # "proefrit morgen om 4 uur, naam Pieter Smit": a bare "naam" / "name" after a comma or stop
    r"(?:^|(?<=[,;.!?])|(?<=[,;.!?]\s))(?:naam|name)(?:\s+is)?(?!\s+(?:van|of|op|on)\b))\s+"
    + _NAME_WORDS,
    re.I,
)
# Words that end the name inside a sentence ("Kees van Dijk en mijn nummer is ..."). "op" is one
# ("Jan Bakker op dinsdag"), though it also starts rare surnames ("Op den Akker").
_AFTER_NAME = re.compile(
    r"\s+(?:en|and|ik|i|i'd|i'm|mijn|my|m'?n|tel|telefoon|phone|nummer|number|mail|e-mail|email|kenteken|"
    r"plate|reg|om|at|op|on|voor|for|graag|please|bedankt|thanks|dank|could|can|would|kan|kun|"
    r"wil|zou|wou|lijkt|heb|moet|want|need|like)\b.*$",
    re.I | re.S,
)


def clean_name(value: str) -> str | None:
    """A plausible person's name from an answer like "mijn naam is Jan de Vries", or None."""
    text = (value or "").strip()
    # "Jan de Vries, 0612345678": the name is asked, the contact came along (its own slot)
    for start, end, _value in sorted([*find_phones(text), *find_emails(text)], reverse=True):
        text = (text[:start] + text[end:]).strip(" ,;")
    # "voornaam Bram, achternaam Hendriks"; "Bram Hendriks (06 ...)"; a smiley after the name
    text = re.sub(r",?\s*achternaam:?\s*", " ", text, flags=re.I)
    text = "".join(c for c in text if c not in "()" and unicodedata.category(c) != "So").strip()
    if introduced := _INTRODUCTION.search(text):  # "zet maar op naam van Jan"
        text = _AFTER_NAME.sub("", introduced.group(1))
    name = _NAME_PREFIX.sub("", _YES_FIRST.sub("", text))
    name = _NAME_PREFIX.sub("", _YES_FIRST.sub("", name)).strip(" .!,")  # "hoi, met Tom"
    name = _NAME_SUFFIX.sub("", _NAME_SUFFIX.sub("", name)).strip(" .!,")  # "... is mijn naam hoor"
    if not 2 <= len(name) <= 80 or any(c.isdigit() for c in name):
        return None
    if re.search(r"[<>{}\[\]@#?=;/\\|*_$%]", name) or not re.search(r"[^\W\d_]", name):
        return None
    if set(re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", name.lower())) <= _NOT_NAME_WORDS:
        return None
    if normalize_plate(name) is not None:
        return None
    if name != name.lower():
        return " ".join(name.split())  # the customer chose the capitals: keep them
    words = name.split()
    return " ".join(
        w if i and w in _NAME_PARTICLES else re.sub(r"(?:^|(?<=-)|(?<=^\w'))\w", _upper, w)
        for i, w in enumerate(words)
    )  # "mary-jane" -> "Mary-Jane", "o'brien" -> "O'Brien"


def _upper(match: re.Match) -> str:
    return match.group(0).upper()


# A name signed at the end of a message ("... teller staat op 34.500 km groet eva jansen").
_SIGNED = re.compile(
    rf"\b(?:{_SIGN_OFF})[\s,:]+(?!(?:van|aan|uit|voor|en|from|to|for|and|all)\b)"  # "groeten aan"
    rf"{_NAME_WORDS}[\s.!]*$",
    re.I,
)


def find_names(text: str) -> list[tuple[int, int, str]]:
    """Names introduced in a message (``mijn naam is Kees van Dijk``, ``the name is Tom Smith``)
    or signed at its end (``groet Eva Jansen``) as (start, end, cleaned name); the span is the
    name's words only."""
    found: list[tuple[int, int, str]] = []
    for m in [*_INTRODUCTION.finditer(text or ""), *_SIGNED.finditer(text or "")]:
        words = _AFTER_NAME.sub("", m.group(1))
        name = clean_name(words)
        if name is not None and all(m.start(1) >= e or m.end(1) <= s for s, e, _n in found):
            found.append((m.start(1), m.start(1) + len(words), name))
    return sorted(found)


def is_written_name(text: str) -> bool:
    """The whole text is a name written with capitals: two to four words, each capitalised but
    the particles ("John Smith", "Anne van der Berg"), and a name by :func:`clean_name`."""
    words = (text or "").strip(" .!").split()
    if not 2 <= len(words) <= 4 or clean_name(text) is None:
        return False
    return all(w[:1].isupper() or (i and w in _NAME_PARTICLES) for i, w in enumerate(words))


def is_bare_name(text: str) -> bool:
    """The whole text is a name, capitals or not: two to four words of letters, none of them a
    word of a request or a reply ("gert-jan bos", "jan de vries"; not "een medewerker"), and a
    name by :func:`clean_name`. Only for an answer to the name question: in chat many names come
    in lower case, and out of context "bos" or "gert" can make a classifier think of anything."""
    words = (text or "").strip(" .!").lower().split()
    return (
        2 <= len(words) <= 4
        and all(_NAME_WORD.fullmatch(w) for w in words)
        and not any(w in _NOT_NAME_WORDS or w in _REQUEST_WORDS for w in words)
        and clean_name(text) is not None
    )


# Lead-ins that give a name ("schrijf maar op Thijs Verbeek"): such a message answers the name
# question and is no wish to stop, whatever "maar" makes the classifier think.
_GIVES_NAME = re.compile(
    r"^\s*(?:schrijf|noteer|zet|put|write|book|mijn naam|m'?n naam|my name|the name|de naam|"
    r"naam|name|op naam|in the name|ik heet|call me)\b",
    re.I,
)


# "ik ben" / "I'm" / "met" start many sentences ("ik ben op zoek naar ...", "met iemand van de
# werkplaats"): a name after them only when it is written with capitals ("ik ben Ahmed Benali",
# read as a bot challenge; "met Gert-Jan Bos", the Dutch way to answer a phone, as a wish for a
# person).
_I_AM = re.compile(r"^\s*(?:ik ben|i am|i'm|im|met)\s+", re.I)


def gives_name(text: str) -> bool:
    """The text gives a name after a lead-in: "schrijf maar op thijs verbeek", "naam: Eva",
    "ik ben Ahmed Benali", "met Gert-Jan Bos"."""
    plain = _YES_FIRST.sub("", text or "")
    if i_am := _I_AM.match(plain):
        return is_written_name(plain[i_am.end() :])
    lead = _GIVES_NAME.match(plain)
    if lead is None:
        return False
    name = clean_name(text)
    # the lead-in must be gone from the name: "schrijf maar niks op" names nobody
    return name is not None and not name.lower().startswith(lead.group(0).strip().lower())
