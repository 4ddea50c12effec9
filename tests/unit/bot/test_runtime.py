"""start_stack's process environments (the processes are recorded, not started)."""

import sys

import pytest

from bot import runtime


@pytest.fixture
def spawned(monkeypatch, tmp_path):
    """Each process start_stack would run: (its command, its environment)."""
    started = []

    class Recorded:
        def __init__(self, args, env, **_kw):
            started.append((args, env))

        def poll(self):
            return None

    monkeypatch.setattr(runtime.subprocess, "Popen", Recorded)
    monkeypatch.setattr(runtime, "wait_until_up", lambda *a, **k: None)
    monkeypatch.setattr(runtime, "wait_until_ready", lambda *a, **k: None)
    return started


def env_of(started, command: str) -> dict:
    (env,) = [env for args, env in started if command in " ".join(map(str, args))]
    return env


def test_tensorflow_threads_are_the_cores_shared_out_among_the_workers():
    assert runtime.rasa_server_env(1, cores=2)["TF_INTRA_OP_PARALLELISM_THREADS"] == "2"
    assert runtime.rasa_server_env(2, cores=2) == {
        "TF_INTER_OP_PARALLELISM_THREADS": "1", "TF_INTRA_OP_PARALLELISM_THREADS": "1"
    }  # fmt: skip
    assert runtime.rasa_server_env(4, cores=2)["TF_INTRA_OP_PARALLELISM_THREADS"] == "1"
    assert runtime.rasa_server_env(2, cores=8)["TF_INTRA_OP_PARALLELISM_THREADS"] == "4"


def test_each_rasa_worker_gets_its_share_of_tensorflow_threads_and_the_action_server_none(
    spawned, tmp_path, monkeypatch
):
    monkeypatch.delenv("TF_INTRA_OP_PARALLELISM_THREADS", raising=False)
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 2)
    runtime.start_stack(tmp_path / "model.tar.gz", log_dir=tmp_path, env={"SANIC_WORKERS": "2"})
    rasa = env_of(spawned, "run --model")
    assert rasa["TF_INTRA_OP_PARALLELISM_THREADS"] == rasa["TF_INTER_OP_PARALLELISM_THREADS"] == "1"
    actions = env_of(spawned, "run actions")
    assert "TF_INTRA_OP_PARALLELISM_THREADS" not in actions  # it loads no TensorFlow
    assert actions["SANIC_KEEP_ALIVE_TIMEOUT"] == "60"


def test_an_environment_value_wins(spawned, tmp_path):
    runtime.start_stack(
        tmp_path / "model.tar.gz", log_dir=tmp_path, env={"TF_INTRA_OP_PARALLELISM_THREADS": "2"}
    )
    assert env_of(spawned, "run --model")["TF_INTRA_OP_PARALLELISM_THREADS"] == "2"


def test_rasas_api_runs_only_with_a_token(spawned, tmp_path, monkeypatch):
    monkeypatch.delenv("DEALERBOT_RASA_API_TOKEN", raising=False)
    plain = runtime.start_stack(tmp_path / "m.tar.gz", log_dir=tmp_path)
    assert "--enable-api" not in spawned[-1][0] and plain.api_token is None
    made = runtime.start_stack(tmp_path / "m.tar.gz", log_dir=tmp_path, enable_api=True)
    args = spawned[-1][0]
    assert len(made.api_token) >= 32
    assert rasa_reads(args).auth_token == made.api_token
    given = runtime.start_stack(tmp_path / "m.tar.gz", log_dir=tmp_path, enable_api=True,
                                env={"DEALERBOT_RASA_API_TOKEN": "given-token-0123456789"})  # fmt: skip
    assert given.api_token == "given-token-0123456789"
    assert rasa_reads(spawned[-1][0]).auth_token == "given-token-0123456789"


