"""Validators the forms share: plate, mileage, name, contact, time, confirmation, corrections."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from actions.common import StoreMixin, dealer_of, language, now_for
from dealer.booking import INVALID_DATE, NEED_TIME, UNCLEAR, TimeDecision
from dealer.config import Dealer
from dealer.hours import SlotProblem, hours_on
from dealer.i18n import format_button, format_day, format_hours, format_when
from dealer.parsing import normalize_plate, parse_contact, parse_mileage

UNKNOWN = "unknown"
_DONT_KNOW = re.compile(
    r"\b(weet (ik )?(het )?niet|geen idee|onbekend|don'?t know|no idea|not sure|unknown)\b", re.I
)
_NAME_PREFIX = re.compile(
    r"^\s*(mijn naam is|ik ben|ik heet|naam is|naam:|dit is|my name is|i am|i'm|this is|"
    r"name is|name:|it's|het is|op naam van|voor|for)\s+",
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
    "dunno idk there daar allemaal iedereen everyone"
)
_NOT_NAME_WORDS = frozenset(_NOT_NAME_TEXT.split())
_NAME_PARTICLES = {"van", "de", "der", "den", "het", "ten", "ter", "te", "'t", "in", "op", "von",
                   "la", "le", "du", "da", "di"}  # fmt: skip
# Which slot a typed correction refers to.
_CHANGE_WORDS = {
    "appointment_time": ("datum", "tijd", "dag", "tijdstip", "date", "time", "day", "moment"),
    "service_type": ("dienst", "soort", "service", "afspraak", "apk", "onderhoud", "banden"),
    "plate": ("kenteken", "plate", "registration", "nummerbord"),
    "mileage": ("kilometer", "km", "kilometerstand", "mileage"),
    "customer_name": ("naam", "name"),
    "contact": ("telefoon", "nummer", "e-mail", "email", "mail", "contact", "phone", "number"),
}


def clean_name(value: str) -> str | None:
    """A plausible person's name from an answer like "mijn naam is Jan de Vries", or None."""
    name = _NAME_PREFIX.sub("", (value or "").strip()).strip(" .!,")
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
        w if i and w in _NAME_PARTICLES else w[:1].upper() + w[1:] for i, w in enumerate(words)
    )


def time_buttons(moments, lang: str, entity: str = "time") -> list[dict[str, str]]:
    return [
        {"title": format_button(m, lang), "payload": f'/inform{{"{entity}": "{m:%Y-%m-%dT%H:%M}"}}'}
        for m in moments
    ]


def explain_time_problem(
    dispatcher: CollectingDispatcher,
    dealer: Dealer,
    decision: TimeDecision,
    lang: str,
    department: str,
    entity: str = "time",
) -> None:
    """Tell the customer why a time does not work and offer the nearest free ones as buttons."""
    problem = decision.problem
    if problem == UNCLEAR:
        dispatcher.utter_message(response="utter_time_unclear")
    elif problem == INVALID_DATE:
        dispatcher.utter_message(response="utter_time_invalid_date")
    elif problem == NEED_TIME:
        dispatcher.utter_message(
            response="utter_time_pick_hour",
            day=format_day(decision.day, lang),
            buttons=time_buttons(decision.alternatives, lang, entity),
        )
        return
    elif problem == SlotProblem.CLOSED_DAY:
        dispatcher.utter_message(
            response="utter_slot_closed_day", day=format_day(decision.day, lang)
        )
    elif problem == SlotProblem.OUTSIDE_HOURS:
        hours = hours_on(dealer, department, decision.day)
        dispatcher.utter_message(
            response="utter_slot_outside_hours",
            when=format_when(decision.requested, lang),
            hours=format_hours(hours.opens, hours.closes, lang),
        )
    elif problem == SlotProblem.TOO_FAR:
        dispatcher.utter_message(
            response="utter_slot_too_far",
            when=format_day(decision.day, lang),
            days=dealer.booking_horizon_days,
        )
    else:  # past, too soon, full
        when = format_when(decision.requested, lang) if decision.requested else ""
        dispatcher.utter_message(response=f"utter_slot_{problem}", when=when)
    if decision.alternatives:
        dispatcher.utter_message(
            response="utter_nearest_free", buttons=time_buttons(decision.alternatives, lang, entity)
        )
    elif problem not in (UNCLEAR, INVALID_DATE):
        dispatcher.utter_message(response="utter_time_no_free", phone=dealer.phone)


