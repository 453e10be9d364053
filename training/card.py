"""What both pairs' model cards share: markdown tables.

Each card (:mod:`training.card_tiny`, :mod:`training.card_smol`) reads every figure from the files its
training and evaluation runs write; the prose around the figures is the pair's own.
"""

from __future__ import annotations


def table(rows: list[list], header: list[str] | None = None) -> str:
    """A markdown table of ``rows``, under ``header`` and its rule when given."""
    lines = [] if header is None else ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