def rasa_reads(args: list[str]):
    """The arguments as Rasa's own command line parser reads them (after ``-m bot.rasa_server``)."""
    from rasa.__main__ import create_argument_parser

    assert list(args[: len(runtime.RASA_SERVER)]) == list(runtime.RASA_SERVER)
    return create_argument_parser().parse_args(args[len(runtime.RASA_SERVER) :])


def test_a_token_that_starts_with_a_dash_reaches_rasa_as_the_token(spawned, tmp_path):
    """secrets.token_urlsafe starts one token in 64 with "-": Rasa's parser took it for an
    option and exited with 2 (a flaky `dealerbot run` and simulator start)."""
    token = "-Xq3_starts-with-a-dash-0123456789"
    runtime.start_stack(tmp_path / "m.tar.gz", log_dir=tmp_path, enable_api=True,
                        env={"DEALERBOT_RASA_API_TOKEN": token})  # fmt: skip
    parsed = rasa_reads(spawned[-1][0])
    assert parsed.auth_token == token and parsed.enable_api


def test_replicas_on_one_host_share_its_cores(spawned, tmp_path, monkeypatch):
    monkeypatch.delenv("TF_INTRA_OP_PARALLELISM_THREADS", raising=False)
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 4)
    runtime.start_replicas(tmp_path / "model.tar.gz", 2, tracker_db_url="sqlite:///t.db",
                           lock_store_url="redis://127.0.0.1:6379/1", log_dir=tmp_path)  # fmt: skip
    rasa = [env for args, env in spawned if "run --model" in " ".join(map(str, args))]
    assert [e["TF_INTRA_OP_PARALLELISM_THREADS"] for e in rasa] == ["2", "2"]


def test_tracker_tables_are_created_before_two_workers_start(spawned, tmp_path, monkeypatch):
    created = []
    monkeypatch.setattr(runtime, "create_tracker_tables", created.append)
    url = f"sqlite:///{tmp_path / 't.db'}"
    runtime.start_stack(tmp_path / "m.tar.gz", log_dir=tmp_path, tracker_db_url=url)
    assert created == []  # one worker creates them itself
    runtime.start_stack(tmp_path / "m.tar.gz", log_dir=tmp_path, tracker_db_url=url,
                        env={"SANIC_WORKERS": "2"})  # fmt: skip
    assert created == [url]


def test_create_tracker_tables(tmp_path):
    from sqlalchemy import create_engine, inspect

    url = f"sqlite:///{tmp_path / 't.db'}"
    runtime.create_tracker_tables(url)
    runtime.create_tracker_tables(url)  # again: nothing to do
    assert "events" in inspect(create_engine(url)).get_table_names()


def test_the_rasa_server_starts_with_the_patches_installed(spawned, tmp_path):
    runtime.start_stack(tmp_path / "m.tar.gz", log_dir=tmp_path)
    (rasa,) = [args for args, _ in spawned if "--model" in args]
    assert rasa[:4] == [sys.executable, "-m", "bot.rasa_server", "run"]  # not the bare `rasa`


def test_replicas_share_one_lock_key_prefix(tmp_path):
    """Each replica writes its own endpoints file; the lock prefix must not depend on it."""
    lock = "redis://:secret@127.0.0.1:6379/4"
    files = [
        runtime.write_endpoints(tmp_path / f"endpoints-{port}.yml", "http://x/webhook", None, lock)
        for port in (5006, 5007)
    ]
    first, second = (f.read_text() for f in files)
    assert first == second
    assert 'key_prefix: "dealerbot"' in first and "db: 4" in first
    assert 'password: "secret"' in first
    named = runtime.write_endpoints(
        tmp_path / "e.yml", "http://x/webhook", None, lock + "?key_prefix=t1"
    )
    assert 'key_prefix: "t1"' in named.read_text()
    with pytest.raises(ValueError, match="letters and digits"):
        runtime.write_endpoints(
            tmp_path / "e.yml", "http://x/webhook", None, lock + "?key_prefix=a-b"
        )
