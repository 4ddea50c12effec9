"""Parsing of customer input: plates, contact details, mileage, money, dates and times.

All functions are pure; "now" is always passed in, in the dealer's time zone.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

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
    """Spans and normalised values of every plate in a free-text message."""
    found = []
    for match in _PLATE_CANDIDATE.finditer(text or ""):
        candidate = match.group(1)
        # A six-char run needs a dash or mixed case/digits; bare words stay words.
        plate = normalize_plate(candidate)
        if plate and (("-" in candidate) or any(c.isdigit() for c in candidate)):
            found.append((match.start(1), match.end(1), plate))
    return found


_EMAIL = re.compile(r"(?<![\w.+-])([\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,})(?![\w])")


def find_emails(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(1), m.end(1), m.group(1).lower()) for m in _EMAIL.finditer(text or "")]


def normalize_email(text: str) -> str | None:
    found = find_emails((text or "").strip())
    return found[0][2] if found else None


def find_phones(text: str, region: str = "NL") -> list[tuple[int, int, str]]:
    """Phone numbers in the text, as E.164 (``+31612345678``).

    A number in the default region must be valid. A number the customer wrote with a country
    code (``+44 7700 900123``, ``0049 ...``) needs only the right length for that country:
    libphonenumber's list of allocated ranges lags behind (and leaves out UK ranges such as
    07700 900xxx), and we would rather call a number than refuse a customer's own."""
    found = []
    leniency = phonenumbers.Leniency.POSSIBLE
    for match in phonenumbers.PhoneNumberMatcher(text or "", region, leniency=leniency):
        explicit = match.raw_string.lstrip().startswith(("+", "00"))
        number = match.number
        if phonenumbers.is_valid_number(number) or (
            explicit
            and number.country_code != phonenumbers.country_code_for_region(region)
            and phonenumbers.is_possible_number(number)
        ):
            e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            found.append((match.start, match.end, e164))
    return found


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
_MILEAGE = re.compile(
    _NUMBER
    + r"\s*(k|duizend|thousand|dzd)?\s*(km|kilometer|kilometers|kilometre|kilometres|miles|mijl)",
    re.IGNORECASE,
)


_BARE_MILEAGE = re.compile(
    r"\s*(?:ongeveer|ong\.?|about|around|approx\.?|circa|ca\.?|rond|zo'?n|roughly|bijna|"
    r"almost|net)?\s*" + _NUMBER + r"\s*(k|duizend|thousand)?\s*[.!]?\s*",
    re.IGNORECASE,
)


def _to_number(raw: str, multiplier: str | None) -> float:
    if re.fullmatch(r"\d{1,3}(?:[.,\s]\d{3})+", raw):
        value = float(re.sub(r"[.,\s]", "", raw))
    else:
        value = float(raw.replace(",", "."))
    if multiplier and multiplier.lower() in ("k", "duizend", "thousand", "dzd"):
        value *= 1000
    return value


def find_mileage(text: str) -> list[tuple[int, int, int]]:
    """Mileages written with a unit: ``85.000 km``, ``120k km``, ``60 duizend kilometer``."""
    found = []
    for m in _MILEAGE.finditer(text or ""):
        value = _to_number(m.group(1), m.group(2))
        if m.group(3).lower() in ("miles", "mijl"):
            value *= 1.609344
        found.append((m.start(), m.end(), int(round(value))))
    return found


def parse_mileage(text: str) -> int | None:
    """A mileage answer; the unit may be left out (``85000``, ``ongeveer 85.000``, ``85k``)."""
    with_unit = find_mileage(text)
    if with_unit:
        value = with_unit[0][2]
    else:  # without a unit the answer must be just a number, perhaps with "about"
        m = _BARE_MILEAGE.fullmatch(text or "")
        if not m:
            return None
        value = int(round(_to_number(m.group(1), m.group(2))))
    return value if 0 <= value <= 2_000_000 else None


def parse_budget(text: str) -> int | None:
    """A price or budget in euros: ``20.000``, ``25k``, ``€ 15000``, ``30 duizend``."""
    m = re.search(r"€?\s*" + _NUMBER + r"\s*(k|duizend|thousand|mille)?", text or "", re.I)
    if not m:
        return None
    value = _to_number(m.group(1), m.group(2))
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

    @property
    def empty(self) -> bool:
        return self.date is None and self.time is None and self.part_of_day is None


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
    short_message = len(t.split()) <= 4
    for word in re.findall(r"[a-z]+", t):
        # "do", "ma", "sun" are words too: abbreviations count only in short answers.
        if word in _WEEKDAY_LOOKUP and (len(word) > 4 or short_message):
            weekday = _WEEKDAY_LOOKUP[word]
            if re.search(r"\b(volgende|next)\s+week\b", t):
                monday = today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=7)
                return monday + dt.timedelta(days=weekday)
            return _next_weekday(today, weekday)
    return None


_CLOCK = re.compile(r"\b([01]?\d|2[0-3])[:.h]([0-5]\d)\b")
_HOUR_UUR = re.compile(r"\b([01]?\d|2[0-3])\s*(?:u|uur|h)(?:\s*([0-5]\d))?\b")
_AMPM = re.compile(r"\b(1[0-2]|0?[1-9])(?::([0-5]\d))?\s*(am|pm|a\.m\.|p\.m\.)")
_HALF = re.compile(r"\bhalf\s+(1[0-2]|[1-9])\b")
_QUARTER = re.compile(r"\bkwart\s+(over|voor)\s+(1[0-2]|[1-9])\b")
_OM = re.compile(r"\b(?:om|at|rond|around|tegen)\s+([01]?\d|2[0-3])\b(?![/\-.]\d)")


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
    "15 december", "half 11", "donderdagochtend", and an ISO value from a button
    (``2026-11-24T09:00``). Raises :class:`InvalidDate` for dates that do not exist.
    """
    raw = (text or "").strip()
    try:
        parsed = dt.datetime.fromisoformat(raw)
        return When(parsed.date(), parsed.time().replace(second=0, microsecond=0))
    except ValueError:
        pass
    t = " " + raw.lower().replace("’", "'") + " "
    days = "maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag"
    t = re.sub(rf"({days})(ochtend|middag|avond)", r"\1 \2", t)
    today = now.date()
    date = _parse_date(t, today)
    # Dates like 15/12 must not be read as a time as well.
    time = _parse_time(
        re.sub(r"\b\d{1,2}[/-]\d{1,2}(?:[/-]\d{2,4})?\b|\b\d{1,2}\.\d{1,2}\.\d{2,4}\b", " ", t)
    )
    if time is None and (m := re.fullmatch(r"\s*(\d{1,2})\s*", t)) and 7 <= int(m.group(1)) <= 20:
        time = dt.time(int(m.group(1)), 0)  # a bare "10" answers "what time?"
    part = None if time else _parse_part_of_day(t.replace("morgen ", " "))
    if part is None and time is None and re.search(r"morgen(ochtend|middag|avond)", t):
        part = {"ochtend": "morning", "middag": "afternoon", "avond": "evening"}[
            re.search(r"morgen(ochtend|middag|avond)", t).group(1)
        ]
    return When(date, time, part)
