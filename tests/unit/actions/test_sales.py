from rasa_sdk.events import SlotSet
from sqlalchemy import select

from actions.sales import (
    ActionAskCar,
    ActionCarPrice,
    ActionFinancing,
    ActionSearchStock,
    ActionSubmitCallback,
    ActionSubmitTestDrive,
    ActionSubmitTradeIn,
    ValidateTestDriveForm,
    ValidateTradeInForm,
)
from core.store.models import Lead
from tests.trackers import bot_event, make_tracker, responses, slot_event, user_event


def ask(text, intent, entities=(), **slots):
    ents = [{"entity": k, "value": v} for k, v in entities]
    return make_tracker(user_event(text, intent, ents), slots=slots)


def test_search_shows_at_most_three_with_prices(dispatcher, run):
    events = run(ActionSearchStock(), ask("elektrische auto's onder 40k?", "ask_car_availability",
                                          [("fuel", "elektrische"), ("budget", "40k")]))  # fmt: skip
    (message,) = dispatcher.messages
    assert message["response"] == "utter_stock_results"
    lines = message["cars"].splitlines()
    assert 1 <= len(lines) <= 3 and all("€ " in line and "elektrisch" in line for line in lines)
    assert len(message["buttons"]) == len(lines)
    assert message["buttons"][0]["payload"].startswith('/book_test_drive{"car": "AHD-')
    assert events[0]["event"] == "slot" and events[0]["name"] == "last_cars"


def test_no_wish_after_the_question_shows_the_best_priced_of_all(dispatcher, run, dealer):
    """Asked "what are you looking for?" and answered "cars in stock": no second ask."""
    run(ActionSearchStock(), ask("wat staat er op voorraad", "ask_car_availability"))
    assert responses(dispatcher) == ["utter_stock_ask_what"]
    asked = make_tracker(bot_event("Wat zoekt u?", "utter_stock_ask_what"),
                         user_event("auto's op voorraad", "ask_car_availability"))  # fmt: skip
    run(ActionSearchStock(), asked)
    assert responses(dispatcher)[-1] == "utter_stock_results"
    assert dispatcher.messages[-1]["total"] == len(dealer.stock)


def test_plural_fuel_words_filter(dispatcher, run):
    run(ActionSearchStock(), ask("and hybrids", "ask_car_availability", language="en"))
    assert responses(dispatcher) == ["utter_stock_results"]
    assert all("hybrid" in line for line in dispatcher.messages[0]["cars"].splitlines())


def test_unknown_model_is_answered_honestly_with_an_offer(dispatcher, run):
    events = run(ActionSearchStock(), ask("hebben jullie een porsche 911", "ask_car_availability",
                                          [("make", "Porsche"), ("model", "911")]))  # fmt: skip
    assert responses(dispatcher) == ["utter_stock_none"]
    assert "911" in dispatcher.messages[0]["what"]
    assert SlotSet("callback_offered", True) in events


def test_price_from_the_stock_list_in_english(dispatcher, run):
    run(ActionCarPrice(), ask("how much is the golf", "ask_price", [("model", "Golf")],
                              language="en"))  # fmt: skip
    (message,) = dispatcher.messages
    assert message["response"] == "utter_price"
    assert "€17,950" in message["cars"] and "€36,495" in message["cars"]


def test_price_without_a_car_asks_which(dispatcher, run):
    run(ActionCarPrice(), ask("wat kost dat", "ask_price"))
    assert responses(dispatcher) == ["utter_price_ask_model"]


def test_financing_text_comes_from_the_dealer_file(dispatcher, run, dealer):
    events = run(ActionFinancing(), ask("kan ik leasen", "ask_financing"))
    assert dispatcher.messages[0]["financing"] == dealer.financing["nl"]
    assert SlotSet("callback_topic", "financing") in events


