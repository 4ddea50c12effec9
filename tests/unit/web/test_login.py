"""Dashboard log-in over HTTP against the real aiohttp app: generated tokens kept as scrypt
hashes, the per-IP and per-user log-in limit, the TLS proxy, cookie flags, server-side log-out.

No database: log-in, log-out and ``/`` (a redirect to the user's first location) need none.
"""

import asyncio
import re
import threading
import time

import pytest
import yaml
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer

from cli.main import main
from metrics.web import auth
from metrics.web.app import make_app

CHEAP = {"n": 2**10}  # scrypt cost for test users; verification reads it from the hash
PUBLIC = "https://dash.example.com"
BEHIND_PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "dash.example.com"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def users(tmp_path):
    path = tmp_path / "users.yml"
    path.write_text(yaml.safe_dump({"users": [
        {"name": "devries", "token_scrypt": auth.hash_token("tok-devries", **CHEAP),
         "locations": ["autohuis-demo"]},
        {"name": "elders", "token_scrypt": auth.hash_token("tok-elders", **CHEAP),
         "locations": ["elders-a", "elders-b"]},
    ]}))  # fmt: skip
    return path


def serve(users_path, scenario, clock=None, trusted_proxies=()):
    """Run ``scenario(client)`` against the dashboard app; cookies are sent by hand."""

    async def run():
        app = make_app(users_path=users_path, clock=clock or Clock(),
                       trusted_proxies=trusted_proxies)  # fmt: skip
        async with TestClient(TestServer(app), cookie_jar=DummyCookieJar()) as client:
            return await scenario(client)

    return asyncio.run(run())


async def log_in(client, name, token, headers=None):
    return await client.post("/login", data={"name": name, "token": token}, headers=headers,
                             allow_redirects=False)  # fmt: skip


def cookie_of(response) -> str:
    return response.cookies[auth.COOKIE].value


def set_cookie_header(response) -> str:
    return next(v for v in response.headers.getall("Set-Cookie") if v.startswith(auth.COOKIE))


async def home(client, cookie, headers=None):
    """Where ``/`` sends this cookie: the first location when logged in, else /login."""
    answer = await client.get("/", headers={"Cookie": f"{auth.COOKIE}={cookie}", **(headers or {})},
                              allow_redirects=False)  # fmt: skip
    return answer.headers["Location"]


# -- tokens ---------------------------------------------------------------------------------------


