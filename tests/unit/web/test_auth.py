"""Dashboard log-in: the users file, tokens and signed cookies."""

import pytest

from metrics.web import auth

SECRET = b"s" * 32


def users():
    return auth.parse_users({"users": [
        {"name": "devries", "token": "t1", "locations": ["autohuis-demo"]},
        {"name": "elders", "token_sha256": auth.hash_token("t2"), "locations": ["a", "b"]},
    ]})  # fmt: skip


def test_a_token_logs_in_its_own_dealer_only():
    found = users()
    assert auth.authenticate(found, "t1").locations == ("autohuis-demo",)
    assert auth.authenticate(found, " t2 ").name == "elders"
    assert auth.authenticate(found, "t3") is None and auth.authenticate(found, "") is None


@pytest.mark.parametrize("data, problem", [
    ({}, "expected a 'users:' list"),
    ({"users": [{"token": "x", "locations": ["a"]}]}, "has no name"),
    ({"users": [{"name": "a", "locations": ["a"]}]}, "needs token_sha256"),
    ({"users": [{"name": "a", "token_sha256": "abc", "locations": ["a"]}]}, "needs token_sha256"),
    ({"users": [{"name": "a", "token": "x"}]}, "has no locations"),
    ({"users": [{"name": "a", "token": "x", "locations": ["a"]}] * 2}, "appears twice"),
])  # fmt: skip
def test_a_bad_users_file_is_a_clear_error(data, problem):
    with pytest.raises(auth.UsersFileError, match=problem):
        auth.parse_users(data)


def test_a_missing_users_file_names_the_path(tmp_path):
    with pytest.raises(auth.UsersFileError, match="no dashboard users file"):
        auth.load_users(tmp_path / "nope.yml")


def test_cookies_are_signed_expire_and_end_with_a_new_token():
    found = users()
    cookie = auth.make_cookie(found["devries"], now=1000, secret=SECRET)
    assert auth.read_cookie(found, cookie, now=1001, secret=SECRET).name == "devries"
    assert auth.read_cookie(found, cookie, now=1000 + auth.SESSION_SECONDS + 1,
                            secret=SECRET) is None  # fmt: skip
    assert auth.read_cookie(found, cookie, now=1001, secret=b"x" * 32) is None
    body, signature = cookie.rsplit(".", 1)
    forged = auth.make_cookie(found["elders"], now=1000, secret=b"y" * 32).split(".")[0]
    assert auth.read_cookie(found, f"{forged}.{signature}", now=1001, secret=SECRET) is None
    for junk in (None, "", "nodot", "!!!.abc", f"{body}."):
        assert auth.read_cookie(found, junk, now=1001, secret=SECRET) is None
    renewed = auth.parse_users({"users": [
        {"name": "devries", "token": "new", "locations": ["autohuis-demo"]}]})  # fmt: skip
    assert auth.read_cookie(renewed, cookie, now=1001, secret=SECRET) is None


def test_the_form_token_belongs_to_the_session():
    assert auth.csrf_token("a", SECRET) == auth.csrf_token("a", SECRET)
    assert auth.csrf_token("a", SECRET) != auth.csrf_token("b", SECRET)
