"""The conversation so far, for a staff e-mail: from the lead, or from Rasa's tracker store."""

from __future__ import annotations

import json

from sqlalchemy import inspect, text

from core.store.session import make_engine

MAX_LINES = 30
MAX_CHARS = 2000


def parse_lines(stored: str | None) -> list[tuple[str, str]]:
    """A lead's stored transcript (``actions.common.transcript``: ``who: text`` lines)."""
    lines = []
    for line in (stored or "").splitlines():
        who, sep, said = line.partition(": ")
        if sep and who in ("customer", "bot", "staff"):
            lines.append((who, said))
        elif lines:  # a message with a line break continues the previous line
            lines[-1] = (lines[-1][0], f"{lines[-1][1]}\n{line}")
    return lines


def tracker_lines(tracker_db_url: str, sender_id: str, last: int = MAX_LINES) -> list:
    """The messages of the sender's latest session in Rasa's SQL tracker store (``events``).

    By sender id, which appointments and leads keep: the dashboard's reader
    (``metrics.web.data.transcript``) finds a sender through the recorded conversation, which
    the write-behind recorder may not have stored yet when the notification goes out.
    """
    engine = make_engine(tracker_db_url)
    try:
        if not inspect(engine).has_table("events"):
            return []
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "select type_name, data from events where sender_id = :s "
                    "and type_name in ('user', 'bot', 'session_started', 'restart') order by id"
                ),
                {"s": sender_id},
            ).all()
    finally:
        engine.dispose()
    lines: list[tuple[str, str]] = []
    for type_name, data in rows:
        if type_name in ("session_started", "restart"):
            lines = []
            continue
        said = (json.loads(data).get("text") or "")[:MAX_CHARS]
        if said:
            lines.append(("customer" if type_name == "user" else "bot", said))
    return lines[-last:]
