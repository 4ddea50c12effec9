"""The dashboard's transcript lines (metrics/web/data.py): staff messages name their writer."""

from metrics.web.data import _line


def test_a_staff_message_names_who_wrote_it():
    staff = _line({"event": "bot", "text": "Met Anna", "timestamp": 1.0,
                   "metadata": {"staff": "anna"}})  # fmt: skip
    assert (staff.who, staff.staff, staff.text) == ("staff", "anna", "Met Anna")
    bot = _line({"event": "bot", "text": "Hallo", "metadata": {"utter_action": "utter_greet"}})
    assert (bot.who, bot.staff, bot.at) == ("bot", None, None)
    customer = _line({"event": "user", "text": "Hoi", "timestamp": 2.0})
    assert (customer.who, customer.staff) == ("customer", None)
