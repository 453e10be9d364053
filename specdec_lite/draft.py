"""Draft proposal as a chain: the draft model guesses the next ``k`` tokens, one cached call each."""

from __future__ import annotations

import torch
from transformers import DynamicCache, PreTrainedModel

from .calls import cache_length, forward, model_device
from .sampling import distribution, sample

__all__ = ["draft_chain"]


def draft_chain(
    draft: PreTrainedModel,
    cache: DynamicCache,
    sequence: list[int],
    k: int,
    temperature: float,
    generator: torch.Generator,
) -> tuple[list[int], torch.Tensor]:
    """Propose ``k`` tokens after ``sequence``; return them and the ``(k, V)`` draft logits they were sampled from.

    The first call feeds every token of ``sequence`` the draft cache has not seen yet (the whole
    prompt at the first step); each later call feeds the token just drafted. Token ``x_i`` is drawn
    from ``q_i = distribution(logits_i, temperature)``, the very distribution the acceptance test uses.
    (:class:`~specdec_lite.drafters.ModelDrafter` drafts with it, keeping ``cache`` for the whole generation.)
    """
    device = model_device(draft)
    pending = sequence[cache_length(cache):]
    tokens: list[int] = []
    all_logits: list[torch.Tensor] = []
    for _ in range(k):
        logits = forward(draft, torch.tensor(pending, device=device), cache)[-1]
        x = sample(distribution(logits, temperature), generator)
        tokens.append(x)
        all_logits.append(logits)
        pending = [x]
    if not all_logits:
        return tokens, torch.empty(0, draft.config.vocab_size, device=device)
    return tokens, torch.stack(all_logits)
