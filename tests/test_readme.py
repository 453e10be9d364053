"""The README's quick start runs as written, on the course's own pair."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _quick_start_code() -> str:
    text = README.read_text()
    start = text.index("```python", text.index("## Quick start")) + len("```python")
    return text[start : text.index("```", start)]


def test_quick_start_runs_and_reports_acceptance():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_quick_start_code(), "README quick start", "exec"), {})
    printed = out.getvalue()
    assert "step   0: accepted" in printed
    assert "tokens per target call, acceptance" in printed
