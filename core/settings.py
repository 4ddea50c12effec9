"""Settings from the environment, read on call (never at import) so tests can change them."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dealer.config import configured_dealers_dir, default_dealer_id

REPO_ROOT = Path(__file__).resolve().parent.parent
# The contact-key secret without DEALERBOT_CONTACT_KEY_SECRET: fine on a laptop, never in
# production (docs/privacy.md): anyone with the store could reverse a key by trying numbers.
DEV_CONTACT_KEY_SECRET = "dev-only-secret"
MIN_SECRET_CHARS = 16
# Files our processes create (the SQLite stores, spool, outbox, logs in var/) hold personal data:
# readable by their owner only. Set where processes start (the CLI, start_stack's children).
PRIVATE_UMASK = 0o077
ENVIRONMENTS = ("development", "production")


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
    # SMTP (core/mail.py) for the weekly summary and the notifications. No host: outbox files only.
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
    # DEALERBOT_REST_TOKEN: when set, the REST channel wants "Authorization: Bearer <token>"
    rest_token: str | None = None
    # DEALERBOT_ENV: development (default) or production; production refuses unsafe settings
    environment: str = "development"
    # DEALERBOT_TRUSTED_PROXIES: addresses/networks of the TLS proxies in front of the dashboard;
    # only their X-Forwarded-Proto/-Host/-For headers are believed (docs/web.md)
    trusted_proxies: tuple[str, ...] = ()
    # Rasa's HTTP API (loopback, token only): DEALERBOT_RASA_API_TOKEN (unset: `dealerbot run`
    # keeps one in var/rasa-api-token, bot.runtime.rasa_api_token) and the Rasa servers
    # `dealerbot reload` puts a new model in and the dashboard asks which model is live
    # (DEALERBOT_RASA_URLS, comma-separated; docs/training.md); the staff inbox's takeover
    # (docs/staff.md) uses the first, and gives a taken-over chat back to the bot after
    # takeover_timeout_min minutes without a staff action
    rasa_api_token: str | None = None
    rasa_urls: tuple[str, ...] = ("http://127.0.0.1:5005",)
    takeover_timeout_min: int = 30

    @property
    def rasa_url(self) -> str:
        """The Rasa server the dashboard's takeover calls: any one will do, as they share the
        tracker store."""
        return self.rasa_urls[0]


def get_settings() -> Settings:
    """Build the settings from ``DEALERBOT_*`` environment variables."""
    var_dir = Path(os.environ.get("DEALERBOT_VAR_DIR", REPO_ROOT / "var"))
    default_db = f"sqlite:///{var_dir / 'dealerbot.sqlite3'}"
    return Settings(
        database_url=os.environ.get("DEALERBOT_DATABASE_URL", default_db),
        dealers_dir=configured_dealers_dir(),
        default_dealer=default_dealer_id(),
        var_dir=var_dir,
        contact_key_secret=os.environ.get("DEALERBOT_CONTACT_KEY_SECRET") or DEV_CONTACT_KEY_SECRET,
        test_senders=_list(os.environ.get("DEALERBOT_TEST_SENDERS", "test-,demo-,__readiness__")),
        customer_channels=_list(os.environ.get("DEALERBOT_CUSTOMER_CHANNELS", "web,whatsapp")),
        retention_days=int(os.environ.get("DEALERBOT_RETENTION_DAYS", "365")),
        tracker_db_url=os.environ.get(
            "DEALERBOT_TRACKER_DB_URL", f"sqlite:///{var_dir / 'tracker.sqlite3'}"
        ),
        engagement_log=_on_off("DEALERBOT_ENGAGEMENT_LOG", default=True),
        max_message_chars=int(os.environ.get("DEALERBOT_MAX_MESSAGE_CHARS", "2000")),
        sender_rate_per_s=float(os.environ.get("DEALERBOT_SENDER_RATE", "1")),
        sender_burst=int(os.environ.get("DEALERBOT_SENDER_BURST", "20")),
        rest_input_channels=_list(os.environ.get("DEALERBOT_REST_INPUT_CHANNELS", "")),
        rest_token=_rest_token(os.environ),
        environment=_environment(os.environ.get("DEALERBOT_ENV")),
        trusted_proxies=_list(os.environ.get("DEALERBOT_TRUSTED_PROXIES", "")),
        **_smtp_settings(var_dir),
        rasa_api_token=os.environ.get("DEALERBOT_RASA_API_TOKEN") or None,
        rasa_urls=_rasa_urls(os.environ),
        takeover_timeout_min=_takeover_timeout(),
    )


def rasa_api_token(settings: Settings | None = None, create: bool = True) -> str | None:
    """The token of the Rasa servers' HTTP API (``--auth-token``): ``DEALERBOT_RASA_API_TOKEN``,
    else one kept in ``var/rasa-api-token`` (made on first use unless ``create`` is false;
    owner-only), so that ``dealerbot reload`` in another terminal has the token of the server
    ``dealerbot run`` started."""
    settings = settings or get_settings()
    if settings.rasa_api_token:
        return settings.rasa_api_token
    path = settings.var_dir / "rasa-api-token"
    if not path.exists():
        if not create:
            return None
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(32) + "\n")
        try:
            os.link(draft, path)  # whole or not at all; the first process's token wins
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def now(tz: dt.tzinfo | None = None) -> dt.datetime:
    """The one clock of the project: now, aware; in ``tz`` when given, else UTC.

    ``DEALERBOT_FIXED_NOW`` (ISO 8601; no offset means UTC) freezes it for tests and demos;
    without ``tz`` the frozen moment keeps the offset it was written with. Read on call.
    """
    fixed = _fixed_now(os.environ.get("DEALERBOT_FIXED_NOW"))
    if fixed is None:
        return dt.datetime.now(tz or dt.timezone.utc)
    return fixed.astimezone(tz) if tz else fixed


def utc_now() -> dt.datetime:
    """:func:`now` in UTC."""
    return now(dt.timezone.utc)


def rasa_bin() -> str:
    """The ``rasa`` command of this Python environment (the launcher, the trainer tools, tests)."""
    return str(Path(sys.executable).with_name("rasa"))


class UnsafeSettings(RuntimeError):
    """Settings a production process must not start with (``DEALERBOT_ENV=production``)."""


def unsafe_settings(settings: Settings | None = None) -> list[str]:
    """What is unsafe for production in ``settings``, one line each (empty: nothing)."""
    settings = settings or get_settings()
    problems = []
    secret = settings.contact_key_secret
    if secret == DEV_CONTACT_KEY_SECRET:
        problems.append(
            "DEALERBOT_CONTACT_KEY_SECRET is not set: contact keys would use the development "
            "secret, and anyone with the store could reverse them by trying phone numbers"
        )
    elif len(secret) < MIN_SECRET_CHARS:
        problems.append(
            f"DEALERBOT_CONTACT_KEY_SECRET is shorter than {MIN_SECRET_CHARS} characters"
        )
    return problems


def require_production_safe(settings: Settings | None = None) -> Settings:
    """The one start-up check of every process (CLI commands, the Rasa server through our
    channels, the action server through our actions): with ``DEALERBOT_ENV=production`` raise
    :class:`UnsafeSettings` when :func:`unsafe_settings` finds anything. Returns the settings."""
    settings = settings or get_settings()
    if settings.environment == "production":
        problems = unsafe_settings(settings)
        if problems:
            raise UnsafeSettings(
                "refusing to start with DEALERBOT_ENV=production: " + "; ".join(problems)
                + ". Set DEALERBOT_CONTACT_KEY_SECRET to a long random value, e.g. "
                "`python -c 'import secrets; print(secrets.token_hex(32))'` (docs/privacy.md)."
            )  # fmt: skip
    return settings


def rest_client_headers(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The headers a client of this deployment's REST channel sends: JSON, and the bearer
    token when ``DEALERBOT_REST_TOKEN`` is set in ``env`` (default: this process's environment;
    ``dealerbot chat``, the readiness probe, the benches and the tests use it)."""
    token = _rest_token(os.environ if env is None else env)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _rest_token(env: Mapping[str, str]) -> str | None:
    return env.get("DEALERBOT_REST_TOKEN") or None


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


def _rasa_urls(env: Mapping[str, str]) -> tuple[str, ...]:
    urls = _list(env.get("DEALERBOT_RASA_URLS") or "")
    return tuple(url.rstrip("/") for url in urls) or ("http://127.0.0.1:5005",)


def _takeover_timeout() -> int:
    minutes = int(os.environ.get("DEALERBOT_TAKEOVER_TIMEOUT_MIN", "30"))
    if minutes < 1:
        raise ValueError("DEALERBOT_TAKEOVER_TIMEOUT_MIN must be at least 1")
    return minutes


def _environment(value: str | None) -> str:
    name = (value or "development").strip().lower()
    name = {"dev": "development", "prod": "production"}.get(name, name)
    if name not in ENVIRONMENTS:
        raise ValueError(f"DEALERBOT_ENV must be one of {ENVIRONMENTS}, not {value!r}")
    return name


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
