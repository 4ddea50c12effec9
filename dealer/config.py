"""Dealer files: ``data/dealers/<dealer-id>/dealer.yml`` and ``stock.csv``.

Every fact the bot tells a customer comes from these files. A dealer replaces the folder with
their own; several folders mean several dealer locations.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from dealer.i18n import DEFAULT_LANGUAGE, LANGUAGES
from metrics.settings import get_settings

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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

    @property
    def address_line(self) -> str:
        a = self.address
        return f"{a['street']}, {a['postcode']} {a['city']}"

    def service(self, service_id: str) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)

    def capacity(self, day: dt.date) -> int:
        return self.capacity_overrides.get(day.weekday(), self.capacity_per_slot)

    def now(self) -> dt.datetime:
        """The current time in the dealer's time zone (frozen by DEALERBOT_FIXED_NOW in tests)."""
        fixed = get_settings().fixed_now
        return fixed.astimezone(self.timezone) if fixed else dt.datetime.now(self.timezone)


def _require(data: dict, key: str, where: str):
    if key not in data or data[key] in (None, ""):
        raise DealerConfigError(f"{where}: missing '{key}'")
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
    """Load and check one dealer folder."""
    where = str(folder / "dealer.yml")
    data = yaml.safe_load((folder / "dealer.yml").read_text(encoding="utf-8")) or {}
    departments = {}
    for dep_id, dep in _require(data, "departments", where).items():
        hours = {}
        for day, span in (dep.get("hours") or {}).items():
            opens, closes = (_time(v, f"{where} {dep_id}.{day}") for v in span)
            if opens >= closes:
                raise DealerConfigError(f"{where}: {dep_id}.{day} closes before it opens")
            hours[_weekday(day, where)] = (opens, closes)
        departments[dep_id] = Department(
            dep_id, _translations(dep.get("name"), f"{where} {dep_id}.name"), hours
        )
    for needed in ("showroom", "workshop"):
        if needed not in departments:
            raise DealerConfigError(f"{where}: needs a '{needed}' department")
    closed = {}
    for entry in data.get("closed_days") or []:
        day = entry["date"]
        day = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))
        closed[day] = ClosedDay(day, _translations(entry.get("name"), f"{where} {day}"))
    services = tuple(
        Service(
            id=s["id"],
            name=_translations(s.get("name"), f"{where} service {s['id']}"),
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
        raise DealerConfigError(f"{where}: id '{dealer_id}' must match the folder name")
    return Dealer(
        id=dealer_id,
        name=str(_require(data, "name", where)),
        timezone=ZoneInfo(data.get("timezone", "Europe/Amsterdam")),
        default_language=data.get("default_language", DEFAULT_LANGUAGE),
        address={k: str(v) for k, v in _require(data, "address", where).items()},
        phone=str(_require(data, "phone", where)),
        email=str(data.get("email", "")),
        website=str(data.get("website", "")),
        maps_url=str(_require(data, "maps_url", where)),
        directions=_translations(data.get("directions"), f"{where} directions"),
        departments=departments,
        closed_days=closed,
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
        stock=load_stock(stock_path) if stock_path.exists() else (),
    )


@lru_cache(maxsize=8)
def _load_all(dealers_dir: Path, stamp: tuple) -> dict[str, Dealer]:
    return {
        folder.name: load_dealer(folder)
        for folder in sorted(dealers_dir.iterdir())
        if (folder / "dealer.yml").is_file()
    }


def _stamp(dealers_dir: Path) -> tuple:
    # Reload when a dealer replaces a file; cheap enough to check on every call.
    return tuple(
        (str(p), p.stat().st_mtime_ns)
        for p in sorted(dealers_dir.glob("*/*"))
        if p.suffix in (".yml", ".csv")
    )


def all_dealers(dealers_dir: Path | None = None) -> dict[str, Dealer]:
    """All dealer locations, by id."""
    folder = Path(dealers_dir or get_settings().dealers_dir)
    dealers = _load_all(folder, _stamp(folder))
    if not dealers:
        raise DealerConfigError(f"no dealer folders with a dealer.yml in {folder}")
    return dealers


def get_dealer(dealer_id: str | None = None, dealers_dir: Path | None = None) -> Dealer:
    """One dealer; ``None`` or an unknown id gives the default dealer."""
    dealers = all_dealers(dealers_dir)
    if dealer_id in dealers:
        return dealers[dealer_id]
    default = get_settings().default_dealer
    return dealers[default] if default in dealers else next(iter(dealers.values()))
