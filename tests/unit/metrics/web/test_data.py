"""Transcripts show what the customer saw: button titles, not payloads."""

from metrics.web.data import customer_saw


def bot(text, *buttons):
    data = {"buttons": [{"title": t, "payload": p} for t, p in buttons]} if buttons else {}
    return {"event": "bot", "text": text, "data": data}


def user(text):
    return {"event": "user", "text": text}


def test_a_button_press_shows_the_buttons_title():
    events = [
        user("ik wil een afspraak"),
        bot("Klopt dit?", ("Ja", "/affirm"), ("Nee", "/deny")),
        user("/affirm"),
        bot("Welk tijdstip?", ("ma 7 dec 08:00", '/inform{"time": "2026-12-07T08:00"}')),
        bot("Of typ een andere tijd."),  # a message without buttons keeps the offer visible
        user('/inform{"time": "2026-12-07T08:00"}'),
        bot("Hoe tevreden bent u?", *((str(n), f'/inform{{"csat": "{n}"}}') for n in range(1, 6))),
        user('/inform{"csat": "4"}'),
        user("/typed_by_hand"),  # no button offered it: shown as written
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": None},
    ]
    texts = [text for _event, text in customer_saw(events)]
    assert texts == ["ik wil een afspraak", "Klopt dit?", "Ja", "Welk tijdstip?",
                     "Of typ een andere tijd.", "ma 7 dec 08:00", "Hoe tevreden bent u?", "4",
                     "/typed_by_hand"]  # fmt: skip
