"""Prompt lookup: a model-free draft that proposes what followed the latest earlier match of the last n tokens.

Much of what a model writes repeats its context: code that reuses names, answers that quote the
question, lists that repeat a pattern. Prompt lookup exploits that with no draft model at all: it
takes the last ``n`` tokens of the sequence (``n`` from ``max_ngram`` down to ``min_ngram``), finds
their latest earlier occurrence, and proposes the ``k`` tokens that followed it. If nothing matches it
proposes nothing, and the step is an ordinary target step.

Its q is a point mass on the proposed token, so the acceptance rule stays lossless at any temperature:
``x`` is accepted with probability ``min(1, p(x) / 1) = p(x)``, and after a rejection the replacement
comes from ``norm(max(0, p - q))``, which is p with ``x`` removed and renormalised. At temperature 0
it is accepted exactly when it is the target's argmax. A drafting step costs a list search instead of
a forward pass, so ``c`` is about 0: even a low acceptance pays.

It is a :class:`~specdec_lite.drafters.Drafter` with no model and no cache, and it drafts chains only.
:class:`LookupOr` combines it with a model drafter: it copies where the context has a match and drafts
with the model elsewhere. Which of the two proposes is decided from the sequence alone, before any draw,
and each proposal comes with the very q it was drawn from, so the combination is as lossless as each part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from transformers import PreTrainedModel

from .checks import check_int
from .drafters import Drafter, as_drafter
from .dynamic import StopRule

__all__ = ["PromptLookup", "LookupOr"]


@dataclass(frozen=True)
class PromptLookup:
    """A drafter for :func:`~specdec_lite.speculative_generate` over a vocabulary of ``vocab_size`` tokens."""

    vocab_size: int
    max_ngram: int = 3
    min_ngram: int = 1
    models: ClassVar[tuple[PreTrainedModel, ...]] = ()  # nothing to check or put in eval mode
    wants_features: ClassVar[bool] = False

    def __post_init__(self):
        for name in ("vocab_size", "max_ngram", "min_ngram"):  # plain ints, numpy ones accepted (frozen: set directly)
            object.__setattr__(self, name, check_int(name, getattr(self, name)))
        if not self.min_ngram <= self.max_ngram:
            raise ValueError(f"need 1 <= min_ngram <= max_ngram, got min_ngram={self.min_ngram}, "
                             f"max_ngram={self.max_ngram}.")

    def propose(self, sequence: list[int], k: int) -> list[int]:
        """Up to ``k`` tokens that followed the latest earlier occurrence of the longest matching suffix."""
        for n in range(self.max_ngram, self.min_ngram - 1, -1):
            if len(sequence) <= n:
                continue
            tail = sequence[-n:]
            for start in range(len(sequence) - n - 1, -1, -1):
                if sequence[start : start + n] == tail:
                    return sequence[start + n : start + n + k]
        return []

    def start(self, *, tree: bool) -> None:
        """Nothing to reset (the proposal is read off the sequence each time); a tree is refused."""
        if tree:
            raise TypeError("a PromptLookup drafter proposes one chain, not a tree; use speculative_generate with it.")

    def draft(self, sequence: list[int], k: int, temperature: float = 0.0, generator: torch.Generator | None = None,
              stop: StopRule | None = None) -> tuple[list[int], torch.Tensor]:
        """The proposal and its ``(len, V)`` logits: 0 on each proposed token, ``-inf`` elsewhere (a point mass).

        ``temperature``, ``generator`` and ``stop`` go unused: the proposal is deterministic, and a point mass at any
        temperature, so a stop rule is always sure of it (``q(x) = 1``, ``H(q) = 0``).
        """
        tokens = self.propose(sequence, k)
        logits = torch.full((len(tokens), self.vocab_size), float("-inf"))
        logits[torch.arange(len(tokens)), torch.tensor(tokens, dtype=torch.long)] = 0.0
        return tokens, logits

    def rollback(self, length: int, features: torch.Tensor | None) -> None:
        """Nothing to roll back: there is no cache."""

    def cache_length(self) -> int:
        return 0


@dataclass
class LookupOr:
    """Prompt lookup when the sequence has a match, ``other`` (any chain drafter, or a draft model) when it has none."""

    lookup: PromptLookup
    other: Drafter | PreTrainedModel

    def __post_init__(self):
        self.other = as_drafter(self.other)

    @property
    def wants_features(self) -> bool:
        return self.other.wants_features

    @property
    def vocab_size(self) -> int:
        return self.other.vocab_size

    @property
    def models(self) -> tuple[PreTrainedModel, ...]:
        return self.other.models

    def start(self, *, tree: bool) -> None:
        self.lookup.start(tree=tree)
        self.other.start(tree=tree)

    def draft(self, sequence: list[int], k: int, temperature: float, generator: torch.Generator,
              stop: StopRule | None = None) -> tuple[list[int], torch.Tensor]:
        """The lookup's proposal if it has one, else the other drafter's (which a ``stop`` rule may cut short)."""
        if self.lookup.propose(sequence, k):
            return self.lookup.draft(sequence, k)
        return self.other.draft(sequence, k, temperature, generator, stop)

    def rollback(self, length: int, features: torch.Tensor | None) -> None:
        """The other drafter keeps its cache (and the target's features) up to date either way."""
        self.other.rollback(length, features)

    def cache_length(self) -> int:
        return self.other.cache_length()
