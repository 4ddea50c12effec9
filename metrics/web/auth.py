"""Dashboard log-in: one user per dealer (a dealer may own several locations), a generated token
kept only as a salted scrypt hash, server-side sessions and a per-IP and per-user log-in limit.

Users come from a YAML file (``DEALERBOT_DASHBOARD_USERS``, default ``var/dashboard-users.yml``),
written by ``dealerbot dashboard --new-user NAME --locations a,b``::

    users:
      - name: devries
        token_scrypt: scrypt$32768$8$1$<salt>$<hash>
        locations: [autohuis-demo]

``token_scrypt`` is ``hashlib.scrypt`` of the token with a random 16-byte salt per user, N=2^15,
r=8, p=1 (32 MiB, a few hundred ms), 32-byte key; salt and key are URL-safe base64 without
padding. The parameters are stored with each hash, so raising them later keeps old entries
valid. ``token:`` in plain text is still read, for development only (with a warning). The old
unsalted ``token_sha256`` entries are refused, with the command that replaces them.

Sessions live in the process's memory (``Sessions``): the cookie names a random session id,
signed with ``DEALERBOT_DASHBOARD_SECRET`` (random per process when unset), and log-out deletes
it, so a copied cookie stops working at once. A restart logs everyone out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from core.settings import get_settings

log = logging.getLogger(__name__)

COOKIE = "dealerbot_dashboard"
SESSION_SECONDS = 8 * 3600
TOKEN_BYTES = 24  # 192 bits from secrets.token_urlsafe
# scrypt cost: N=2^15, r=8, p=1 needs 128*N*r = 32 MiB and a few hundred ms per log-in.
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_KEY_BYTES, SCRYPT_SALT_BYTES = 2**15, 8, 1, 32, 16
# Hashes with a higher cost than this are refused rather than computed (a typo could hang).
_SCRYPT_MAX_MEMORY = 256 * 1024 * 1024
# Log-in limits (``LoginThrottle``): per client IP and per user name, in the process's memory.
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 15 * 60
LOCKOUT_SECONDS = 15 * 60

Clock = Callable[[], float]


class UsersFileError(ValueError):
    """The users file is missing, unreadable or has a bad entry."""


@dataclass(frozen=True)
class User:
    name: str
    token_hash: str  # "scrypt$N$r$p$salt$key", or "" for a plain-text development token
    locations: tuple[str, ...]
    token_plain: str | None = field(default=None, repr=False)

    @property
    def fingerprint(self) -> str:
        """Changes with the token: a session of the old token ends when a new one is issued."""
        source = self.token_hash or f"plain:{self.token_plain}"
        return hashlib.sha256(source.encode()).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_token() -> str:
    """A fresh dashboard token: 192 random bits, URL-safe text."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """The ``token_scrypt`` value: scrypt of the token with a new random salt, parameters kept."""
    salt = secrets.token_bytes(SCRYPT_SALT_BYTES)
    key = _scrypt(token, salt, n, r, p)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


def _scrypt(token: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(token.encode(), salt=salt, n=n, r=r, p=p, dklen=SCRYPT_KEY_BYTES,
                          maxmem=_SCRYPT_MAX_MEMORY)  # fmt: skip


def _parse_scrypt(value: str) -> tuple[int, int, int, bytes, bytes]:
    """(N, r, p, salt, key) of a ``token_scrypt`` value; ValueError when malformed."""
    kind, n, r, p, salt, key = value.split("$")
    n_, r_, p_ = int(n), int(r), int(p)
    if kind != "scrypt" or n_ < 2 or n_ & (n_ - 1) or not 1 <= r_ <= 64 or not 1 <= p_ <= 16:
        raise ValueError("bad scrypt parameters")
    if 128 * n_ * r_ * p_ > _SCRYPT_MAX_MEMORY // 2:
        raise ValueError("scrypt parameters above 128 MiB")
    salt_, key_ = _unb64(salt), _unb64(key)
    if len(salt_) < 8 or len(key_) < 16:
        raise ValueError("salt or key too short")
    return n_, r_, p_, salt_, key_


def verify_token(user: User, token: str) -> bool:
    """Whether ``token`` is this user's, compared in constant time."""
    if not user.token_hash:
        return hmac.compare_digest((user.token_plain or "").encode(), token.encode())
    n, r, p, salt, key = _parse_scrypt(user.token_hash)
    return hmac.compare_digest(_scrypt(token, salt, n, r, p), key)


