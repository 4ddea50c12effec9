"""The soak test's short CI mode (bench/soak.py --ci) against a real stack on PostgreSQL:
concurrent customers over REST, then no failed request and every conversation stored once."""

import pytest

from bench.common import postgres_bench_stack, stored_conversations
from bench.soak import CI, soak

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


@pytest.fixture(scope="module")
def soaked(model, pg_url, tmp_path_factory):
    with postgres_bench_stack(model, tmp_path_factory.mktemp("soak"), pg_url) as (bench, _urls):
        result = soak(bench, CI["customers"], CI["duration_s"], CI["sample_every_s"])
        stored = stored_conversations(bench.store, result.load.senders)
        yield result, stored


def test_no_request_failed(soaked):
    result, _stored = soaked
    assert result.load.failures == []
    assert result.load.messages > 0


def test_no_server_logged_an_error(soaked):
    result, _stored = soaked
    assert result.errors == []


def test_every_conversation_is_stored_exactly_once(soaked):
    result, stored = soaked
    assert (result.lost, result.duplicated) == (0, 0)
    # the load's own senders, counted directly too: each one row, none missing
    assert sorted(stored) == sorted(result.load.senders)
    assert set(stored.values()) == {1}


def test_memory_was_sampled_for_both_processes(soaked):
    result, _stored = soaked
    assert result.samples, "the sampler took no sample"
    assert set(result.samples[-1][1]) == {"action server", "rasa server"}
    assert all(rss > 0 for _, sample in result.samples for rss in sample.values())
