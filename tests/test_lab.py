"""`make lab`, the README's first command, starts JupyterLab headless and serves the lessons."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_lab_serves_the_lessons(tmp_path):
    port = _free_port()
    log = tmp_path / "lab.log"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    with open(log, "w") as out:
        proc = subprocess.Popen(
            ["make", "-s", "lab", f"LAB_PORT={port}"], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            env=env, start_new_session=True,
        )
    try:
        url = None
        for _ in range(120):
            match = re.search(rf"http://127\.0\.0\.1:{port}/lab/tree/lessons\?token=\w+", log.read_text())
            if match:
                url = match.group(0)
                break
            assert proc.poll() is None, log.read_text()[-2000:]
            time.sleep(0.5)
        assert url, "JupyterLab printed no URL within 60 s:\n" + log.read_text()[-2000:]
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
