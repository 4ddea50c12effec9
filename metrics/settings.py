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
    )


def _list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _fixed_now(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    moment = dt.datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
