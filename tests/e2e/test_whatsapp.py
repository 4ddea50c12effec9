"""WhatsApp against the real Rasa server and action server: webhooks posted in each provider's
format (JSON for Meta, form-encoded for Twilio), replies captured by fake provider APIs."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
import urllib.error
import urllib.parse
import urllib.request

import pytest
from sqlalchemy import select, text

from bench.common import records_written
from bot.runtime import start_stack
from core.engagement import contact_key
from core.store.migrate import upgrade
from core.store.models import Appointment, Conversation, SurveyAnswer, WhatsAppMessage
from core.store.session import make_engine, make_session_factory
from tests.conftest import FIXED_NOW, REPO
from tests.e2e.fakes import (
    FakeGraph,
    FakeTwilio,
    cloud_message,
    cloud_reply,
    cloud_status,
    cloud_text,
    cloud_webhook,
    meta_signature,
    twilio_form,
    twilio_signature,
)

pytestmark = pytest.mark.e2e
SECRET = "dev-only-secret"
APP_SECRET, VERIFY_TOKEN, ACCESS_TOKEN = "app-secret-e2e", "verify-e2e", "graph-token-e2e"
TWILIO_SID, TWILIO_TOKEN = "AC" + "e2e0" * 8, "twilio-token-e2e"
TWILIO_URL = "https://dealer.example/webhooks/twilio_whatsapp/webhook"  # as configured at Twilio
# Two dealer locations, each with its own numbers.
DEMO = {"id": "autohuis-demo", "number": "+31301234567", "pnid": "100000000000001"}
NORTH = {"id": "autohuis-noord", "number": "+31507654321", "pnid": "200000000000002"}
NOW_TS = int(dt.datetime.fromisoformat(FIXED_NOW).timestamp())
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def wa(model, tmp_path_factory):
    """One stack for the module, with a second dealer and fake Graph and Twilio APIs."""
    tmp = tmp_path_factory.mktemp("whatsapp")
    dealers = tmp / "dealers"
    shutil.copytree(REPO / "data/dealers/autohuis-demo", dealers / "autohuis-demo")
    shutil.copytree(REPO / "data/dealers/autohuis-demo", dealers / NORTH["id"])
    yml = dealers / NORTH["id"] / "dealer.yml"
    yml.write_text(
        yml.read_text()
        .replace("id: autohuis-demo", f"id: {NORTH['id']}")
        .replace("name: Autohuis De Vries", "name: Autohuis Noord")
        .replace('numbers: ["+31 30 123 4567"]', f'numbers: ["{NORTH["number"]}"]')
        .replace('phone_number_ids: ["100000000000001"]', f'phone_number_ids: ["{NORTH["pnid"]}"]')
    )
    url = f"sqlite:///{tmp / 'store.sqlite3'}"
    upgrade(make_engine(url))
    graph, twilio = FakeGraph(), FakeTwilio()
    running = start_stack(
        model,
        env={
            "DEALERBOT_DATABASE_URL": url,
            "DEALERBOT_FIXED_NOW": FIXED_NOW,
            "DEALERBOT_VAR_DIR": str(tmp),
            "DEALERBOT_DEALERS_DIR": str(dealers),
            "DEALERBOT_DEFAULT_DEALER": "autohuis-demo",
            "DEALERBOT_TEST_SENDERS": "__readiness__",
            "DEALERBOT_WHATSAPP_GRAPH_URL": f"{graph.url}/v20.0",
            "DEALERBOT_WHATSAPP_ACCESS_TOKEN": ACCESS_TOKEN,
            "DEALERBOT_WHATSAPP_APP_SECRET": APP_SECRET,
            "DEALERBOT_WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
            "DEALERBOT_WHATSAPP_BACKOFF_S": "0.05",
            "DEALERBOT_TWILIO_API_URL": twilio.url,
            "DEALERBOT_TWILIO_ACCOUNT_SID": TWILIO_SID,
            "DEALERBOT_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "DEALERBOT_TWILIO_WEBHOOK_URL": TWILIO_URL,
        },
        log_dir=tmp,
    )
    running.store = make_session_factory(make_engine(url))
    running.graph, running.twilio = graph, twilio
    running.var_dir = tmp
    yield running
    running.stop()
    graph.stop()
    twilio.stop()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def post_cloud(wa, payload, *, signature: str | None = "sign") -> tuple[int, str]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        signature = meta_signature(APP_SECRET, body)
    if signature:
        headers["X-Hub-Signature-256"] = signature
    return post(f"{wa.rasa_url}/webhooks/whatsapp_cloud/webhook", body, headers)


def post_twilio(wa, form: dict, *, signature: str | None = "sign") -> tuple[int, str]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature == "sign":
        signature = twilio_signature(TWILIO_TOKEN, TWILIO_URL, form)
    if signature:
        headers["X-Twilio-Signature"] = signature
    body = urllib.parse.urlencode(form).encode()
    return post(f"{wa.rasa_url}/webhooks/twilio_whatsapp/webhook", body, headers)


class Customer:
    """One WhatsApp customer writing to one dealer number through the Cloud API."""

    def __init__(self, wa, number: str, dealer: dict = DEMO) -> None:
        self.wa, self.wa_id, self.dealer = wa, number.lstrip("+"), dealer

    def post(self, message: dict) -> list[dict]:
        seen = len(self.wa.graph.sent_to(self.wa_id))
        hook = cloud_webhook(self.dealer["pnid"], self.dealer["number"].lstrip("+"),
                             messages=[message])  # fmt: skip
        assert post_cloud(self.wa, hook)[0] == 200
        return self.wa.graph.sent_to(self.wa_id)[seen:]

    def says(self, text: str, ts: int = NOW_TS) -> list[dict]:
        return self.post(cloud_text(self.wa_id, f"wamid.in.{next(_ids)}", ts, text))

    def taps(self, title: str) -> list[dict]:
        """Tap an option of the last interactive message the bot sent."""
        sent = [b for b in self.wa.graph.sent_to(self.wa_id) if b["type"] == "interactive"][-1]
        return self.post(cloud_reply(self.wa_id, f"wamid.in.{next(_ids)}", NOW_TS, sent, title))

    @property
    def sender(self) -> str:
        return f"whatsapp:+{self.wa_id}/{self.dealer['id']}"

    def records(self) -> list:
        return records(self.wa, self.sender)


# The columns this module checks (selected by name: other columns may be added meanwhile).
RECORD = (Conversation.id, Conversation.dealer_id, Conversation.channel, Conversation.contact_key,
          Conversation.customer_messages, Conversation.intents, Conversation.outcome,
          Conversation.qualifies, Conversation.survey_offered_at)  # fmt: skip


def records(wa, sender: str) -> list:
    key = contact_key(SECRET, "whatsapp", sender)
    assert records_written(wa.var_dir)  # written just after the replies
    with wa.store() as session:
        return list(session.execute(select(*RECORD).where(Conversation.contact_key == key)))


def text_of(bodies: list[dict]) -> str:
    parts = []
    for body in bodies:
        if body["type"] == "text":
            parts.append(body["text"]["body"])
        elif body["type"] == "interactive":
            parts.append(body["interactive"]["body"]["text"])
    return "\n".join(parts)


def options(body: dict) -> list[str]:
    action = body["interactive"]["action"]
    if "buttons" in action:
        return [b["reply"]["title"] for b in action["buttons"]]
    return [row["title"] for s in action["sections"] for row in s["rows"]]


def test_verification_handshake(wa):
    base = (
        f"{wa.rasa_url}/webhooks/whatsapp_cloud/webhook?hub.mode=subscribe&hub.challenge=1158201444"
    )
    with urllib.request.urlopen(f"{base}&hub.verify_token={VERIFY_TOKEN}", timeout=30) as ok:
        assert (ok.status, ok.read()) == (200, b"1158201444")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{base}&hub.verify_token=wrong", timeout=30)
    assert refused.value.code == 403


def test_a_whole_booking_with_the_survey_answered_by_buttons(wa):
    jan = Customer(wa, "+31612340001")
    greeting = jan.says("hoi")
    assert "Welkom bij Autohuis De Vries" in text_of(greeting)
    assert greeting[-1]["interactive"]["type"] == "button"  # three choices: reply buttons
    assert options(greeting[-1]) == ["Afspraak werkplaats", "Auto's op voorraad", "Openingstijden"]
    services = jan.taps("Afspraak werkplaats")
    assert services[-1]["interactive"]["type"] == "list"  # five services: a list
    assert "kenteken" in text_of(jan.taps("APK-keuring")).lower()
    assert "kilometerstand" in text_of(jan.says("12-abc-3"))
    times = jan.says("ongeveer 85.000 km")
    assert "Wanneer" in text_of(times)
    first_time = options(times[-1])[0]
    jan.taps(first_time)
    jan.says("Jan de Vries")
    summary = text_of(jan.says("06 12345678"))
    assert "12-ABC-3" in summary
    done = jan.says("ja")
    assert "Gelukt" in text_of(done)
    csat = done[-1]
    assert csat["interactive"]["type"] == "list" and options(csat) == ["1", "2", "3", "4", "5"]
    ces = jan.taps("5")
    assert options(ces[-1]) == [str(n) for n in range(1, 8)]
    comment = jan.taps("7")
    assert options(comment[-1]) == ["Geen opmerking"]
    jan.taps("Geen opmerking")

    (record,) = jan.records()  # waits for the records written after the replies
    with wa.store() as session:
        booked = session.execute(
            select(Appointment.plate, Appointment.service_id, Appointment.phone).where(
                Appointment.sender_id == jan.sender
            )
        ).one()
        answers = dict(session.execute(select(SurveyAnswer.question, SurveyAnswer.score).where(
            SurveyAnswer.conversation_id == record.id)).all())  # fmt: skip
        row_values = [str(v) for v in session.execute(
            text("select * from conversations where id = :id"), {"id": record.id}).one()]  # fmt: skip
    assert (booked.plate, booked.service_id, booked.phone) == ("12-ABC-3", "apk", "+31612345678")
    assert (record.channel, record.dealer_id, record.outcome) == ("whatsapp", "autohuis-demo",
                                                                  "appointment_booked")  # fmt: skip
    assert record.qualifies and answers == {"csat": 5, "ces": 7}
    assert not any("612340001" in v for v in row_values)  # the number is only a contact key


def test_a_bad_or_missing_signature_is_refused(wa):
    eve = Customer(wa, "+31612340002")
    hook = cloud_webhook(DEMO["pnid"], "31301234567",
                         messages=[cloud_text(eve.wa_id, "wamid.forged", NOW_TS, "hoi")])  # fmt: skip
    assert post_cloud(wa, hook, signature=meta_signature("not-the-secret", b"x"))[0] == 403
    assert post_cloud(wa, hook, signature=None)[0] == 403
    form = twilio_form(TWILIO_SID, "SMforged", "+31612340002", DEMO["number"], "hoi")
    assert (
        post_twilio(wa, form, signature=twilio_signature("wrong-token", TWILIO_URL, form))[0] == 403
    )
    assert post_twilio(wa, form, signature=None)[0] == 403
    assert wa.graph.sent_to(eve.wa_id) == [] and wa.twilio.sent_to("whatsapp:+31612340002") == []
    with wa.store() as session:
        ids = {"wamid.forged", "SMforged"}
        assert (
            session.scalars(
                select(WhatsAppMessage).where(WhatsAppMessage.message_id.in_(ids))
            ).all()
            == []
        )
    assert eve.records() == []


def test_malformed_json_gets_400(wa):
    status, body = post_cloud(wa, b'{"object": "whatsapp_business_account", "entry": [')
    assert status == 400 and "malformed" in body
    assert post_cloud(wa, {"object": "page", "entry": []})[0] == 400


def test_a_duplicate_delivery_gets_one_reply_and_one_record(wa):
    piet = Customer(wa, "+31612340003")
    message = cloud_text(piet.wa_id, "wamid.dup.1", NOW_TS, "wat zijn jullie openingstijden?")
    first = piet.post(message)
    assert "Onze openingstijden" in text_of(first)
    assert piet.post(message) == []  # Meta's retry of the same message: no second reply
    (record,) = piet.records()
    assert record.customer_messages == 1


def test_an_image_gets_a_polite_text_only_reply_in_the_customers_language(wa):
    anna = Customer(wa, "+31612340004")
    photo = cloud_message(anna.wa_id, "wamid.img.1", NOW_TS, "image",
                          image={"id": "1234", "mime_type": "image/jpeg"})  # fmt: skip
    assert text_of(anna.post(photo)) == (
        "Sorry, ik kan alleen tekstberichten lezen. Wilt u uw vraag in een bericht typen?"
    )
    sam = Customer(wa, "+447700900123")
    sticker = cloud_message(sam.wa_id, "wamid.st.1", NOW_TS, "sticker", sticker={"id": "9"})
    assert "I can only read text messages" in text_of(sam.post(sticker))
    assert anna.records() == [] and sam.records() == []  # nothing for the bot to record


def test_status_updates_are_accepted_and_ignored(wa):
    before = len(wa.graph.requests)
    hook = cloud_webhook(DEMO["pnid"], "31301234567", statuses=[
        cloud_status("wamid.out.1", "31612340001", "delivered", NOW_TS),
        cloud_status("wamid.out.1", "31612340001", "read", NOW_TS)])  # fmt: skip
    assert post_cloud(wa, hook) == (200, '{"status":"ok"}')
    assert len(wa.graph.requests) == before


def test_two_numbers_are_two_dealers(wa):
    kees_demo = Customer(wa, "+31612340005", DEMO)
    kees_north = Customer(wa, "+31612340005", NORTH)
    assert "Autohuis De Vries" in text_of(kees_demo.says("hoi"))
    assert "Autohuis Noord" in text_of(kees_north.says("hoi"))
    paths = [r.path for r in wa.graph.delivered() if r.body.get("to") == "31612340005"]
    assert paths == [f"/v20.0/{DEMO['pnid']}/messages", f"/v20.0/{NORTH['pnid']}/messages"]
    assert [r.dealer_id for r in kees_demo.records() + kees_north.records()] == [
        "autohuis-demo", "autohuis-noord"]  # fmt: skip
    # The same over Twilio: the receiving number (To) picks the dealer and sends the reply.
    for i, dealer in enumerate((DEMO, NORTH)):
        form = twilio_form(TWILIO_SID, f"SMtwo{i}", "+31612340006", dealer["number"], "hallo")
        assert post_twilio(wa, form)[0] == 200
    replies = wa.twilio.sent_to("whatsapp:+31612340006")
    assert [r["From"] for r in replies] == [
        f"whatsapp:{DEMO['number']}",
        f"whatsapp:{NORTH['number']}",
    ]
    assert "Autohuis De Vries" in replies[0]["Body"] and "Autohuis Noord" in replies[1]["Body"]


def test_graph_500_twice_then_200_delivers_once(wa):
    lisa = Customer(wa, "+31612340007")
    wa.graph.fail_next[:] = [500, 500]
    reply = lisa.says("waar zitten jullie?")
    calls = [r for r in wa.graph.requests if r.body.get("to") == lisa.wa_id]
    assert [r.status for r in calls] == [500, 500] + [200] * len(reply)
    assert calls[0].body == calls[1].body == calls[2].body == reply[0]  # one message, retried
    assert len({json.dumps(body) for body in reply}) == len(reply)  # each delivered once
    assert "Industrieweg 12" in text_of(reply)


def test_twilio_numbered_options_and_a_numbered_answer(wa):
    sent = lambda: wa.twilio.sent_to("whatsapp:+31612340008")  # noqa: E731
    form = twilio_form(TWILIO_SID, "SMnum1", "+31612340008", DEMO["number"], "hoi")
    assert post_twilio(wa, form)[0] == 200
    assert sent()[-1]["Body"].endswith(
        "1. Afspraak werkplaats\n2. Auto's op voorraad\n3. Openingstijden"
    )
    form = twilio_form(TWILIO_SID, "SMnum2", "+31612340008", DEMO["number"], "3")
    assert post_twilio(wa, form)[0] == 200
    assert "Onze openingstijden" in sent()[-1]["Body"]  # "3" meant the third option
    assert post_twilio(wa, form)[0] == 200  # delivered again: no second answer
    assert len(sent()) == 2
    (record,) = records(wa, "whatsapp:+31612340008/autohuis-demo")
    assert (record.channel, record.customer_messages) == ("whatsapp", 2)
    assert "ask_opening_hours" in record.intents


def test_no_survey_outside_the_24_hour_window(wa):
    """Messages delivered a day late (Meta retries for days): the window has closed, so the
    goodbye that would start the survey gets nothing sent back, and certainly no survey."""
    late = NOW_TS - 25 * 3600
    tom = Customer(wa, "+31612340009")
    assert tom.says("wat zijn jullie openingstijden op zaterdag?", ts=late) == []
    assert tom.says("bedankt, doei", ts=late) == []
    assert wa.graph.sent_to(tom.wa_id) == []
    (record,) = tom.records()  # the conversation itself is still recorded
    assert record.customer_messages == 2
    assert record.survey_offered_at is not None  # the bot did start the survey: it was held back
