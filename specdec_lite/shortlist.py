"""A draft with a reduced vocabulary: it proposes only a shortlist of the target's most frequent tokens.

With a 49,152-token vocabulary, the output layer is most of a small draft's cost: a 256-wide draft
spends more time on ``hidden x vocab`` than on all its transformer layers. A shortlist draft keeps
only ``K`` tokens (the most frequent in the target's own text) plus one extra class, "other", that
stands for every token outside the shortlist:

* inputs: a token outside the shortlist is read as "other" (the draft sees it, but not which it is);
* outputs: the draft's logits cover the ``K + 1`` classes; speaking the target's vocabulary, it returns
  a full ``(…, V)`` logit tensor that is ``-inf`` outside the shortlist, so q(x) = 0 there.

Speculative decoding stays lossless: a draft may give any token probability zero. Such a token is
simply never proposed, and the residual ``norm(max(0, p - q))`` equals ``p`` on it, so the target
still produces it with its own probability. What it costs is acceptance: when the target's choice lies
outside the shortlist, the draft cannot match it. Training (forward KL over the ``K + 1`` classes, the
target's mass outside the shortlist lumped into "other") learns ``q`` on the shortlist.

It is a Hugging Face model of its own type (``specdec_shortlist_llama``), registered with the Auto
classes on import, so ``AutoModelForCausalLM.from_pretrained`` loads it like any other checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
from transformers import AutoConfig, AutoModelForCausalLM, GenerationMixin, LlamaConfig, LlamaForCausalLM, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutputWithPast

__all__ = ["ShortlistConfig", "ShortlistDraft", "full_vocabulary", "TargetHead"]


def full_vocabulary(logits: torch.Tensor, shortlist: torch.Tensor, vocab: int) -> torch.Tensor:
    """Logits over the shortlist (last axis ``K``) spread over the full ``vocab``: ``-inf``, so q = 0, elsewhere."""
    full = logits.new_full((*logits.shape[:-1], vocab), float("-inf"))
    full[..., shortlist] = logits
    return full


@dataclass(frozen=True)
class TargetHead:
    """The target's own output layer over a shortlist: how a feature drafter (Medusa, EAGLE) scores a feature.

    ``weight`` holds the rows of the target's output matrix for the token ids ``shortlist``, so ``f @ weight.T``
    are the target's logits of those tokens for a feature ``f``. The rows are a frozen copy, never trained;
    with the whole vocabulary as shortlist they are the target's output layer itself.
    """

    shortlist: torch.Tensor
    weight: torch.Tensor
    vocab_size: int

    @classmethod
    def of(cls, target: PreTrainedModel, shortlist: list[int] | None = None) -> TargetHead:
        """The rows of ``target``'s output layer for ``shortlist`` (None: the whole vocabulary)."""
        layer = target.get_output_embeddings()
        if getattr(layer, "bias", None) is not None:
            raise ValueError("the target's output layer has a bias; a feature drafter scores with bias-free rows only.")
        vocab = layer.weight.shape[0]
        ids = torch.arange(vocab) if not shortlist else torch.tensor(shortlist, dtype=torch.long)
        if ids.min() < 0 or ids.max() >= vocab:
            raise ValueError(f"the shortlist holds ids outside the target's vocabulary of {vocab} tokens.")
        ids = ids.to(layer.weight.device)
        return cls(ids, layer.weight.detach()[ids].clone(), vocab)

    @cached_property
    def rows(self) -> torch.Tensor:
        """``(V,)``: each token id's row in ``weight``, -1 for a token outside the shortlist (computed once)."""
        rows = torch.full((self.vocab_size,), -1, dtype=torch.long, device=self.shortlist.device)
        rows[self.shortlist] = torch.arange(len(self.shortlist), device=self.shortlist.device)
        return rows

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        """The ``(..., K)`` logits of the shortlist's tokens (what training scores)."""
        return features @ self.weight.T

    def full(self, features: torch.Tensor) -> torch.Tensor:
        """The ``(..., V)`` logits over the whole vocabulary, ``-inf`` outside the shortlist (what drafting hands on)."""
        return full_vocabulary(self(features), self.shortlist, self.vocab_size)


class ShortlistConfig(LlamaConfig):
    """A Llama configuration plus ``shortlist``, the target token ids the draft can propose.

    ``vocab_size`` stays the target's (the vocabulary the draft speaks); the network inside has
    ``len(shortlist) + 1`` classes.
    """

    model_type = "specdec_shortlist_llama"

    def __init__(self, shortlist: list[int] | None = None, **kwargs):
        self.shortlist = list(shortlist or [])
        super().__init__(**kwargs)

    def inner_config(self) -> LlamaConfig:
        """The configuration of the Llama network inside: the same shape over ``K + 1`` classes."""
        settings = self.to_dict()
        for key in ("shortlist", "model_type", "architectures", "auto_map", "transformers_version"):
            settings.pop(key, None)
        settings["vocab_size"] = len(self.shortlist) + 1
        return LlamaConfig(**settings)


class ShortlistDraft(PreTrainedModel, GenerationMixin):
    """A Llama network over the shortlist and "other", seen from outside as a model over the full vocabulary."""

    config_class = ShortlistConfig
    base_model_prefix = "inner"
    _supports_sdpa = True

    def __init__(self, config: ShortlistConfig):
        super().__init__(config)
        if not config.shortlist:
            raise ValueError("a ShortlistDraft needs a non-empty shortlist of token ids.")
        self.inner = LlamaForCausalLM(config.inner_config())
        shortlist = torch.tensor(config.shortlist, dtype=torch.long)
        other = len(config.shortlist)
        to_class = torch.full((config.vocab_size,), other, dtype=torch.long)
        to_class[shortlist] = torch.arange(other)
        self.register_buffer("shortlist_ids", shortlist, persistent=False)
        self.register_buffer("to_class", to_class, persistent=False)

    def get_input_embeddings(self):
        return self.inner.get_input_embeddings()

    def class_logits(self, input_ids: torch.Tensor, **kwargs) -> CausalLMOutputWithPast:
        """The inner network's output over the ``K + 1`` classes (what training uses)."""
        return self.inner(input_ids=self.to_class[input_ids], **kwargs)

    def forward(self, input_ids: torch.Tensor, **kwargs) -> CausalLMOutputWithPast:
        """Logits over the full vocabulary: the shortlist's own, ``-inf`` for every other token."""
        kwargs.pop("labels", None)
        out = self.class_logits(input_ids, **kwargs)
        logits = full_vocabulary(out.logits[..., :-1], self.shortlist_ids, self.config.vocab_size)
        return CausalLMOutputWithPast(logits=logits, past_key_values=out.past_key_values)


AutoConfig.register(ShortlistConfig.model_type, ShortlistConfig)
AutoModelForCausalLM.register(ShortlistConfig, ShortlistDraft)
