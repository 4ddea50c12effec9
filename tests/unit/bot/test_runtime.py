"""start_stack's process environments (the processes are recorded, not started)."""

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
    (env,) = [env for args, env in started if args[1:3] == command.split()[:2]]
    return env


def test_the_rasa_server_runs_tensorflow_on_one_thread_and_the_action_server_not(
    spawned, tmp_path, monkeypatch
):
    monkeypatch.delenv("TF_INTRA_OP_PARALLELISM_THREADS", raising=False)
    runtime.start_stack(tmp_path / "model.tar.gz", log_dir=tmp_path)
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
