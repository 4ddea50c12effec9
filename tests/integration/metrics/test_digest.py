"""The action first (metrics.digest): the sentence and the to-do list of a seeded week, on SQLite
and PostgreSQL, and the Dutch e-mail that opens with them.

The week is test_aggregate's table (2026-W47 of autohuis-demo) with summary_seed's NLU inbox,
plus: c3's handoff has the customer's name and phone; c5 is rated CSAT 3; c9's trade-in lead is
won (closed); c4's test drive is claimed by Piet.
"""

import datetime as dt

import pytest
from sqlalchemy import update

from core.store.models import Lead
from core.store.privacy import drop_outbox_files
from core.store.recorder import answer, apply
from core.store.repositories import create_lead
from core.store.staff_inbox import record_event
from metrics.aggregate import rebuild
from metrics.digest import Contact, build_digest
from metrics.jobs import weekly_summary_job
from metrics.potential import import_potential
from metrics.report.render import digest_sentence, render_digest_html, render_digest_text
from tests.integration.metrics.smtp_server import RECIPIENTS, dealers_dir, smtp  # noqa: F401
from tests.integration.metrics.summary_seed import seed_inbox
from tests.integration.metrics.test_aggregate import DEALER, late_answer, seed, utc

WEEK = "2026-W47"
PHONE = "06 1234 5678"
NAME = "Jan de Vries"


@pytest.fixture
def seeded(store):
    seed(store)
    seed_inbox(store)
    late_answer(store)
    apply(store, {"op": "answers", "conversation_id": "c5",
                  "answers": [answer("csat", score=3, at=utc(11, 20, 11, 6))]})  # fmt: skip
    with store.begin() as session:
        session.execute(update(Lead).where(Lead.conversation_id == "c3")
                        .values(customer_name=NAME, phone=PHONE,
                                created_at=utc(11, 17, 9, 5)))  # fmt: skip
        session.execute(update(Lead).where(Lead.conversation_id == "c4")
                        .values(created_at=utc(11, 19, 16, 5)))  # fmt: skip
        session.execute(update(Lead).where(Lead.conversation_id == "c9")
                        .values(created_at=utc(11, 22, 12, 5)))  # fmt: skip
    ids = lead_ids(store)
    record_event(store, dealer_id=DEALER, kind="lead", item_id=ids["c9"], action="won",
                 staff="Piet", at=utc(11, 22, 13, 0))  # fmt: skip
    record_event(store, dealer_id=DEALER, kind="lead", item_id=ids["c4"], action="claimed",
                 staff="Piet", at=utc(11, 20, 8, 0))  # fmt: skip
    rebuild(store, "week", dt.date(2026, 11, 1), dt.date(2026, 11, 29))
    return store


def lead_ids(store) -> dict[str, str]:
    with store() as session:
        return {lead.conversation_id: lead.id for lead in session.query(Lead)}


def test_csat_1_2_with_the_customers_contact_and_not_csat_3(seeded):
    digest = build_digest(seeded, DEALER, WEEK)
    low = digest.of_kind("csat_low")
    assert [(t.conversation_id, t.score) for t in low] == [("c4", 1), ("c3", 2)]  # worst first
    c3 = low[1]
    assert c3.contact == Contact(NAME, PHONE, None)  # from its handoff record
    assert c3.comment == "te traag" and c3.channel == "whatsapp"
    assert str(c3.at.tzinfo) == "Europe/Amsterdam" and c3.at.hour == 10  # 09:00 UTC
    assert not low[0].contact  # the test drive lead has no name, phone or e-mail
    assert "c5" not in {t.conversation_id for t in low}  # CSAT 3
    assert digest.low_rated_total == 2


def test_open_handoffs_and_leads_from_the_staff_inbox(seeded):
    digest = build_digest(seeded, DEALER, WEEK)
    items = digest.of_kind("open_item")
    # oldest first; c9's trade-in is won (closed) and left out
    assert [(t.conversation_id, t.lead_kind, t.status, t.staff) for t in items] == [
        ("c3", "handoff", "new", None),
        ("c4", "test_drive", "claimed", "Piet"),
    ]
    assert items[0].contact.phone == PHONE and items[0].item_id == lead_ids(seeded)["c3"]
    assert digest.open_total == 2
    record_event(seeded, dealer_id=DEALER, kind="handoff", item_id=items[0].item_id,
                 action="done", staff="Piet", at=utc(11, 23, 7, 0))  # fmt: skip
    after = build_digest(seeded, DEALER, WEEK).of_kind("open_item")
    assert [t.conversation_id for t in after] == ["c4"]  # a done handoff is no longer open


def test_not_understood_messages_most_frequent_first(seeded):
    items = build_digest(seeded, DEALER, WEEK).of_kind("not_understood")
    assert [t.count for t in items] == [3, 2, 1, 1, 1]
    assert items[0].text == "heb je ook winterbanden ?!" and items[0].conversation_id == "c7"
    assert items[1].text == "do you sell tyres"


