"""The study's prompt sets: 200 prompts, 50 in each of four domains (code, math, logic, chat).

The shipped file is ``specdec_lite/data/prompts.jsonl`` (written by ``python -m
specdec_lite.zoo.make_prompts``), one JSON record per line::

    {"id": "code-001", "domain": "code", "prompt": "def ...:\\n    \\"\\"\\"...\\"\\"\\"\\n"}

Hook for a real benchmark: pass ``path=`` to :func:`load_prompts`, or set the environment variable
``SPECDEC_PROMPTS`` to a file of the same shape, and the study runs on those prompts instead.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DOMAINS = ("code", "math", "logic", "chat")
DEFAULT_PATH = Path(__file__).parent / "data" / "prompts.jsonl"
ENV_VAR = "SPECDEC_PROMPTS"
FIELDS = ("id", "domain", "prompt")


@dataclass(frozen=True)
class Prompt:
    """One prompt of the study: a unique id, its domain and the text the model continues."""

    id: str
    domain: str
    prompt: str


def _check_domain(domain: str) -> None:
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; valid domains are: {', '.join(DOMAINS)}")


def _parse_line(line: str, number: int, path: Path) -> Prompt:
    """One JSONL line as a :class:`Prompt`, or a ValueError naming the file, line and problem."""
    where = f"{path}, line {number}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise ValueError(f"{where}: not valid JSON ({err.msg})") from err
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object with fields {', '.join(FIELDS)}")
    for field in FIELDS:
        if not isinstance(record.get(field), str) or not record[field]:
            raise ValueError(f"{where}: missing or empty field {field!r} (each record needs {', '.join(FIELDS)})")
    try:
        _check_domain(record["domain"])
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from err
    return Prompt(record["id"], record["domain"], record["prompt"])


def load_prompts(domain: str | None = None, path: str | os.PathLike | None = None) -> list[Prompt]:
    """The study's prompts, in file order; only those of ``domain`` if given.

    ``path`` (else the ``SPECDEC_PROMPTS`` environment variable, else the shipped file) names a JSONL
    file with one ``{"id", "domain", "prompt"}`` record per line; blank lines are skipped. A malformed
    record raises ValueError naming its line and the missing field; ids must be unique.
    """
    if domain is not None:
        _check_domain(domain)
    source = Path(path or os.environ.get(ENV_VAR) or DEFAULT_PATH)
    prompts: list[Prompt] = []
    seen: set[str] = set()
    for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        prompt = _parse_line(line, number, source)
        if prompt.id in seen:
            raise ValueError(f"{source}, line {number}: duplicate id {prompt.id!r}")
        seen.add(prompt.id)
        prompts.append(prompt)
    return [p for p in prompts if domain is None or p.domain == domain]