class BaseFormValidation(StoreMixin, FormValidationAction, ABC):
    """Validation every form shares. Subclasses name their form and add their own slots."""

    @abstractmethod
    def name(self) -> str: ...

    @property
    def accepts_corrections(self) -> bool:
        """True: "no" at the summary asks what to change. False: "no" ends the form."""
        return False

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        # "change_field" is asked only after "no" at the summary; then we confirm again.
        if self.accepts_corrections and tracker.get_slot("confirmed") is False:
            return domain_slots
        return [s for s in domain_slots if s != "change_field"]

    def validate_plate(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                       domain: dict) -> dict[str, Any]:  # fmt: skip
        plate = normalize_plate(str(value or ""))
        if plate is None:
            dispatcher.utter_message(response="utter_invalid_plate", value=str(value or "")[:40])
        return {"plate": plate}

    def validate_mileage(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                         domain: dict) -> dict[str, Any]:  # fmt: skip
        text = str(value or "")
        if _DONT_KNOW.search(text):
            return {"mileage": UNKNOWN}
        km = parse_mileage(text)
        if km is None:
            dispatcher.utter_message(response="utter_invalid_mileage")
            return {"mileage": None}
        return {"mileage": str(km)}

    def validate_customer_name(self, value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: dict) -> dict[str, Any]:  # fmt: skip
        name = clean_name(str(value or ""))
        if name is None:
            dispatcher.utter_message(response="utter_invalid_name")
        return {"customer_name": name}

    def validate_contact(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                         domain: dict) -> dict[str, Any]:  # fmt: skip
        parsed = parse_contact(str(value or "")[:300])
        if parsed is None:
            dispatcher.utter_message(response="utter_invalid_contact")
            return {"contact": None}
        return {"contact": parsed[1]}

    def validate_change_field(self, value: Any, dispatcher: CollectingDispatcher,
                              tracker: Tracker, domain: dict) -> dict[str, Any]:  # fmt: skip
        text = str(value or "").lower()
        field = text if text in _CHANGE_WORDS else None
        if field is None:
            words = set(re.findall(r"[\w-]+", text))
            field = next((f for f, names in _CHANGE_WORDS.items() if words & set(names)), None)
        required = self.domain_slots(domain)
        if field == "contact" and "customer_name" in required:
            reset = {"customer_name": None, "contact": None}
        elif field in required:
            reset = {field: None}
        else:
            dispatcher.utter_message(response="utter_invalid_change_field")
            return {"change_field": None}
        return {**reset, "change_field": None, "confirmed": None}

    def validate_confirmed(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                           domain: dict) -> dict[str, Any]:  # fmt: skip
        others = set(tracker.slots_to_validate()) - {"confirmed", "requested_slot"}
        if others:
            return {"confirmed": None}  # a value was corrected with the answer: summarise again
        if value not in (True, False):
            dispatcher.utter_message(response="utter_invalid_confirmation")
            return {"confirmed": None}
        return {"confirmed": value}

    def decide(self, tracker: Tracker, value: Any, **kwargs) -> tuple[Dealer, str, TimeDecision]:
        """Shared set-up for time validators: dealer, language and the decision on ``value``."""
        from dealer.booking import decide_time

        dealer = dealer_of(tracker)
        decision = decide_time(str(value or "")[:200], dealer, now=now_for(dealer), **kwargs)
        return dealer, language(tracker), decision
