"""Dashboard log-in: one token per dealer (a dealer may own several locations), signed cookies.

Users come from a YAML file (``DEALERBOT_DASHBOARD_USERS``, default ``var/dashboard-users.yml``)::

    users:
      - name: devries
        token_sha256: 5e88...   # sha256 of the token (``dealerbot dashboard hash-token``)
        locations: [autohuis-demo]

``token:`` in plain text is accepted too, for development. The cookie is signed with
``DEALERBOT_DASHBOARD_SECRET`` (a random one per process when unset: a restart logs out).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from metrics.settings import get_settings

COOKIE = "dealerbot_dashboard"
SESSION_SECONDS = 8 * 3600


class UsersFileError(ValueError):
    """The users file is missing, unreadable or has a bad entry."""


@dataclass(frozen=True)
class User:
    name: str
    token_sha256: str
    locations: tuple[str, ...]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def users_file() -> Path:
    value = os.environ.get("DEALERBOT_DASHBOARD_USERS")
    return Path(value) if value else get_settings().var_dir / "dashboard-users.yml"


def parse_users(data: object, where: str = "users file") -> dict[str, User]:
    """Users by name from the file's YAML data; a bad entry is an error naming it."""
    entries = (data or {}).get("users") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise UsersFileError(f"{where}: expected a 'users:' list")
    users: dict[str, User] = {}
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not entry.get("name"):
            raise UsersFileError(f"{where}: user {i} has no name")
        name = str(entry["name"])
        digest = str(entry.get("token_sha256") or "").lower()
        if not digest and entry.get("token"):
            digest = hash_token(str(entry["token"]))
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise UsersFileError(f"{where}: user {name!r} needs token_sha256 (64 hex) or token")
        locations = tuple(str(x) for x in entry.get("locations") or ())
        if not locations:
            raise UsersFileError(f"{where}: user {name!r} has no locations")
        if name in users:
            raise UsersFileError(f"{where}: user {name!r} appears twice")
        users[name] = User(name, digest, locations)
    return users


def load_users(path: Path | None = None) -> dict[str, User]:
    path = Path(path or users_file())
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as exc:
        raise UsersFileError(f"no dashboard users file at {path} ({exc.strerror})") from exc
    return _load(path, stamp)


@lru_cache(maxsize=4)
def _load(path: Path, _stamp: int) -> dict[str, User]:
    return parse_users(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))


def authenticate(users: dict[str, User], token: str) -> User | None:
    """The user whose token this is; compares every user's digest in constant time."""
    digest = hash_token(token.strip())
    found = None
    for user in users.values():
        if hmac.compare_digest(user.token_sha256, digest):
            found = user
    return found


@lru_cache(maxsize=1)
def _process_secret() -> bytes:
    return secrets.token_bytes(32)


def cookie_secret() -> bytes:
    value = os.environ.get("DEALERBOT_DASHBOARD_SECRET")
    return value.encode() if value else _process_secret()


def _sign(payload: bytes, secret: bytes) -> str:
    return hmac.new(secret, payload, hashlib.sha256).hexdigest()


def make_cookie(user: User, now: float | None = None, secret: bytes | None = None) -> str:
    """``base64(name|expiry|token digest prefix).signature``: a new token ends old sessions."""
    expires = int((now or time.time()) + SESSION_SECONDS)
    payload = f"{user.name}|{expires}|{user.token_sha256[:16]}".encode()
    body = base64.urlsafe_b64encode(payload).decode()
    return f"{body}.{_sign(payload, secret or cookie_secret())}"


def read_cookie(users: dict[str, User], value: str | None, now: float | None = None,
                secret: bytes | None = None) -> User | None:  # fmt: skip
    """The logged-in user, or None for a missing, forged, expired or outdated cookie."""
    if not value or "." not in value:
        return None
    body, signature = value.rsplit(".", 1)
    try:
        payload = base64.urlsafe_b64decode(body.encode())
    except (ValueError, TypeError):
        return None
    if not hmac.compare_digest(_sign(payload, secret or cookie_secret()), signature):
        return None
    try:
        name, expires, prefix = payload.decode().split("|")
        expired = int(expires) < (now or time.time())
    except ValueError:
        return None
    user = users.get(name)
    if expired or user is None or user.token_sha256[:16] != prefix:
        return None
    return user


def csrf_token(cookie: str, secret: bytes | None = None) -> str:
    """A form token tied to the session cookie (forms also need the cookie: SameSite=Strict)."""
    return _sign(b"csrf|" + cookie.encode(), secret or cookie_secret())[:32]
