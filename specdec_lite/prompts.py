"""The study's prompt sets: 200 prompts, 50 in each of four domains (code, math, logic, chat), and a set of
input-grounded prompts beside them.

Three sets ship, one JSON record per line, ``{"id", "domain", "prompt"}`` plus an optional ``"source"`` (and
``"kind"``):

* ``"chat"`` (the default), ``specdec_lite/data/prompts_chat.jsonl``: user messages for an
  instruction-tuned target (the SmolLM2 pair, the paper's pair), which :meth:`Pair.encode
  <specdec_lite.pairs.Pair.encode>` wraps in the chat template. Code requests are a seeded sample of 50
  HumanEval problems; math, logic and chat are written by the course (``python -m
  training.prompts_chat`` in the course repository);
* ``"tiny"``, ``specdec_lite/data/prompts.jsonl``: text in the formats the toy pair was trained on
  (``python -m training.prompts_tiny``);
* ``"grounded"``, ``specdec_lite/data/prompts_grounded.jsonl``: 40 course-written requests whose answer
  copies much of the prompt's own text, 8 of each ``kind``: rewrite, fix, extract, edit-code and
  passage-qa (answer from a given passage). Their one domain is :data:`GROUNDED`, outside the study's four:
  it is where drafting by copying from the context (prompt lookup) should matter most.

A pair names its set in ``pair.prompt_set``.

Hook for a real benchmark: pass ``path=`` to :func:`load_prompts`, or set the environment variable
``SPECDEC_PROMPTS`` to a file of the same shape, and the study runs on those prompts instead.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DOMAINS = ("code", "math", "logic", "chat")
GROUNDED = "grounded"  # the domain of the input-grounded set, beside the study's four
PROMPT_SETS = {
    "chat": Path(__file__).parent / "data" / "prompts_chat.jsonl",
    "tiny": Path(__file__).parent / "data" / "prompts.jsonl",
    "grounded": Path(__file__).parent / "data" / "prompts_grounded.jsonl",
}
ENV_VAR = "SPECDEC_PROMPTS"
FIELDS = ("id", "domain", "prompt")


@dataclass(frozen=True)
class Prompt:
    """One prompt: a unique id, its domain, the text, where it comes from, and (grounded prompts) its kind of task."""

    id: str
    domain: str
    prompt: str
    source: str = ""
    kind: str = ""


def _check_domain(domain: str) -> None:
    if domain not in (*DOMAINS, GROUNDED):
        raise ValueError(f"unknown domain {domain!r}; valid domains are: {', '.join((*DOMAINS, GROUNDED))}")


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
    return Prompt(record["id"], record["domain"], record["prompt"], str(record.get("source", "")),
                  str(record.get("kind", "")))


def first_per_domain(prompts: list[Prompt], n: int) -> list[Prompt]:
    """The first ``n`` prompts of each domain, domains in the order they first appear."""
    return [p for domain in dict.fromkeys(p.domain for p in prompts) for p in [q for q in prompts if q.domain == domain][:n]]


def load_prompts(
    domain: str | None = None, path: str | os.PathLike | None = None, prompt_set: str = "chat"
) -> list[Prompt]:
    """The study's prompts, in file order; only those of ``domain`` if given.

    ``path`` (else the ``SPECDEC_PROMPTS`` environment variable, else the shipped set ``prompt_set``,
    ``"chat"``, ``"tiny"`` or ``"grounded"``) names a JSONL file with one ``{"id", "domain", "prompt"}`` record per
    line; blank lines are skipped. A malformed record raises ValueError naming its line and the
    missing field; ids must be unique.
    """
    if domain is not None:
        _check_domain(domain)
    if prompt_set not in PROMPT_SETS:
        raise ValueError(f"unknown prompt set {prompt_set!r}; the shipped sets are {', '.join(PROMPT_SETS)}.")
    source = Path(path or os.environ.get(ENV_VAR) or PROMPT_SETS[prompt_set])
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
