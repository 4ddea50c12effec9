"""`dealerbot reload`: a new model into two running Rasa servers through Rasa's model API, with
a conversation that is in the middle of the booking form before and finishes after; a model
that fails the held-out gate is refused and the servers keep theirs.

Two replicas (each with its action server) share the SQL tracker store (PostgreSQL) and the
Redis lock store, as in production (docs/deployment.md). The "new" models are copies of the
trained one under other names: what the servers run shows in ``GET /status`` by the name.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot.model_api import live_model, load_model
from core.settings import rest_client_headers
from core.store.model_loads import live_since
from core.store.models import Appointment, ModelLoad
from metrics.web.model_status import server_models
from tests.e2e.conftest import replica_cluster, texts

pytestmark = pytest.mark.e2e

TOKEN = "e2e-reload-api-token-0123456789abcdef"


@pytest.fixture(scope="module")
def servers(model, pg_url, redis_url, tmp_path_factory):
    env = {"DEALERBOT_TEST_SENDERS": "test-,__readiness__", "DEALERBOT_RASA_API_TOKEN": TOKEN}
    work = tmp_path_factory.mktemp("reload")
    with replica_cluster(model, pg_url, redis_url, work, env, enable_api=True) as running:
        yield running


def copy_model(model: Path, folder: Path, name: str) -> Path:
    folder.mkdir(exist_ok=True)
    target = folder / f"dealerbot-{name}.tar.gz"
    shutil.copyfile(model, target)
    return target


def say(server: str, sender: str, message: str) -> str:
    body = json.dumps({"sender": sender, "message": message}).encode()
    request = urllib.request.Request(f"{server}/webhooks/rest/webhook", body, rest_client_headers())
    with urllib.request.urlopen(request, timeout=600) as response:
        return texts(json.loads(response.read()))


def dealerbot_reload(servers, *args: str) -> subprocess.CompletedProcess:
    urls = [arg for url in servers.rasa_urls for arg in ("--url", url)]
    return subprocess.run(
        [str(Path(sys.executable).with_name("dealerbot")), "reload", *urls, *args],
        env={**os.environ, **servers.env}, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip


def user_events(servers, sender: str) -> int:
    with servers.tracker.connect() as conn:
        return conn.execute(
            text("select count(*) from events where sender_id = :s and type_name = 'user'"),
            {"s": sender},
        ).scalar_one()


def test_a_conversation_mid_form_finishes_after_the_reload(servers, model):
    first, second = servers.rasa_urls
    sender = "e2e-reload-mid-form"
    assert "Welkom" in say(first, sender, "hoi")
    say(first, sender, "ik wil een apk inplannen voor mijn auto")
    assert "kilometerstand" in say(second, sender, "12-abc-3")  # the form asks the mileage

    # Rasa's model API straight: the next message goes to the server while it loads a model
    # (or just before or after: every order must keep the message and the form's state).
    put = copy_model(model, servers.work / "models", "put")
    loaded: list = []
    started = time.monotonic()

    def put_model() -> None:
        loaded.append(load_model(first, TOKEN, put))
        print(f"PUT /model took {time.monotonic() - started:.1f} s")

    loading = threading.Thread(target=put_model)
    loading.start()
    assert "Wanneer" in say(first, sender, "ongeveer 85.000 km")  # the form goes on
    print(f"the message sent with the PUT was answered after {time.monotonic() - started:.1f} s")
    loading.join()
    assert loaded and loaded[0].model_file == put.name
    assert live_model(first, TOKEN).model_file == put.name

    # `dealerbot reload`: the held-out gate, then each listed server in turn.
    new = copy_model(model, servers.work / "models", "new")
    started = time.monotonic()
    result = dealerbot_reload(servers, "--model", str(new))
    print(result.stdout, f"dealerbot reload took {time.monotonic() - started:.1f} s", sep="")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "held-out intent accuracy" in result.stdout
    assert [live_model(url, TOKEN).model_file for url in servers.rasa_urls] == [new.name] * 2

    # The conversation finishes on the new model, its earlier answers kept.
    say(second, sender, "morgen om 10 uur")
    say(first, sender, "Jan de Vries")
    summary = say(second, sender, "06 12345678")
    assert "12-ABC-3" in summary and "dinsdag 24 november om 10:00" in summary
    assert "Gelukt" in say(first, sender, "ja")
    with servers.store() as session:
        booked = session.scalars(select(Appointment).where(Appointment.sender_id == sender)).one()
    assert (booked.plate, booked.mileage_km, booked.phone) == ("12-ABC-3", 85000, "+31612345678")
    assert user_events(servers, sender) == 8  # no message dropped

    # The dashboard's view: the model each server runs, since the reload recorded it.
    with servers.store() as session:
        loads = session.scalars(select(ModelLoad).where(ModelLoad.model_file == new.name)).all()
    assert sorted(load.server for load in loads) == sorted(servers.rasa_urls)
    shown = asyncio.run(server_models(servers.rasa_urls, TOKEN, servers.store))
    assert [item.model_file for item in shown] == [new.name] * 2
    assert all(item.since is not None for item in shown)
    # a load the store did not see (the direct PUT above) has no "since"
    assert live_since(servers.store, first, put.name, loaded[0].model_id) is None


def test_a_model_that_fails_the_held_out_gate_is_refused(servers, model, tmp_path):
    before = [live_model(url, TOKEN).model_file for url in servers.rasa_urls]
    # The real gate on the real model, with floors no model of ours reaches (every held-out
    # message right in both languages); a floor file may raise the floors up to 1.
    strict = tmp_path / "strict_floor.yml"
    strict.write_text("accuracy:\n  nl: 1.0\n  en: 1.0\n")
    candidate = copy_model(model, servers.work / "models", "refused")
    result = dealerbot_reload(servers, "--model", str(candidate), "--floor-file", str(strict))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "refused" in result.stderr and "below the floor 1.00" in result.stderr
    assert [live_model(url, TOKEN).model_file for url in servers.rasa_urls] == before
    assert candidate.name not in before
    with servers.store() as session:
        refused = session.scalars(
            select(ModelLoad).where(ModelLoad.model_file == candidate.name)
        ).all()
    assert refused == []
