"""Workshop appointments: book, reschedule and cancel."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    StoreMixin,
    add_outcome,
    channel_of,
    contact_fields,
    current_conversation_id,
    dealer_of,
    language,
    local_time,
    now_for,
)
from actions.validation import (
    MAX_TRIES,
    BaseFormValidation,
    offer_way_out,
    offer_window,
    time_buttons,
)
from core.store.models import Appointment, from_utc_naive
from core.store.repositories import (
    AppointmentRequest,
    SlotTaken,
    book_appointment,
    cancel_appointment,
    find_appointment,
    free_slot_checker,
    reschedule_appointment,
)
from dealer.booking import TimeDecision, decide_time
from dealer.config import Dealer
from dealer.hours import nearest_free
from dealer.i18n import format_km, format_when

DEFAULT_DURATION_MIN = 60


def duration_of(dealer: Dealer, service_id: str | None) -> int:
    service = dealer.service(service_id) if service_id else None
    return service.duration_min if service else DEFAULT_DURATION_MIN


def appointment_when(dealer: Dealer, appointment: Appointment, lang: str) -> str:
    return format_when(from_utc_naive(appointment.starts_at).astimezone(dealer.timezone), lang)


def service_label(dealer: Dealer, service_id: str | None, lang: str) -> str:
    service = dealer.service(service_id) if service_id else None
    return service.name[lang] if service else (service_id or "")


def appointment_of(session_factory, tracker: Tracker) -> Appointment | None:
    """The appointment this conversation found or booked (``appointment_id``), if any."""
    appointment_id = tracker.get_slot("appointment_id")
    if not appointment_id:
        return None
    with session_factory() as session:
        return session.get(Appointment, appointment_id)


def workshop_time_decision(
    session_factory, tracker: Tracker, text: str, context: str | None = None
) -> TimeDecision:
    """The decision on a workshop time: the service's (or the moved appointment's) duration,
    the dealer's hours, lead time and free capacity."""
    dealer = dealer_of(tracker)
    duration = duration_of(dealer, tracker.get_slot("service_type"))
    exclude = tracker.get_slot("appointment_id")
    existing = appointment_of(session_factory, tracker)
    if existing is not None:  # a reschedule keeps the service of the existing appointment
        duration = int((existing.ends_at - existing.starts_at).total_seconds() // 60)
    return decide_time(
        str(text or "")[:200],
        dealer,
        department="workshop",
        duration_min=duration,
        lead_minutes=dealer.min_lead_minutes,
        now=now_for(dealer),
        is_free=free_slot_checker(session_factory, dealer, duration, exclude),
        context=context,
    )


class WorkshopTimeMixin:
    """Validation of ``appointment_time`` against hours, closed days and free capacity."""

    def validate_appointment_time(self, value: Any, dispatcher: CollectingDispatcher,
                                  tracker: Tracker, domain: dict) -> dict[str, Any]:  # fmt: skip
        def decide(text: str, window: str | None) -> TimeDecision:
            return workshop_time_decision(self.session_factory, tracker, text, window)

        return self.validate_moment(
            "appointment_time", value, dispatcher, tracker, "workshop", decide
        )


class LooksUpByPlateAndContact(BaseFormValidation, ABC):
    """Forms that look for the car's appointment as soon as plate and contact are both known
    (a contact can be known from an earlier task, so the plate's validation looks up too)."""

    @abstractmethod
    def look_up(self, dispatcher: CollectingDispatcher, tracker: Tracker, plate: str,
                contact: str) -> dict[str, Any]: ...  # fmt: skip

    def validate_contact(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                         domain: dict) -> dict[str, Any]:  # fmt: skip
        result = super().validate_contact(value, dispatcher, tracker, domain)
        contact, plate = result["contact"], tracker.get_slot("plate")
        if contact is None or plate is None:
            return result
        return {**result, **self.look_up(dispatcher, tracker, plate, contact)}

    def validate_plate(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                       domain: dict) -> dict[str, Any]:  # fmt: skip
        result = super().validate_plate(value, dispatcher, tracker, domain)
        plate, contact = result["plate"], tracker.get_slot("contact")
        if plate is None or contact is None or "contact" in tracker.slots_to_validate():
            return result  # the contact's own validation looks it up
        # The contact is known from an earlier task in this conversation: look up now (the
        # appointment was never found when only the plate was asked).
        return {**result, **self.look_up(dispatcher, tracker, plate, contact)}


class ValidateAppointmentForm(WorkshopTimeMixin, LooksUpByPlateAndContact):
    def name(self) -> str:
        return "validate_appointment_form"

    @property
    def accepts_corrections(self) -> bool:
        return True

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        required = await super().required_slots(domain_slots, dispatcher, tracker, domain)
        if tracker.get_slot("appointment_id"):
            return required
        return [s for s in required if s != "move_existing"]

    def look_up(self, dispatcher: CollectingDispatcher, tracker: Tracker, plate: str,
                contact: str) -> dict[str, Any]:  # fmt: skip
        """An upcoming appointment for the car, found by plate and contact as a move or a
        cancellation finds it: the customer is asked whether to move it (a move read as a booking
        had booked the car twice)."""
        dealer = dealer_of(tracker)
        found = find_appointment(
            self.session_factory, dealer.id, plate, now=now_for(dealer), **contact_fields(contact)
        )
        return {"appointment_id": found.id if found else None, "move_existing": None}

    def validate_move_existing(self, value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: dict) -> dict[str, Any]:  # fmt: skip
        if value is True:  # the question named the new time: it is the confirmation
            return {"move_existing": True, "confirmed": True}
        if value is False:  # another appointment: booked as a new one, nothing of the old one
            return {"move_existing": False, "appointment_id": None}
        return {"move_existing": None}

    def validate_service_type(self, value: Any, dispatcher: CollectingDispatcher,
                              tracker: Tracker, domain: dict) -> dict[str, Any]:  # fmt: skip
        dealer = dealer_of(tracker)
        service = dealer.match_service(str(value or "")[:200])
        if service is None:
            self.refuse(dispatcher, tracker, "service_type", "utter_invalid_service",
                        options=service_buttons(dealer, language(tracker)))  # fmt: skip
            return {"service_type": None}
        return {"service_type": service.id}


def service_buttons(dealer: Dealer, lang: str) -> list[dict[str, str]]:
    return [
        {"title": s.name[lang], "payload": f'/inform{{"service_type": "{s.id}"}}'}
        for s in dealer.services
    ]


class ActionAskServiceType(Action):
    def name(self) -> str:
        return "action_ask_service_type"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        dealer, lang = dealer_of(tracker), language(tracker)
        dispatcher.utter_message(
            response="utter_service_list",
            services=", ".join(s.name[lang] for s in dealer.services),
            buttons=service_buttons(dealer, lang),
        )
        return []


class ActionAskAppointmentTime(StoreMixin, Action):
    """Ask for a time and offer the first free ones as buttons."""

    def name(self) -> str:
        return "action_ask_appointment_time"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        dealer, lang = dealer_of(tracker), language(tracker)

        def decide(text: str, window: str | None) -> TimeDecision:
            return workshop_time_decision(self.session_factory, tracker, text, window)

        if offer_window(dispatcher, tracker, "workshop", decide):
            return []  # a day or part of a day said earlier: what is free then
        duration = duration_of(dealer, tracker.get_slot("service_type"))
        now = now_for(dealer)
        is_free = free_slot_checker(
            self.session_factory, dealer, duration, tracker.get_slot("appointment_id")
        )
        first = nearest_free(
            dealer, "workshop", now, duration, now, dealer.min_lead_minutes, is_free
        )
        dispatcher.utter_message(
            response="utter_ask_appointment_time", buttons=time_buttons(first, lang)
        )
        return []


class ActionAskMoveExisting(StoreMixin, Action):
    """Ask whether the booking moves the car's upcoming appointment or comes on top of it."""

    def name(self) -> str:
        return "action_ask_move_existing"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        dealer, lang = dealer_of(tracker), language(tracker)
        existing = appointment_of(self.session_factory, tracker)
        when = local_time(dealer, tracker.get_slot("appointment_time"))
        if existing is None or when is None:
            # Cancelled since it was found: the summary of the booking instead, and a yes books it
            # (action_submit_appointment books when there is nothing left to move).
            utter_booking_summary(dispatcher, tracker)
            return []
        dispatcher.utter_message(
            response="utter_ask_move_existing",
            plate=existing.plate,
            service=service_label(dealer, existing.service_id, lang),
            old=appointment_when(dealer, existing, lang),
            when=format_when(when, lang),
        )
        return []


class ActionAskConfirmed(StoreMixin, Action):
    """The summary before a booking, move or cancellation is carried out."""

    def name(self) -> str:
        return "action_ask_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        dealer, lang = dealer_of(tracker), language(tracker)
        form = tracker.active_loop.get("name")
        if form == "appointment_form" and not tracker.get_slot("move_existing"):
            utter_booking_summary(dispatcher, tracker)
            return []
        existing = appointment_of(self.session_factory, tracker)
        if existing is None:
            dispatcher.utter_message(response="utter_default")
            return []
        old = appointment_when(dealer, existing, lang)
        if form == "cancel_form":
            dispatcher.utter_message(
                response="utter_summary_cancel", plate=existing.plate, when=old
            )
            return []
        when = local_time(dealer, tracker.get_slot("appointment_time"))
        dispatcher.utter_message(
            response="utter_summary_reschedule",
            plate=existing.plate,
            old=old,
            when=format_when(when, lang) if when else "",
        )
        return []


def utter_booking_summary(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Everything the booking will hold, for a yes before it is made."""
    dealer, lang = dealer_of(tracker), language(tracker)
    when = local_time(dealer, tracker.get_slot("appointment_time"))
    mileage = tracker.get_slot("mileage")
    dispatcher.utter_message(
        response="utter_summary_appointment",
        service=service_label(dealer, tracker.get_slot("service_type"), lang),
        plate=tracker.get_slot("plate"),
        mileage=format_km(int(mileage) if mileage and mileage.isdigit() else None, lang),
        when=format_when(when, lang) if when else "",
        name=tracker.get_slot("customer_name"),
        contact=tracker.get_slot("contact"),
    )


class LookupFormValidation(LooksUpByPlateAndContact):
    """Reschedule and cancel forms: find the appointment by plate and phone or e-mail."""

    def look_up(self, dispatcher: CollectingDispatcher, tracker: Tracker, plate: str,
                contact: str) -> dict[str, Any]:  # fmt: skip
        """Find the appointment by plate and contact; offer the way out after two misses."""
        dealer, lang = dealer_of(tracker), language(tracker)
        found = find_appointment(
            self.session_factory, dealer.id, plate, now=now_for(dealer), **contact_fields(contact)
        )
        if found is None:
            dispatcher.utter_message(response="utter_appointment_not_found", plate=plate)
            failed = int(tracker.get_slot("lookup_tries") or 0) + 1
            cleared = {"plate": None, "contact": None, "appointment_id": None,
                       "lookup_tries": float(failed)}  # fmt: skip
            if failed >= MAX_TRIES:
                # Not found twice: the way out ends the search (no third ask for the same plate).
                offer_way_out(dispatcher, dealer)
                return {**cleared, "requested_slot": None}
            return cleared
        dispatcher.utter_message(
            response="utter_appointment_found",
            service=service_label(dealer, found.service_id, lang),
            plate=found.plate,
            when=appointment_when(dealer, found, lang),
            reference=found.reference,
        )
        return {"contact": contact, "appointment_id": found.id, "service_type": found.service_id}


class ValidateRescheduleForm(WorkshopTimeMixin, LookupFormValidation):
    def name(self) -> str:
        return "validate_reschedule_form"


class ValidateCancelForm(LookupFormValidation):
    def name(self) -> str:
        return "validate_cancel_form"


def time_taken(dispatcher: CollectingDispatcher, form: str) -> list[EventType]:
    """The confirmed time was just taken by someone else: ``form`` asks for another."""
    dispatcher.utter_message(response="utter_slot_taken")
    return [SlotSet("appointment_time", None), SlotSet("confirmed", None), FollowupAction(form)]


class MovesAppointment(StoreMixin, Action, ABC):
    """Moving the found appointment (``appointment_id``) to the confirmed time."""

    @abstractmethod
    def name(self) -> str: ...

    def move(self, dispatcher: CollectingDispatcher, tracker: Tracker,
             form: str) -> list[EventType]:  # fmt: skip
        dealer, lang = dealer_of(tracker), language(tracker)
        start = local_time(dealer, tracker.get_slot("appointment_time"))
        try:
            moved = reschedule_appointment(
                self.session_factory, dealer, tracker.get_slot("appointment_id"), start
            )
        except SlotTaken:
            return time_taken(dispatcher, form)
        dispatcher.utter_message(
            response="utter_appointment_rescheduled",
            when=format_when(start, lang),
            reference=moved.reference,
        )
        events = [add_outcome(tracker, "appointment_changed")]
        self.record(tracker, events)
        return events


class ActionSubmitAppointment(MovesAppointment):
    """Store the confirmed appointment, or move the car's appointment when the customer chose
    that; if the time was just taken, offer other times."""

    def name(self) -> str:
        return "action_submit_appointment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        if tracker.get_slot("move_existing") and tracker.get_slot("appointment_id"):
            try:
                return self.move(dispatcher, tracker, "appointment_form")
            except LookupError:
                pass  # cancelled since it was found: book the new one as asked
        dealer, lang = dealer_of(tracker), language(tracker)
        start = local_time(dealer, tracker.get_slot("appointment_time"))
        service_id = tracker.get_slot("service_type")
        mileage = tracker.get_slot("mileage")
        request = AppointmentRequest(
            dealer_id=dealer.id,
            service_id=service_id,
            plate=tracker.get_slot("plate"),
            starts_at=start,
            duration_min=duration_of(dealer, service_id),
            customer_name=tracker.get_slot("customer_name"),
            mileage_km=int(mileage) if mileage and mileage.isdigit() else None,
            language=lang,
            channel=channel_of(tracker),
            sender_id=tracker.sender_id,
            conversation_id=current_conversation_id(tracker),
            **contact_fields(tracker.get_slot("contact")),
        )
        try:
            appointment = book_appointment(self.session_factory, dealer, request)
        except SlotTaken:
            return time_taken(dispatcher, "appointment_form")
        dispatcher.utter_message(
            response="utter_appointment_booked",
            service=service_label(dealer, service_id, lang),
            when=format_when(start, lang),
            address=dealer.address_line,
            reference=appointment.reference,
        )
        events = [
            SlotSet("appointment_id", appointment.id),
            add_outcome(tracker, "appointment_booked"),
        ]
        self.record(tracker, events)
        return events


class ActionSubmitReschedule(MovesAppointment):
    def name(self) -> str:
        return "action_submit_reschedule"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        if tracker.get_slot("appointment_id") is None:
            return []  # not found: the way out was offered
        if not tracker.get_slot("confirmed"):
            dispatcher.utter_message(response="utter_appointment_kept")
            return []
        return self.move(dispatcher, tracker, "reschedule_form")


class ActionSubmitCancel(StoreMixin, Action):
    def name(self) -> str:
        return "action_submit_cancel"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        dealer, lang = dealer_of(tracker), language(tracker)
        if tracker.get_slot("appointment_id") is None:
            return []  # not found: the way out was offered
        if not tracker.get_slot("confirmed"):
            dispatcher.utter_message(response="utter_appointment_kept")
            return []
        cancelled = cancel_appointment(self.session_factory, tracker.get_slot("appointment_id"))
        dispatcher.utter_message(
            response="utter_appointment_cancelled", when=appointment_when(dealer, cancelled, lang)
        )
        events = [add_outcome(tracker, "appointment_cancelled")]
        self.record(tracker, events)
        return events
