"""The drafter: what a decoder asks of whatever proposes the tokens the target then checks.

A drafter proposes tokens after a sequence together with the draft logits they were chosen from (the
rows the acceptance test turns into ``q_i = distribution(logits_i, T)``), owns whatever cache it keeps,
and after verification rolls that cache back to the accepted sequence. The decoders
(:func:`~specdec_lite.speculative_generate`, :func:`~specdec_lite.tree_speculative_generate`) talk to a
drafter only through :class:`Drafter` (chains) and :class:`TreeDrafter` (trees, too) and never ask what
it is. Here are

* :class:`ModelDrafter`: a draft model sharing the target's vocabulary, with its own KV cache; a plain
  ``PreTrainedModel`` (the shortlist draft of :mod:`specdec_lite.shortlist` included) becomes one at the
  decoder's entry (:func:`as_drafter`);
* :class:`~specdec_lite.lookup.PromptLookup`: model-free and cache-free, chains only.

A drafter that reads the target (Medusa's heads, EAGLE) sets ``wants_features``. The decoder then runs
its verification pass with ``output_hidden_states=True`` (the same single target call) and, when the
drafter rolls back, hands it the target's last-layer hidden states of the tokens that entered the
target's cache this step. Over a generation of ``n`` tokens so far these are ``h_0 .. h_{n-2}``, each
once and in order, where ``h_t`` is what the target's logits for token ``t + 1`` were computed from:
the newest token has not been through the target yet.

A drafter that can draft only so many tokens a step (Medusa: one per head) says so in ``max_draft``; the
decoders simply get fewer, and the policy search (:mod:`specdec_lite.policy`) prices no longer chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import torch
from transformers import DynamicCache, PreTrainedModel

from . import tree_draft
from .calls import cache_length, compact_cache, crop_cache, new_cache
from .draft import draft_chain
from .dynamic import StopRule
from .tree_draft import DraftedTree

__all__ = ["Drafter", "TreeDrafter", "ModelDrafter", "as_drafter"]


class Drafter(Protocol):
    """What :func:`~specdec_lite.speculative_generate` needs: chains of draft tokens with their logits.

    ``vocab_size`` is the vocabulary it speaks (the target's); ``models`` the Hugging Face models it runs,
    which the decoder checks like the target (vocabulary, context, device) and runs in eval mode (none
    for a model-free drafter); ``wants_features`` asks for the target's hidden states at each rollback.
    """

    wants_features: bool

    @property
    def vocab_size(self) -> int: ...

    @property
    def models(self) -> tuple[PreTrainedModel, ...]: ...

    def start(self, *, tree: bool) -> None:
        """Begin a generation (of trees when ``tree``) with an empty cache; a TypeError if it cannot draft those."""

    def draft(self, sequence: list[int], k: int, temperature: float, generator: torch.Generator,
              stop: StopRule | None = None) -> tuple[list[int], torch.Tensor]:
        """Up to ``k`` tokens after ``sequence`` and the ``(len, V)`` draft logits each was chosen from.

        With a ``stop`` rule (:mod:`specdec_lite.dynamic`), none after the first token the rule is unsure of.
        """

    def rollback(self, length: int, features: torch.Tensor | None) -> None:
        """After verification: keep the first ``length`` tokens of the sequence in the cache.

        ``features`` (None unless ``wants_features``): one row per token that entered the target's cache
        this step, positions ``length - len(features)`` to ``length - 1``.
        """

    def cache_length(self) -> int:
        """How many tokens its cache holds (0 for a drafter without one)."""


class TreeDrafter(Drafter, Protocol):
    """What :func:`~specdec_lite.tree_speculative_generate` needs too: a drafted tree, and its accepted path kept."""

    def draft_tree(self, sequence: list[int], depth: int, branching: int, *, budget: int | None, children: str,
                   temperature: float, generator: torch.Generator, stop: StopRule | None = None) -> DraftedTree:
        """A tree of up to ``depth`` levels after ``sequence`` (see :func:`~specdec_lite.tree_draft.draft_tree`);
        a ``stop`` rule ends each branch at its first unsure node."""

    def keep_path(self, drafted: DraftedTree, prefix: int, path: list[int]) -> None:
        """Keep the cache entries of the accepted ``path`` right after the ``prefix`` and drop the other nodes'."""


@dataclass
class ModelDrafter:
    """A draft model as a :class:`TreeDrafter`: one cached forward pass per chain token or tree level."""

    model: PreTrainedModel
    cache: DynamicCache = field(default_factory=new_cache)
    wants_features: ClassVar[bool] = False

    @property
    def vocab_size(self) -> int:
        return self.model.config.vocab_size

    @property
    def models(self) -> tuple[PreTrainedModel, ...]:
        return (self.model,)

    def start(self, *, tree: bool) -> None:
        self.cache = new_cache()

    def draft(self, sequence: list[int], k: int, temperature: float, generator: torch.Generator,
              stop: StopRule | None = None) -> tuple[list[int], torch.Tensor]:
        return draft_chain(self.model, self.cache, sequence, k, temperature, generator, stop)

    def draft_tree(self, sequence: list[int], depth: int, branching: int, *, budget: int | None, children: str,
                   temperature: float, generator: torch.Generator, stop: StopRule | None = None) -> DraftedTree:
        return tree_draft.draft_tree(self.model, self.cache, sequence, depth, branching, budget=budget,
                                     children=children, temperature=temperature, generator=generator, stop=stop)

    def keep_path(self, drafted: DraftedTree, prefix: int, path: list[int]) -> None:
        slots = [drafted.draft_slots[i] for i in path]
        compact_cache(self.cache, prefix, [prefix + slot for slot in slots if slot >= 0])

    def rollback(self, length: int, features: torch.Tensor | None) -> None:
        crop_cache(self.cache, length)

    def cache_length(self) -> int:
        return cache_length(self.cache)


def as_drafter(draft: Drafter | PreTrainedModel) -> Drafter:
    """``draft`` itself, or a draft model wrapped in a :class:`ModelDrafter`: the one place a model is told apart.

    Anything else that lacks the :class:`Drafter` methods is refused with a TypeError that says what a draft can be.
    """
    if isinstance(draft, PreTrainedModel):
        return ModelDrafter(draft)
    missing = [name for name in ("start", "draft", "rollback", "cache_length", "vocab_size", "models")
               if not hasattr(draft, name)]
    if missing:
        raise TypeError(
            f"the draft must be a Hugging Face causal LM sharing the target's vocabulary, or a drafter "
            f"(specdec_lite.Drafter, e.g. specdec_lite.lookup.PromptLookup); got {type(draft).__name__}, which has no "
            f"{', '.join(missing)}."
        )
    return draft
