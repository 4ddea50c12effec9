"""The load generator's figures (bench/common.py)."""

from bench.common import percentile, worker_split


def test_worker_split_shows_how_the_rasa_workers_shared_the_load():
    used = {"rasa server": 30.0, "action server": 9.0, "rasa worker 11": 14.0,
            "rasa worker 12": 16.0}  # fmt: skip
    assert worker_split(used) == "53/47 %"
    assert worker_split({**used, "rasa worker 11": 0.0, "rasa worker 12": 18.0}) == "100/0 %"


def test_worker_split_with_one_worker_or_no_load():
    assert worker_split({"rasa server": 30.0, "action server": 9.0}) == "n/a"
    assert worker_split({"rasa worker 1": 0.0, "rasa worker 2": 0.0}) == "n/a"


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, q) for q in (50, 95, 100)] == [50, 95, 100]
    assert percentile([], 95) != percentile([], 95)  # NaN
