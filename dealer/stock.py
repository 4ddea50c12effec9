"""Stock search and car matching against the dealer's stock list."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from dealer.config import Car, Dealer
from dealer.parsing import parse_budget

FUEL_WORDS = {
    "electric": ("elektrisch", "elektrische", "electric", "electrics", "ev", "evs", "ev's",
                 "stroom", "volledig elektrisch", "elektro", "bev", "elektrische auto's"),
    "hybrid": ("hybride", "hybrides", "hybrid", "hybrids", "hev", "full hybrid"),
    "plug-in hybrid": ("plug-in", "plug-ins", "plugin", "plug-in hybride", "phev", "phevs",
                       "plug-in hybrid"),
    "petrol": ("benzine", "petrol", "gasoline", "gas", "benzinewagen", "benzineauto"),
    "diesel": ("diesel", "diesels", "tdi"),
}  # fmt: skip
CONDITION_WORDS = {
    "new": ("nieuw", "nieuwe", "new", "brand new", "fabrieksnieuw"),
    "used": ("occasion", "occasions", "tweedehands", "tweedehandse", "gebruikt", "gebruikte",
             "used", "second hand", "second-hand", "pre-owned"),
}  # fmt: skip
BODY_WORDS = {
    "suv": ("suv", "suv's", "suvs", "crossover"),
    "estate": ("stationwagen", "station", "estate", "combi", "touring", "variant", "wagon"),
    "hatchback": ("hatchback", "hatchbacks", "compact", "kleine auto", "small car"),
    "sedan": ("sedan", "saloon"),
}
GEARBOX_WORDS = {
    "automatic": ("automaat", "automaten", "automatic", "automatics", "automatisch",
                  "automatische", "automatic gearbox", "auto gearbox", "dsg", "cvt"),
    "manual": ("handgeschakeld", "handgeschakelde", "handbak", "schakelauto", "schakel",
               "manual", "manuals", "manual gearbox", "stick shift", "stick"),
}  # fmt: skip
# Limits stated in words. The number after the keyword is read by the patterns below; years and
# kilometres are told apart from prices by their unit or their range.
_NUMBER = r"(\d{1,3}(?:[.,\s]\d{3})+|\d+(?:[.,]\d+)?)\s*(k\b|duizend|thousand|mille)?"
_AT_MOST = (
    r"(?:onder(?:\s+de)?|beneden(?:\s+de)?|minder\s+dan|niet\s+meer\s+dan|"
    r"max(?:imaal|imum)?|hooguit|tot(?:\s+en\s+met)?|t/m|under|below|less\s+than|no\s+more\s+than|"
    r"up\s+to|at\s+most|budget(?:\s+(?:van|of|is))?|for\s+less\s+than)"
)
_PRICE = re.compile(
    _AT_MOST
    + r"\s*(?:€|eur|euro)?\s*"
    + _NUMBER
    + r"(?![\d.,]|\s*(?:k\b|km|kilomet|mijl|miles|duizend|thousand|mille))",
    re.IGNORECASE,
)
_EURO = re.compile(r"(?:€\s*" + _NUMBER + r"|" + _NUMBER + r"\s*(?:euro|eur)\b)", re.IGNORECASE)
_MAX_KM = re.compile(_AT_MOST + r"\s*" + _NUMBER + r"\s*(?:km|kilomet)", re.IGNORECASE)
_MIN_YEAR = re.compile(
    r"(?:vanaf|na|nieuwer\s+dan|jonger\s+dan|niet\s+ouder\s+dan|from|after|newer\s+than|"
    r"since)\s*(?:bouwjaar\s*)?((?:19|20)\d\d)|((?:19|20)\d\d)\s*(?:of|or)\s*(?:nieuwer|jonger|newer|later)",
    re.IGNORECASE,
)


def _amount(raw: str, multiplier: str | None) -> int:
    """``35.000`` / ``35,000`` / ``35k`` / ``35 duizend`` as a whole number (``30`` -> 30,000 for
    a price is the caller's call)."""
    if re.fullmatch(r"\d{1,3}(?:[.,\s]\d{3})+", raw):
        value = float(re.sub(r"[.,\s]", "", raw))
    else:
        value = float(raw.replace(",", "."))
    if multiplier:
        value *= 1000
    return int(value)


def price_limit(text: str) -> int | None:
    """The highest price a customer names: "onder de 35000 euro", "max 25k", "up to €30,000".

    A number counts as a price after an "at most" word, or with a euro sign or word; never with
    a kilometre unit, and not when it is a year (1900-2099 without a euro sign)."""
    for pattern in (_PRICE, _EURO):
        for m in pattern.finditer(text or ""):
            raw, mult = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            value = _amount(raw, mult)
            if pattern is _PRICE and not mult and re.fullmatch(r"(19|20)\d\d", raw):
                continue  # "tot 2020" is a year
            if value < 1000:  # "onder de 30" in a car budget means thousands
                value *= 1000
            return value
    return None


def mileage_limit(text: str) -> int | None:
    """The highest mileage a customer names: "minder dan 50.000 km", "under 60k km"."""
    m = _MAX_KM.search(text or "")
    return _amount(m.group(1), m.group(2)) if m else None


def year_limit(text: str) -> int | None:
    """The oldest build year a customer accepts: "vanaf 2020", "2019 or newer"."""
    m = _MIN_YEAR.search(text or "")
    return int(m.group(1) or m.group(2)) if m else None


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", (text or "").lower()).strip()


def _lookup(words: Mapping[str, tuple[str, ...]], text: str) -> str | None:
    t = f" {_norm(text)} "
    for value, aliases in words.items():
        if any(f" {_norm(a)} " in t for a in aliases):
            return value
    return None


def normalize_fuel(text: str | None) -> str | None:
    return _lookup(FUEL_WORDS, text) if text else None


def normalize_condition(text: str | None) -> str | None:
    return _lookup(CONDITION_WORDS, text) if text else None


@dataclass(frozen=True)
class CarQuery:
    make: str | None = None
    model: str | None = None
    fuel: str | None = None
    max_price: int | None = None
    condition: str | None = None
    body: str | None = None
    gearbox: str | None = None
    min_year: int | None = None
    max_km: int | None = None

    @property
    def empty(self) -> bool:
        return not any(
            (self.make, self.model, self.fuel, self.max_price, self.condition, self.body,
             self.gearbox, self.min_year, self.max_km)
        )  # fmt: skip


def match_make(dealer: Dealer, text: str | None) -> str | None:
    """The stock make a word refers to (fuzzy: "volkswagon" -> Volkswagen, "vw" too)."""
    if not text:
        return None
    makes = sorted({c.make for c in dealer.stock})
    norm = _norm(text)
    aliases = {"vw": "Volkswagen", "beemer": "BMW", "peugot": "Peugeot"}
    if norm in aliases:
        return aliases[norm]
    by_norm = {_norm(m): m for m in makes}
    if norm in by_norm:
        return by_norm[norm]
    close = difflib.get_close_matches(norm, by_norm, n=1, cutoff=0.8)
    return by_norm[close[0]] if close else None


def match_model(
    dealer: Dealer, text: str | None, make: str | None = None
) -> tuple[str, str] | None:
    """(make, model) in stock that a text names: "golf" -> (Volkswagen, Golf), "id3" too."""
    if not text:
        return None
    pairs = sorted({(c.make, c.model) for c in dealer.stock if make in (None, c.make)})
    norm = _norm(text).replace(" ", "")
    for pair in pairs:
        if _norm(pair[1]).replace(" ", "") == norm:
            return pair
    for pair in pairs:  # "tesla model 3", "de nieuwe golf"
        model = _norm(pair[1])
        if re.search(rf"(^| ){re.escape(model)}( |$)", _norm(text)):
            return pair
    by_norm = {_norm(p[1]).replace(" ", ""): p for p in pairs}
    close = difflib.get_close_matches(norm, by_norm, n=1, cutoff=0.8)
    return by_norm[close[0]] if close else None


def model_of_make(dealer: Dealer, text: str, make: str) -> tuple[str, str] | None:
    """(make, model) for a word of the text that is one of the make's models, typos allowed
    ("skoda octvaia" -> Skoda Octavia), where ``match_model`` found nothing in the whole text.
    Only with the make named: "super" or "model" alone would be taken for a Superb or a Model 3."""
    by_norm = {
        _norm(c.model).replace(" ", ""): (c.make, c.model) for c in dealer.stock if c.make == make
    }
    for word in _norm(text).split():
        close = difflib.get_close_matches(word, by_norm, n=1, cutoff=0.8) if len(word) > 3 else []
        if close:
            return by_norm[close[0]]
    return None


def make_in_text(dealer: Dealer, text: str) -> str | None:
    """The first stock make a word of the text names ("proefrit in een skoda" -> Skoda)."""
    for word in _norm(text).split():
        make = match_make(dealer, word) if len(word) > 2 else None
        if make:
            return make
    return None


def build_query(dealer: Dealer, *, make=None, model=None, fuel=None, budget=None, condition=None,
                text: str = "") -> CarQuery:  # fmt: skip
    """Turn extracted entities (and the raw text, for words DIET missed) into a query."""
    matched = match_model(dealer, model, match_make(dealer, make)) if model else None
    make_value = matched[0] if matched else match_make(dealer, make)
    if make_value is None and not model:
        make_value = make_in_text(dealer, text)
    max_price = parse_budget(str(budget)) if budget else None
    if model and not matched:  # "T-Roc" that DIET tagged as a make, or a model name in the text
        matched = match_model(dealer, text, make_value)
    elif not model:
        matched = _model_in_text(dealer, text, make_value)
    if matched:
        make_value = matched[0]
    return CarQuery(
        make=make_value,
        model=matched[1] if matched else (model or None),
        fuel=normalize_fuel(fuel) or normalize_fuel(text),
        max_price=max_price or price_limit(text),
        condition=normalize_condition(condition) or normalize_condition(text),
        body=_lookup(BODY_WORDS, text),
        gearbox=_lookup(GEARBOX_WORDS, text),
        min_year=year_limit(text),
        max_km=mileage_limit(text),
    )


def _model_in_text(dealer: Dealer, text: str, make: str | None) -> tuple[str, str] | None:
    """A stock model named in the text word for word ("is the T-Roc an automatic?")."""
    norm = f" {_norm(text)} "
    pairs = sorted({(c.make, c.model) for c in dealer.stock if make in (None, c.make)})
    for pair in sorted(pairs, key=lambda p: -len(p[1])):  # "Model 3" before "3"
        model = _norm(pair[1])
        if model.isdigit() and make is None:
            continue  # "2008" alone is more likely a year than a Peugeot
        if len(model) > 1 and f" {model} " in norm:
            return pair
    return None


def search(dealer: Dealer, query: CarQuery, limit: int = 3) -> tuple[list[Car], int]:
    """Cars matching every given criterion, cheapest first; returns (first ``limit``, total)."""

    def fits(car: Car) -> bool:
        return (
            (query.make is None or car.make == query.make)
            and (query.model is None or car.model == query.model)
            and (query.fuel is None or car.fuel == query.fuel
                 or (query.fuel == "hybrid" and car.fuel == "plug-in hybrid"))
            and (query.max_price is None or car.price_eur <= query.max_price)
            and (query.condition is None or car.condition == query.condition)
            and (query.body is None or car.body == query.body)
            and (query.gearbox is None or car.transmission == query.gearbox)
            and (query.min_year is None or car.year >= query.min_year)
            and (query.max_km is None or car.mileage_km <= query.max_km)
        )  # fmt: skip

    matches = sorted((c for c in dealer.stock if fits(c)), key=lambda c: (c.price_eur, c.stock_id))
    return matches[:limit], len(matches)


def find_car(dealer: Dealer, stock_id: str | None) -> Car | None:
    return next((c for c in dealer.stock if c.stock_id == stock_id), None) if stock_id else None
