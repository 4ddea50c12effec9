"""Opening hours and location, from the dealer file."""

from __future__ import annotations

import datetime as dt
import re

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import dealer_of, language, latest_entity, latest_text, now_for
from dealer.config import ClosedDay, Dealer
from dealer.hours import hours_on, next_opening
from dealer.i18n import WEEKDAY_NAMES, format_day, format_hours, format_when
from dealer.parsing import InvalidDate, parse_when


def named_closed_day(dealer: Dealer, text: str, today: dt.date) -> ClosedDay | None:
    """The next closed day whose name the customer mentions ("kerst", "King's Day").

    Words of four letters or more match inside a name ("kerst" in "Kerstdag"); shorter ones
    ("day", "eve", "new") only as whole words and only next to a longer one. The day whose name
    matches most words wins, the earliest on a tie: "christmas day" is not Christmas Eve, and
    "new year's eve" is not New Year's Day."""
    words = set(re.findall(r"[^\W\d_]{3,}", text.lower()))
    best, best_score = None, 0
    for closed in dealer.closed_days_from(today):
        names = " ".join(closed.name.values()).lower()
        long = sum(1 for w in words if len(w) >= 4 and w in names)
        short = sum(1 for w in words if len(w) == 3 and w in re.findall(r"[^\W\d_]+", names))
        if long and long + short > best_score:
            best, best_score = closed, long + short
    return best


def week_table(dealer: Dealer, lang: str) -> str:
    labels = {dep: d.name[lang] for dep, d in dealer.departments.items()}
    lines = []
    for weekday in range(7):
        parts = [
            f"{labels[dep]} {format_hours(*d.hours.get(weekday, (None, None)), lang)}"
            for dep, d in dealer.departments.items()
        ]
        lines.append(f"{WEEKDAY_NAMES[lang][weekday]}: " + ", ".join(parts))
    return "\n".join(lines)


class ActionOpeningHours(Action):
    def name(self) -> str:
        return "action_opening_hours"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        dealer, lang = dealer_of(tracker), language(tracker)
        now = now_for(dealer)
        text = str(latest_entity(tracker, "time") or latest_text(tracker))[:300]
        holiday = named_closed_day(dealer, latest_text(tracker)[:300], now.date())
        try:
            day = holiday.date if holiday else parse_when(text, now).date
        except InvalidDate:
            day = None
        if day is None:
            dispatcher.utter_message(response="utter_hours_week", table=week_table(dealer, lang))
            return []
        showroom, workshop = hours_on(dealer, "showroom", day), hours_on(dealer, "workshop", day)
        if showroom.holiday:
            day_end = dt.datetime.combine(day, dt.time(23, 59), dealer.timezone)
            opening = next_opening(dealer, "showroom", day_end)
            dispatcher.utter_message(
                response="utter_hours_holiday",
                day=format_day(day, lang),
                holiday=showroom.holiday[lang],
                next_open=format_when(opening, lang) if opening else "",
            )
            return []
        dispatcher.utter_message(
            response="utter_hours_day",
            day=format_day(day, lang),
            showroom=format_hours(showroom.opens, showroom.closes, lang),
            workshop=format_hours(workshop.opens, workshop.closes, lang),
        )
        return []


class ActionLocation(Action):
    def name(self) -> str:
        return "action_location"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        dealer, lang = dealer_of(tracker), language(tracker)
        dispatcher.utter_message(
            response="utter_location",
            dealer_name=dealer.name,
            address=dealer.address_line,
            directions=dealer.directions[lang],
            maps_url=dealer.maps_url,
            phone=dealer.phone,
        )
        return []
