"""Draft proposal as a chain: the draft model guesses the next ``k`` tokens, one cached call each.

:func:`grow_chain` is the loop itself, for any drafter that can give the logits after the tokens drafted so far.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from transformers import DynamicCache, PreTrainedModel

from .calls import cache_length, forward, model_device
from .dynamic import StopRule, keep_drafting
from .sampling import distribution, record_distribution, sample

__all__ = ["draft_chain", "next_draft_logits", "grow_chain"]


def draft_chain(
    draft: PreTrainedModel,
    cache: DynamicCache,
    sequence: list[int],
    k: int,
    temperature: float,
    generator: torch.Generator,
    stop: StopRule | None = None,
) -> tuple[list[int], torch.Tensor]:
    """Propose ``k`` tokens after ``sequence``; return them and the ``(k, V)`` draft logits they were sampled from.

    The first call feeds every token of ``sequence`` the draft cache has not seen yet (the whole
    prompt at the first step); each later call feeds the token just drafted.
    (:class:`~specdec_lite.drafters.ModelDrafter` drafts with it, keeping ``cache`` for the whole generation.)
    """
    return grow_chain(lambda drafted: next_draft_logits(draft, cache, sequence, drafted), k, temperature, generator,
                      vocab=draft.config.vocab_size, device=model_device(draft), stop=stop)


def next_draft_logits(draft: PreTrainedModel, cache: DynamicCache, sequence: list[int],
                      drafted: list[int]) -> torch.Tensor:
    """One cached draft call: the ``(V,)`` logits after ``sequence`` and the tokens ``drafted`` so far this step.

    The first call of a step feeds every token of ``sequence`` the cache has not seen; each later one feeds the
    newest drafted token.
    """
    pending = [int(t) for t in drafted[-1:]] if drafted else sequence[cache_length(cache):]
    return forward(draft, torch.tensor(pending, device=model_device(draft)), cache)[-1]


def grow_chain(next_logits: Callable[[list[int]], torch.Tensor], k: int, temperature: float,
               generator: torch.Generator, *, vocab: int, device: torch.device | str = "cpu",
               stop: StopRule | None = None) -> tuple[list[int], torch.Tensor]:
    """Any drafter's chain: ``x_i ~ q_i = distribution(next_logits([x_1 .. x_{i-1}]), T)`` for i = 1 .. k.

    ``next_logits`` gives the ``(V,)`` draft logits after the tokens drafted so far; token ``x_i`` is drawn
    from the very distribution the acceptance test later uses. Returns the tokens and their ``(k, V)`` logits.
    With a ``stop`` rule (:mod:`specdec_lite.dynamic`) the chain ends early, after the first token the rule
    is unsure of: no draft call is spent past it.
    """
    tokens: list[int] = []
    rows: list[torch.Tensor] = []
    for _ in range(k):
        logits = next_logits(tokens)
        tokens.append(sample(distribution(logits, temperature), generator))
        rows.append(logits)
        if stop is not None and not keep_drafting(stop, record_distribution(logits, temperature), tokens[-1]):
            break
    return tokens, torch.stack(rows) if rows else torch.empty(0, vocab, device=device)