def test_the_car_question_is_not_asked_after_the_choice_was_offered(dispatcher, run):
    """The answer "een golf" gave "We have more than one Golf. Which one?" with buttons: no
    second "Which car?" in the same turn; the next turn's question comes as usual."""
    chose = make_tracker(user_event("een golf", "inform"),
                         bot_event("Welke bedoelt u?", "utter_car_choose"))  # fmt: skip
    assert run(ActionAskCar(), chose) == [] and dispatcher.messages == []
    later = make_tracker(bot_event("Welke bedoelt u?", "utter_car_choose"),
                         user_event("weet ik niet", "inform"))  # fmt: skip
    run(ActionAskCar(), later)
    assert responses(dispatcher) == ["utter_ask_car"]


def test_test_drive_car_and_time(sqlite_factory, dispatcher, domain, dealer):
    form = ValidateTestDriveForm(session_factory=sqlite_factory)
    t = make_tracker(active_loop="test_drive_form")
    assert form.validate_car("AHD-1004", dispatcher, t, domain) == {"car": "AHD-1004"}
    assert form.validate_car("id3", dispatcher, t, domain) == {"car": "AHD-1004"}
    assert form.validate_car("golf", dispatcher, t, domain) == {"car": None}  # two Golfs
    assert form.validate_car("batmobiel", dispatcher, t, domain) == {"car": None}
    assert responses(dispatcher) == ["utter_car_choose", "utter_car_unknown"]
    # A typo in the model with its make, and the make alone: the make's cars to choose from.
    octavia = next(c for c in dealer.stock if c.model == "Octavia")
    assert form.validate_car("skoda octvaia", dispatcher, t, domain) == {"car": octavia.stock_id}
    # The make entity is the value; the model's typo is in the rest of the message.
    opening = make_tracker(user_event("could i take skoda octvaia out for a drive",
                                      "book_test_drive"), active_loop="test_drive_form")  # fmt: skip
    assert form.validate_car("skoda", dispatcher, opening, domain) == {"car": octavia.stock_id}
    assert form.validate_car("skoda", dispatcher, t, domain) == {"car": None}
    skodas = {c.stock_id for c in dealer.stock if c.make == "Skoda"}
    assert dispatcher.messages[-1]["response"] == "utter_car_choose"
    assert {b["payload"].split('"')[3] for b in dispatcher.messages[-1]["buttons"]} == skodas
    dispatcher.messages.clear()
    asked = make_tracker(
        slot_event("requested_slot", "test_drive_time"),
        user_event("zondag om 11 uur", "inform"),
        slots={"requested_slot": "test_drive_time"},
        active_loop="test_drive_form",
    )
    assert form.validate_test_drive_time("zaterdag om 11 uur", dispatcher, asked, domain) == {
        "test_drive_time": "2026-11-28T11:00:00+01:00",
        "time_window": None,
    }
    assert form.validate_test_drive_time("zondag om 11 uur", dispatcher, asked, domain) == {
        "test_drive_time": None,
        "time_window": None,
    }
    assert responses(dispatcher)[-2:] == ["utter_slot_closed_day", "utter_nearest_free"]
    # Said in the opening message: kept for the time question, without a word now.
    before = len(dispatcher.messages)
    assert form.validate_test_drive_time("zondag om 11 uur", dispatcher, t, domain) == {
        "test_drive_time": None,
        "time_window": "zondag om 11 uur",
    }
    assert len(dispatcher.messages) == before


def test_a_name_taken_for_a_model_keeps_the_car_chosen(sqlite_factory, dispatcher, domain):
    """Simulator: "I'm Megan" (DIET: model "Megan") to the name question dropped the T-Roc chosen
    before and asked for the car again."""
    form = ValidateTestDriveForm(session_factory=sqlite_factory)
    t = make_tracker(
        user_event("I'd like to test drive the T-Roc", "book_test_drive"),
        slot_event("car", "AHD-1006"),
        slot_event("requested_slot", "test_drive_time"),
        user_event("tomorrow at 4pm", "inform"),
        slot_event("test_drive_time", "2026-11-24T16:00:00+01:00"),
        slot_event("requested_slot", "customer_name"),
        user_event("I'm Megan", "inform"),
        slot_event("car", "Megan"),
        slots={"requested_slot": "customer_name", "car": "Megan"},
        active_loop="test_drive_form",
    )
    assert form.validate_car("Megan", dispatcher, t, domain) == {"car": "AHD-1006"}
    assert dispatcher.messages == []
    # A car of the stock named in another answer is a change of car.
    assert form.validate_car("id3", dispatcher, t, domain) == {"car": "AHD-1004"}


