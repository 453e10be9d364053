"""`make lab`, the README's first command, starts JupyterLab headless and serves the lessons."""

from __future__ import annotations

import urllib.request

from lab_server import running_lab


def test_make_lab_serves_the_lessons(tmp_path):
    with running_lab(tmp_path) as lab:
        with urllib.request.urlopen(lab.url, timeout=60) as response:
            assert response.status == 200
        with urllib.request.urlopen(f"{lab.base}/api/contents/lessons?token={lab.token}", timeout=60) as response:
            assert b"02_draft_and_verify" in response.read()