def test_sentence_from_the_figures(seeded):
    s = build_digest(seeded, DEALER, WEEK).sentence
    # MEC 6 against 2 in W46; potential estimated from the chat's bookings and leads: 3
    assert (s.mec, s.mec_previous, s.difference) == (6, 2, 4)
    # the estimate is a floor: no share against it (issue 20, "Every figure means what it says")
    assert (s.potential, s.potential_estimated, s.share) == (3, True, None)
    assert "minstens 3 (geschat uit de chat" in digest_sentence(
        build_digest(seeded, DEALER, WEEK), "nl"
    )
    import_potential(seeded, [{"dealer": DEALER, "period": WEEK,
                               "service_appointments": 20, "sales_leads": 10}])  # fmt: skip
    digest = build_digest(seeded, DEALER, WEEK)
    assert (digest.sentence.potential, digest.sentence.share) == (30, 0.2)
    text = render_digest_text(digest, "nl", None, dt.timezone.utc)
    assert text.splitlines()[0] == (
        "Deze week 6 klanten gesproken via chat, 4 meer dan vorige week; dat is 20% van uw "
        "potentieel van 30."
    )
    english = render_digest_text(digest, "en", None, dt.timezone.utc)
    assert english.splitlines()[0] == (
        "This week you spoke with 6 customers by chat, 4 more than last week; that is 20% of "
        "your potential of 30."
    )


def test_html_links_into_the_dashboard_and_escapes(seeded):
    digest = build_digest(seeded, DEALER, WEEK)
    fragment = render_digest_html(digest, "nl", "", dt.timezone.utc)
    assert fragment.startswith('<section id="digest"><p id="digest-sentence">')
    assert f'href="/d/{DEALER}/inbox/lead/{lead_ids(seeded)["c3"]}"' in fragment
    assert 'href="/conversations/c3"' in fragment
    assert PHONE in fragment and "te traag" in fragment
    assert "&lt;phone&gt;" in fragment  # the NLU inbox's mask, escaped
    assert "dealerbot trainer inbox" in fragment


@pytest.fixture
def mail(smtp, dealers_dir, monkeypatch):  # noqa: F811
    monkeypatch.setenv("DEALERBOT_DASHBOARD_URL", "https://dash.example")
    return smtp


def test_the_dutch_email_opens_with_the_sentence_then_the_todo_list(seeded, mail):
    run = weekly_summary_job(DEALER, session_factory=seeded)  # frozen clock: Monday 23 Nov
    assert run.week == WEEK and run.status == "delivered"
    message = mail.to(RECIPIENTS[0])[0]
    lines = message.get_body(("plain",)).get_content().splitlines()
    assert lines[:6] == [
        "Deze week 6 klanten gesproken via chat, 4 meer dan vorige week; uw potentieel is "
        "minstens 3 (geschat uit de chat: geef uw aantallen op voor een echt aandeel).",
        "",
        "Te doen",
        "",
        "Ontevreden klanten (CSAT 1-2): neem contact op:",
        "- CSAT 1 · do 19 nov 17:00 · WhatsApp · geen contactgegevens bekend · gesprek c4: "
        "https://dash.example/conversations/c4",
    ]
    assert lines[6] == (
        f'- CSAT 2 · di 17 nov 10:00 · WhatsApp · {NAME} · {PHONE} · "te traag" · gesprek c3: '
        "https://dash.example/conversations/c3"
    )
    text = "\n".join(lines)
    assert "Nog open in de inbox: overdrachten en leads:" in text
    assert "- proefrit · opgepakt door Piet · sinds do 19 nov 17:05" in text
    assert text.index("Te doen") < text.index("Weekoverzicht chat") < text.index("MEC (klanten")
    html = message.get_body(("html",)).get_content()
    assert html.index('id="digest-sentence"') < html.index("<h1>")
    assert f'href="https://dash.example/d/{DEALER}/inbox/lead/' in html


def test_erasing_the_customer_deletes_the_outbox_page_with_their_phone(seeded, mail, tmp_path):
    weekly_summary_job(DEALER, session_factory=seeded, email=False)
    page = tmp_path / "outbox" / DEALER / f"{WEEK}.html"
    assert PHONE in page.read_text()
    drop_outbox_files(tmp_path / "outbox", ["c3"])  # what the erasure of c3's contact does
    assert not page.exists()


def test_an_open_lead_without_a_conversation_shows_no_contact_details(seeded):
    # the erasure finds the outbox files by the conversations they name: none here, so no details
    create_lead(seeded, key_parts=("loose", "callback"), dealer_id=DEALER, kind="callback",
                language="nl", channel="web", sender_id="loose", customer_name=NAME,
                phone=PHONE, created_at=utc(11, 22, 9, 0))  # fmt: skip
    items = build_digest(seeded, DEALER, WEEK).of_kind("open_item")
    loose = [t for t in items if t.lead_kind == "callback"]
    assert len(loose) == 1 and not loose[0].contact and loose[0].conversation_id is None
