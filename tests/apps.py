"""Small test apps (a real channel in a Sanic app, no model) run as ``python -m <module> <port>``."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def start_test_app(
    module: str, port: int, probe: str, env: dict[str, str], capture: bool = True
) -> subprocess.Popen:
    """Start the app and wait until ``GET probe`` (a path) answers; if it exits or does not come
    up within a minute, fail with its output. With ``capture`` its output goes to a pipe that
    the caller reads at the end (keep such apps quiet), else it is dropped."""
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    process = subprocess.Popen([sys.executable, "-m", module, str(port)], cwd=REPO, env=env,
                               stdout=output, stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{probe}", timeout=2).close()
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                printed = (process.communicate()[0] or b"").decode(errors="replace")
                raise RuntimeError(f"{module} did not start:\n{printed}") from None
            time.sleep(0.2)
