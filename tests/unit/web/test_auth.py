"""Dashboard log-in: the users file, token hashes, sessions and the log-in limit."""

import pytest

from metrics.web import auth

SECRET = b"s" * 32
CHEAP = {"n": 2**10}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def users(token2="t2"):
    return auth.parse_users({"users": [
        {"name": "devries", "token": "t1", "locations": ["autohuis-demo"]},
        {"name": "elders", "token_scrypt": auth.hash_token(token2, **CHEAP),
         "locations": ["a", "b"]},
    ]})  # fmt: skip


def test_a_token_logs_in_its_own_user_only():
    found = users()
    assert auth.authenticate(found, "devries", "t1").locations == ("autohuis-demo",)
    assert auth.authenticate(found, " elders", " t2 ").name == "elders"
    assert auth.authenticate(found, "elders", "t1") is None  # another user's token
    assert auth.authenticate(found, "devries", "t3") is None
    assert auth.authenticate(found, "devries", "") is None
    assert auth.authenticate(found, "nobody", "t1") is None


def test_hashes_are_salted_and_carry_their_parameters():
    one, two = auth.hash_token("same", **CHEAP), auth.hash_token("same", **CHEAP)
    assert one != two and one.startswith("scrypt$1024$8$1$")
    assert auth.verify_token(auth.User("a", one, ("x",)), "same")
    assert len(auth.new_token()) >= 32 and auth.new_token() != auth.new_token()


@pytest.mark.parametrize("data, problem", [
    ({}, "expected a 'users:' list"),
    ({"users": [{"token": "x", "locations": ["a"]}]}, "has no name"),
    ({"users": [{"name": "a", "locations": ["a"]}]}, "has no token.*--new-user a"),
    ({"users": [{"name": "a", "token_sha256": "ab" * 32, "locations": ["a"]}]},
     "unsalted token_sha256.*--new-user a --locations a"),
    ({"users": [{"name": "a", "token_scrypt": "scrypt$3$8$1$x$y", "locations": ["a"]}]},
     "malformed token_scrypt"),
    ({"users": [{"name": "a", "token_scrypt": "sha1$x", "locations": ["a"]}]},
     "malformed token_scrypt"),
    ({"users": [{"name": "a", "token": "x"}]}, "has no locations"),
    ({"users": [{"name": "a", "token": "x", "locations": ["a"]}] * 2}, "appears twice"),
])  # fmt: skip
def test_a_bad_users_file_is_a_clear_error(data, problem):
    with pytest.raises(auth.UsersFileError, match=problem):
        auth.parse_users(data)


def test_a_missing_users_file_names_the_path(tmp_path):
    with pytest.raises(auth.UsersFileError, match="no dashboard users file"):
        auth.load_users(tmp_path / "nope.yml")


def test_sessions_are_signed_expire_end_and_end_with_a_new_token():
    found, clock = users(), Clock()
    sessions = auth.Sessions(clock)
    cookie = sessions.start(found["elders"], secret=SECRET)
    assert sessions.user(found, cookie, secret=SECRET).name == "elders"
    assert sessions.user(found, cookie, secret=b"x" * 32) is None  # signed
    session_id, _signature = cookie.rsplit(".", 1)
    junk_cookies = (
        None,
        "",
        "nodot",
        f"{session_id}.",
        f"{session_id}x.{_signature}",
        f"{session_id}.é",
        "\ud800.\udc00",
    )  # non-ASCII raised TypeError
    for junk in junk_cookies:
        assert sessions.user(found, junk, secret=SECRET) is None
    assert sessions.user(users(token2="new"), cookie, secret=SECRET) is None  # new token
    cookie = sessions.start(found["elders"], secret=SECRET)
    clock.now += auth.SESSION_SECONDS + 1
    assert sessions.user(found, cookie, secret=SECRET) is None  # expired
    cookie = sessions.start(found["devries"], secret=SECRET)
    sessions.end(cookie, secret=SECRET)
    assert sessions.user(found, cookie, secret=SECRET) is None  # logged out


def test_the_session_store_is_bounded():
    found, clock = users(), Clock()
    sessions = auth.Sessions(clock, limit=3)
    cookies = []
    for _ in range(5):
        clock.now += 1
        cookies.append(sessions.start(found["devries"], secret=SECRET))
    alive = [sessions.user(found, c, secret=SECRET) is not None for c in cookies]
    assert alive == [False, False, True, True, True]  # the oldest went


def test_the_throttle_locks_per_key_and_a_success_clears_it():
    clock = Clock()
    throttle = auth.LoginThrottle(clock, max_failures=3, window=60, lockout=120)
    assert throttle.failed("ip:a", "user:x") == 0
    assert throttle.failed("ip:a", "user:y") == 0
    assert throttle.failed("ip:a", "user:z") == 120  # the address is locked, not the names
    assert throttle.retry_after("ip:b", "user:x") == 0
    clock.now += 100
    assert throttle.retry_after("ip:a", "user:x") == 20
    clock.now += 21
    assert throttle.retry_after("ip:a") == 0
    throttle.failed("ip:c", "user:x")
    throttle.succeeded("ip:c", "user:x")
    assert throttle.failed("ip:c", "user:x") == 0  # the count started again


def test_the_form_token_belongs_to_the_session():
    assert auth.csrf_token("a", SECRET) == auth.csrf_token("a", SECRET)
    assert auth.csrf_token("a", SECRET) != auth.csrf_token("b", SECRET)
