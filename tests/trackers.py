"""Build rasa-sdk trackers from events for action tests."""

from __future__ import annotations

import itertools
from typing import Any

from rasa_sdk import Tracker

# Event times: 23 November 2026 08:00 UTC, one second apart, like a real conversation.
_CLOCK = itertools.count(1_795_420_800)

DEFAULT_SLOTS = {"language": "nl", "dealer_id": "autohuis-demo", "dealer_name": "Autohuis De Vries"}


def user_event(text: str, intent: str | None = None, entities=(), language: str | None = None,
               channel: str = "rest", confidence: float = 0.95) -> dict[str, Any]:  # fmt: skip
    parse = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": [dict(e) for e in entities],
        "message_id": f"m{abs(hash(text)) % 10**8}",
        "metadata": {},
    }
    if language:
        parse["language"] = {"code": language, "confidence": 0.99}
    return {"event": "user", "text": text, "parse_data": parse, "input_channel": channel,
            "timestamp": float(next(_CLOCK))}  # fmt: skip


def bot_event(
    text: str, response: str | None = None, language: str | None = None
) -> dict[str, Any]:
    """A bot reply; with ``response``, as Rasa stores one made from a domain response (its name,
    and for the English variation its ``language`` condition, in the metadata)."""
    event = {"event": "bot", "text": text, "timestamp": float(next(_CLOCK))}
    if response:
        event["metadata"] = {"utter_action": response}
        if language == "en":
            event["metadata"]["condition"] = [{"type": "slot", "name": "language", "value": "en"}]
    return event


def action_event(name: str) -> dict[str, Any]:
    return {"event": "action", "name": name, "timestamp": float(next(_CLOCK))}


def slot_event(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "name": name, "value": value, "timestamp": float(next(_CLOCK))}


def make_tracker(
    *events: dict[str, Any],
    slots: dict[str, Any] | None = None,
    active_loop: str | None = None,
    sender_id: str = "customer-42",
) -> Tracker:
    """A tracker whose latest message is the last user event among ``events``."""
    events = list(events) or [user_event("hallo", "greet")]
    latest = next((e["parse_data"] for e in reversed(events) if e["event"] == "user"), {})
    return Tracker(
        sender_id=sender_id,
        slots={**DEFAULT_SLOTS, "requested_slot": None, **(slots or {})},
        latest_message=latest,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def responses(dispatcher) -> list[str]:
    """The response names an action uttered, in order."""
    return [m.get("response") for m in dispatcher.messages]
