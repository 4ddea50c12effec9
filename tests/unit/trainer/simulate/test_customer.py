"""The simulated customer: which question a bot turn asks, and the profile's answer to it."""

from trainer.simulate.customer import MAX_ASKS, Answer, Customer, Profile, question_of
from trainer.simulate.responses import Reply


def reply(name, language="nl", buttons=()):
    return Reply(text=name, buttons=tuple(buttons), name=name, language=language)


def profile(**extra):
    answers = {
        "plate": Answer("kenteken 12-abc-3", "12-ABC-3"),
        "mileage": Answer("ruim 85 duizend", "85000"),
        "when": Answer("morgen om 10 uur", "24/11 10:00"),
        "name": Answer("Jan de Vries"),
        "contact": Answer("jan@voorbeeld.nl"),
        "yes": Answer("ja graag", "ja"),
        "no": Answer("nee"),
        "no_more": Answer("nee dank je"),
        "change_field": Answer("datum en tijd"),
    }
    fields = {"id": "sim-1", "flow": "book", "language": "nl", "opening": "ik wil een apk",
              "answers": answers}  # fmt: skip
    fields.update(extra)
    return Profile(**fields)


def test_the_question_is_the_last_asking_reply_of_the_turn():
    turn = [reply("utter_appointment_found"), reply("utter_ask_mileage"), reply("utter_greet")]
    assert question_of(turn)[0] == "mileage"
    assert question_of([reply("utter_hours_week")]) == (None, None)


def test_each_question_gets_the_profile_answer_then_the_plain_one():
    customer = Customer(profile())
    assert customer.respond([reply("utter_ask_plate")]) == "kenteken 12-abc-3"
    assert customer.respond([reply("utter_invalid_plate"), reply("utter_ask_plate")]) == "12-ABC-3"
    assert customer.t.reprompts == {"plate": 1}
    assert customer.respond([reply("utter_ask_mileage")]) == "ruim 85 duizend"


def test_a_question_asked_too_often_is_a_dead_end():
    customer = Customer(profile())
    answers = [customer.respond([reply("utter_ask_plate")]) for _ in range(MAX_ASKS + 1)]
    assert answers[-1] is None and customer.t.dead_end == "plate"
    assert customer.t.reprompts["plate"] == MAX_ASKS


def test_a_question_the_opening_answered_counts_as_redundant():
    customer = Customer(profile(given=frozenset({"plate"})))
    customer.respond([reply("utter_ask_plate")])
    assert customer.t.redundant == {"plate": 1}


def test_a_digression_comes_first_and_the_question_again_is_no_reprompt():
    customer = Customer(profile(digression=("when", "hoe laat zijn jullie open?")))
    assert customer.respond([reply("utter_ask_appointment_time")]) == "hoe laat zijn jullie open?"
    again = [reply("utter_hours_week"), reply("utter_ask_appointment_time")]
    assert customer.respond(again) == "morgen om 10 uur"
    assert not customer.t.reprompts


def test_a_correction_gives_the_wrong_day_then_corrects_it_at_the_summary():
    customer = Customer(
        profile(correction=("donderdag om 9 uur", "nee, niet donderdag maar vrijdag"))
    )
    assert customer.respond([reply("utter_ask_appointment_time")]) == "donderdag om 9 uur"
    assert (
        customer.respond([reply("utter_summary_appointment")]) == "nee, niet donderdag maar vrijdag"
    )
    assert customer.respond([reply("utter_ask_change_field")]) == "datum en tijd"
    assert customer.respond([reply("utter_ask_appointment_time")]) == "morgen om 10 uur"
    assert customer.respond([reply("utter_summary_appointment")]) == "ja graag"


def test_offered_times_are_taken_from_the_reply_that_offers_them():
    times = [("10:00", '/inform{"time": "2026-11-24T10:00"}'), ("10:30", "/x")]
    start = [("eerste", "/first-free")]
    customer = Customer(profile())
    turn = [reply("utter_time_pick_hour", buttons=times),
            reply("utter_ask_appointment_time", buttons=start)]  # fmt: skip
    assert customer.respond(turn) == '/inform{"time": "2026-11-24T10:00"}'
    assert customer.t.time_flexible


def test_buttons_are_tapped_when_the_profile_taps():
    customer = Customer(profile(click_buttons=True))
    yes_no = [("Ja, inplannen", "/affirm"), ("Nee, iets aanpassen", "/deny")]
    assert customer.respond([reply("utter_summary_appointment", buttons=yes_no)]) == "/affirm"


def test_survey_answers_are_recorded_and_a_score_is_plain_when_asked_again():
    survey = {"csat": ("heel tevreden", 5), "ces": ("zeven", 7), "comment": "top"}
    customer = Customer(profile(survey=survey))
    assert customer.respond([reply("utter_ask_csat")]) == "heel tevreden"
    assert customer.respond([reply("utter_ask_ces")]) == "zeven"
    assert customer.respond([reply("utter_survey_unclear"), reply("utter_ask_ces")]) == "7"
    assert customer.respond([reply("utter_ask_survey_comment")]) == "top"
    assert customer.t.survey_given == {"csat": 5, "ces": 7, "comment": "top"}


def test_a_customer_without_survey_answers_says_stop_once():
    customer = Customer(profile(survey_stop="geen tijd"))
    assert customer.respond([reply("utter_ask_csat")]) == "geen tijd"
    assert customer.respond([reply("utter_survey_unclear"), reply("utter_ask_csat")]) is None
    assert customer.t.survey_given == {}


def test_fallbacks_and_wrong_language_replies_are_counted():
    customer = Customer(profile(rephrase="afspraak maken"))
    turn = [reply("utter_default", language="en")]
    customer.observe("apk", turn)
    assert (customer.t.did_not_understand, customer.t.wrong_language) == (1, 1)
    assert customer.respond(turn) == "afspraak maken"  # rephrases once
    assert customer.respond(turn) is None


def test_follow_ups_then_goodbye_then_no_more_then_the_end():
    customer = Customer(profile(flow="hours", follow_ups=["en zondag?"], goodbye="doei"))
    assert customer.respond([reply("utter_hours_day")]) == "en zondag?"
    assert customer.respond([reply("utter_hours_day")]) == "doei"
    assert customer.respond([reply("utter_anything_else")]) == "nee dank je"
    assert customer.respond([reply("utter_anything_else")]) is None
    assert customer.respond([reply("utter_goodbye")]) is None


def test_the_asks_a_correction_causes_are_no_reprompts():
    customer = Customer(profile(correction=("donderdag om 9 uur", "nee, vrijdag")))
    for name in ("utter_ask_appointment_time", "utter_summary_appointment",
                 "utter_ask_appointment_time", "utter_summary_appointment"):  # fmt: skip
        customer.respond([reply(name)])
    assert not customer.t.reprompts


def test_a_request_the_bot_did_not_act_on_is_said_again_once():
    customer = Customer(
        profile(flow="erase", rephrase="gegevens wissen", goal=("utter_data_deleted",))
    )
    assert customer.respond([reply("utter_greet")]) == "gegevens wissen"
    assert customer.respond([reply("utter_default")]) is None


def test_after_the_goal_a_misunderstood_goodbye_ends_the_conversation():
    customer = Customer(
        profile(flow="handoff", rephrase="medewerker", goal=("utter_handoff_open",))
    )
    customer.observe("medewerker", [reply("utter_handoff_open")])
    assert customer.t.goal_reached
    assert customer.respond([reply("utter_default")]) is None  # does not ask for a person again
