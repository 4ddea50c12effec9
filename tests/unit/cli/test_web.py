"""`dealerbot run` starts the demo page and the dashboard; `web` and `dashboard` commands."""

from bot.runtime import _with_demo_origins
from cli.main import build_parser, main
from cli.web import web_lines, web_options
from metrics.web.auth import User, verify_token


def test_run_starts_the_demo_page_and_the_dashboard_when_it_has_users(tmp_path, monkeypatch):
    args = build_parser().parse_args(["run"])
    monkeypatch.setenv("DEALERBOT_DASHBOARD_USERS", str(tmp_path / "users.yml"))
    assert web_options(args) == {"web_port": 8080, "dashboard_port": None}  # no users yet
    assert "8080" in web_lines(args) and "8090" not in web_lines(args)
    (tmp_path / "users.yml").write_text("users: [{name: a, token: t, locations: [x]}]\n")
    assert web_options(args) == {"web_port": 8080, "dashboard_port": 8090}
    assert "http://127.0.0.1:8090/" in web_lines(args)
    off = build_parser().parse_args(["run", "--web-port", "0", "--dashboard-port", "0"])
    assert web_options(off) == {"web_port": None, "dashboard_port": None}


def test_the_demo_page_origin_is_added_for_the_default_dealer():
    assert _with_demo_origins({}, 8123) == (
        "autohuis-demo=http://127.0.0.1:8123,http://localhost:8123")  # fmt: skip
    mixed = _with_demo_origins({"DEALERBOT_WEB_ORIGINS": "x=https://x.nl"}, 81)
    assert mixed.startswith("x=https://x.nl;autohuis-demo=http://127.0.0.1:81")


def test_dashboard_hash_token_and_a_missing_users_file(tmp_path, capsys):
    assert main(["dashboard", "--hash-token", "geheim"]) == 0
    assert verify_token(User("a", capsys.readouterr().out.strip(), ("x",)), "geheim")
    assert main(["dashboard", "--users", str(tmp_path / "none.yml")]) == 2
    assert "no dashboard users file" in capsys.readouterr().err