def test_new_user_generates_a_token_and_stores_only_its_scrypt_hash(tmp_path, capsys):
    path = tmp_path / "var" / "users.yml"
    args = ["dashboard", "--users", str(path), "--new-user", "devries"]
    assert main([*args, "--locations", "autohuis-demo, autohuis-noord"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert len(token) >= 22 and re.fullmatch(r"[A-Za-z0-9_-]+", token)  # >= 128 bits
    text = path.read_text()
    assert token not in text and "token_sha256" not in text
    (entry,) = yaml.safe_load(text)["users"]
    assert entry["locations"] == ["autohuis-demo", "autohuis-noord"]
    assert entry["token_scrypt"].startswith(f"scrypt${auth.SCRYPT_N}$8$1$")
    assert path.stat().st_mode & 0o077 == 0  # only the owner reads the hashes

    async def scenario(client):
        wrong = await log_in(client, "devries", "not-the-token")
        right = await log_in(client, "devries", token)
        return wrong.status, right.status, await home(client, cookie_of(right))

    assert serve(path, scenario) == (403, 303, "/d/autohuis-demo")
    # A new token for the same user keeps the locations, and the old token stops working.
    assert main(args) == 0
    renewed = capsys.readouterr().out.strip().splitlines()[-1]
    assert renewed != token
    assert yaml.safe_load(path.read_text())["users"][0]["locations"][1] == "autohuis-noord"

    async def again(client):
        return [(await log_in(client, "devries", t)).status for t in (token, renewed)]

    assert serve(path, again) == [403, 303]


def test_a_new_user_needs_locations(tmp_path, capsys):
    assert main(["dashboard", "--users", str(tmp_path / "u.yml"), "--new-user", "x"]) == 2
    assert "--locations" in capsys.readouterr().err


def test_hash_token_gives_the_salted_scrypt_form(capsys):
    assert main(["dashboard", "--hash-token", "geheim"]) == 0
    first = capsys.readouterr().out.strip()
    assert main(["dashboard", "--hash-token", "geheim"]) == 0
    second = capsys.readouterr().out.strip()
    assert first.startswith("scrypt$") and first != second  # a new salt each time
    for value in (first, second):
        user = auth.User("a", value, ("x",))
        assert auth.verify_token(user, "geheim") and not auth.verify_token(user, "geheim2")


def test_unsalted_sha256_entries_are_refused_naming_new_user(tmp_path, capsys):
    path = tmp_path / "users.yml"
    path.write_text(
        "users:\n  - name: devries\n    locations: [autohuis-demo]\n"
        "    token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n"
    )
    assert main(["dashboard", "--users", str(path)]) == 2  # does not start
    err = capsys.readouterr().err
    assert "unsalted token_sha256" in err
    assert "dealerbot dashboard --new-user devries --locations autohuis-demo" in err


def test_new_user_replaces_the_old_entries_one_by_one(tmp_path, capsys):
    path = tmp_path / "users.yml"
    path.write_text(
        "users:\n"
        f"  - {{name: devries, token_sha256: {'ab' * 32}, locations: [autohuis-demo]}}\n"
        f"  - {{name: elders, token_sha256: {'cd' * 32}, locations: [elders-a]}}\n"
    )
    assert main(["dashboard", "--users", str(path), "--new-user", "devries"]) == 0
    with pytest.raises(auth.UsersFileError, match="--new-user elders --locations elders-a"):
        auth.load_users(path)
    assert main(["dashboard", "--users", str(path), "--new-user", "elders"]) == 0
    capsys.readouterr()
    assert {u.locations for u in auth.load_users(path).values()} == {
        ("autohuis-demo",), ("elders-a",)}  # fmt: skip


# -- the log-in limit -------------------------------------------------------------------------


def test_five_wrong_tokens_lock_the_user_out_with_retry_after(users):
    clock = Clock()

    async def scenario(client):
        answers = []
        for _ in range(auth.MAX_FAILURES):
            answer = await log_in(client, "devries", "wrong")
            answers.append((answer.status, answer.headers.get("Retry-After"), await answer.text()))
        locked = await log_in(client, "devries", "tok-devries")  # even the right token
        clock.now += auth.LOCKOUT_SECONDS + 1
        after = await log_in(client, "devries", "tok-devries")
        return answers, locked.status, locked.headers.get("Retry-After"), after.status

    answers, locked, retry_after, after = serve(users, scenario, clock)
    for status, retry, page in answers[:-1]:
        assert (status, retry) == (403, None)
        # A real log-in page: the error and the form again, with the name filled in.
        assert (
            "<!doctype html>" in page
            and 'id="login-error" role="alert">Onbekende naam of verkeerd token.<' in page
        )
        assert '<form method="post" action="/login">' in page and 'value="devries"' in page
    status, retry, page = answers[-1]
    assert (status, retry) == (429, str(auth.LOCKOUT_SECONDS))
    assert "Te vaak mislukt. Probeer het over 15 minuten opnieuw." in page  # Dutch by default
    assert (locked, retry_after) == (429, str(auth.LOCKOUT_SECONDS))
    assert after == 303


def test_parallel_guesses_are_counted_before_they_are_checked(users, monkeypatch):
    running, most, lock, check = [0], [0], threading.Lock(), auth.authenticate

    def watched(*args):
        """Waits briefly for a second check to run alongside; with one at a time none comes."""
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        for _ in range(50):
            if running[0] > 1:
                break
            time.sleep(0.002)
        try:
            return check(*args)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(auth, "authenticate", watched)

    async def scenario(client):
        answers = await asyncio.gather(*(log_in(client, "devries", f"guess{i}") for i in range(20)))
        return sorted(a.status for a in answers)

    fails = auth.MAX_FAILURES - 1
    assert serve(users, scenario) == [403] * fails + [429] * (20 - fails)
    assert most[0] == 1  # the limit decides each guess before the next one is checked


def test_failures_spread_over_the_window_do_not_lock(users):
    clock = Clock()

    async def scenario(client):
        statuses = []
        for _ in range(3 * auth.MAX_FAILURES):
            statuses.append((await log_in(client, "devries", "wrong")).status)
            clock.now += auth.FAILURE_WINDOW_SECONDS / (auth.MAX_FAILURES - 1) + 1
        return statuses, (await log_in(client, "devries", "tok-devries")).status

    statuses, last = serve(users, scenario, clock)
    assert set(statuses) == {403} and last == 303


def test_one_address_trying_many_names_is_locked_out(users):
    async def scenario(client):
        for i in range(auth.MAX_FAILURES):
            await log_in(client, f"guess{i}", "wrong")
        return await log_in(client, "elders", "tok-elders")

    answer = serve(users, scenario)
    assert answer.status == 429 and int(answer.headers["Retry-After"]) > 0


def test_one_user_tried_from_many_addresses_is_locked_out(users):
    async def scenario(client):
        for i in range(auth.MAX_FAILURES):
            await log_in(client, "elders", "wrong", {"X-Forwarded-For": f"203.0.113.{i}"})
        locked = await log_in(client, "elders", "tok-elders", {"X-Forwarded-For": "198.51.100.7"})
        other = await log_in(client, "devries", "tok-devries", {"X-Forwarded-For": "203.0.113.9"})
        return locked.status, other.status

    # Behind the (trusted, loopback) proxy each try has its own client address.
    assert serve(users, scenario, trusted_proxies=["127.0.0.1"]) == (429, 303)


def test_the_limit_counts_the_address_the_proxy_saw_not_a_forged_one(users):
    async def scenario(client):
        for i in range(auth.MAX_FAILURES):  # a new forged address and a new name each time
            forged = {"X-Forwarded-For": f"10.9.9.{i}, 203.0.113.5"}
            await log_in(client, f"guess{i}", "wrong", forged)
        forged = {"X-Forwarded-For": "10.9.9.99, 203.0.113.5"}
        return (await log_in(client, "elders", "tok-elders", forged)).status

    assert serve(users, scenario, trusted_proxies=["127.0.0.1"]) == 429


def test_an_ipv6_prefix_counts_as_one_address(users):
    async def scenario(client):
        for i in range(auth.MAX_FAILURES):
            await log_in(client, f"guess{i}", "wrong", {"X-Forwarded-For": f"2001:db8:1:2::{i}"})
        other = await log_in(client, "elders", "tok-elders", {"X-Forwarded-For": "2001:db8:1:3::1"})
        same = await log_in(client, "elders", "tok-elders", {"X-Forwarded-For": "2001:db8:1:2::99"})
        return other.status, same.status

    assert serve(users, scenario, trusted_proxies=["127.0.0.1"]) == (303, 429)


# -- the TLS proxy, cookie flags, log-out ---------------------------------------------------


def test_behind_a_trusted_proxy_forms_pass_and_the_cookie_is_secure(users):
    async def scenario(client):
        login = await log_in(client, "devries", "tok-devries", {**BEHIND_PROXY, "Origin": PUBLIC})
        cookie = cookie_of(login)
        logout = await client.post(
            "/logout", data={"csrf": auth.csrf_token(cookie)}, allow_redirects=False,
            headers={**BEHIND_PROXY, "Origin": PUBLIC, "Cookie": f"{auth.COOKIE}={cookie}"},
        )  # fmt: skip
        return login.status, set_cookie_header(login), logout.status

    status, header, logout = serve(users, scenario, trusted_proxies=["127.0.0.1", "::1"])
    assert status == 303 and logout == 303  # the same-origin check sees https://dash.example.com
    flags = [f.strip().lower() for f in header.split(";")]
    assert "secure" in flags and "httponly" in flags and "samesite=strict" in flags


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(users):
    async def scenario(client):
        login = await log_in(client, "devries", "tok-devries", {**BEHIND_PROXY, "Origin": PUBLIC})
        return login.status, await login.text()

    status, page = serve(users, scenario, trusted_proxies=["10.0.0.1"])
    assert status == 403 and "Dit inlogformulier kwam van een andere site." in page


def test_a_bad_trusted_proxies_setting_is_a_clear_error(users, monkeypatch, capsys):
    monkeypatch.setenv("DEALERBOT_TRUSTED_PROXIES", "127.0.0.1,proxy.example.com")
    assert main(["dashboard", "--users", str(users)]) == 2
    assert "DEALERBOT_TRUSTED_PROXIES" in capsys.readouterr().err


def test_the_cookie_is_secure_except_on_plain_http_loopback(users):
    async def scenario(client):
        local = await log_in(client, "devries", "tok-devries")
        public = await log_in(client, "devries", "tok-devries", {"Host": "dash.example.com"})
        return set_cookie_header(local), set_cookie_header(public)

    local, public = serve(users, scenario)
    assert "secure" not in local.lower() and "httponly" in local.lower()
    assert "; secure" in public.lower()


def test_logout_ends_the_session_on_the_server(users):
    async def scenario(client):
        cookie = cookie_of(await log_in(client, "devries", "tok-devries"))
        other = cookie_of(await log_in(client, "devries", "tok-devries"))  # a second browser
        before = await home(client, cookie)
        logout = await client.post("/logout", data={"csrf": auth.csrf_token(cookie)},
                                   headers={"Cookie": f"{auth.COOKIE}={cookie}"},
                                   allow_redirects=False)  # fmt: skip
        replayed = await home(client, cookie)  # the stolen copy of the cookie
        removal = set_cookie_header(logout).lower()
        return before, logout.status, replayed, await home(client, other), removal

    before, status, replayed, other, removal = serve(users, scenario)
    assert (before, status, replayed, other) == ("/d/autohuis-demo", 303, "/login?expired=1",
                                                 "/d/autohuis-demo")  # fmt: skip
    assert "max-age=0" in removal and "httponly" in removal and "samesite=strict" in removal


def test_sessions_expire(users):
    clock = Clock()

    async def scenario(client):
        cookie = cookie_of(await log_in(client, "devries", "tok-devries"))
        clock.now += auth.SESSION_SECONDS + 1
        return await home(client, cookie)

    assert serve(users, scenario, clock) == "/login?expired=1"  # the page says why
