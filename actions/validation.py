"""Validators the forms share: plate, mileage, name, contact, time, confirmation, corrections."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from actions.common import StoreMixin, dealer_of, language, latest_intent, latest_text, now_for
from dealer.booking import INVALID_DATE, NEED_TIME, UNCLEAR, TimeDecision, decide_time
from dealer.config import Dealer
from dealer.hours import SlotProblem, hours_on
from dealer.i18n import format_button, format_day, format_hours, format_when
from dealer.names import clean_name, is_bare_name
from dealer.parsing import normalize_plate, parse_contact, parse_mileage

UNKNOWN = "unknown"
_DONT_KNOW = re.compile(
    r"\b(weet (ik )?(het )?niet|geen idee|onbekend|don'?t know|no idea|not sure|unknown)\b", re.I
)
# Which slot a typed correction refers to.
_CHANGE_WORDS = {
    "appointment_time": ("datum", "tijd", "dag", "tijdstip", "date", "time", "day", "moment"),
    "service_type": ("dienst", "soort", "service", "afspraak", "apk", "onderhoud", "banden"),
    "plate": ("kenteken", "plate", "registration", "nummerbord"),
    "mileage": ("kilometer", "km", "kilometerstand", "mileage"),
    "customer_name": ("naam", "name"),
    "contact": ("telefoon", "nummer", "e-mail", "email", "mail", "contact", "phone", "number"),
}


# ``decide(text, window)``: the decision on a time answer, read within an earlier window.
Decider = Callable[[str, "str | None"], TimeDecision]
# At most this many answers to one question; after that the customer is offered a way out.
MAX_TRIES = 2


# Intents a bare name was read as, which the slot mappings of the name leave out.
_NAME_MISREAD_AS = frozenset({"request_human", "stop", "bot_challenge"})


def tries(tracker: Tracker, slot: str) -> int:
    """How many answers the customer gave to the question for ``slot`` in a row, the one being
    validated included (0 when the question was not asked: a value volunteered earlier). A
    message the form rejected is no answer: a digression that a rule answered ("where are you
    located?") had counted as a first try, so one full time slot gave the way out (seed 421)."""
    if tracker.get_slot("requested_slot") != slot:
        return 0
    counted = answered = 0
    rejected = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "action_execution_rejected":
            rejected = True  # of the message before it
        elif kind == "user":
            counted += not rejected
            rejected = False
        elif kind == "slot" and event.get("name") == "requested_slot":
            if event.get("value") != slot:
                break
            answered = counted  # the answers since the question was (re)asked
        elif kind == "active_loop":
            break
    return answered


def value_before_message(tracker: Tracker, slot: str) -> Any:
    """The value ``slot`` had before the latest message (the tracker already holds what was
    extracted from it)."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            seen_user = True
        elif seen_user and event.get("event") == "slot" and event.get("name") == slot:
            return event.get("value")
    return None


def _rest_of_clause(value: str, said: str) -> str | None:
    """``value`` as found in the message ``said``, up to the end of its clause (the next comma or
    full stop), when that adds words: "friday at" -> "friday at eleven"."""
    start = said.lower().find(value.lower()) if value else -1
    if start < 0:
        return None
    end = re.search(r"[,.;!?\n]|$", said[start + len(value) :])
    clause = said[start : start + len(value) + (end.start() if end else 0)]
    return clause if len(clause) > len(value) else None


def offer_way_out(
    dispatcher: CollectingDispatcher, dealer: Dealer, options: list[dict[str, str]] | None = None
) -> None:
    """The way out of a question the customer could not answer twice: the valid options as
    buttons (if any), the dealer's phone number and a person (the handoff button)."""
    dispatcher.utter_message(response="utter_way_out", phone=dealer.phone, buttons=options or [])


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
        buttons = time_buttons(decision.alternatives, lang, entity)
        if decision.day is None:  # a window of days ("next week")
            dispatcher.utter_message(response="utter_time_pick_free", buttons=buttons)
        else:
            dispatcher.utter_message(
                response="utter_time_pick_hour", day=format_day(decision.day, lang), buttons=buttons
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
        when = when or (format_day(decision.day, lang) if decision.day else "")
        dispatcher.utter_message(response=f"utter_slot_{problem}", when=when)
    if decision.alternatives:
        dispatcher.utter_message(
            response="utter_nearest_free", buttons=time_buttons(decision.alternatives, lang, entity)
        )
    elif problem not in (UNCLEAR, INVALID_DATE):
        dispatcher.utter_message(response="utter_time_no_free", phone=dealer.phone)


def offer_window(
    dispatcher: CollectingDispatcher, tracker: Tracker, department: str, decide: Decider
) -> bool:
    """Ask a time question within the window the customer named before (``time_window``):
    the free times in it as buttons. False when there is no usable window: ask as usual."""
    window = tracker.get_slot("time_window")
    if not window:
        return False
    decision = decide(window, None)
    if decision.start is not None:  # one free moment: offer it as the choice
        decision = replace(decision, problem=NEED_TIME, alternatives=[decision.start])
    if decision.problem in (UNCLEAR, INVALID_DATE):
        return False
    explain_time_problem(dispatcher, dealer_of(tracker), decision, language(tracker), department)
    return True


class BaseFormValidation(StoreMixin, FormValidationAction, ABC):
    """Validation every form shares. Subclasses name their form and add their own slots."""

    @abstractmethod
    def name(self) -> str: ...

    # A question answered in vain once more after the way out ends the form in a handoff: the
    # customer gets a person instead of the same question a fourth time (issue 16: no dead
    # ends, at most two re-prompts). The survey and the handoff's own form have their own ends.
    hands_over_when_stuck = True

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        events = await super().run(dispatcher, tracker, domain)
        asked = tracker.get_slot("requested_slot")
        if not self.hands_over_when_stuck or not asked or tries(tracker, asked) <= MAX_TRIES:
            return events
        if any(e.get("name") == asked and e.get("value") is not None for e in events):
            return events  # answered at last
        dispatcher.messages.clear()  # not the refusal and the way out a third time
        return [*events, SlotSet("requested_slot", None), SlotSet("stuck_question", asked),
                FollowupAction("action_handoff")]  # fmt: skip

    @staticmethod
    def answer_despite(tracker: Tracker, slot: str, intents: frozenset[str],
                       accepts: Callable[[str], bool]) -> dict[str, Any]:  # fmt: skip
        """The latest message as the answer to the question for ``slot`` when the classifier read
        it as one of ``intents`` (which the slot's mappings leave out, so that the intent's rule
        runs) but the text is a clear answer by ``accepts``. Nothing otherwise: the mappings and
        the rules decide."""
        text = latest_text(tracker)
        if (
            tracker.get_slot("requested_slot") == slot
            and latest_intent(tracker) in intents
            and accepts(text)
        ):
            return {slot: text}
        return {}

    @property
    def accepts_corrections(self) -> bool:
        """True: "no" at the summary asks what to change. False: "no" ends the form."""
        return False

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        # "change_field" is asked only after "no" at the summary; then we confirm again.
        if self.accepts_corrections and tracker.get_slot("confirmed") is False:
            return domain_slots
        return [s for s in domain_slots if s != "change_field"]

    def refuse(self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str,
               response: str, options: list[dict[str, str]] | None = None,
               **kwargs: Any) -> None:  # fmt: skip
        """Say why an answer for ``slot`` is not taken, and from the MAX_TRIES-th answer on offer
        the way out. Silent for a value the question did not ask for (one picked from an earlier
        message): the question simply comes when it is due."""
        answers = tries(tracker, slot)
        if answers == 0:
            return
        dispatcher.utter_message(response=response, **kwargs)
        if answers >= MAX_TRIES:
            offer_way_out(dispatcher, dealer_of(tracker), options)

    def validate_plate(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                       domain: dict) -> dict[str, Any]:  # fmt: skip
        plate = normalize_plate(str(value or ""))
        if plate is None:
            self.refuse(dispatcher, tracker, "plate", "utter_invalid_plate",
                        value=str(value or "")[:40])  # fmt: skip
        return {"plate": plate}

    def validate_mileage(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                         domain: dict) -> dict[str, Any]:  # fmt: skip
        text = str(value or "")
        if _DONT_KNOW.search(text):
            return {"mileage": UNKNOWN}
        km = parse_mileage(text)
        if km is None:
            if tries(tracker, "mileage") >= MAX_TRIES:  # the mileage is nice to have: go on
                dispatcher.utter_message(response="utter_mileage_skipped")
                return {"mileage": UNKNOWN}
            self.refuse(dispatcher, tracker, "mileage", "utter_invalid_mileage")
            return {"mileage": None}
        return {"mileage": str(km)}

    async def extract_customer_name(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: dict) -> dict[str, Any]:  # fmt: skip
        """A bare name read as a wish for a person, a stop or "are you a bot?" answers the name
        question: "gert-jan bos" was ``request_human`` (0.73) and the customer was handed over
        (tuning seed 420). Other requests keep their rules: "verwijder mijn gegevens" passes for
        a name too."""
        return self.answer_despite(tracker, "customer_name", _NAME_MISREAD_AS, is_bare_name)

    def validate_customer_name(self, value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: dict) -> dict[str, Any]:  # fmt: skip
        name = clean_name(str(value or ""))
        if name is None:
            self.refuse(dispatcher, tracker, "customer_name", "utter_invalid_name")
        return {"customer_name": name}

    def validate_contact(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                         domain: dict) -> dict[str, Any]:  # fmt: skip
        parsed = parse_contact(str(value or "")[:300])
        if parsed is None:
            self.refuse(dispatcher, tracker, "contact", "utter_invalid_contact")
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
            self.refuse(dispatcher, tracker, "change_field", "utter_invalid_change_field")
            return {"change_field": None}
        return {**reset, "change_field": None, "confirmed": None}

    def validate_confirmed(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                           domain: dict) -> dict[str, Any]:  # fmt: skip
        others = set(tracker.slots_to_validate()) - {"confirmed", "requested_slot"}
        if others:
            return {"confirmed": None}  # a value was corrected with the answer: summarise again
        if value not in (True, False):
            self.refuse(dispatcher, tracker, "confirmed", "utter_invalid_confirmation")
            return {"confirmed": None}
        return {"confirmed": value}

    def validate_moment(self, slot: str, value: Any, dispatcher: CollectingDispatcher,
                        tracker: Tracker, department: str,
                        decide: Decider) -> dict[str, Any]:  # fmt: skip
        """A time slot (``appointment_time``, ``test_drive_time``) from ``decide(text, window)``.

        A moment said before the question ("... sometime next Thursday morning" in the opening
        message) that is not one bookable time is kept in ``time_window`` without a word; the
        question then offers the free times in it (:func:`offer_window`). An answer to the
        question is read within the window ("10 uur" after "donderdag").
        """
        answers = tries(tracker, slot)
        window = tracker.get_slot("time_window") if answers else None
        text = str(value or "")
        said = latest_text(tracker)
        if answers and text in said and not said.startswith("/"):
            # The answer to the question is the whole message: "Thursday 3 December at 10:30",
            # of which the `time` entity may hold only "10:30". A button's payload holds the value.
            text = said
        decision, read = decide(text[:200], window), str(value)
        if decision.start is None and not answers and (clause := _rest_of_clause(text, said)):
            # The entity may stop short of the hour ("friday at" of "this friday at eleven").
            wider = decide(clause[:200], window)
            if wider.start is not None or wider.problem not in (UNCLEAR, INVALID_DATE):
                decision, read = wider, clause
        if decision.start is not None:
            return {slot: decision.start.isoformat(), "time_window": None}
        if not answers:  # volunteered: the question will show what is free then (or why not)
            keep = decision.problem not in (UNCLEAR, INVALID_DATE)
            return {slot: None, "time_window": read[:200] if keep else None}
        dealer, lang = dealer_of(tracker), language(tracker)
        explain_time_problem(dispatcher, dealer, decision, lang, department)
        if answers >= MAX_TRIES:
            offer_way_out(dispatcher, dealer)
        return {
            slot: None,
            "time_window": decision.context if decision.problem == NEED_TIME else None,
        }

    def decide(self, tracker: Tracker, value: Any, **kwargs) -> tuple[Dealer, str, TimeDecision]:
        """Shared set-up for time validators: dealer, language and the decision on ``value``."""
        dealer = dealer_of(tracker)
        decision = decide_time(str(value or "")[:200], dealer, now=now_for(dealer), **kwargs)
        return dealer, language(tracker), decision
