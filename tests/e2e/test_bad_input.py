"""Bad input under load (bench/badinput.py --ci) on one real stack on PostgreSQL: 30 s of
customers over REST with 100 KB messages, invalid JSON, odd sender ids, non-UTF-8 bodies and a
1,000-message burst from one sender mixed in (docs/limits.md)."""

import json
import urllib.request

import pytest

from bench.badinput import BURST, CI, badinput
from bench.common import postgres_bench_stack, stored_conversations
from core.settings import rest_client_headers

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

# The answers docs/limits.md promises, per kind of bad request.
EXPECTED = {
    "big": {413},
    "invalid_json": {400},
    "unknown_sender": {200, 400},  # a new sender id is a new customer; malformed ones are 400
    "non_utf8": {400},
    "burst": {200, 429},
}


@pytest.fixture(scope="module")
def bad_run(model, pg_url, tmp_path_factory):
    work = tmp_path_factory.mktemp("badinput")
    with postgres_bench_stack(model, work, pg_url) as (bench, urls):
        run = badinput(bench, urls["tracker"], CI["customers"], CI["duration_s"])
        stored = stored_conversations(bench.store, run.good_senders)
        alive = all(p.poll() is None for p in bench.stack.processes)
        body = json.dumps({"sender": "after-the-run", "message": "hoi"}).encode()
        request = urllib.request.Request(bench.stack.rest_webhook, body, rest_client_headers())
        with urllib.request.urlopen(request, timeout=60) as response:
            after = (response.status, json.loads(response.read()))
        yield run, stored, alive, after


def test_good_customers_had_no_failures(bad_run):
    run, _stored, alive, after = bad_run
    assert run.load.failures == []
    assert run.load.messages > 0
    assert alive
    assert after[0] == 200 and after[1], "the server stopped answering after the run"


def test_each_bad_request_got_its_documented_json_error(bad_run):
    run = bad_run[0]
    assert run.bad.wrong == []
    assert set(run.bad.statuses) == set(EXPECTED)  # every kind was sent
    for kind, counts in run.bad.statuses.items():
        seen = {int(what.rsplit(": ", 1)[1]) for what in counts}
        assert seen == EXPECTED[kind], (kind, counts)


def test_the_burst_sender_was_limited_and_its_accepted_messages_answered(bad_run):
    bad = bad_run[0].bad
    assert bad.burst_limited > 0
    assert bad.burst_answered > 0
    assert bad.burst_answered + bad.burst_limited == BURST  # nothing else, no time-outs


def test_the_store_is_exact(bad_run):
    run, stored, _alive, _after = bad_run
    assert (run.lost, run.duplicated) == (0, 0)
    assert sorted(stored) == sorted(run.good_senders)  # one row per good conversation
    assert set(stored.values()) == {1}
    assert run.bad.refused and run.refused_rows == 0  # refused requests left no row ...
    assert run.refused_events == 0  # ... and nothing in Rasa's tracker store


def test_the_servers_logged_no_error_and_no_traceback(bad_run):
    run = bad_run[0]
    assert run.errors == []
    assert run.tracebacks == 0
