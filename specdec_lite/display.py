"""Showing a generation step by step: which tokens the draft got right and which the target supplied."""

from __future__ import annotations

from .results import GenerationResult

__all__ = ["describe_steps"]


def describe_steps(result: GenerationResult, tokenizer, *, max_steps: int | None = None) -> str:
    """One line per step: the drafted tokens the target accepted, in ``[brackets]``, then its own token.

    For the autoregressive baseline every token is the target's own. Works for chains and trees
    (the accepted tokens of a tree step are those on its accepted path).
    """
    lines, position = [], 0
    for step in result.steps[:max_steps]:
        emitted = result.tokens[position : position + step.emitted].tolist()
        position += step.emitted
        n_drafted_kept = min(step.accepted, len(emitted))
        drafted_text = tokenizer.decode(emitted[:n_drafted_kept])
        own_text = tokenizer.decode(emitted[n_drafted_kept:])
        lines.append(
            f"step {step.step:3d}: accepted {step.accepted}/{step.drafted}  "
            f"[{drafted_text}]{own_text}".replace("\n", "\\n")
        )
    return "\n".join(lines)
