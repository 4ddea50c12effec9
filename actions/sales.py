"""Sales: stock search, prices, test drives, trade-in appraisals, financing and call backs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    StoreMixin,
    add_outcome,
    channel_of,
    contact_fields,
    current_conversation_id,
    dealer_of,
    language,
    last_response,
    latest_entity,
    latest_text,
    local_time,
    now_for,
    transcript,
)
from actions.validation import (
    BaseFormValidation,
    offer_window,
    time_buttons,
    value_before_message,
)
from core.store.repositories import create_lead
from dealer.booking import TimeDecision, decide_time
from dealer.config import Car, Dealer
from dealer.hours import is_open_at, nearest_free, next_opening
from dealer.i18n import (
    BODY_NAMES,
    CONDITION_NAMES,
    FUEL_NAMES,
    GEARBOX_NAMES,
    WEEKDAY_NAMES,
    format_day,
    format_eur,
    format_hours,
    format_km,
    format_when,
)
from dealer.stock import (
    CarQuery,
    build_query,
    find_car,
    make_in_text,
    match_model,
    model_of_make,
    search,
)

MAX_CONDITION_CHARS = 500


def car_line(car: Car, lang: str, query: CarQuery | None = None) -> str:
    """One car as a single line that reads well on WhatsApp too. Year, new/used, fuel and
    mileage always; the body and the gearbox too when the customer asked for them."""
    extras = []
    if query is not None and query.body:
        extras.append(BODY_NAMES[lang].get(car.body, car.body))
    if query is not None and query.gearbox:
        extras.append(GEARBOX_NAMES[lang].get(car.transmission, car.transmission))
    details = [
        str(car.year),
        CONDITION_NAMES[lang].get(car.condition, car.condition),
        FUEL_NAMES[lang].get(car.fuel, car.fuel),
        *extras,
        format_km(car.mileage_km, lang),
    ]
    return f"• {car.title} ({', '.join(details)}): {format_eur(car.price_eur, lang)}"


def car_buttons(cars: list[Car], intent: str = "book_test_drive") -> list[dict[str, str]]:
    return [
        {"title": f"{c.make} {c.model} {c.year}", "payload": f'/{intent}{{"car": "{c.stock_id}"}}'}
        for c in cars
    ]


def describe_query(query: CarQuery, lang: str) -> str:
    """What the customer looked for, in words: "elektrische Kia tot € 30.000"."""
    parts = [
        CONDITION_NAMES[lang].get(query.condition, "") if query.condition else "",
        FUEL_NAMES[lang].get(query.fuel, "") if query.fuel else "",
        query.make or "",
        query.model or "",
        BODY_NAMES[lang].get(query.body, query.body) if query.body else "",
    ]
    text = " ".join(p for p in parts if p)
    nl = lang == "nl"
    if query.gearbox:
        text += (" (" if text else "") + GEARBOX_NAMES[lang][query.gearbox] + (")" if text else "")
    if query.min_year:
        text += (" vanaf " if nl else " from ") + str(query.min_year)
    if query.max_km:
        text += (" met maximaal " if nl else " with at most ") + format_km(query.max_km, lang)
    if query.max_price:
        text += (" tot " if nl else " up to ") + format_eur(query.max_price, lang)
    return text.strip()


def query_from(tracker: Tracker, dealer: Dealer) -> CarQuery:
    return build_query(
        dealer,
        make=latest_entity(tracker, "make"),
        model=latest_entity(tracker, "model"),
        fuel=latest_entity(tracker, "fuel"),
        budget=latest_entity(tracker, "budget"),
        condition=latest_entity(tracker, "new_or_used"),
        text=latest_text(tracker)[:500],
    )


def offer_callback(dispatcher: CollectingDispatcher, what: str, topic: str) -> list[EventType]:
    dispatcher.utter_message(response="utter_stock_none", what=what)
    return [SlotSet("callback_offered", True), SlotSet("callback_topic", topic)]


class ActionSearchStock(Action):
    def name(self) -> str:
        return "action_search_stock"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        dealer, lang = dealer_of(tracker), language(tracker)
        query = query_from(tracker, dealer)
        if query.empty and last_response(tracker) != "utter_stock_ask_what":
            dispatcher.utter_message(response="utter_stock_ask_what", total=len(dealer.stock))
            return []
        # Asked once what they look for and still no wish: the best-priced of all, no second ask.
        cars, total = search(dealer, query)
        if not cars:
            return offer_callback(dispatcher, describe_query(query, lang), "sales")
        dispatcher.utter_message(
            response="utter_stock_results",
            total=total,
            cars="\n".join(car_line(c, lang, query) for c in cars),
            buttons=car_buttons(cars),
        )
        return [SlotSet("last_cars", [c.stock_id for c in cars])]


class ActionCarPrice(Action):
    def name(self) -> str:
        return "action_car_price"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        dealer, lang = dealer_of(tracker), language(tracker)
        query = query_from(tracker, dealer)
        if query.make is None and query.model is None:
            last = [find_car(dealer, i) for i in tracker.get_slot("last_cars") or []]
            if len(last) == 1 and last[0]:
                query = CarQuery(make=last[0].make, model=last[0].model)
            else:
                dispatcher.utter_message(response="utter_price_ask_model")
                return []
        cars, _total = search(dealer, CarQuery(make=query.make, model=query.model))
        if not cars:
            return offer_callback(dispatcher, describe_query(query, lang), "sales")
        dispatcher.utter_message(
            response="utter_price",
            model=f"{cars[0].make} {query.model or ''}".strip(),
            cars="\n".join(car_line(c, lang) for c in cars),
            buttons=car_buttons(cars),
        )
        return [SlotSet("last_cars", [c.stock_id for c in cars])]


class ActionFinancing(Action):
    def name(self) -> str:
        return "action_financing"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        dealer, lang = dealer_of(tracker), language(tracker)
        dispatcher.utter_message(response="utter_financing", financing=dealer.financing[lang])
        return [SlotSet("callback_offered", True), SlotSet("callback_topic", "financing")]


def showroom_week(dealer: Dealer, lang: str) -> str:
    hours = dealer.departments["showroom"].hours
    return ", ".join(
        f"{WEEKDAY_NAMES[lang][d][: 2 if lang == 'nl' else 3]} {format_hours(*hours[d], lang)}"
        for d in sorted(hours)
    )


class ValidateTestDriveForm(BaseFormValidation):
    def name(self) -> str:
        return "validate_test_drive_form"

    def validate_car(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                     domain: dict) -> dict[str, Any]:  # fmt: skip
        dealer, lang = dealer_of(tracker), language(tracker)
        text = str(value or "")[:200]
        car = find_car(dealer, text.strip())
        if car is not None:
            return {"car": car.stock_id}
        pair = match_model(dealer, text)
        make = None if pair else make_in_text(dealer, text)
        if make:  # "skoda octvaia" (a typo in the model), or "een skoda" (the make only)
            said = latest_text(tracker)[:200]
            # the make entity alone ("skoda") is the value: the typo is in the rest of the message
            pair = model_of_make(dealer, said if text.lower() in said.lower() else text, make)
        earlier = value_before_message(tracker, "car")
        if pair is None and earlier and tracker.get_slot("requested_slot") != "car":
            return {"car": earlier}  # a word of another answer taken for a model ("I'm Megan")
        if pair is None and make is None:
            dispatcher.utter_message(response="utter_car_unknown", value=text[:60])
            return {"car": None}
        query = CarQuery(make=pair[0], model=pair[1]) if pair else CarQuery(make=make)
        cars, _ = search(dealer, query, limit=10)
        if len(cars) == 1:
            return {"car": cars[0].stock_id}
        dispatcher.utter_message(
            response="utter_car_choose",
            model=f"{pair[0]} {pair[1]}" if pair else make,
            buttons=[
                {
                    "title": car_line(c, lang).lstrip("• "),
                    "payload": f'/inform{{"car": "{c.stock_id}"}}',
                }
                for c in cars
            ],
        )
        return {"car": None}

    def validate_test_drive_time(self, value: Any, dispatcher: CollectingDispatcher,
                                 tracker: Tracker, domain: dict) -> dict[str, Any]:  # fmt: skip
        return self.validate_moment(
            "test_drive_time", value, dispatcher, tracker, "showroom", test_drive_decider(tracker)
        )


# Replies of validate_car that end in the question for the car themselves.
_CAR_ASKED = frozenset({"utter_car_choose", "utter_car_unknown"})


class ActionAskCar(Action):
    def name(self) -> str:
        return "action_ask_car"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        if last_response(tracker, this_turn=True) in _CAR_ASKED:
            return []  # the answer's validation just asked which car, with the choices
        dealer = dealer_of(tracker)
        shown = [c for c in (find_car(dealer, i) for i in tracker.get_slot("last_cars") or []) if c]
        dispatcher.utter_message(
            response="utter_ask_car",
            buttons=[
                {
                    "title": f"{c.make} {c.model} {c.year}",
                    "payload": f'/inform{{"car": "{c.stock_id}"}}',
                }
                for c in shown
            ],
        )
        return []


def test_drive_decider(tracker: Tracker):
    """``decide(text, window)`` for a test drive: showroom hours, its duration and lead time."""
    dealer = dealer_of(tracker)

    def decide(text: str, window: str | None) -> TimeDecision:
        return decide_time(text, dealer, department="showroom",
                           duration_min=dealer.test_drive_minutes,
                           lead_minutes=dealer.test_drive_lead_minutes,
                           now=now_for(dealer), context=window)  # fmt: skip

    return decide


class ActionAskTestDriveTime(Action):
    def name(self) -> str:
        return "action_ask_test_drive_time"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        if offer_window(dispatcher, tracker, "showroom", test_drive_decider(tracker)):
            return []  # a day or part of a day said earlier: what is free then
        dealer, lang = dealer_of(tracker), language(tracker)
        now = now_for(dealer)
        first = nearest_free(
            dealer, "showroom", now, dealer.test_drive_minutes, now,
            dealer.test_drive_lead_minutes, lambda _start: True,
        )  # fmt: skip
        dispatcher.utter_message(
            response="utter_ask_test_drive_time",
            hours=showroom_week(dealer, lang),
            buttons=time_buttons(first, lang),
        )
        return []


class ValidateTradeInForm(BaseFormValidation):
    def name(self) -> str:
        return "validate_trade_in_form"

    def validate_trade_in_condition(self, value: Any, dispatcher: CollectingDispatcher,
                                    tracker: Tracker, domain: dict) -> dict[str, Any]:  # fmt: skip
        text = " ".join(str(value or "").split())
        if not 2 <= len(text) <= MAX_CONDITION_CHARS:
            dispatcher.utter_message(response="utter_invalid_condition")
            return {"trade_in_condition": None}
        return {"trade_in_condition": text}


class ValidateCallbackForm(BaseFormValidation):
    def name(self) -> str:
        return "validate_callback_form"


def lead_key(tracker: Tracker, kind: str) -> tuple:
    """Same conversation, same kind, same triggering message: the same lead (retry-safe)."""
    return (tracker.sender_id, kind, (tracker.latest_message or {}).get("message_id"),
            len(tracker.events))  # fmt: skip


def callback_day(dealer: Dealer, lang: str) -> str:
    """The day a colleague will call: today if the showroom is open, else the next opening."""
    now = now_for(dealer)
    if is_open_at(dealer, "showroom", now):
        return format_day(now.date(), lang)
    opening = next_opening(dealer, "showroom", now)
    return format_day(opening.date(), lang) if opening else format_day(now.date(), lang)


class LeadAction(StoreMixin, Action, ABC):
    """Stores a lead from the filled form slots and thanks the customer."""

    @abstractmethod
    def name(self) -> str: ...

    def base_fields(self, tracker: Tracker, dealer: Dealer, kind: str) -> dict[str, Any]:
        return {
            "dealer_id": dealer.id,
            "kind": kind,
            "customer_name": tracker.get_slot("customer_name"),
            "language": language(tracker),
            "channel": channel_of(tracker),
            "sender_id": tracker.sender_id,
            "conversation_id": current_conversation_id(tracker),
            **contact_fields(tracker.get_slot("contact")),
        }

    def done(self, tracker: Tracker, outcome: str, *events: EventType) -> list[EventType]:
        """Mark the outcome, record the conversation, and return the events."""
        result = [*events, add_outcome(tracker, outcome)]
        self.record(tracker, result)
        return result


class ActionSubmitTestDrive(LeadAction):
    def name(self) -> str:
        return "action_submit_test_drive"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        dealer, lang = dealer_of(tracker), language(tracker)
        car = find_car(dealer, tracker.get_slot("car"))
        when = local_time(dealer, tracker.get_slot("test_drive_time"))
        lead = create_lead(
            self.session_factory,
            key_parts=lead_key(tracker, "test_drive"),
            stock_id=car.stock_id if car else None,
            car=car.title if car else None,
            preferred_at=when,
            **self.base_fields(tracker, dealer, "test_drive"),
        )
        dispatcher.utter_message(
            response="utter_test_drive_booked",
            name=tracker.get_slot("customer_name"),
            car=f"{car.make} {car.model}" if car else "",
            when=format_when(when, lang) if when else "",
            reference=lead.reference,
        )
        return self.done(tracker, "test_drive_booked")


class ActionSubmitTradeIn(LeadAction):
    def name(self) -> str:
        return "action_submit_trade_in"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        dealer, lang = dealer_of(tracker), language(tracker)
        mileage = tracker.get_slot("mileage")
        km = int(mileage) if mileage and mileage.isdigit() else None
        lead = create_lead(
            self.session_factory,
            key_parts=lead_key(tracker, "trade_in"),
            plate=tracker.get_slot("plate"),
            mileage_km=km,
            note=tracker.get_slot("trade_in_condition"),
            **self.base_fields(tracker, dealer, "trade_in"),
        )
        dispatcher.utter_message(
            response="utter_trade_in_lead",
            name=tracker.get_slot("customer_name"),
            plate=tracker.get_slot("plate"),
            mileage=format_km(km, lang),
            reference=lead.reference,
        )
        return self.done(tracker, "lead_created")


class ActionSubmitCallback(LeadAction):
    def name(self) -> str:
        return "action_submit_callback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        dealer, lang = dealer_of(tracker), language(tracker)
        topic = tracker.get_slot("callback_topic") or "sales"
        lead = create_lead(
            self.session_factory,
            key_parts=lead_key(tracker, topic),
            transcript=transcript(tracker),
            **self.base_fields(tracker, dealer, topic),
        )
        dispatcher.utter_message(
            response="utter_callback_lead",
            name=tracker.get_slot("customer_name"),
            contact=tracker.get_slot("contact"),
            when=callback_day(dealer, lang),
            reference=lead.reference,
        )
        return self.done(tracker, "lead_created", SlotSet("callback_offered", False))
