"""Start JupyterLab the way a learner does (`make lab`) for a test, and wait until it answers.

Shared by ``test_lab.py`` and ``test_browser.py``. The machines that run the tests are often loaded (two
cores, several jobs), so every wait here is a deadline, not a count of sleeps, and gives up early only
when the server has exited: a slow machine makes the tests slower, not red.

JupyterLab's per-user state (workspaces, which remember open tabs, and user settings) goes to the test's
own folder, so that a run neither reads nor changes the state of the person running the tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 240.0  # seconds until JupyterLab must print its URL and answer it; generous for a loaded machine
# `make lab` prints this URL; Jupyter moves to the next free port when the asked one was taken meanwhile
URL_PATTERN = re.compile(r"http://127\.0\.0\.1:(\d+)/lab/tree/lessons\?token=(\w+)")


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab: the URL `make lab` printed (token included), its parts, and its log file."""

    url: str
    port: int
    token: str
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(log: Path, chars: int = 3000) -> str:
    """The end of a server's or a run's log, for a failure's message."""
    return log.read_text(errors="replace")[-chars:]


def _wait_for_url(proc: subprocess.Popen, log: Path, deadline: float) -> re.Match:
    while time.monotonic() < deadline:
        match = URL_PATTERN.search(log.read_text(errors="replace"))
        if match:
            return match
        if proc.poll() is not None:
            raise AssertionError(f"`make lab` exited with status {proc.returncode} before printing its URL:\n{log_tail(log)}")
        time.sleep(0.5)
    raise AssertionError(f"`make lab` printed no URL within {START_TIMEOUT:.0f} s:\n{log_tail(log)}")


def _wait_until_served(url: str, proc: subprocess.Popen, log: Path, deadline: float) -> None:
    """Poll ``url`` until it answers 200; a refused or slow connection is retried until ``deadline``."""
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"JupyterLab exited with status {proc.returncode}:\n{log_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=max(1.0, min(30.0, deadline - time.monotonic()))) as response:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            last = repr(error)
        time.sleep(1.0)
    raise AssertionError(f"JupyterLab did not answer {url} within {START_TIMEOUT:.0f} s (last: {last}):\n{log_tail(log)}")


@contextlib.contextmanager
def running_lab(workdir: Path, root_dir: Path | None = None, timeout: float = START_TIMEOUT,
                settings: dict[str, dict] | None = None):
    """Run `make lab` (serving ``root_dir``, by default the repository) until the block ends; yield a :class:`Lab`.

    ``workdir`` (a test's temporary folder) receives the log, Jupyter's runtime files, workspaces and
    user settings; ``settings`` maps a JupyterLab plugin id (``"@jupyterlab/docmanager-extension:plugin"``)
    to the user settings it starts with. The server and everything it started (kernels included) are
    stopped afterwards.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    for plugin, values in (settings or {}).items():
        package, name = plugin.split(":")
        path = workdir / "user-settings" / package / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    log = workdir / "lab.log"
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(workdir / "workspaces"),
        "JUPYTERLAB_SETTINGS_DIR": str(workdir / "user-settings"),
    }
    command = ["make", "-s", "lab", f"LAB_PORT={free_port()}"]
    if root_dir is not None:
        command.append(f"LAB_DIR={root_dir}")
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        match = _wait_for_url(proc, log, deadline)
        _wait_until_served(match.group(0), proc, log, deadline)
        yield Lab(url=match.group(0), port=int(match.group(1)), token=match.group(2), log=log)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
