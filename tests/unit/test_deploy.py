"""deploy/: the systemd units verify, the environment example lists every setting, and the nginx
site config publishes only what customers and dealers need (without Rasa: upstreams that do not
listen; tests/e2e/test_scale_out.py runs it in front of the real replicas)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from tests.conftest import REPO
from tests.e2e.nginx import UPSTREAM_HEADER, Nginx, nginx_binary, render_site

DEPLOY = REPO / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service")) + sorted(
    (DEPLOY / "systemd").glob("*.target")
)
SETTING = re.compile(r"\bDEALERBOT_[A-Z0-9_]*[A-Z0-9]\b")
NOT_PRODUCT = {".venv", "tests", "bench", "node_modules", ".git"}


def settings_read_by_the_code() -> set[str]:
    names: set[str] = set()
    for path in REPO.rglob("*.py"):
        if NOT_PRODUCT.isdisjoint(path.relative_to(REPO).parts):
            names |= set(SETTING.findall(path.read_text(encoding="utf-8")))
    return names


def test_the_environment_example_lists_every_setting_the_code_reads():
    example = (DEPLOY / "dealerbot.env.example").read_text()
    listed = set(re.findall(r"^#?(DEALERBOT_[A-Z0-9_]+)=", example, flags=re.MULTILINE))
    read = settings_read_by_the_code()
    assert "DEALERBOT_DATABASE_URL" in read  # the scan sees the code
    assert sorted(read - listed) == []


def test_every_unit_binds_loopback_and_is_hardened():
    services = [u for u in UNITS if u.suffix == ".service"]
    assert {u.name for u in services} == {
        "dealerbot-actions.service", "dealerbot-rasa@.service", "dealerbot-scheduler.service",
        "dealerbot-web.service", "dealerbot-dashboard.service",
    }  # fmt: skip
    for unit in services:
        text = unit.read_text()
        for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                     "UMask=0077", "ReadWritePaths=/opt/dealerbot/var",
                     "EnvironmentFile=/etc/dealerbot/dealerbot.env"):  # fmt: skip
            assert line in text.splitlines(), (unit.name, line)
        assert "0.0.0.0" not in text, unit.name
    assert "--interface 127.0.0.1" in (DEPLOY / "systemd" / "dealerbot-rasa@.service").read_text()
    assert "SANIC_HOST=127.0.0.1" in (DEPLOY / "systemd" / "dealerbot-actions.service").read_text()
    for name in ("web", "dashboard"):
        assert "--host 127.0.0.1" in (DEPLOY / "systemd" / f"dealerbot-{name}.service").read_text()


def test_the_rasa_unit_hands_rasa_the_api_token_whatever_its_first_character():
    """Rasa's own parser reads the unit's command line with a token that starts with "-" (one
    in 64 of ``secrets.token_urlsafe``), as systemd substitutes it: one word."""
    from rasa.__main__ import create_argument_parser

    text = (DEPLOY / "systemd" / "dealerbot-rasa@.service").read_text().replace("\\\n", " ")
    (command,) = [line[len("ExecStart="):] for line in text.splitlines()
                  if line.startswith("ExecStart=")]  # fmt: skip
    token = "-Xq3_starts-with-a-dash"
    words = [word.replace("${DEALERBOT_RASA_API_TOKEN}", token).replace("%i", "5005")
             for word in shlex.split(command)]  # fmt: skip
    assert words[1:3] == ["-m", "bot.rasa_server"]
    parsed = create_argument_parser().parse_args(words[3:])
    assert parsed.enable_api and parsed.auth_token == token and parsed.interface == "127.0.0.1"


def test_the_units_pass_systemd_analyze_verify(tmp_path):
    """The units as shipped, with the install path pointed at this checkout (verify checks that
    each ExecStart program exists) and the environment file at an empty one."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed: the units are not verified")
    env = tmp_path / "dealerbot.env"
    env.write_text("")
    for unit in UNITS:
        text = unit.read_text().replace("/etc/dealerbot/dealerbot.env", str(env))
        (tmp_path / unit.name).write_text(text.replace("/opt/dealerbot", str(REPO)))
    shutil.copy(tmp_path / "dealerbot-rasa@.service", tmp_path / "dealerbot-rasa@5005.service")
    names = [f"./{u.name}" for u in UNITS if u.name != "dealerbot-rasa@.service"]
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *names, "./dealerbot-rasa@5005.service"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    problems = [line for line in result.stderr.splitlines() if "dealerbot" in line]
    assert (result.returncode, problems) == (0, []), result.stderr


def test_a_placeholder_without_a_value_is_an_error():
    template = (DEPLOY / "nginx" / "dealerbot.conf").read_text()
    with pytest.raises(ValueError, match="placeholder"):
        render_site(template, {"RASA_SERVERS": "server 127.0.0.1:5005;"})


@pytest.fixture
def nginx(tmp_path):
    if nginx_binary() is None:
        pytest.skip("nginx is not installed (scripts/setup.sh installs it as root)")
    # nothing listens on these: a proxied request is a 502, one nginx refuses itself a 404
    server = Nginx(tmp_path / "nginx", ["http://127.0.0.1:9", "http://127.0.0.1:7"],
                   ["http://127.0.0.1:13"]).start()  # fmt: skip
    yield server
    server.stop()


def status_of(url: str, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request(url, b"{}" if method == "POST" else None, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get(UPSTREAM_HEADER, "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get(UPSTREAM_HEADER, "")


def test_nginx_publishes_only_the_widget_the_whatsapp_webhooks_and_the_dashboard(nginx):
    chat = nginx.chat_url
    refused = ["/webhooks/rest/webhook", "/webhooks/rest/", "/", "/status", "/model",
               "/conversations/x/tracker", "/webhooks/whatsapp_cloud/", "/d/autohuis-demo"]  # fmt: skip
    for path in refused:
        for method in ("GET", "POST"):
            assert status_of(chat + path, method) == (404, ""), (method, path)
    proxied = ["/webhooks/whatsapp_cloud/webhook", "/webhooks/twilio_whatsapp/webhook",
               "/socket.io/?EIO=4&transport=polling", "/webhooks/socketio/widget/autohuis-demo"]  # fmt: skip
    for path in proxied:
        status, upstream = status_of(chat + path)
        # an upstream address, or the upstream's name once nginx has marked both down
        assert status == 502 and upstream, path
    assert status_of(f"{chat}/static/widget.js") == (200, "")
    assert status_of(f"{nginx.dashboard_url}/login")[0] == 502  # proxied to the dashboard


def test_the_round_robin_proxy_is_a_test_helper_not_part_of_the_product(capsys):
    import importlib.util

    from cli.main import build_parser

    assert importlib.util.find_spec("bot.proxy") is None
    assert importlib.util.find_spec("tests.e2e.roundrobin") is not None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["proxy", "--upstream", "http://127.0.0.1:5006"])
    assert "invalid choice: 'proxy'" in capsys.readouterr().err