@lru_cache(maxsize=1)
def _decoy() -> User:
    """A user no token matches, checked for unknown names so they take as long as known ones."""
    return User("", hash_token(new_token()), ())


def authenticate(users: dict[str, User], name: str, token: str) -> User | None:
    """The user ``name`` if ``token`` is theirs; an unknown name costs one scrypt too."""
    user = users.get(name.strip())
    token = token.strip()
    if user is None:
        verify_token(_decoy(), token)
        return None
    return user if token and verify_token(user, token) else None


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
        locations = tuple(str(x) for x in entry.get("locations") or ())
        if entry.get("token_sha256"):
            raise UsersFileError(
                f"{where}: user {name!r} has an unsalted token_sha256, which is no longer "
                f"accepted: issue a new token with `dealerbot dashboard --new-user {name} "
                f"--locations {','.join(locations) or 'LOCATION'}` (docs/web.md)"
            )
        token_hash, plain = str(entry.get("token_scrypt") or ""), None
        if token_hash:
            try:
                _parse_scrypt(token_hash)
            except ValueError as exc:
                raise UsersFileError(
                    f"{where}: user {name!r} has a malformed token_scrypt ({exc}); "
                    f"issue a new token with `dealerbot dashboard --new-user {name}`"
                ) from exc
        elif entry.get("token"):
            plain = str(entry["token"])
            log.warning("dashboard user %r has a plain-text token: for development only "
                        "(`dealerbot dashboard --new-user` stores a hash)", name)  # fmt: skip
        else:
            raise UsersFileError(
                f"{where}: user {name!r} has no token: "
                f"`dealerbot dashboard --new-user {name}` makes one"
            )
        if not locations:
            raise UsersFileError(f"{where}: user {name!r} has no locations")
        if name in users:
            raise UsersFileError(f"{where}: user {name!r} appears twice")
        users[name] = User(name, token_hash, locations, plain)
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


