"""`dealerbot reload` as a command, against stand-ins for Rasa's model API (the real servers and
the real gate are in tests/e2e/test_reload.py)."""

from __future__ import annotations

import pytest

from cli.main import main
from tests.unit.bot.test_model_api import TOKEN, FakeRasa
from trainer import gate


@pytest.fixture
def rasa(monkeypatch, tmp_path):
    monkeypatch.setenv("DEALERBOT_RASA_API_TOKEN", TOKEN)
    monkeypatch.setenv("DEALERBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'none.sqlite3'}")
    server = FakeRasa()
    yield server
    server.stop()


def scores(accuracy_nl: float) -> dict:
    hits = round(accuracy_nl * 100)
    return {"nl": gate.LanguageScore(hits, 100, {"ask_price": (hits, 100)}),
            "en": gate.LanguageScore(100, 100, {"ask_price": (100, 100)})}  # fmt: skip


def test_without_a_trained_model_it_says_to_train(rasa, tmp_path, capsys):
    assert main(["reload", "--models-dir", str(tmp_path), "--url", rasa.url]) == 2
    assert "run `dealerbot train` first" in capsys.readouterr().err
    assert rasa.requests == []


def test_a_model_below_the_floor_is_refused_and_the_server_keeps_its_model(
    rasa, tmp_path, capsys, monkeypatch
):
    model = tmp_path / "dealerbot-new.tar.gz"
    model.write_bytes(b"model")
    floor = gate.Floor({"nl": 0.9, "en": 0.9}, {"nl": {"ask_price": 1.0}})
    monkeypatch.setattr(gate, "check_model", lambda _m, _f: gate.GateResult(
        scores(0.8), gate.gate_failures(floor, scores(0.8))))  # fmt: skip
    assert main(["reload", "--model", str(model), "--url", rasa.url]) == 1
    err = capsys.readouterr().err
    assert "refused: dealerbot-new.tar.gz failed the held-out gate" in err
    assert "nl: held-out intent accuracy 0.800 (n=100) is below the floor 0.90" in err
    assert "ask_price 1.00 -> 0.80" in err
    assert rasa.puts() == 0 and rasa.model_file == "dealerbot-old.tar.gz"


def test_a_model_that_passes_goes_live(rasa, tmp_path, capsys, monkeypatch):
    model = tmp_path / "dealerbot-new.tar.gz"
    model.write_bytes(b"model")
    monkeypatch.setattr(gate, "check_model", lambda _m, _f: gate.GateResult(scores(0.95), []))
    assert main(["reload", "--model", str(model), "--url", rasa.url]) == 0
    out = capsys.readouterr()
    assert f"{rasa.url}: now runs dealerbot-new.tar.gz" in out.out
    assert "nl: held-out intent accuracy 0.950 (n=100)" in out.out
    assert "could not record" in out.err  # this store was never migrated: a note, still live
    assert rasa.model_file == "dealerbot-new.tar.gz"
