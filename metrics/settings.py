"""Settings from the environment, read on call (never at import) so tests can change them."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    database_url: str
    dealers_dir: Path
    default_dealer: str | None
    var_dir: Path
    contact_key_secret: str
    test_senders: tuple[str, ...]  # sender id prefixes of test and demo conversations
    customer_channels: tuple[str, ...]  # channels whose conversations can qualify for MEC
    retention_days: int
    tracker_db_url: str  # Rasa's SQL tracker store, for erasure and retention
    fixed_now: dt.datetime | None  # a frozen clock for tests and demos (DEALERBOT_FIXED_NOW)
    # Weekly summary delivery (metrics/report/deliver.py). No SMTP host: outbox files only.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_tls: str = "starttls"  # starttls | ssl | none
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "dealerbot@localhost"
    outbox_dir: Path = REPO_ROOT / "var" / "outbox"
    dashboard_url: str | None = None  # links to conversations in the summary, if set
    # DEALERBOT_ENGAGEMENT_LOG=off: actions write no engagement records (benchmark baseline)
    engagement_log: bool = True
    # Guards of the input channels (bot/channels/rest.py, docs/limits.md)
    max_message_chars: int = 2000  # DEALERBOT_MAX_MESSAGE_CHARS: longer messages are refused
    sender_rate_per_s: float = 1.0  # DEALERBOT_SENDER_RATE: messages per second, sustained
    sender_burst: int = 20  # DEALERBOT_SENDER_BURST: messages a sender may send at once
    # DEALERBOT_REST_INPUT_CHANNELS: input_channel names REST clients may set even though they
    # count as a customer channel (e.g. "whatsapp"); by default none may
    rest_input_channels: tuple[str, ...] = ()
    # DEALERBOT_TRUSTED_PROXIES: addresses/networks of the TLS proxies in front of the dashboard;
    # only their X-Forwarded-Proto/-Host/-For headers are believed (docs/web.md)
    trusted_proxies: tuple[str, ...] = ()


def get_settings() -> Settings:
    """Build the settings from ``DEALERBOT_*`` environment variables."""
    var_dir = Path(os.environ.get("DEALERBOT_VAR_DIR", REPO_ROOT / "var"))
    default_db = f"sqlite:///{var_dir / 'dealerbot.sqlite3'}"
    return Settings(
        database_url=os.environ.get("DEALERBOT_DATABASE_URL", default_db),
        dealers_dir=Path(os.environ.get("DEALERBOT_DEALERS_DIR", REPO_ROOT / "data" / "dealers")),
        default_dealer=os.environ.get("DEALERBOT_DEFAULT_DEALER") or None,
        var_dir=var_dir,
        contact_key_secret=os.environ.get("DEALERBOT_CONTACT_KEY_SECRET", "dev-only-secret"),
        test_senders=_list(os.environ.get("DEALERBOT_TEST_SENDERS", "test-,demo-,__readiness__")),
        customer_channels=_list(os.environ.get("DEALERBOT_CUSTOMER_CHANNELS", "web,whatsapp")),
        retention_days=int(os.environ.get("DEALERBOT_RETENTION_DAYS", "365")),
        tracker_db_url=os.environ.get(
            "DEALERBOT_TRACKER_DB_URL", f"sqlite:///{var_dir / 'tracker.sqlite3'}"
        ),
        fixed_now=_fixed_now(os.environ.get("DEALERBOT_FIXED_NOW")),
        engagement_log=_on_off("DEALERBOT_ENGAGEMENT_LOG", default=True),
        max_message_chars=int(os.environ.get("DEALERBOT_MAX_MESSAGE_CHARS", "2000")),
        sender_rate_per_s=float(os.environ.get("DEALERBOT_SENDER_RATE", "1")),
        sender_burst=int(os.environ.get("DEALERBOT_SENDER_BURST", "20")),
        rest_input_channels=_list(os.environ.get("DEALERBOT_REST_INPUT_CHANNELS", "")),
        trusted_proxies=_list(os.environ.get("DEALERBOT_TRUSTED_PROXIES", "")),
        **_smtp_settings(var_dir),
    )


SMTP_TLS_MODES = ("starttls", "ssl", "none")


def _smtp_settings(var_dir: Path) -> dict:
    tls = os.environ.get("DEALERBOT_SMTP_TLS", "starttls").strip().lower()
    tls = {"true": "starttls", "yes": "starttls", "1": "starttls", "false": "none",
           "no": "none", "0": "none", "off": "none", "tls": "ssl"}.get(tls, tls)  # fmt: skip
    if tls not in SMTP_TLS_MODES:
        raise ValueError(f"DEALERBOT_SMTP_TLS must be one of {SMTP_TLS_MODES}, not {tls!r}")
    port = os.environ.get("DEALERBOT_SMTP_PORT") or {"ssl": "465", "none": "25"}.get(tls, "587")
    return {
        "smtp_host": os.environ.get("DEALERBOT_SMTP_HOST") or None,
        "smtp_port": int(port),
        "smtp_tls": tls,
        "smtp_user": os.environ.get("DEALERBOT_SMTP_USER") or None,
        "smtp_password": os.environ.get("DEALERBOT_SMTP_PASSWORD") or None,
        "smtp_from": os.environ.get("DEALERBOT_SMTP_FROM", "dealerbot@localhost"),
        "outbox_dir": Path(os.environ.get("DEALERBOT_OUTBOX_DIR", var_dir / "outbox")),
        "dashboard_url": (os.environ.get("DEALERBOT_DASHBOARD_URL") or "").rstrip("/") or None,
    }


def _on_off(name: str, *, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("on", "true", "yes", "1"):
        return True
    if value in ("off", "false", "no", "0"):
        return False
    raise ValueError(f"{name} must be on or off, not {value!r}")


def _list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _fixed_now(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    moment = dt.datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
