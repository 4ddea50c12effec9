import pytest

from actions.dealer_info import ActionLocation, ActionOpeningHours
from tests.trackers import make_tracker, user_event


def hours_for(text, run, dispatcher, language="nl", time=None):
    entities = [{"entity": "time", "value": time}] if time else []
    run(ActionOpeningHours(), make_tracker(user_event(text, "ask_opening_hours", entities),
                                           slots={"language": language}))  # fmt: skip
    return dispatcher.messages[-1]


@pytest.mark.parametrize(
    ("text", "time", "day", "showroom", "workshop"),
    [
        (
            "zijn jullie vandaag open",
            "vandaag",
            "maandag 23 november",
            "09:00-18:00",
            "07:30-17:00",
        ),
        ("en morgen?", "morgen", "dinsdag 24 november", "09:00-18:00", "07:30-17:00"),
        ("open op zaterdag?", "zaterdag", "zaterdag 28 november", "10:00-17:00", "gesloten"),
    ],
)
def test_hours_for_a_day(run, dispatcher, text, time, day, showroom, workshop):
    message = hours_for(text, run, dispatcher, time=time)
    assert (message["response"], message["day"]) == ("utter_hours_day", day)
    assert (message["showroom"], message["workshop"]) == (showroom, workshop)


def test_holiday_by_name_and_by_date(run, dispatcher):
    message = hours_for("zijn jullie open met kerst?", run, dispatcher)
    assert message["response"] == "utter_hours_holiday"
    assert message["holiday"] == "Kerstavond"  # the first closed day of Christmas
    assert message["next_open"] == "maandag 28 december om 09:00"
    english = hours_for("open on 26/12?", run, dispatcher, "en", time="26/12")
    assert english["holiday"] == "Second Day of Christmas"  # the holidays package's name


@pytest.mark.parametrize(
    ("text", "holiday"),
    [("are you open on christmas day?", "Christmas Day"),
     ("and on new year's eve?", "New Year's Eve"), ("what about new year's day", "New Year's Day")],
)  # fmt: skip
def test_the_holiday_that_matches_best(run, dispatcher, text, holiday):
    """Issue 16: "and on new year's eve?" after a holiday question must name that day."""
    assert hours_for(text, run, dispatcher, "en")["holiday"] == holiday


def test_a_short_word_alone_names_no_holiday(run, dispatcher):
    assert hours_for("are you open every day?", run, dispatcher, "en")["response"] == (
        "utter_hours_week"
    )


def test_week_table_when_no_day_is_named(run, dispatcher):
    message = hours_for("openingstijden?", run, dispatcher)
    assert message["response"] == "utter_hours_week"
    assert "zondag: showroom gesloten, werkplaats gesloten" in message["table"]


def test_location_from_the_dealer_file(run, dispatcher, dealer):
    run(ActionLocation(), make_tracker(slots={"language": "en"}))
    message = dispatcher.messages[0]
    assert message["address"] == "Industrieweg 12, 3542 AD Utrecht"
    assert message["maps_url"] == dealer.maps_url and "A2" in message["directions"]
