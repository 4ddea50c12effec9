"""Weekly summary delivery over a real SMTP server (aiosmtpd on loopback), outbox and CSV.

Runs on SQLite and PostgreSQL: the delivery log and the lock must hold on both.
"""

import csv
import datetime as dt
import io
import threading

import pytest

from core.store.models import utcnow
from metrics.jobs import hourly_rollup_job, job_lock, weekly_summary_job
from metrics.report.deliver import STALE_AFTER, claim_delivery, deliveries, finish_delivery
from metrics.report.export import COLUMNS, TOP_COLUMNS, export_csv, export_top_csv, safe_cell
from tests.integration.metrics.smtp_server import RECIPIENTS, dealers_dir, smtp  # noqa: F401
from tests.integration.metrics.summary_seed import (
    DEALER,
    FORMULA,
    NASTY,
    WEEK,
    seed_formula_fallbacks,
    seed_inbox,
    seed_week,
)
from tests.integration.metrics.test_aggregate import seed as seed_conversations


@pytest.fixture
def seeded(store, dealers_dir):  # noqa: F811
    ids = seed_week(store)
    return store, ids


def parts(message):
    """(text part, html part, image parts) of a received summary."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    return text, html, images


def test_summary_email_has_subject_both_parts_and_inline_chart(seeded, smtp, tmp_path):  # noqa: F811
    store, ids = seeded
    run = weekly_summary_job(DEALER, session_factory=store)  # frozen clock: Monday 23 Nov
    assert run.week == WEEK and run.status == "delivered"
    assert sorted(run.delivery.sent) == sorted(RECIPIENTS)
    assert sorted(r[0] for r, _ in smtp.received) == sorted(RECIPIENTS)  # one message each

    message = smtp.to(RECIPIENTS[0])[0]
    assert message["Subject"] == "Weekoverzicht chat: Autohuis De Vries · week 47, 16–22 november"
    assert message["From"] == "Autohuis De Vries <rapportage@dealerbot.example>"
    assert message["To"] == RECIPIENTS[0]
    assert message.get_content_type() == "multipart/alternative"
    text, html, images = parts(message)
    lines = text.get_content().splitlines()
    assert lines[0].startswith("Deze week 4 klanten gesproken via chat")  # the action first
    assert "Autohuis De Vries · week 47, 16–22 november" in lines  # then the week's title
    assert "MEC (klanten in gesprek)" in text.get_content()
    assert "Afkortingen" in text.get_content() and "MEC: Klanten in gesprek" in text.get_content()
    assert "6 gesprekken, waarvan 5 kwalificerend" in text.get_content()
    body = html.get_content()
    assert "<h1>Autohuis De Vries · week 47, 16–22 november</h1>" in body
    assert '<abbr title="Klanttevredenheid' in body and 'id="legend"' in body
    assert len(images) == 1
    cid = images[0]["Content-ID"]
    assert cid.startswith("<") and f'src="cid:{cid[1:-1]}"' in body
    assert images[0].get_content().startswith(b"\x89PNG")
    assert images[0].get_content_disposition() == "inline"
    # customer text: escaped in HTML, never live markup
    assert "<script>" not in body and "&lt;script&gt;" in body
    assert ids[2][:12] in body  # the low-rated conversation can be found

    log = {d.recipient: d for d in deliveries(store, DEALER, WEEK)}
    assert {d.status for d in log.values()} == {"sent"}
    assert log[RECIPIENTS[0]].message_id == message["Message-ID"]

    folder = tmp_path / "outbox" / DEALER
    assert sorted(p.name for p in folder.iterdir()) == [
        f"{WEEK}-chart.png", f"{WEEK}-top.csv", f"{WEEK}.csv", f"{WEEK}.html", f"{WEEK}.md"]  # fmt: skip
    assert f'src="{WEEK}-chart.png"' in (folder / f"{WEEK}.html").read_text()
    assert (folder / f"{WEEK}-top.csv").read_text(encoding="utf-8-sig") == export_top_csv(
        store, DEALER, WEEK
    )  # the summary's own lists, as `dealerbot metrics export --top` writes them
    assert "| MEC (klanten in gesprek) | 4 |" in (folder / f"{WEEK}.md").read_text()


def test_no_second_send_when_the_job_runs_again(seeded, smtp):  # noqa: F811
    store, _ = seeded
    assert weekly_summary_job(DEALER, session_factory=store).status == "delivered"
    assert len(smtp.received) == 2
    again = weekly_summary_job(DEALER, session_factory=store)
    assert again.status == "already_delivered"
    # `metrics send` renders again but still honours the delivery log
    forced = weekly_summary_job(DEALER, WEEK, session_factory=store, force_render=True)
    assert forced.status == "delivered" and forced.delivery.sent == []
    assert sorted(forced.delivery.skipped) == sorted(RECIPIENTS)
    assert len(smtp.received) == 2


def test_a_failed_send_is_kept_and_retried_by_the_hourly_job(seeded, smtp, monkeypatch):  # noqa: F811
    store, _ = seeded
    monkeypatch.setenv("DEALERBOT_SMTP_PORT", "1")  # nothing listens there
    run = weekly_summary_job(DEALER, session_factory=store)
    assert sorted(run.delivery.failed) == sorted(RECIPIENTS) and smtp.received == []
    assert {d.status for d in deliveries(store, DEALER, WEEK)} == {"failed"}
    assert run.files, "the outbox is written even when e-mail fails"

    monkeypatch.setenv("DEALERBOT_SMTP_PORT", str(smtp.port))
    result = hourly_rollup_job(session_factory=store)
    assert len(result["retried"]) == 1
    assert sorted(r[0] for r, _ in smtp.received) == sorted(RECIPIENTS)
    log = deliveries(store, DEALER, WEEK)
    assert {d.status for d in log} == {"sent"} and {d.attempts for d in log} == {2}
    assert hourly_rollup_job(session_factory=store)["retried"] == []
    assert len(smtp.received) == 2


def test_a_held_lock_stops_a_second_process(seeded, smtp):  # noqa: F811
    store, _ = seeded
    with job_lock(store, f"weekly_summary:{DEALER}:{WEEK}") as held:
        assert held
        assert weekly_summary_job(DEALER, session_factory=store).status == "locked"
        assert smtp.received == []
    assert weekly_summary_job(DEALER, session_factory=store).status == "delivered"
    assert len(smtp.received) == 2


def test_two_runs_at_the_same_moment_send_once(seeded, smtp):  # noqa: F811
    store, _ = seeded
    start, results, errors = threading.Barrier(2), [], []

    def run():
        start.wait()
        try:
            results.append(weekly_summary_job(DEALER, session_factory=store).status)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(results) == 2 and "delivered" in results
    assert sorted(r[0] for r, _ in smtp.received) == sorted(RECIPIENTS)


def test_delivery_claims(store):
    key = {"dealer_id": DEALER, "week": WEEK, "recipient": "a@b.example", "channel": "email"}
    assert claim_delivery(store, **key)
    assert not claim_delivery(store, **key)  # taken, still sending
    later = utcnow() + STALE_AFTER + dt.timedelta(minutes=1)
    assert claim_delivery(store, **key, now=later)  # the first sender died: taken over
    finish_delivery(store, **key, error="550 mailbox unavailable")
    assert claim_delivery(store, **key)  # a failure is retried
    finish_delivery(store, **key, message_id="<m@x>")
    assert not claim_delivery(store, **key, now=later + STALE_AFTER * 2)  # sent stays sent
    (row,) = deliveries(store, DEALER, WEEK)
    assert (row.status, row.attempts, row.error) == ("sent", 3, None)


def test_csv_has_one_row_per_conversation_of_the_week(seeded):
    store, ids = seeded
    rows = list(csv.reader(io.StringIO(export_csv(store, DEALER, WEEK, "Europe/Amsterdam"))))
    assert tuple(rows[0]) == COLUMNS
    assert [r[0] for r in rows[1:]] == ids  # oldest first, last week's not included
    first = dict(zip(COLUMNS, rows[1], strict=True))
    assert first == {"conversation_id": ids[0], "date": "2026-11-16 10:00", "channel": "web",
                     "language": "nl", "outcome": "appointment_booked", "qualifying": "1",
                     "csat": "5", "ces": "7", "comment": ""}  # fmt: skip
    nasty = dict(zip(COLUMNS, rows[3], strict=True))
    assert nasty["comment"] == NASTY  # starts with "<": kept as written
    # Sunday 22:30 UTC is Sunday 23:30 in Amsterdam: still week 47
    assert rows[-1][1] == "2026-11-22 23:30"
    unqualified = dict(zip(COLUMNS, rows[5], strict=True))
    assert (unqualified["qualifying"], unqualified["csat"]) == ("0", "")


def test_csv_cells_are_never_formulas():
    assert safe_cell('=HYPERLINK("http://evil","x")') == '\'=HYPERLINK("http://evil","x")'
    assert safe_cell("-1 star\nline two") == "'-1 star line two"
    assert safe_cell(None) == ""
    assert safe_cell("prima service") == "prima service"


def test_top_csv_has_the_summarys_top_intents_and_fallback_messages(store):
    # test_aggregate's week with summary_seed.INBOX: the lists of test_summary, and a fallback
    # that is a formula. No rollup needed: both lists read the conversations and the inbox.
    seed_conversations(store)
    seed_inbox(store)
    seed_formula_fallbacks(store)
    rows = list(csv.reader(io.StringIO(export_top_csv(store, DEALER, WEEK))))
    assert tuple(rows[0]) == TOP_COLUMNS
    intents = [r for r in rows[1:] if r[0] == "intent"]
    assert intents[:2] == [["intent", "1", "ask_price", "2", "", ""],
                           ["intent", "2", "book_service", "2", "", ""]]  # fmt: skip
    assert [r[1] for r in intents] == [str(i) for i in range(1, 9)]
    assert rows[1 + len(intents) :] == [
        ["fallback", "1", "heb je ook winterbanden ?!", "3", "nl", "c7"],
        ["fallback", "2", "'" + FORMULA, "2", "en", "c2"],  # inert in a spreadsheet
        ["fallback", "3", "do you sell tyres", "2", "en", "c2"],
        ["fallback", "4", "Bel me op <phone>", "1", "nl", "c1"],
        ["fallback", "5", "Kan ik mijn auto hier wassen?", "1", "nl", "c11"],
    ]
    assert export_top_csv(store, DEALER, "2026-W40") == ",".join(TOP_COLUMNS) + "\n"
    with pytest.raises(ValueError, match="not an ISO week"):
        export_top_csv(store, DEALER, "2026-11")
