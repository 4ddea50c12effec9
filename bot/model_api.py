"""A new model into running Rasa servers without a restart, with Rasa's own model API.

``PUT /model`` with ``{"model_file": path}`` (``rasa run --enable-api --auth-token``, on
loopback) makes the server load the file into a new agent and swap it in when it is ready. What
that keeps, read in Rasa 3.6.21's ``rasa/server.py`` and ``rasa/core/agent.py``:

- conversations: the new agent opens the same tracker store (``endpoints.yml``), and every
  conversation's slots and active form are read from there at its next message;
- messages: the input channels call ``app.ctx.agent`` for each message, so a message goes to the
  old agent before the swap and to the new one after it; the new agent takes over the old one's
  lock store, so a conversation's turns stay one at a time across the swap. Rasa loads the model
  on its event loop: while it loads (about as long as the server's start) the server answers
  nothing, and the messages that arrive wait and are answered afterwards;
- a file that cannot be loaded: Rasa answers 400 or 500 and keeps the old agent.

Each server answers for its own process: a server with ``SANIC_WORKERS`` > 1 gets the model in
the one worker that took the request. Run one worker per port (``dealerbot-rasa@<port>``) to
reload, or restart the workers (docs/training.md).

The held-out gate is the caller's (``dealerbot reload`` passes :func:`trainer.gate.check_model`):
this module loads nothing that did not pass it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOAD_TIMEOUT_S = 900  # PUT /model answers when the model is loaded: about a Rasa start


class ModelAPIError(RuntimeError):
    """A Rasa server's model API refused or did not answer."""


class GateRefused(RuntimeError):
    """The model failed the held-out gate; no server was asked to load it."""

    def __init__(self, model: Path, failures: list[str]) -> None:
        super().__init__(f"{model.name} failed the held-out gate: " + "; ".join(failures))
        self.failures = failures


@dataclass(frozen=True)
class LiveModel:
    """What a Rasa server runs, from its ``GET /status``."""

    server: str
    model_file: str  # the file's name as Rasa reports it
    model_id: str


def _request(method: str, url: str, token: str | None, body: Any = None,
             timeout: float = 30) -> Any:  # fmt: skip
    """A call to Rasa's HTTP API with the token (``?token=``, Rasa's own way)."""
    if token:
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"token": token})
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        # Rasa's error body says why (a path, an exception): never a message text.
        try:
            reason = json.loads(exc.read()).get("message", "")
        except (ValueError, AttributeError):
            reason = ""
        shown = url.split("?", 1)[0]
        raise ModelAPIError(f"{method} {shown}: HTTP {exc.code} {reason}".rstrip()) from exc
    except OSError as exc:
        shown = url.split("?", 1)[0]
        raise ModelAPIError(f"{method} {shown}: {type(exc).__name__}: {exc}") from exc


def live_model(server: str, token: str | None, timeout: float = 10) -> LiveModel:
    """The model ``server`` runs now (``GET /status``)."""
    status = _request("GET", f"{server.rstrip('/')}/status", token, timeout=timeout)
    model_file = Path(status.get("model_file") or "").name
    return LiveModel(server, model_file, status.get("model_id") or "")


def load_model(server: str, token: str | None, model: Path) -> LiveModel:
    """Make ``server`` load ``model`` (``PUT /model``) and return what it runs afterwards.

    ``model`` must be readable by the server under the same path (an absolute one is sent)."""
    path = str(Path(model).resolve())
    _request("PUT", f"{server.rstrip('/')}/model", token, {"model_file": path},
             timeout=LOAD_TIMEOUT_S)  # fmt: skip
    live = live_model(server, token)
    if live.model_file != Path(path).name:
        raise ModelAPIError(f"{server} runs {live.model_file} after loading {Path(path).name}")
    return live


def reload(
    model: Path,
    servers: Iterable[str],
    token: str | None,
    gate: Callable[[Path], list[str]],
    on_loaded: Callable[[LiveModel], None] | None = None,
) -> list[LiveModel]:
    """Put ``model`` live in every server, one after the other, if it passes ``gate``.

    ``gate(model)`` returns the gate's failures (empty: passed); with any, :class:`GateRefused`
    is raised before a server is asked. One server at a time, so that behind a proxy the others
    keep answering while one loads. Stops at the first server that fails
    (:class:`ModelAPIError`); the servers before it run the new model already.
    ``on_loaded`` is called for each server as soon as it runs the model (to record it).
    """
    model = Path(model)
    if not model.is_file():
        raise FileNotFoundError(f"no model file {model}: run `dealerbot train` first")
    servers = list(servers)
    if not servers:
        raise ValueError("no Rasa server to reload")
    for server in servers:  # every server reachable with the token before the slow gate
        live_model(server, token)
    failures = gate(model)
    if failures:
        raise GateRefused(model, failures)
    loaded = []
    for server in servers:
        live = load_model(server, token, model)
        if on_loaded:
            on_loaded(live)
        loaded.append(live)
    return loaded