def test_trade_in_never_invents_a_value(sqlite_factory, dispatcher, domain, run):
    form = ValidateTradeInForm(session_factory=sqlite_factory)
    t = make_tracker()
    assert form.validate_trade_in_condition("x" * 5000, dispatcher, t, domain) == {
        "trade_in_condition": None
    }
    slots = {"plate": "12-ABC-3", "mileage": "120000", "trade_in_condition": "<b>deuk</b>",
             "customer_name": "Piet", "contact": "piet@example.nl"}  # fmt: skip
    run(ActionSubmitTradeIn(session_factory=sqlite_factory), make_tracker(slots=slots))
    assert "€" not in str(dispatcher.messages[-1])
    with sqlite_factory() as session:
        lead = session.scalars(select(Lead)).one()
    assert (lead.kind, lead.plate, lead.mileage_km, lead.email) == (
        "trade_in",
        "12-ABC-3",
        120000,
        "piet@example.nl",
    )
    assert lead.note == "<b>deuk</b>"  # stored as plain data, escaped where it is shown


def test_test_drive_and_callback_leads(sqlite_factory, dispatcher, run):
    slots = {"car": "AHD-1004", "test_drive_time": "2026-11-28T11:00:00+01:00",
             "customer_name": "Sarah", "contact": "+31612345678", "language": "en"}  # fmt: skip
    run(ActionSubmitTestDrive(session_factory=sqlite_factory), make_tracker(slots=slots))
    assert dispatcher.messages[-1]["when"] == "Saturday 28 November at 11:00"
    callback = {"customer_name": "Sarah", "contact": "+31612345678", "callback_topic": "financing"}
    events = run(ActionSubmitCallback(session_factory=sqlite_factory), make_tracker(slots=callback))
    assert SlotSet("callback_offered", False) in events
    with sqlite_factory() as session:
        kinds = sorted(lead.kind for lead in session.scalars(select(Lead)))
    assert kinds == ["financing", "test_drive"]


def test_every_stated_filter_is_applied_and_shown(dispatcher, run, dealer):
    """Issue 16: "used SUVs with an automatic gearbox" listed a manual T-Roc."""
    run(ActionSearchStock(), ask("used SUVs with an automatic gearbox", "ask_car_availability",
                                 [("new_or_used", "used")], language="en"))  # fmt: skip
    (message,) = dispatcher.messages
    expected = [c for c in dealer.stock
                if (c.condition, c.body, c.transmission) == ("used", "suv", "automatic")]  # fmt: skip
    assert message["total"] == len(expected) > 0
    lines = message["cars"].splitlines()
    assert all("SUV" in line and "automatic" in line for line in lines)
    assert "T-Roc" not in message["cars"]


def test_a_question_about_one_models_gearbox_is_answered_honestly(dispatcher, run):
    run(ActionSearchStock(), ask("Is the T-Roc an automatic?", "ask_car_availability",
                                 [("model", "T-Roc")], language="en"))  # fmt: skip
    assert responses(dispatcher) == ["utter_stock_none"]
    assert "T-Roc" in dispatcher.messages[0]["what"]
    assert "automatic" in dispatcher.messages[0]["what"]


def test_the_count_is_the_count_of_matches(dispatcher, run, dealer):
    """Issue 16: "een elektrische auto onder de 35000 euro" said 7 cars; 3 match."""
    run(ActionSearchStock(), ask("een elektrische auto onder de 35000 euro",
                                 "ask_car_availability", [("fuel", "elektrische")]))  # fmt: skip
    (message,) = dispatcher.messages
    expected = [c for c in dealer.stock if c.fuel == "electric" and c.price_eur <= 35000]
    assert message["total"] == len(expected) == 3
    assert "T-Roc" not in message["cars"]
