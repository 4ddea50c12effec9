"""Parsing of customer input: plates, contact details, mileage, money, dates and times.

All functions are pure; "now" is always passed in, in the dealer's time zone.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import phonenumbers

# Dutch kenteken side codes, as letter (L) / digit (D) patterns, and where the dashes go.
_SIDECODES = {
    "LLDDDD": (2, 4),
    "DDDDLL": (2, 4),
    "DDLLDD": (2, 4),
    "LLDDLL": (2, 4),
    "LLLLDD": (2, 4),
    "DDLLLL": (2, 4),
    "DDLLLD": (2, 5),
    "DLLLDD": (1, 4),
    "LLDDDL": (2, 5),
    "LDDDLL": (1, 4),
    "LLLDDL": (3, 5),
    "LDDLLL": (1, 3),
    "DLLDDD": (1, 3),
    "DDDLLD": (3, 5),
}
_PLATE_CANDIDATE = re.compile(
    r"(?<![\w-])([A-Za-z0-9]{1,3}-?[A-Za-z0-9]{2,3}-?[A-Za-z0-9]{1,3})(?![\w-])"
)

_SPACED_PLATE = re.compile(
    r"\b(?:kenteken|nummerplaat|plate|reg|registration|registratie)\b[\s:.]*(?:is\s+)?"
    r"([A-Za-z0-9]{1,3}\s[A-Za-z0-9]{2,3}\s[A-Za-z0-9]{1,3})(?![\w-])",
    re.I,
)


def normalize_plate(text: str) -> str | None:
    """Return the plate in its official dashed form (``12-ABC-3``), or None if it is not one."""
    raw = re.sub(r"[\s\-.]", "", text or "").upper()
    if len(raw) != 6 or not raw.isalnum() or not raw.isascii():
        return None
    pattern = "".join("D" if c.isdigit() else "L" for c in raw)
    dashes = _SIDECODES.get(pattern)
    if dashes is None:
        return None
    a, b = dashes
    return f"{raw[:a]}-{raw[a:b]}-{raw[b:]}"


def find_plates(text: str) -> list[tuple[int, int, str]]:
    """Spans and normalised values of every plate in a free-text message. A plate written with
    spaces counts only after a word for it ("kenteken gz 123 k"): "op 12 km" has a plate's
    letters and digits too."""
    found = []
    for match in _PLATE_CANDIDATE.finditer(text or ""):
        candidate = match.group(1)
        # A six-char run needs a dash or mixed case/digits; bare words stay words.
        plate = normalize_plate(candidate)
        if plate and (("-" in candidate) or any(c.isdigit() for c in candidate)):
            found.append((match.start(1), match.end(1), plate))
    for match in _SPACED_PLATE.finditer(text or ""):
        plate = normalize_plate(match.group(1))
        if plate and any(c.isdigit() for c in match.group(1)):
            found.append((match.start(1), match.end(1), plate))
    return sorted(found)


_EMAIL = re.compile(r"(?<![\w.+-])([\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,})(?![\w])")


def find_emails(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(1), m.end(1), m.group(1).lower()) for m in _EMAIL.finditer(text or "")]


def normalize_email(text: str) -> str | None:
    found = find_emails((text or "").strip())
    return found[0][2] if found else None


# Where customers of a Dutch dealer come from besides the Netherlands. A number written without
# a country code that is no Dutch number is read as a mobile number of one of these
# ("07700 900123" from an English customer, "0470 12 34 56" from a Belgian one).
_NEIGHBOUR_REGIONS = ("BE", "DE", "GB")
# The first digit of every mobile number, where all of them have one form.
_MOBILE_START = {"NL": "6", "GB": "7"}


def find_phones(text: str, region: str = "NL") -> list[tuple[int, int, str]]:
    """Phone numbers in the text, as E.164 (``+31612345678``).

    A number in the default region must be valid. A number the customer wrote with a country
    code (``+44 7700 900123``, ``0049 ...``) needs only the right length for that country:
    libphonenumber's list of allocated ranges lags behind (and leaves out UK ranges such as
    07700 900xxx), and we would rather call a number than refuse a customer's own. Only when
    the default region finds none, a national number of a neighbouring region counts if it is a
    mobile number there (a mistyped Dutch number is rarely one)."""
    home = phonenumbers.country_code_for_region(region)
    found = [
        (start, end, _e164(number))
        for start, end, number, explicit in _phone_matches(text, region)
        if phonenumbers.is_valid_number(number)
        or _is_mobile(number, region)
        or (explicit and number.country_code != home and phonenumbers.is_possible_number(number))
    ]
    for neighbour in () if found else _NEIGHBOUR_REGIONS:
        found = [
            (start, end, _e164(number))
            for start, end, number, _explicit in _phone_matches(text, neighbour)
            if _is_mobile(number, neighbour)
        ]
        if found:
            break
    return found


def _phone_matches(text: str, region: str) -> Iterator[tuple[int, int, Any, bool]]:
    """(start, end, number, written with a country code) of every possible number."""
    leniency = phonenumbers.Leniency.POSSIBLE
    for match in phonenumbers.PhoneNumberMatcher(text or "", region, leniency=leniency):
        yield (
            match.start,
            match.end,
            match.number,
            match.raw_string.lstrip().startswith(("+", "00")),
        )


def _e164(number: Any) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _is_mobile(number: Any, region: str) -> bool:
    """A mobile number of the region. Where all mobile numbers share one form (Dutch 06 and
    eight digits, UK 07 and nine), any number of that form: libphonenumber leaves out ranges
    not (yet) given out or reserved (06-9..., 07700 900xxx), and a customer's own number is
    never refused for that."""
    if phonenumbers.country_code_for_region(region) != number.country_code:
        return False
    mobile = phonenumbers.PhoneNumberType.MOBILE
    if region in _MOBILE_START:
        national = phonenumbers.national_significant_number(number)
        return national.startswith(_MOBILE_START[region]) and (
            phonenumbers.is_possible_number_for_type(number, mobile)
        )
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in (
        mobile,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


def normalize_phone(text: str, region: str = "NL") -> str | None:
    found = find_phones(text, region)
    return found[0][2] if found else None


def parse_contact(text: str) -> tuple[str, str] | None:
    """An e-mail address or phone number: ``("email", value)`` or ``("phone", value)``."""
    email = normalize_email(text)
    if email:
        return "email", email
    phone = normalize_phone(text)
    if phone:
        return "phone", phone
    return None


_NUMBER = r"(\d{1,3}(?:[.,\s]\d{3})+|\d+(?:[.,]\d+)?)"
# "k", "duizend", "ton" (Dutch for a hundred thousand: "1,2 ton" is 120.000 km).
_MULTIPLIERS = {"k": 1000, "duizend": 1000, "thousand": 1000, "dzd": 1000, "ton": 100_000}
_MULTIPLIER = r"(k|duizend|thousand|dzd|ton)?"
_UNIT = r"(km|kilometers?|kilometres?|kms|miles|mijl)"
_MILEAGE = re.compile(_NUMBER + r"\s*" + _MULTIPLIER + r"\s*" + _UNIT + r"\b", re.IGNORECASE)
# Without a unit, words around the number say it is the mileage: "85.000 op de teller",
# "120 thousand on the clock", "kilometerstand 142.000", "mileage: 85k", "it has 85k on it".
_MILEAGE_AFTER = re.compile(
    r"(?<![\w.,])" + _NUMBER + r"\s*" + _MULTIPLIER
    + r"\s+(?:op\s+de\s+(?:teller|klok)|on\s+the\s+(?:clock|odometer|counter)|gelopen|gereden|"
    r"driven|on\s+it|erop|er\s+op)\b",
    re.IGNORECASE,
)  # fmt: skip
_MILEAGE_BEFORE = re.compile(
    r"\b(?:kilometerstand|km[\s-]?stand|tellerstand|mileage|odometer|teller\s+staat\s+op|"
    r"(?:has|it's|its|it\s+has)\s+done)\s*(?:[:=]|is|van|of)?\s*"
    r"(?:ongeveer|about|around|zo'n|ruim|circa|ca\.?)?\s*"
    + _NUMBER + r"\s*" + _MULTIPLIER + r"(?![\w])",
    re.IGNORECASE,
)  # fmt: skip
_NUMBER_WITH_MULTIPLIER = re.compile(
    r"(?<![\w.,])" + _NUMBER + r"\s*" + _MULTIPLIER + r"(?:\s*" + _UNIT + r")?(?![\w])", re.I
)
# A bare mileage answer may carry this many other words ("ruim", "zo'n", "hij staat op").
_MAX_OTHER_WORDS = 6

# --- number words ------------------------------------------------------------------------------
# Hand-written: of the installed libraries none reads Dutch number words (dateparser reads
# dates only; text2num, the usual choice, has no Dutch), and Dutch writes them as one compound
# ("honderdtwintigduizend", "achtenzeventig"), which a word-by-word reader cannot split.
_UNITS = {
    "een": 1, "één": 1, "eén": 1, "twee": 2, "drie": 3, "vier": 4, "vijf": 5, "zes": 6,
    "zeven": 7, "acht": 8, "negen": 9, "tien": 10, "elf": 11, "twaalf": 12, "dertien": 13,
    "veertien": 14, "vijftien": 15, "zestien": 16, "zeventien": 17, "achttien": 18,
    "negentien": 19, "twintig": 20, "dertig": 30, "veertig": 40, "vijftig": 50, "zestig": 60,
    "zeventig": 70, "tachtig": 80, "negentig": 90,
    "a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {"honderd": 100, "hundred": 100, "duizend": 1000, "thousand": 1000,
           "miljoen": 1_000_000, "million": 1_000_000}  # fmt: skip
_JOINERS = ("en", "ën", "and")
_MORPHEMES = sorted([*_UNITS, *_SCALES, *_JOINERS], key=len, reverse=True)
_NUMBER_WORD_RUN = re.compile(
    r"(?<![\w])(anderhalf|anderhalve|[a-zëé]+(?:(?:[\s-]+)[a-zëé]+)*)(?![\w])", re.I
)


def _split_number_word(word: str) -> list[str] | None:
    """Split a compound like "honderdtwintigduizend" into its number morphemes, or None."""
    parts, rest = [], word
    while rest:
        morpheme = next((m for m in _MORPHEMES if rest.startswith(m)), None)
        if morpheme is None:
            return None
        parts.append(morpheme)
        rest = rest[len(morpheme) :]
    return parts


def number_from_words(text: str) -> int | None:
    """The number Dutch or English number words spell: "honderdtwintigduizend" -> 120000,
    "tweeënveertig" -> 42, "a hundred and twenty thousand" -> 120000; None if not a number."""
    parts: list[str] = []
    for word in re.split(r"[\s-]+", (text or "").strip().lower()):
        split = _split_number_word(word)
        if not split:
            return None
        parts += split
    if not parts or all(p in _JOINERS or p == "a" for p in parts):
        return None
    if parts[0] in _JOINERS or parts[-1] in _JOINERS:
        return None
    total = current = 0
    for part in parts:
        if part in _UNITS:
            current += _UNITS[part]
        elif part == "honderd" or part == "hundred":
            current = (current or 1) * 100
        elif part in _SCALES:
            total += (current or 1) * _SCALES[part]
            current = 0
    return total + current


def _spell_out_numbers(text: str) -> tuple[str, list[int]]:
    """The text with number words replaced by digits, and for every character of the new text
    the index of the character it came from (to map spans back)."""
    out: list[str] = []
    origin: list[int] = []
    pos = 0
    for match in _NUMBER_WORD_RUN.finditer(text):
        words = match.group(1)
        # The longest run of leading words that is a number ("zo'n tachtig duizend km").
        tokens = list(re.finditer(r"[^\s-]+", words))
        for i in range(len(tokens)):
            for j in range(min(len(tokens), i + 8), i, -1):  # numbers are short
                chunk = words[tokens[i].start() : tokens[j - 1].end()]
                low = chunk.lower()
                value = 1.5 if low in ("anderhalf", "anderhalve") else number_from_words(chunk)
                if value is None or low in ("a", "een", "één", *_SCALES):
                    # "een" alone is the article far more often than the number, and a scale
                    # alone belongs to the digits before it ("120 duizend").
                    continue
                start = match.start(1) + tokens[i].start()
                end = match.start(1) + tokens[j - 1].end()
                if start < pos:
                    continue
                out.append(text[pos:start])
                origin += range(pos, start)
                digits = str(value).replace(".", ",")
                out.append(digits)
                origin += [start] * len(digits)
                pos = end
                break
    out.append(text[pos:])
    origin += range(pos, len(text))
    return "".join(out), origin


def _to_number(raw: str, multiplier: str | None) -> float:
    if re.fullmatch(r"\d{1,3}(?:[.,\s]\d{3})+", raw):
        value = float(re.sub(r"[.,\s]", "", raw))
    else:
        value = float(raw.replace(",", "."))
    return value * _MULTIPLIERS.get((multiplier or "").lower(), 1)


def find_mileage(text: str) -> list[tuple[int, int, int]]:
    """Mileages written with a unit (``85.000 km``, ``120k km``, ``60 duizend kilometer``,
    ``honderdtwintigduizend km``) or with words that name the mileage (``85.000 op de teller``,
    ``120 thousand on the clock``, ``kilometerstand 142.000``). Spans are those of the original
    text; for a named mileage the span is the number."""
    spelled, origin = _spell_out_numbers(text or "")
    found: list[tuple[int, int, int]] = []

    def add(start: int, end: int, value: float) -> None:
        if all(end <= s or start >= e for s, e, _v in found):
            found.append((origin[start], origin[end - 1] + 1, int(round(value))))

    for m in _MILEAGE.finditer(spelled):
        value = _to_number(m.group(1), m.group(2))
        if m.group(3).lower() in ("miles", "mijl"):
            value *= 1.609344
        add(m.start(), m.end(), value)
    for pattern in (_MILEAGE_AFTER, _MILEAGE_BEFORE):
        for m in pattern.finditer(spelled):
            end = m.end(2) if m.group(2) else m.end(1)
            add(m.start(1), end, _to_number(m.group(1), m.group(2)))
    return sorted(found)


def parse_mileage(text: str) -> int | None:
    """A mileage answer; the unit may be left out: ``85000``, ``ruim 142 duizend``,
    ``zo'n 80.000``, ``honderdtwintigduizend``, ``85k``, ``1,2 ton``. Without a unit the
    answer must hold exactly one number and at most a few other words."""
    with_unit = find_mileage(text)
    if with_unit:
        value = with_unit[0][2]
    else:
        spelled, _origin = _spell_out_numbers((text or "").replace("’", "'"))
        numbers = list(_NUMBER_WITH_MULTIPLIER.finditer(spelled))
        if len(numbers) != 1:
            return None
        m = numbers[0]
        rest = spelled[: m.start()] + " " + spelled[m.end() :]
        if re.search(r"[\d<>{}\[\]()=;/\\|@#$%*_]", rest):
            return None  # another number, or markup and code rather than words
        if len(re.findall(r"[^\W\d_]+", rest)) > _MAX_OTHER_WORDS:
            return None
        value = int(round(_to_number(m.group(1), m.group(2))))
    return value if 0 <= value <= 2_000_000 else None


def parse_budget(text: str) -> int | None:
    """A price or budget in euros: ``20.000``, ``25k``, ``€ 15000``, ``30 duizend``."""
    m = re.search(r"€?\s*" + _NUMBER + r"\s*(k|duizend|thousand|mille)?", text or "", re.I)
    if not m:
        return None
    value = _to_number(m.group(1), None) * (1000 if m.group(2) else 1)
    if value < 1000:  # "30" in a budget context means thousands
        value *= 1000
    return int(value)


# --- dates and times -------------------------------------------------------------------------

_WEEKDAY_WORDS = {
    0: ("maandag", "ma", "monday", "mon"),
    1: ("dinsdag", "di", "tuesday", "tue", "tues"),
    2: ("woensdag", "wo", "woe", "wednesday", "wed"),
    3: ("donderdag", "do", "thursday", "thu", "thur", "thurs"),
    4: ("vrijdag", "vr", "vrij", "friday", "fri"),
    5: ("zaterdag", "za", "zat", "saturday", "sat"),
    6: ("zondag", "zo", "sunday", "sun"),
}
_WEEKDAY_LOOKUP = {w: d for d, words in _WEEKDAY_WORDS.items() for w in words}
_MONTHS = {
    "jan": 1, "januari": 1, "january": 1,
    "feb": 2, "februari": 2, "february": 2,
    "mrt": 3, "maart": 3, "mar": 3, "march": 3,
    "apr": 4, "april": 4,
    "mei": 5, "may": 5,
    "jun": 6, "juni": 6, "june": 6,
    "jul": 7, "juli": 7, "july": 7,
    "aug": 8, "augustus": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9,
    "okt": 10, "oktober": 10, "oct": 10, "october": 10,
    "nov": 11, "november": 11,
    "dec": 12, "december": 12,
}  # fmt: skip
_PARTS_OF_DAY = {
    "morning": ("ochtend", "morgens", "voormiddag", "morning", "am"),
    "afternoon": ("middag", "namiddag", "afternoon", "pm"),
    "evening": ("avond", "evening", "tonight"),
}


@dataclass(frozen=True)
class When:
    """What a customer said about a moment: a date and/or a time, or a part of the day."""

    date: dt.date | None = None
    time: dt.time | None = None
    part_of_day: str | None = None
    until: dt.date | None = None  # a window of days, ``date`` to ``until`` ("next week")

    @property
    def empty(self) -> bool:
        return self.date is None and self.time is None and self.part_of_day is None

    @property
    def days(self) -> list[dt.date]:
        """The days meant: one, or every day of a window."""
        if self.date is None:
            return []
        last = self.until or self.date
        return [self.date + dt.timedelta(days=n) for n in range((last - self.date).days + 1)]


class InvalidDate(ValueError):
    """The customer named a date that does not exist, like 30 February."""


def _next_weekday(today: dt.date, weekday: int, *, allow_today: bool = False) -> dt.date:
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0 and not allow_today:
        ahead = 7
    return today + dt.timedelta(days=ahead)


def _future_date(today: dt.date, month: int, day: int, year: int | None) -> dt.date:
    try:
        if year is not None:
            year = year + 2000 if year < 100 else year
            return dt.date(year, month, day)
        candidate = dt.date(today.year, month, day)
    except ValueError as exc:
        raise InvalidDate(f"{day}-{month} is not a date") from exc
    if candidate < today:
        try:
            candidate = dt.date(today.year + 1, month, day)
        except ValueError as exc:  # 29 February of a non-leap next year
            raise InvalidDate(f"{day}-{month} is not a date") from exc
    return candidate


def _parse_date(text: str, today: dt.date) -> dt.date | None:
    t = text
    if re.search(r"\b(overmorgen|day after tomorrow)\b", t):
        return today + dt.timedelta(days=2)
    if re.search(r"\b(morgen|tomorrow|tmrw|morgenochtend|morgenmiddag|morgenavond)\b", t):
        return today + dt.timedelta(days=1)
    if re.search(r"\b(vandaag|today|vanmiddag|vanochtend|vanavond|tonight)\b", t):
        return today
    # 15/12, 15-12, 15-12-2026, 15.12.2026 (a lone "10.30" is a time, not a date)
    m = re.search(r"\b(\d{1,2})[/-](\d{1,2})(?:[/-](\d{2,4}))?\b", t) or re.search(
        r"\b(\d{1,2})\.(\d{1,2})\.(\d{2,4})\b", t
    )
    if m:
        day, month = int(m.group(1)), int(m.group(2))
        year = int(m.group(3)) if m.group(3) else None
        if not 1 <= month <= 12:
            raise InvalidDate(m.group(0))
        return _future_date(today, month, day, year)
    month_names = "|".join(sorted(_MONTHS, key=len, reverse=True))
    m = re.search(
        rf"\b(\d{{1,2}})(?:st|nd|rd|th|e|ste|de)?\s+({month_names})\.?(?:\s+(\d{{4}}))?\b", t
    )
    if m:
        return _future_date(
            today, _MONTHS[m.group(2)], int(m.group(1)), int(m.group(3)) if m.group(3) else None
        )
    m = re.search(rf"\b({month_names})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?", t)
    if m:
        return _future_date(
            today, _MONTHS[m.group(1)], int(m.group(2)), int(m.group(3)) if m.group(3) else None
        )
    # "de 1e", "op de 20ste", "the 3rd": a day of this month, or of the next once it has passed
    if m := re.search(r"\b(?:de|the)\s+([0-3]?\d)(?:e|ste|de|st|nd|rd|th)\b", t):
        day = int(m.group(1))
        month_start = today.replace(day=1)
        for months_ahead in (0, 1, 2):
            first = (month_start + dt.timedelta(days=32 * months_ahead)).replace(day=1)
            try:
                candidate = first.replace(day=day)
            except ValueError:
                continue  # the 31st of a shorter month
            if candidate >= today:
                return candidate
        raise InvalidDate(m.group(0))
    window = _parse_week_window(t, today)
    short_message = len(t.split()) <= 4
    for word in re.findall(r"[a-z]+", t):
        # "do", "ma", "sun" are words too: abbreviations count only in short answers.
        if word in _WEEKDAY_LOOKUP and (len(word) > 4 or short_message):
            weekday = _WEEKDAY_LOOKUP[word]
            if re.search(r"\b(volgende|next)\s+week\b", t):
                monday = today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=7)
                return monday + dt.timedelta(days=weekday)
            if re.search(r"\b(na het weekend|after the weekend)\b", t):
                return _next_weekday(today, weekday, allow_today=today.weekday() < 5)
            return _next_weekday(today, weekday)
    return window[0] if window else None


def _parse_week_window(t: str, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """A window of days named without a weekday: "volgende week", "na het weekend"."""
    monday = today - dt.timedelta(days=today.weekday())
    if re.search(r"\b(volgende week|next week|komende week|week erna|the week after)\b", t):
        start = monday + dt.timedelta(days=7)
        if re.search(r"\b(begin|start|early|vroeg in)\b", t):
            return start, start + dt.timedelta(days=2)
        if re.search(r"\b(eind|einde|end|later in|late)\b", t):
            return start + dt.timedelta(days=3), start + dt.timedelta(days=5)
        return start, start + dt.timedelta(days=6)
    if re.search(r"\b(na het weekend|after the weekend|begin van de week)\b", t):
        start = monday + dt.timedelta(days=7)
        return start, start + dt.timedelta(days=2)
    if re.search(r"\b(deze week|this week|later this week|later deze week)\b", t):
        return today, monday + dt.timedelta(days=6)
    if re.search(r"\b(dit weekend|this weekend|weekend)\b", t):
        saturday = monday + dt.timedelta(days=5)
        return (saturday, saturday + dt.timedelta(days=1)) if today <= saturday else None
    return None


# "om 9en", "tegen tienen", "rond negenen": an hour in its spoken plural.
_HOUR_EN_WORDS = {
    "zevenen": "zeven", "achten": "acht", "negenen": "negen", "tienen": "tien", "elven": "elf",
    "twaalven": "twaalf", "enen": "een", "tweeën": "twee", "drieën": "drie", "vieren": "vier",
    "vijven": "vijf", "zessen": "zes",
}  # fmt: skip
_HOUR_EN = re.compile(r"(?<!\w)(\d{1,2}(?=en\b)|" + "|".join(_HOUR_EN_WORDS) + r")(?:en\b)?")
_ENGLISH_HOURS = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
]
_ENGLISH_HOUR = r"(1[0-2]|[1-9]|" + "|".join(_ENGLISH_HOURS) + r")"
_PAST_TO = re.compile(rf"\b(half|quarter)\s+(past|to)\s+{_ENGLISH_HOUR}\b")
_BRITISH_HALF = re.compile(rf"\bhalf\s+({'|'.join(_ENGLISH_HOURS)})\b")


def _english_clock(text: str) -> str:
    """English clock phrases as digits: "half past eight" and British "half eight" are 8:30
    (Dutch "half acht" is 7:30), "quarter past ten" 10:15, "quarter to four" 3:45."""

    def hour(word: str) -> int:
        return int(word) if word.isdigit() else _ENGLISH_HOURS.index(word) + 1

    def past_to(m: re.Match) -> str:
        h, minutes = hour(m.group(3)), 30 if m.group(1) == "half" else 15
        if m.group(2) == "to":
            h, minutes = (h - 2) % 12 + 1, 60 - minutes
        return f"{h}:{minutes:02d}"

    text = _PAST_TO.sub(past_to, text)
    return _BRITISH_HALF.sub(lambda m: f"{hour(m.group(1))}:30", text)


_CLOCK = re.compile(r"\b([01]?\d|2[0-3])[:.h]([0-5]\d)\b")
_HOUR_UUR = re.compile(r"\b([01]?\d|2[0-3])\s*(?:u|uur|h)(?:\s*([0-5]\d))?\b")
_AMPM = re.compile(r"\b(1[0-2]|0?[1-9])(?::([0-5]\d))?\s*(am|pm|a\.m\.|p\.m\.)")
_HALF = re.compile(r"\bhalf\s+(1[0-2]|[1-9])\b")
_QUARTER = re.compile(r"\bkwart\s+(over|voor)\s+(1[0-2]|[1-9])\b")
_OM = re.compile(r"\b(?:om|at|rond|around|tegen)\s+([01]?\d|2[0-3])\b(?![/\-.]\d)")
_UUR_OF = re.compile(r"\buur\s+of\s+([01]?\d|2[0-3])\b")  # "een uur of 10": about 10


def _afternoon(hour: int, text: str) -> int:
    # "om 3" at a workshop means 15:00; "'s ochtends"/"morning" keeps it.
    if hour < 7 and not re.search(r"ochtend|morning|\bam\b", text):
        return hour + 12
    if hour < 12 and re.search(r"middag|afternoon|avond|evening|\bpm\b", text):
        return hour + 12
    return hour


def _parse_time(text: str) -> dt.time | None:
    t = text
    if m := _AMPM.search(t):
        hour = int(m.group(1)) % 12 + (12 if m.group(3).startswith("p") else 0)
        return dt.time(hour, int(m.group(2) or 0))
    if m := _CLOCK.search(t):
        return dt.time(_afternoon(int(m.group(1)), t), int(m.group(2)))
    if m := _HALF.search(t):
        return dt.time(_afternoon(int(m.group(1)) - 1, t), 30)
    if m := _QUARTER.search(t):
        hour = _afternoon(int(m.group(2)), t)
        return dt.time(hour, 15) if m.group(1) == "over" else dt.time(hour - 1, 45)
    if m := _HOUR_UUR.search(t):
        return dt.time(_afternoon(int(m.group(1)), t), int(m.group(2) or 0))
    if m := _UUR_OF.search(t):
        return dt.time(_afternoon(int(m.group(1)), t), 0)
    if m := _OM.search(t):
        return dt.time(_afternoon(int(m.group(1)), t), 0)
    if re.search(r"\b(noon|12 uur 's middags|twaalf uur)\b", t):
        return dt.time(12, 0)
    return None


def _parse_part_of_day(text: str) -> str | None:
    for part, words in _PARTS_OF_DAY.items():
        if any(re.search(rf"{w}\b", text) for w in words if len(w) > 2):
            return part
    return None


def parse_when(text: str, now: dt.datetime) -> When:
    """Read a date and/or time from Dutch or English text, relative to ``now``.

    Understands e.g. "morgen om 10 uur", "volgende dinsdag", "next Friday 9am", "15/12",
    "15 december", "half 11", "donderdagochtend", "overmorgen rond een uur of 10", number
    words ("half tien"), windows of days ("volgende week", "na het weekend", "this week": ``date``
    to ``until``) and an ISO value from a button (``2026-11-24T09:00``). Raises
    :class:`InvalidDate` for dates that do not exist.

    Hand-written rather than with dateparser (installed): on the eight phrases of issue 16
    ("komende donderdag", "volgende week dinsdag", "donderdagochtend", "na het weekend",
    "overmorgen rond een uur of 10", "next week", "Thursday morning", "sometime next
    Thursday") dateparser 1.2 reads one ("next week", as a single moment, not a window).
    """
    raw = (text or "").strip()
    try:
        parsed = dt.datetime.fromisoformat(raw)
        return When(parsed.date(), parsed.time().replace(second=0, microsecond=0))
    except ValueError:
        pass
    low = _HOUR_EN.sub(lambda m: _HOUR_EN_WORDS.get(m.group(1), m.group(1)), raw.lower())
    low = _english_clock(low)
    t = " " + _spell_out_numbers(low.replace("’", "'"))[0] + " "
    days = "maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag"
    t = re.sub(rf"({days})morgen", r"\1 ochtend", t)  # "vrijdagmorgen" is no "morgen"
    t = re.sub(rf"({days})(ochtend|voormiddag|namiddag|middag|avond)", r"\1 \2", t)
    today = now.date()
    date = _parse_date(t, today)
    # Dates like 15/12 must not be read as a time as well.
    time = _parse_time(
        re.sub(r"\b\d{1,2}[/-]\d{1,2}(?:[/-]\d{2,4})?\b|\b\d{1,2}\.\d{1,2}\.\d{2,4}\b", " ", t)
    )
    if time is None and (m := re.fullmatch(r"\s*(\d{1,2})\s*", t)) and 7 <= int(m.group(1)) <= 20:
        time = dt.time(int(m.group(1)), 0)  # a bare "10" answers "what time?"
    part = None if time else _parse_part_of_day(t.replace("morgen ", " "))
    if (
        part is None
        and time is None
        and (tomorrow := re.search(r"morgen(ochtend|middag|avond)", t))
    ):
        part = {"ochtend": "morning", "middag": "afternoon", "avond": "evening"}[tomorrow.group(1)]
    until = None
    window = _parse_week_window(t, today)
    if window and date == window[0] and not any(w in t for w in _WEEKDAY_NAMES):
        until = window[1]  # "next week": every day of it, not its Monday
    return When(date, time, part, until)


_WEEKDAY_NAMES = tuple(w for words in _WEEKDAY_WORDS.values() for w in words if len(w) > 4)
