"""The Rasa API client's addresses: ids as Rasa's raw path route takes them."""

import asyncio

import pytest

from metrics.web.rasa_api import RasaAPI, RasaAPIError


def test_sender_ids_go_into_the_path_as_they_are():
    api = RasaAPI("http://127.0.0.1:5005/", "t")
    assert api._url("whatsapp:+31612345678/autohuis-demo", "tracker") == (
        "http://127.0.0.1:5005/conversations/whatsapp:+31612345678/autohuis-demo/tracker"
    )
    assert api._url("b0e5c0ffee", "tracker/events").endswith(
        "/conversations/b0e5c0ffee/tracker/events"
    )


@pytest.mark.parametrize("sender", ["", "a?b", "a#b", "a b", "a%2Fb", "ü"])
def test_ids_that_would_need_escaping_are_refused(sender):
    with pytest.raises(RasaAPIError):
        asyncio.run(RasaAPI("http://127.0.0.1:9", None).pause(sender))
