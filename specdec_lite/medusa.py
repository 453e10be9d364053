"""Medusa: heads on the target's last hidden state draft several tokens at once, with no draft model.

The target's output layer turns its last hidden state ``h_t`` into the distribution of the next token,
``x_{t+1}``. Medusa trains ``k`` more heads on the same ``h_t``: head ``i`` (``i = 1 .. k``) guesses the
token ``i + 1`` places ahead, ``x_{t+1+i}``. Each head is one residual block scored by the target's own
output layer ``W`` restricted to a shortlist ``S`` of the vocabulary (:class:`~specdec_lite.shortlist.TargetHead`)::

    q_i = softmax( W_S (h_t + SiLU(A_i h_t + b_i)) / T )   on S, and 0 outside it.

With ``A_i = 0`` a head starts as the target's own next-token guess; training (``training/train_features.py``,
cross-entropy against the target's greedy choice ``i + 1`` places ahead) moves it.

Drafting. After each verification the decoder hands the drafter the features of the tokens that entered
the target's cache. The newest, ``h_{n-2}``, is that of the token before the newest one: the target's own
guess from it *is* the newest token ``x_{n-1}``, so head ``i`` proposes ``x_{n-1+i}``, for ``i = 1 .. k``.

* A chain draws ``d_i ~ q_i`` (the argmax at ``T = 0``). No head sees another's token, so ``q_i`` is the
  same whatever ``d_1 .. d_{i-1}`` were, and the acceptance test ``min(1, p_i(d_i) / q_i(d_i))`` stays exact.
* A tree takes the root's children from head 1 and a depth-``l`` node's children from head ``l + 1``
  (:func:`~specdec_lite.tree_draft.grow_tree`), the product of the heads' top choices, pruned best-first
  with a budget.

Both come from one evaluation of the heads: ``c`` is the price of ``k`` small matrix products. There is no
cache to keep or roll back. The first step of a generation has no features yet and drafts nothing: it is
an ordinary target step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel

from .draft import grow_chain
from .dynamic import StopRule
from .shortlist import TargetHead
from .tree_draft import DraftedTree, grow_tree

__all__ = ["MedusaConfig", "MedusaHeads", "MedusaDrafter"]


class MedusaConfig(PretrainedConfig):
    """``heads`` residual blocks of width ``hidden_size``; ``shortlist`` the token ids they score (empty: all)."""

    model_type = "specdec_medusa"

    def __init__(self, hidden_size: int = 576, heads: int = 4, vocab_size: int = 49152,
                 shortlist: list[int] | None = None, **kwargs):
        self.hidden_size, self.heads, self.vocab_size = hidden_size, heads, vocab_size
        self.shortlist = list(shortlist or [])
        super().__init__(**kwargs)


class MedusaHeads(PreTrainedModel):
    """The blocks ``h -> h + SiLU(A_i h + b_i)``; the target's output layer scores what they give."""

    config_class = MedusaConfig

    def __init__(self, config: MedusaConfig):
        super().__init__(config)
        self.blocks = nn.ModuleList(nn.Linear(config.hidden_size, config.hidden_size) for _ in range(config.heads))
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):  # A_i = 0, b_i = 0: each head starts as the target's own guess
            nn.init.zeros_(module.weight)
            nn.init.zeros_(module.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(..., H)`` features -> ``(..., k, H)``: what each head hands the output layer."""
        return torch.stack([features + F.silu(block(features)) for block in self.blocks], dim=-2)


@dataclass
class MedusaDrafter:
    """Medusa's heads on a target, as a :class:`~specdec_lite.drafters.TreeDrafter`.

    ``MedusaDrafter.of(heads, target)`` takes the output rows from the target. ``feature`` is the newest
    feature handed over (None before the first verification).
    """

    heads: MedusaHeads
    output: TargetHead
    feature: torch.Tensor | None = None
    wants_features: ClassVar[bool] = True

    @classmethod
    def of(cls, heads: MedusaHeads, target: PreTrainedModel) -> MedusaDrafter:
        return cls(heads, TargetHead.of(target, heads.config.shortlist))

    @property
    def vocab_size(self) -> int:
        return self.output.vocab_size

    @property
    def models(self) -> tuple[PreTrainedModel, ...]:
        return (self.heads,)

    @property
    def max_draft(self) -> int:
        """The most tokens a chain can draft: one per head."""
        return self.heads.config.heads

    def start(self, *, tree: bool) -> None:
        self.feature = None

    @torch.inference_mode()
    def head_logits(self) -> torch.Tensor:
        """``(k, V)``: row ``i - 1`` holds head ``i``'s logits at the newest feature."""
        return self.output.full(self.heads(self.feature))

    def draft(self, sequence: list[int], k: int, temperature: float, generator: torch.Generator,
              stop: StopRule | None = None) -> tuple[list[int], torch.Tensor]:
        """``d_i ~ q_i`` from head ``i``, for up to ``min(k, heads)`` tokens (none before the first features)."""
        k = 0 if self.feature is None else min(k, self.max_draft)
        logits = self.head_logits() if k else None
        return grow_chain(lambda drafted: logits[len(drafted)], k, temperature, generator, vocab=self.vocab_size,
                          device=self.output.weight.device, stop=stop)

    def draft_tree(self, sequence: list[int], depth: int, branching: int, *, budget: int | None, children: str,
                   temperature: float, generator: torch.Generator, stop: StopRule | None = None) -> DraftedTree:
        """A tree of up to ``min(depth, heads)`` levels; a depth-``l`` node's children come from head ``l + 1``."""
        depth = 0 if self.feature is None else min(depth, self.max_draft)
        logits = self.head_logits() if depth else None
        return grow_tree(lambda: logits[0], lambda tree, tokens, frontier, fed: logits[tree.depths[frontier]],
                         depth, branching, budget=budget, children=children, temperature=temperature,
                         generator=generator, vocab=self.vocab_size, device=self.output.weight.device, stop=stop)

    def keep_path(self, drafted: DraftedTree, prefix: int, path: list[int]) -> None:
        """Nothing to keep: the heads have no cache."""

    def rollback(self, length: int, features: torch.Tensor | None) -> None:
        """Keep the newest feature, ``h_{length - 1}``, for the next draft."""
        if features is not None and len(features):
            self.feature = features[-1]

    def cache_length(self) -> int:
        return 0
