from dataclasses import replace

from actions.out_of_scope import ActionNotACustomer, business_contact
from tests.trackers import make_tracker, responses, user_event


def test_suppliers_and_applicants_get_the_dealers_email_address(dispatcher, run, dealer):
    events = run(ActionNotACustomer(), make_tracker(
        user_event("wij bieden zoekmachine-optimalisatie aan", "not_a_customer")))  # fmt: skip
    assert events == []  # no handoff, no outcome
    assert responses(dispatcher) == ["utter_not_a_customer"]
    assert dispatcher.messages[0]["contact"] == dealer.email == "info@autohuisdevries.example"


def test_without_an_email_address_the_website_or_phone(dealer):
    assert business_contact(replace(dealer, email="")) == dealer.website
    assert business_contact(replace(dealer, email="", website="")) == dealer.phone