def add_user(path: Path, name: str, locations: tuple[str, ...] | None) -> str:
    """Give ``name`` a new token (a new user, or a new token for an existing one, which ends its
    sessions); store only its scrypt hash; return the token. Other entries stay as they are."""
    data: dict = {"users": []}
    if path.exists():
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {"users": []}
        if not isinstance(data, dict) or not isinstance(data.get("users"), list):
            raise UsersFileError(f"{path}: expected a 'users:' list")
    entries = data["users"]
    old = next((e for e in entries if isinstance(e, dict) and str(e.get("name")) == name), None)
    locations = locations or tuple((old or {}).get("locations") or ())
    if not locations:
        raise UsersFileError(f"user {name!r} is new: give its locations (--locations a,b)")
    token = new_token()
    entry = {"name": name, "token_scrypt": hash_token(token), "locations": list(locations)}
    if old is None:
        entries.append(entry)
    else:
        entries[entries.index(old)] = entry
    # Only the new entry is checked: the others may still be old token_sha256 entries, each
    # replaced by its own --new-user run.
    parse_users({"users": [entry]}, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    new = path.with_name(path.name + ".new")
    with open(os.open(new, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
        out.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    os.replace(new, path)
    return token


@lru_cache(maxsize=1)
def _process_secret() -> bytes:
    return secrets.token_bytes(32)


def cookie_secret() -> bytes:
    value = os.environ.get("DEALERBOT_DASHBOARD_SECRET")
    return value.encode() if value else _process_secret()


def _sign(payload: bytes, secret: bytes) -> str:
    return hmac.new(secret, payload, hashlib.sha256).hexdigest()


@dataclass
class _Session:
    name: str
    fingerprint: str
    expires: float


class Sessions:
    """Live sessions of one dashboard process: ``session id -> user, token, expiry``.

    The cookie is ``<random id>.<HMAC>``; the server keeps the id's SHA-256. Log-out deletes the
    entry, so a copied cookie no longer works; a new token for the user ends its sessions too.
    """

    def __init__(self, clock: Clock = time.time, seconds: int = SESSION_SECONDS,
                 limit: int = 10_000) -> None:  # fmt: skip
        self.clock, self.seconds, self.limit = clock, seconds, limit
        self._live: dict[str, _Session] = {}

    @staticmethod
    def _key(session_id: str) -> str:
        return hashlib.sha256(session_id.encode()).hexdigest()

    def start(self, user: User, secret: bytes | None = None) -> str:
        """A new session for ``user``; returns the cookie value."""
        now = self.clock()
        if len(self._live) >= self.limit:
            self._live = {k: s for k, s in self._live.items() if s.expires > now}
            while len(self._live) >= self.limit:  # still full: the oldest goes
                del self._live[min(self._live, key=lambda k: self._live[k].expires)]
        session_id = secrets.token_urlsafe(32)
        self._live[self._key(session_id)] = _Session(user.name, user.fingerprint,
                                                     now + self.seconds)  # fmt: skip
        return f"{session_id}.{_sign(session_id.encode(), secret or cookie_secret())}"

    def _id(self, cookie: str | None, secret: bytes | None) -> str | None:
        if not cookie or "." not in cookie:
            return None
        session_id, signature = cookie.rsplit(".", 1)
        raw_id = session_id.encode("utf-8", "surrogatepass")
        expected = _sign(raw_id, secret or cookie_secret()).encode()
        # bytes, not str: compare_digest raises on a non-ASCII str (a forged cookie)
        if not hmac.compare_digest(expected, signature.encode("utf-8", "surrogatepass")):
            return None
        return self._key(session_id)

    def user(self, users: dict[str, User], cookie: str | None,
             secret: bytes | None = None) -> User | None:  # fmt: skip
        """The logged-in user, or None for a missing, forged, expired, ended or outdated one."""
        key = self._id(cookie, secret)
        session = self._live.get(key) if key else None
        if key is None or session is None:
            return None
        user = users.get(session.name)
        if session.expires <= self.clock() or user is None:
            del self._live[key]
            return None
        if user.fingerprint != session.fingerprint:  # a new token was issued
            del self._live[key]
            return None
        return user

    def end(self, cookie: str | None, secret: bytes | None = None) -> None:
        key = self._id(cookie, secret)
        if key:
            self._live.pop(key, None)


def csrf_token(cookie: str, secret: bytes | None = None) -> str:
    """A form token tied to the session cookie (forms also need the cookie: SameSite=Strict)."""
    return _sign(b"csrf|" + cookie.encode(), secret or cookie_secret())[:32]


class LoginThrottle:
    """Failed log-ins per key (``ip:<address>``, ``user:<name>``) in this process's memory.

    ``MAX_FAILURES`` failures of one key within ``FAILURE_WINDOW_SECONDS`` lock it for
    ``LOCKOUT_SECONDS``: while locked, log-ins are refused without looking at the token. A
    success clears the keys. Hand-written: a few lines of dict and list, no shared store wanted.
    """

    def __init__(self, clock: Clock = time.time, max_failures: int = MAX_FAILURES,
                 window: float = FAILURE_WINDOW_SECONDS, lockout: float = LOCKOUT_SECONDS,
                 limit: int = 100_000) -> None:  # fmt: skip
        self.clock, self.max_failures, self.limit = clock, max_failures, limit
        self.window, self.lockout = window, lockout
        self._failures: dict[str, list[float]] = {}
        self._locked: dict[str, float] = {}

    def retry_after(self, *keys: str) -> int:
        """Seconds until none of ``keys`` is locked; 0 when log-in may be tried now."""
        now = self.clock()
        until = max((self._locked.get(k, 0.0) for k in keys), default=0.0)
        return max(0, int(until - now + 0.999)) if until > now else 0

    def failed(self, *keys: str) -> int:
        """Count a failure for each key; returns ``retry_after`` afterwards."""
        now = self.clock()
        if len(self._failures) >= self.limit:
            self._prune(now)
        for key in keys:
            recent = [t for t in self._failures.get(key, ()) if t > now - self.window]
            recent.append(now)
            if len(recent) >= self.max_failures:
                self._locked[key] = now + self.lockout
                recent = []
            self._failures[key] = recent
        return self.retry_after(*keys)

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)

    def _prune(self, now: float) -> None:
        since = now - self.window
        self._failures = {k: v for k, v in self._failures.items() if v and v[-1] > since}
        self._locked = {k: t for k, t in self._locked.items() if t > now}
        while len(self._failures) >= self.limit:  # a flood of names or addresses: oldest go
            del self._failures[next(iter(self._failures))]
