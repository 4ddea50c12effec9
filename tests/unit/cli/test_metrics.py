"""``dealerbot metrics summary / export / send`` and ``dealerbot scheduler`` by hand."""

import threading

import pytest

from cli.main import main
from core.store.session import default_session_factory
from metrics.scheduler import run_forever
from tests.integration.metrics.smtp_server import RECIPIENTS, dealers_dir, smtp  # noqa: F401
from tests.integration.metrics.summary_seed import DEALER, WEEK, seed_week


@pytest.fixture
def seeded(dealers_dir):  # noqa: F811
    return seed_week(default_session_factory())


def test_summary_prints_the_table(seeded, capsys):
    assert main(["metrics", "summary", "--dealer", DEALER, "--week", WEEK]) == 0
    out = capsys.readouterr().out
    mec = next(line for line in out.splitlines() if line.startswith("MEC (klanten in gesprek)"))
    # 4 contacts, 2 the week before: below the minimum n both counts, not "+100%"
    assert mec.split()[-5:] == ["4", "2", "→", "4", "4"]
    assert main(["metrics", "summary", "--dealer", DEALER, "--week", WEEK, "--language", "en"]) == 0
    assert "MEC (engaged contacts)" in capsys.readouterr().out


def test_the_week_defaults_to_last_week(seeded, capsys):
    assert main(["metrics", "summary", "--dealer", DEALER]) == 0  # frozen clock: Monday W48
    assert "Autohuis De Vries · week 47, 16–22 november" in capsys.readouterr().out


def test_bad_input_gets_a_clear_error(seeded):
    with pytest.raises(SystemExit, match="unknown dealer 'nope'; known: autohuis-demo"):
        main(["metrics", "summary", "--dealer", "nope", "--week", WEEK])
    with pytest.raises(SystemExit, match="is not a period"):
        main(["metrics", "export", "--dealer", DEALER, "--week", "week 47"])
    with pytest.raises(SystemExit, match="is not a real period"):
        main(["metrics", "export", "--dealer", DEALER, "--week", "2025-W53"])
    with pytest.raises(SystemExit, match="not an ISO week"):
        main(["metrics", "export", "--dealer", DEALER, "--week", "2026-11"])


def test_export_writes_the_csv(seeded, tmp_path, capsys):
    out = tmp_path / "export" / "w47.csv"
    assert main(["metrics", "export", "--dealer", DEALER, "--week", WEEK, "--out", str(out)]) == 0
    assert f"wrote 6 conversations of {DEALER} {WEEK}" in capsys.readouterr().out
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("conversation_id,date,channel,language,outcome,qualifying")
    assert [line.split(",")[0] for line in lines[1:]] == seeded
    assert main(["metrics", "export", "--dealer", DEALER, "--week", WEEK]) == 0
    assert capsys.readouterr().out.count("\n") == 7


def test_export_top_writes_the_top_lists_csv(seeded, tmp_path, capsys):
    out = tmp_path / "w47-top.csv"
    args = ["metrics", "export", "--dealer", DEALER, "--week", WEEK, "--top"]
    assert main([*args, "--out", str(out)]) == 0
    assert f"wrote top intents and fallback messages of {DEALER} {WEEK}" in capsys.readouterr().out
    expected = [  # summary_seed: qualifying W47 conversations, no fallbacks in the inbox
        "list,rank,item,count,language,conversation_id",
        "intent,1,ask_price,4,,",
        "intent,2,book_service,1,,",
    ]
    assert out.read_text(encoding="utf-8-sig").splitlines() == expected
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines() == expected


def test_send_needs_an_smtp_server(seeded, monkeypatch):
    monkeypatch.delenv("DEALERBOT_SMTP_HOST", raising=False)
    with pytest.raises(SystemExit, match="set DEALERBOT_SMTP_HOST"):
        main(["metrics", "send", "--dealer", DEALER, "--week", WEEK])


def test_send_mails_each_recipient_once(seeded, smtp, capsys):  # noqa: F811
    assert main(["metrics", "send", "--dealer", DEALER, "--week", WEEK]) == 0
    assert "sent 2; skipped 0" in capsys.readouterr().out
    assert sorted(rcpt[0] for rcpt, _ in smtp.received) == sorted(RECIPIENTS)
    assert main(["metrics", "send", "--dealer", DEALER, "--week", WEEK]) == 0
    assert "sent 0; skipped 2" in capsys.readouterr().out
    assert len(smtp.received) == 2


def test_scheduler_command_starts_lists_its_jobs_and_stops(dealers_dir, capsys):  # noqa: F811
    stop = threading.Event()
    stop.set()  # stop as soon as it runs
    assert run_forever(stop) == 0
    out = capsys.readouterr().out
    assert "hourly_rollup" in out and "retention_purge" in out
    assert f"weekly_summary:{DEALER}" in out and "scheduler stopped" in out
