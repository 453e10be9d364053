"""When generation stops: the token budget and the end-of-sequence token."""

from __future__ import annotations

__all__ = ["clip_new_tokens"]


def clip_new_tokens(new: list[int], remaining: int, eos_token_id: int | None) -> tuple[list[int], bool]:
    """Keep at most ``remaining`` of the ``new`` tokens, ending after the first EOS.

    Returns the kept tokens and whether generation is over (budget spent or EOS emitted).
    """
    kept = new[:remaining]
    if eos_token_id is not None and eos_token_id in kept:
        kept = kept[: kept.index(eos_token_id) + 1]
        return kept, True
    return kept, len(kept) == remaining
