"""Dealer files: ``data/dealers/<dealer-id>/dealer.yml`` and ``stock.csv``.

Every fact the bot tells a customer comes from these files. A dealer replaces the folder with
their own; several folders mean several dealer locations. Each folder loads on its own: a broken
one is reported (with the file and line) and skipped, and the other locations keep working
(``dealerbot dealers check`` lists every problem).

Closed days are the public holidays of the dealer's country (the ``holidays`` package, ``NL`` by
default) plus the dealer's own ``closed_days``: a date (``2026-12-24``) or a day every year
(``"12-24"``).
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import logging
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import yaml

from dealer.i18n import DEFAULT_LANGUAGE, LANGUAGES

# The dealer package reads its own two settings (it imports nothing of ours); core.settings shows
# them with the others.
BUILT_IN_DEALERS_DIR = Path(__file__).resolve().parent.parent / "data" / "dealers"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The holidays package's language codes for ours (it has no plain "en").
HOLIDAY_LANGUAGES = {"nl": "nl", "en": "en_US"}
DEFAULT_HOLIDAY_COUNTRY = "NL"

log = logging.getLogger(__name__)


class DealerConfigError(ValueError):
    """A dealer file is missing a field or has a value the bot cannot use."""


@dataclass(frozen=True)
class Department:
    id: str
    name: dict[str, str]
    # weekday index (0 = Monday) -> (open, close)
    hours: dict[int, tuple[dt.time, dt.time]]


@dataclass(frozen=True)
class ClosedDay:
    date: dt.date
    name: dict[str, str]


@dataclass(frozen=True)
class Service:
    id: str
    name: dict[str, str]
    duration_min: int
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Car:
    stock_id: str
    make: str
    model: str
    variant: str
    fuel: str
    year: int
    mileage_km: int
    colour: str
    price_eur: int
    condition: str  # "new" or "used"
    body: str
    transmission: str

    @property
    def title(self) -> str:
        return f"{self.make} {self.model} {self.variant}".strip()


@dataclass(frozen=True)
class Webhook:
    """An outbound webhook; the signing secret is read from the environment variable
    ``secret_env`` when sending, never from the dealer file (docs/webhooks.md)."""

    url: str
    secret_env: str


# Groups of notification kinds a dealer file may give an address for; a kind's own key wins.
NOTIFICATION_GROUPS = {
    "workshop": ("booking", "change", "cancellation"),
    "sales": ("test_drive", "trade_in", "financing", "callback"),
    "handoff": ("handoff", "handoff_contact"),
}
NOTIFICATION_KEYS = (*NOTIFICATION_GROUPS, *(k for ks in NOTIFICATION_GROUPS.values() for k in ks))


def _notifications(data: dict, where: str) -> dict[str, tuple[str, ...]]:
    """``notifications: {workshop: a@x, sales: [b@x, c@x], handoff: ...}`` -> key -> addresses."""
    result = {}
    for key, value in (data.get("notifications") or {}).items():
        if key not in NOTIFICATION_KEYS:
            raise DealerConfigError(
                f"{where}: notifications.{key} is not one of {NOTIFICATION_KEYS}"
            )
        addresses = (value,) if isinstance(value, str) else tuple(value or ())
        for address in addresses:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", str(address)):
                raise DealerConfigError(f"{where}: notifications.{key}: '{address}' is no e-mail")
        result[key] = tuple(str(a) for a in addresses)
    return result


def _webhooks(data: dict, where: str) -> tuple[Webhook, ...]:
    hooks = []
    for i, hook in enumerate(data.get("webhooks") or ()):
        url, secret_env = (hook or {}).get("url"), (hook or {}).get("secret_env")
        if not isinstance(url, str) or not re.match(r"https?://[^\s/]+", url):
            raise DealerConfigError(f"{where}: webhooks[{i}].url must be an http(s) URL")
        if not isinstance(secret_env, str) or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", secret_env):
            raise DealerConfigError(
                f"{where}: webhooks[{i}].secret_env must name an environment variable "
                "(the secret itself never goes in the dealer file)"
            )
        hooks.append(Webhook(url, secret_env))
    return tuple(hooks)


@dataclass(frozen=True)
class WhatsAppTemplate:
    """An approved WhatsApp template (docs/staff.md): the day-before reminder
    (``reminders.whatsapp`` in the dealer file; four body parameters: the customer's name, the
    date and time, the service, the dealer and its address) or the message staff send from the
    inbox outside the 24-hour window (``handoff.whatsapp``; three: the customer's name, the
    dealer's name, the reference). Cloud API: the template's ``name`` and its language code per
    conversation language; Twilio: the Content SID per conversation language."""

    name: str = ""
    languages: dict[str, str] = field(default_factory=dict)  # nl -> "nl", en -> "en_GB"
    twilio_content_sids: dict[str, str] = field(default_factory=dict)  # nl -> "HX..."


def template_route(dealer: Dealer, template: WhatsAppTemplate | None, lang: str) -> str | None:
    """``cloud`` or ``twilio``: how ``template`` reaches a customer writing in ``lang`` through
    the dealer's WhatsApp; None when the dealer file gives no way."""
    if template is None:
        return None
    if template.name and dealer.whatsapp_phone_number_ids:
        return "cloud"
    if template.twilio_content_sids.get(lang) and dealer.whatsapp_numbers:
        return "twilio"
    return None


def _reminder_template(data: dict, where: str) -> WhatsAppTemplate | None:
    return _whatsapp_template((data.get("reminders") or {}).get("whatsapp"), where, "reminders")


def _whatsapp_template(raw: Any, where: str, section: str) -> WhatsAppTemplate | None:
    """``<section>.whatsapp`` of a dealer file: a template name and/or Twilio Content SIDs."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise DealerConfigError(f"{where}: {section}.whatsapp must be a mapping")
    name = str(raw.get("template") or "")
    if name and not re.fullmatch(r"[a-z0-9_]{1,512}", name):
        raise DealerConfigError(
            f"{where}: {section}.whatsapp.template '{name}' is no WhatsApp template name "
            "(lower case letters, digits and _)"
        )
    codes = raw.get("languages") or {"nl": "nl", "en": "en"}
    languages = {str(k): str(v) for k, v in codes.items()}
    sids = {str(k): str(v) for k, v in (raw.get("twilio_content_sid") or {}).items()}
    for lang, sid in sids.items():
        if not re.fullmatch(r"HX[0-9a-fA-F]{32}", sid):
            raise DealerConfigError(
                f"{where}: {section}.whatsapp.twilio_content_sid.{lang} is no Content SID (HX...)"
            )
    if not name and not sids:
        raise DealerConfigError(
            f"{where}: {section}.whatsapp needs a template (Cloud API) or twilio_content_sid"
        )
    return WhatsAppTemplate(name, languages, sids)


@dataclass(frozen=True)
class Dealer:
    id: str
    name: str
    timezone: ZoneInfo
    default_language: str
    address: dict[str, str]
    phone: str
    email: str
    website: str
    maps_url: str
    directions: dict[str, str]
    departments: dict[str, Department]
    closed_days: dict[dt.date, ClosedDay]
    services: tuple[Service, ...]
    slot_minutes: int
    capacity_per_slot: int
    capacity_overrides: dict[int, int]
    booking_horizon_days: int
    min_lead_minutes: int
    test_drive_minutes: int
    test_drive_lead_minutes: int
    handoff_reply_within_min: int
    handoff_department: str
    financing: dict[str, str]
    report_language: str
    report_recipients: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    whatsapp_numbers: tuple[str, ...]
    ask_nps: bool
    stock: tuple[Car, ...] = field(default=(), repr=False)
    # WhatsApp Cloud API phone number ids that route to this location (channels.whatsapp)
    whatsapp_phone_number_ids: tuple[str, ...] = ()
    # Staff e-mail addresses per notification group or kind (notifications/, docs/staff.md)
    notifications: dict[str, tuple[str, ...]] = field(default_factory=dict)
    webhooks: tuple[Webhook, ...] = ()
    # The day-before reminder on WhatsApp (an approved template); None: e-mail only
    reminder_whatsapp: WhatsAppTemplate | None = None
    # the template staff may send from the inbox outside WhatsApp's 24-hour window
    handoff_whatsapp: WhatsAppTemplate | None = None
    privacy_url: str = ""  # the dealer's privacy statement, linked from the chat's greeting
    # the dealer's own days closed every year: (month, day) -> name per language
    closed_every_year: dict[tuple[int, int], dict[str, str]] = field(default_factory=dict)
    # public holidays of this country (ISO code; None: none), except those named here (English)
    holiday_country: str | None = DEFAULT_HOLIDAY_COUNTRY
    holidays_open: frozenset[str] = frozenset()

    def closed_on(self, day: dt.date) -> ClosedDay | None:
        """Why every department is closed on ``day``: the dealer's own closed day, or a public
        holiday of its country; None when it is an ordinary day."""
        if day in self.closed_days:
            return self.closed_days[day]
        yearly = self.closed_every_year.get((day.month, day.day))
        if yearly:
            return ClosedDay(day, yearly)
        if self.holiday_country:
            names = public_holidays(self.holiday_country, day.year).get(day)
            if names and names["en"].lower() not in self.holidays_open:
                return ClosedDay(day, names)
        return None

    def closed_days_from(self, first: dt.date, days: int = 366) -> list[ClosedDay]:
        """Every closed day from ``first`` on, for ``days`` days, in date order."""
        found = (self.closed_on(first + dt.timedelta(days=n)) for n in range(days))
        return [closed for closed in found if closed]

    @property
    def address_line(self) -> str:
        a = self.address
        return f"{a['street']}, {a['postcode']} {a['city']}"

    def service(self, service_id: str) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)

    def match_service(self, value: str) -> Service | None:
        """The service a customer's words refer to ("grote beurt" -> maintenance): the longest
        alias (or id) the words mention; failing that, a one-word alias of six letters or more
        that a word is a typo of ("maitnenance", "onderhoudsbuert")."""
        if self.service((value or "").strip().lower()):
            return self.service(value.strip().lower())
        # Hyphens join compounds ("APK-afspraak", "apk-keuring"): compare them as spaces.
        text = " " + re.sub(r"[^\w\s]|_", " ", (value or "").lower()) + " "
        best = None
        for service in self.services:
            for alias in (service.id, *service.aliases):
                alias = " ".join(re.sub(r"[^\w\s]|_", " ", alias.lower()).split())
                mentioned = f" {alias} " in text or (len(alias) > 4 and alias in text)
                if mentioned and (best is None or len(alias) > best[1]):
                    best = (service, len(alias))
        return best[0] if best else self._service_with_typo(text.split())

    def _service_with_typo(self, words: list[str]) -> Service | None:
        by_alias = {
            alias: service
            for service in self.services
            for alias in (service.id, *service.aliases)
            if len(alias) >= 6 and alias.isalpha()
        }
        for word in (w for w in words if len(w) >= 6):
            close = difflib.get_close_matches(word, by_alias, n=1, cutoff=0.85)
            if close:
                return by_alias[close[0]]
        return None

    def capacity(self, day: dt.date) -> int:
        return self.capacity_overrides.get(day.weekday(), self.capacity_per_slot)


@lru_cache(maxsize=64)
def public_holidays(country: str, year: int) -> dict[dt.date, dict[str, str]]:
    """The public holidays of ``country`` in ``year``, named in each of our languages."""
    named = {
        lang: holidays.country_holidays(country, years=year, language=code)
        for lang, code in HOLIDAY_LANGUAGES.items()
    }
    return {day: {lang: named[lang][day] for lang in LANGUAGES} for day in named["nl"]}


class _LineLoader(yaml.SafeLoader):
    """A YAML loader whose mappings remember the line of each key (for error messages)."""


class _Lines(dict):
    line: int = 0
    key_lines: dict


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Lines:
    mapping = _Lines(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {
        loader.construct_object(key, deep=True): key.start_mark.line + 1 for key, _ in node.value
    }
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _at(path: str, mapping: object, key: object = None) -> str:
    """``path:line`` of ``key`` in ``mapping`` (of the mapping itself when the key is absent)."""
    lines = getattr(mapping, "key_lines", {})
    line = lines.get(key) or getattr(mapping, "line", 0)
    return f"{path}:{line}" if line else path


def _require(data: dict, key: str, where: str):
    if key not in data or data[key] in (None, ""):
        raise DealerConfigError(f"{_at(where, data)}: missing '{key}'")
    return data[key]


def _translations(value, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or any(lang not in value for lang in LANGUAGES):
        raise DealerConfigError(f"{where}: needs a text for each language {LANGUAGES}")
    return {lang: str(value[lang]) for lang in LANGUAGES}


def _time(value: str, where: str) -> dt.time:
    try:
        return dt.time.fromisoformat(str(value))
    except ValueError as exc:
        raise DealerConfigError(f"{where}: '{value}' is not a time like 09:00") from exc


def _weekday(name: str, where: str) -> int:
    if name not in WEEKDAYS:
        raise DealerConfigError(f"{where}: '{name}' is not one of {WEEKDAYS}")
    return WEEKDAYS.index(name)


def load_stock(path: Path) -> tuple[Car, ...]:
    """Read a dealer-system stock export (CSV with a header row)."""
    cars = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for line_no, row in enumerate(csv.DictReader(handle), start=2):
            try:
                cars.append(
                    Car(
                        stock_id=row["stock_id"].strip(),
                        make=row["make"].strip(),
                        model=row["model"].strip(),
                        variant=(row.get("variant") or "").strip(),
                        fuel=row["fuel"].strip().lower(),
                        year=int(row["year"]),
                        mileage_km=int(row["mileage_km"]),
                        colour=(row.get("colour") or "").strip(),
                        price_eur=int(row["price_eur"]),
                        condition=row["condition"].strip().lower(),
                        body=(row.get("body") or "").strip().lower(),
                        transmission=(row.get("transmission") or "").strip().lower(),
                    )
                )
            except (KeyError, ValueError) as exc:
                raise DealerConfigError(f"{path}:{line_no}: bad stock row ({exc})") from exc
    return tuple(cars)


def load_dealer(folder: Path) -> Dealer:
    """Load and check one dealer folder; a problem is a :class:`DealerConfigError` that names
    the file and the line."""
    where = str(folder / "dealer.yml")
    try:
        data = yaml.load((folder / "dealer.yml").read_text(encoding="utf-8"), _LineLoader) or {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise DealerConfigError(f"{where}{line}: not valid YAML ({exc.problem})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DealerConfigError(f"{where}: cannot be read ({exc})") from exc
    if not isinstance(data, dict):
        raise DealerConfigError(f"{where}: must be a mapping of fields (id: ..., name: ...)")
    try:
        return _dealer_from(folder, data, where)
    except DealerConfigError:
        raise
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise DealerConfigError(f"{where}: a field has the wrong form ({exc!r})") from exc


def _closed_days(data: dict, where: str) -> tuple[dict, dict]:
    """The dealer's own closed days: one-off dates, and ``"MM-DD"`` days every year."""
    once: dict[dt.date, ClosedDay] = {}
    yearly: dict[tuple[int, int], dict[str, str]] = {}
    for entry in data.get("closed_days") or []:
        at = _at(where, entry)
        if not isinstance(entry, dict) or "date" not in entry:
            raise DealerConfigError(f"{at}: a closed day needs a date and a name")
        day, name = entry["date"], _translations(entry.get("name"), f"{at} name")
        if isinstance(day, dt.date):
            once[day] = ClosedDay(day, name)
            continue
        try:
            if str(day).count("-") == 1:  # every year
                month, mday = (int(part) for part in str(day).split("-"))
                dt.date(2024, month, mday)  # a leap year: 02-29 is a valid yearly day
                yearly[(month, mday)] = name
            else:
                once[dt.date.fromisoformat(str(day))] = ClosedDay(
                    dt.date.fromisoformat(str(day)), name
                )
        except ValueError as exc:
            raise DealerConfigError(
                f"{at}: '{day}' is not a date like 2026-12-24 or a yearly day like \"12-24\""
            ) from exc
    return once, yearly


def _holidays(data: dict, where: str) -> tuple[str | None, frozenset[str]]:
    """``public_holidays``: a country code (``NL``), ``none``, or ``{country: NL, open_on: [Good
    Friday]}`` (English names of the holidays the dealer is open on)."""
    value = data.get("public_holidays", DEFAULT_HOLIDAY_COUNTRY)
    open_on: frozenset[str] = frozenset()
    if isinstance(value, dict):
        open_on = frozenset(str(n).lower() for n in value.get("open_on") or ())
        value = value.get("country", DEFAULT_HOLIDAY_COUNTRY)
    if value in (None, False) or str(value).lower() == "none":
        return None, open_on
    country = str(value).upper()
    try:
        known = public_holidays(country, 2026)
    except NotImplementedError as exc:
        raise DealerConfigError(
            f"{_at(where, data, 'public_holidays')}: no public holidays known for '{value}' "
            "(an ISO country code such as NL, or none)"
        ) from exc
    names = {n["en"].lower() for n in known.values()}
    unknown = sorted(open_on - names)
    if unknown:
        raise DealerConfigError(
            f"{_at(where, data, 'public_holidays')}: open_on names no holiday of {country}: "
            f"{', '.join(unknown)} (known: {', '.join(sorted(names))})"
        )
    return country, open_on


def _dealer_from(folder: Path, data: dict, where: str) -> Dealer:
    departments = {}
    for dep_id, dep in _require(data, "departments", where).items():
        at = _at(where, data["departments"], dep_id)
        hours = {}
        for day, span in (dep.get("hours") or {}).items():
            day_at = _at(where, dep.get("hours"), day)
            opens, closes = (_time(v, f"{day_at} {dep_id}.{day}") for v in span)
            if opens >= closes:
                raise DealerConfigError(f"{day_at}: {dep_id}.{day} closes before it opens")
            hours[_weekday(day, day_at)] = (opens, closes)
        departments[dep_id] = Department(
            dep_id, _translations(dep.get("name"), f"{at} {dep_id}.name"), hours
        )
    for needed in ("showroom", "workshop"):
        if needed not in departments:
            at = _at(where, data, "departments")
            raise DealerConfigError(f"{at}: needs a '{needed}' department")
    closed, closed_yearly = _closed_days(data, where)
    holiday_country, holidays_open = _holidays(data, where)
    services = tuple(
        Service(
            id=s["id"],
            name=_translations(s.get("name"), f"{_at(where, s)} service {s['id']}"),
            duration_min=int(s["duration_min"]),
            aliases=tuple(a.lower() for a in s.get("aliases") or ()),
        )
        for s in _require(data, "services", where)
    )
    workshop = data.get("workshop") or {}
    test_drives = data.get("test_drives") or {}
    handoff = data.get("handoff") or {}
    reports = data.get("reports") or {}
    channels = data.get("channels") or {}
    stock_path = folder / "stock.csv"
    dealer_id = str(_require(data, "id", where))
    if dealer_id != folder.name:
        raise DealerConfigError(
            f"{_at(where, data, 'id')}: id '{dealer_id}' must match the folder name"
        )
    try:
        timezone = ZoneInfo(str(data.get("timezone", "Europe/Amsterdam")))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DealerConfigError(
            f"{_at(where, data, 'timezone')}: unknown time zone (e.g. Europe/Amsterdam)"
        ) from exc
    return Dealer(
        id=dealer_id,
        name=str(_require(data, "name", where)),
        timezone=timezone,
        default_language=data.get("default_language", DEFAULT_LANGUAGE),
        address={k: str(v) for k, v in _require(data, "address", where).items()},
        phone=str(_require(data, "phone", where)),
        email=str(data.get("email", "")),
        website=str(data.get("website", "")),
        maps_url=str(_require(data, "maps_url", where)),
        directions=_translations(data.get("directions"), f"{where} directions"),
        departments=departments,
        closed_days=closed,
        closed_every_year=closed_yearly,
        holiday_country=holiday_country,
        holidays_open=holidays_open,
        services=services,
        slot_minutes=int(workshop.get("slot_minutes", 30)),
        capacity_per_slot=int(workshop.get("capacity_per_slot", 1)),
        capacity_overrides={
            _weekday(k, where): int(v)
            for k, v in (workshop.get("capacity_overrides") or {}).items()
        },
        booking_horizon_days=int(workshop.get("booking_horizon_days", 60)),
        min_lead_minutes=int(workshop.get("min_lead_minutes", 120)),
        test_drive_minutes=int(test_drives.get("duration_min", 30)),
        test_drive_lead_minutes=int(test_drives.get("min_lead_minutes", 60)),
        handoff_reply_within_min=int(handoff.get("reply_within_min", 15)),
        handoff_department=handoff.get("department", "showroom"),
        financing=_translations(data.get("financing"), f"{where} financing"),
        report_language=reports.get("language", DEFAULT_LANGUAGE),
        report_recipients=tuple(reports.get("recipients") or ()),
        allowed_origins=tuple((channels.get("web") or {}).get("allowed_origins") or ()),
        whatsapp_numbers=tuple(str(n) for n in channels.get("whatsapp_numbers") or ())
        + tuple(str(n) for n in (channels.get("whatsapp") or {}).get("numbers") or ()),
        whatsapp_phone_number_ids=tuple(
            str(n) for n in (channels.get("whatsapp") or {}).get("phone_number_ids") or ()
        ),
        ask_nps=bool((data.get("survey") or {}).get("ask_nps", False)),
        privacy_url=str(data.get("privacy_url", "")),
        stock=load_stock(stock_path) if stock_path.exists() else (),
        notifications=_notifications(data, where),
        webhooks=_webhooks(data, where),
        reminder_whatsapp=_reminder_template(data, where),
        handoff_whatsapp=_whatsapp_template(handoff.get("whatsapp"), where, "handoff"),
    )


@dataclass(frozen=True)
class DealerFiles:
    """Every dealer folder: the locations that loaded, and the problem of each that did not."""

    dealers: dict[str, Dealer]
    problems: dict[str, str]  # folder name -> the error, with the file and line


def load_dealers(dealers_dir: Path) -> DealerFiles:
    """Load each dealer folder on its own: a broken one is reported, not fatal to the others."""
    dealers: dict[str, Dealer] = {}
    problems: dict[str, str] = {}
    for folder in sorted(dealers_dir.iterdir()) if dealers_dir.is_dir() else []:
        if not (folder / "dealer.yml").is_file():
            continue
        try:
            dealers[folder.name] = load_dealer(folder)
        except DealerConfigError as exc:
            problems[folder.name] = str(exc)
    return DealerFiles(dealers, problems)


@lru_cache(maxsize=8)
def _load_all(dealers_dir: Path, stamp: tuple) -> DealerFiles:
    files = load_dealers(dealers_dir)
    for folder, problem in files.problems.items():  # once per change of the files
        log.error("dealer folder %s skipped: %s", folder, problem)
    return files


def _stamp(dealers_dir: Path) -> tuple:
    # Reload when a dealer replaces a file; cheap enough to check on every call.
    return tuple(
        (str(p), p.stat().st_mtime_ns)
        for p in sorted(dealers_dir.glob("*/*"))
        if p.suffix in (".yml", ".csv")
    )


def configured_dealers_dir() -> Path:
    """``DEALERBOT_DEALERS_DIR``: the folder of dealer folders (default ``data/dealers``)."""
    return Path(os.environ.get("DEALERBOT_DEALERS_DIR") or BUILT_IN_DEALERS_DIR)


def default_dealer_id() -> str | None:
    """``DEALERBOT_DEFAULT_DEALER``: the location of a chat that names none (default: the first)."""
    return os.environ.get("DEALERBOT_DEFAULT_DEALER") or None


def all_dealers(dealers_dir: Path | None = None) -> dict[str, Dealer]:
    """All dealer locations that load, by id (broken folders are logged and skipped)."""
    folder = Path(dealers_dir or configured_dealers_dir())
    files = _load_all(folder, _stamp(folder))
    if not files.dealers:
        problems = "".join(f"\n  {problem}" for problem in files.problems.values())
        raise DealerConfigError(f"no usable dealer folder with a dealer.yml in {folder}{problems}")
    return files.dealers


def get_dealer(dealer_id: str | None = None, dealers_dir: Path | None = None) -> Dealer:
    """One dealer; ``None`` or an unknown id gives the default dealer."""
    dealers = all_dealers(dealers_dir)
    if dealer_id in dealers:
        return dealers[dealer_id]
    default = default_dealer_id()
    return dealers[default] if default in dealers else next(iter(dealers.values()))
