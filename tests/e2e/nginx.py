"""Debian's nginx with the shipped site config (deploy/nginx/dealerbot.conf), for the tests.

The site config is rendered into a temporary folder with loopback ports, wrapped in a main
config that needs no root (its own prefix, pid file, logs and temp paths) and started in the
foreground (``daemon off;``). Each proxied answer says which upstream gave it (``X-Test-Upstream``, added by the test's main
config only).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from tests.conftest import REPO

SITE_TEMPLATE = REPO / "deploy" / "nginx" / "dealerbot.conf"
STATIC_DIR = REPO / "bot" / "web" / "static"
ACCESS_LOG = "access.log"
UPSTREAM_HEADER = "X-Test-Upstream"


def nginx_binary() -> str | None:
    """The nginx executable, or None when it is not installed (set-up installs it as root)."""
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None
    )


def render_site(template: str, values: dict[str, str]) -> str:
    """The template with every ``@NAME@`` outside comments replaced; one left over is an error."""
    lines = []
    for line in template.splitlines():
        if not line.lstrip().startswith("#"):
            for name, value in values.items():
                line = line.replace(f"@{name}@", value)
            if "@" in line.split("#", 1)[0]:
                raise ValueError(f"a placeholder of the nginx template has no value: {line}")
        lines.append(line)
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Nginx:
    """nginx in front of ``rasa_urls`` and ``dashboard_urls`` (``http://host:port``), with the
    chat host and the dashboard host on their own free loopback ports."""

    def __init__(self, work: Path, rasa_urls: Sequence[str], dashboard_urls: Sequence[str]):
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.chat_port, self.dashboard_port = free_port(), free_port()

        def servers(urls: Sequence[str]) -> str:
            return "\n    ".join(f"server {u.split('://', 1)[-1].rstrip('/')};" for u in urls)

        tls = work / "tls.conf"
        tls.write_text("# TLS ends in front of this test server: nothing here\n")
        site = render_site(SITE_TEMPLATE.read_text(), {
            "RASA_SERVERS": servers(rasa_urls),
            "DASHBOARD_SERVERS": servers(dashboard_urls),
            "CHAT_LISTEN": f"127.0.0.1:{self.chat_port}",
            "CHAT_HOST": "chat.test",
            "DASHBOARD_LISTEN": f"127.0.0.1:{self.dashboard_port}",
            "DASHBOARD_HOST": "dashboard.test",
            "STATIC_DIR": str(STATIC_DIR),
            "TLS_INCLUDE": str(tls),
        })  # fmt: skip
        (work / "dealerbot.conf").write_text(site)
        # As root the master would hand its workers to `nobody`, who cannot read the temp dir.
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
        self.config = work / "nginx.conf"
        self.config.write_text(f"""
{user}
worker_processes 1;
daemon off;
pid {work / "nginx.pid"};
error_log {work / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    client_body_temp_path {work / "client_body"};
    proxy_temp_path {work / "proxy"};
    fastcgi_temp_path {work / "fastcgi"};
    uwsgi_temp_path {work / "uwsgi"};
    scgi_temp_path {work / "scgi"};
    log_format upstream '$request_method $uri $status $upstream_addr';
    # which replica answered (inherited by the site's locations that set no header of their own)
    add_header {UPSTREAM_HEADER} $upstream_addr always;
    access_log {work / ACCESS_LOG} upstream;
    include {work / "dealerbot.conf"};
}}
""")
        self.process: subprocess.Popen | None = None

    @property
    def chat_url(self) -> str:
        return f"http://127.0.0.1:{self.chat_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def start(self, timeout: float = 20) -> Nginx:
        binary = nginx_binary()
        if binary is None:
            raise FileNotFoundError("nginx is not installed")
        args = [binary, "-p", str(self.work), "-c", str(self.config), "-e",
                str(self.work / "error.log")]  # fmt: skip
        check = subprocess.run([*args, "-t"], capture_output=True, text=True)
        if check.returncode:
            raise RuntimeError(f"nginx -t failed:\n{check.stderr}")
        log = open(self.work / "nginx.out", "ab")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(args, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {(self.work / 'error.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.chat_port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("nginx did not listen")

    def upstreams(self) -> list[tuple[str, str, str, str]]:
        """The access log so far: (method, path, status, upstream address) per request."""
        path = self.work / ACCESS_LOG
        lines = path.read_text().splitlines() if path.exists() else []
        return [tuple(line.split(" ", 3)) for line in lines]  # type: ignore[misc]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish the open requests
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
