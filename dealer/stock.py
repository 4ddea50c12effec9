"""Stock search and car matching against the dealer's stock list."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from dealer.config import Car, Dealer
from dealer.parsing import parse_budget

FUEL_WORDS = {
    "electric": ("elektrisch", "elektrische", "electric", "ev", "stroom", "volledig elektrisch",
                 "elektro", "bev"),
    "hybrid": ("hybride", "hybrid", "hev", "full hybrid"),
    "plug-in hybrid": ("plug-in", "plugin", "plug-in hybride", "phev", "plug-in hybrid"),
    "petrol": ("benzine", "petrol", "gasoline", "gas", "benzinewagen"),
    "diesel": ("diesel", "tdi"),
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


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", (text or "").lower()).strip()


def _lookup(words: dict[str, tuple[str, ...]], text: str) -> str | None:
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

    @property
    def empty(self) -> bool:
        return not any(
            (self.make, self.model, self.fuel, self.max_price, self.condition, self.body)
        )


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


def build_query(dealer: Dealer, *, make=None, model=None, fuel=None, budget=None, condition=None,
                text: str = "") -> CarQuery:  # fmt: skip
    """Turn extracted entities (and the raw text, for words DIET missed) into a query."""
    matched = match_model(dealer, model, match_make(dealer, make)) if model else None
    make_value = matched[0] if matched else match_make(dealer, make)
    if make_value is None and not model:
        for word in _norm(text).split():
            make_value = match_make(dealer, word) if len(word) > 2 else None
            if make_value:
                break
    max_price = parse_budget(str(budget)) if budget else None
    return CarQuery(
        make=make_value,
        model=matched[1] if matched else (model or None),
        fuel=normalize_fuel(fuel) or normalize_fuel(text),
        max_price=max_price,
        condition=normalize_condition(condition) or normalize_condition(text),
        body=_lookup(BODY_WORDS, text),
    )


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
        )  # fmt: skip

    matches = sorted((c for c in dealer.stock if fits(c)), key=lambda c: (c.price_eur, c.stock_id))
    return matches[:limit], len(matches)


def find_car(dealer: Dealer, stock_id: str | None) -> Car | None:
    return next((c for c in dealer.stock if c.stock_id == stock_id), None) if stock_id else None
