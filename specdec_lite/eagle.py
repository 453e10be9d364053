"""An EAGLE-style draft: one decoder layer that runs on the target's own features instead of on tokens.

The target's last hidden state ``h_t`` already holds what its output layer needs to predict ``x_{t+1}``.
EAGLE drafts by predicting the *next feature*: one small decoder layer reads, at each position ``t``, the
pair ``(h_t, e(x_{t+1}))`` (the feature and the embedding of the token that followed, from the target's
own embedding table) and outputs ``f_{t+1}``, its guess at ``h_{t+1}``. The target's output layer,
restricted to a shortlist ``S`` (:class:`~specdec_lite.shortlist.TargetHead`: the 49,152-row head is 21% of
SmolLM2), turns that guess into ``q``::

    f_{t+1} = Layer( Fuse[h_t ; e(x_{t+1})] | the pairs before t ),      q = softmax( W_S f_{t+1} / T ) on S.

Feeding the token ``x_{t+1}`` resolves what the feature alone cannot: which token the target actually
sampled. Training (``training/train_features.py``) regresses ``f_{t+1}`` onto ``h_{t+1}`` (smooth L1) and adds
the cross-entropy of ``q`` against the target's greedy choice.

Drafting, with ``n`` tokens in the sequence and the target's features ``h_0 .. h_{n-2}`` handed over by
the decoders after each verification (no extra target call):

1. the layer's cache holds the pairs of the target's own features; the pairs not yet fed,
   ``(h_t, x_{t+1})`` up to ``t = n - 2``, go through in one call, giving ``f_{n-1}`` and ``q`` at the root;
2. a chain draws ``d_1 ~ q``, feeds ``(f_{n-1}, d_1)`` and so on: the layer runs on its *own* predicted
   features, one call per token, exactly as a draft model runs on its own tokens;
   a tree feeds each level's frontier under the tree mask, each node paired with its parent's predicted
   feature (:func:`~specdec_lite.tree_draft.grow_tree`);
3. after verification every drafted entry leaves the cache: the accepted tokens come back with the
   target's true features, which replace the guesses at the next step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn
from transformers import DynamicCache, LlamaConfig, LlamaModel, PretrainedConfig, PreTrainedModel

from .calls import additive_mask, cache_length, crop_cache, model_device, new_cache
from .draft import grow_chain
from .dynamic import StopRule
from .shortlist import TargetHead
from .tree import TokenTree
from .tree_draft import DraftedTree, frontier_visibility, grow_tree

__all__ = ["EagleConfig", "EagleLayer", "EagleDrafter"]


class EagleConfig(PretrainedConfig):
    """One Llama decoder layer of the target's width; ``shortlist`` the token ids its features are scored on."""

    model_type = "specdec_eagle"

    def __init__(self, hidden_size: int = 576, intermediate_size: int = 1536, num_attention_heads: int = 9,
                 num_key_value_heads: int = 3, rms_norm_eps: float = 1e-5, rope_theta: float = 100000.0,
                 max_position_embeddings: int = 8192, vocab_size: int = 49152, shortlist: list[int] | None = None,
                 **kwargs):
        self.hidden_size, self.intermediate_size = hidden_size, intermediate_size
        self.num_attention_heads, self.num_key_value_heads = num_attention_heads, num_key_value_heads
        self.rms_norm_eps, self.rope_theta = rms_norm_eps, rope_theta
        self.max_position_embeddings, self.vocab_size = max_position_embeddings, vocab_size
        self.shortlist = list(shortlist or [])
        super().__init__(**kwargs)

    def layer_config(self) -> LlamaConfig:
        """The Llama stack inside: one layer, no token embedding of its own (it is fed the fused pairs)."""
        return LlamaConfig(hidden_size=self.hidden_size, intermediate_size=self.intermediate_size, num_hidden_layers=1,
                           num_attention_heads=self.num_attention_heads, num_key_value_heads=self.num_key_value_heads,
                           rms_norm_eps=self.rms_norm_eps, rope_theta=self.rope_theta, vocab_size=1,
                           max_position_embeddings=self.max_position_embeddings, bos_token_id=None, eos_token_id=None,
                           pad_token_id=None)

    @classmethod
    def like(cls, target: PreTrainedModel, shortlist: list[int] | None = None, **kwargs) -> EagleConfig:
        """A layer shaped like one of ``target``'s (width, heads, positions, RoPE), scoring ``shortlist``."""
        t = target.config
        return cls(hidden_size=t.hidden_size, intermediate_size=kwargs.pop("intermediate_size", t.intermediate_size),
                   num_attention_heads=t.num_attention_heads, num_key_value_heads=t.num_key_value_heads,
                   rms_norm_eps=t.rms_norm_eps, rope_theta=getattr(t, "rope_theta", 10000.0),
                   max_position_embeddings=t.max_position_embeddings, vocab_size=t.vocab_size, shortlist=shortlist,
                   **kwargs)


class EagleLayer(PreTrainedModel):
    """``Fuse`` (a ``2H -> H`` linear map of the pair) and one Llama decoder layer with its final norm."""

    config_class = EagleConfig
    _supports_sdpa = True

    def __init__(self, config: EagleConfig):
        super().__init__(config)
        self.fuse = nn.Linear(2 * config.hidden_size, config.hidden_size)
        self.layer = LlamaModel(config.layer_config())
        self.post_init()

    def forward(self, features: torch.Tensor, embeddings: torch.Tensor, **kwargs) -> torch.Tensor:
        """``(B, m, H)`` features and next-token embeddings -> ``(B, m, H)`` predicted next features.

        ``kwargs`` go to the Llama layer (``attention_mask``, ``position_ids``, ``past_key_values``).
        """
        fused = self.fuse(torch.cat([features, embeddings], dim=-1))
        return self.layer(inputs_embeds=fused, **kwargs).last_hidden_state


@dataclass
class EagleDrafter:
    """An :class:`EagleLayer` on a target, as a :class:`~specdec_lite.drafters.TreeDrafter`.

    ``EagleDrafter.of(layer, target)`` takes the target's embedding table and output rows. ``fed`` counts the
    cache entries built on the target's own features; ``pending`` holds the features not fed yet.
    """

    layer: EagleLayer
    output: TargetHead
    embedding: nn.Module
    cache: DynamicCache = field(default_factory=new_cache)
    pending: torch.Tensor | None = None
    fed: int = 0
    wants_features: ClassVar[bool] = True

    @classmethod
    def of(cls, layer: EagleLayer, target: PreTrainedModel) -> EagleDrafter:
        return cls(layer, TargetHead.of(target, layer.config.shortlist), target.get_input_embeddings())

    @property
    def vocab_size(self) -> int:
        return self.output.vocab_size

    @property
    def models(self) -> tuple[PreTrainedModel, ...]:
        return (self.layer,)

    def start(self, *, tree: bool) -> None:
        self.cache, self.pending, self.fed = new_cache(), None, 0

    @torch.inference_mode()
    def _run(self, features: torch.Tensor, tokens: list[int], **kwargs) -> torch.Tensor:
        """Feed the pairs ``(features[j], e(tokens[j]))`` after the cache; return their ``(m, H)`` predicted features."""
        ids = torch.tensor(tokens, device=model_device(self.layer))
        return self.layer(features[None], self.embedding(ids)[None], past_key_values=self.cache, use_cache=True,
                          **kwargs)[0]

    def _root(self, sequence: list[int]) -> torch.Tensor:
        """Step 1: feed the pending pairs ``(h_t, x_{t+1})``; return ``f_{n-1}``, the feature the draft starts from."""
        m = len(self.pending)
        assert self.fed + m == len(sequence) - 1, "the features handed over must cover the sequence but its newest token"
        predicted = self._run(self.pending, sequence[self.fed + 1 : self.fed + 1 + m])
        self.fed, self.pending = self.fed + m, self.pending[:0]
        return predicted[-1]

    def draft(self, sequence: list[int], k: int, temperature: float, generator: torch.Generator,
              stop: StopRule | None = None) -> tuple[list[int], torch.Tensor]:
        """Step 2 as a chain: ``d_i ~ q(f)``, then ``f <- Layer(f, d_i)`` (none before the first features)."""
        k = 0 if self.pending is None else k
        current: list[torch.Tensor] = []

        def next_logits(drafted: list[int]) -> torch.Tensor:
            f = self._root(sequence) if not drafted else self._run(current[-1][None], drafted[-1:])[0]
            current.append(f)
            return self.output.full(f)

        return grow_chain(next_logits, k, temperature, generator, vocab=self.vocab_size,
                          device=self.output.weight.device, stop=stop)

    def draft_tree(self, sequence: list[int], depth: int, branching: int, *, budget: int | None, children: str,
                   temperature: float, generator: torch.Generator, stop: StopRule | None = None) -> DraftedTree:
        """Step 2 as a tree: each level's frontier in one call, each node paired with its parent's predicted feature."""
        depth = 0 if self.pending is None else depth
        predicted: dict[int, torch.Tensor] = {}  # node -> the feature the layer predicted there (-1: the root)

        def score_root() -> torch.Tensor:
            predicted[-1] = self._root(sequence)
            return self.output.full(predicted[-1])

        def score_frontier(tree: TokenTree, tokens: list[int], frontier: list[int], fed: list[int]) -> torch.Tensor:
            parents = tree.parents[frontier].tolist()
            visible = frontier_visibility(self.fed, tree, frontier, fed)
            device = model_device(self.layer)
            out = self._run(torch.stack([predicted[p] for p in parents]), [tokens[i] for i in frontier],
                            position_ids=tree.position_ids(self.fed)[frontier][None].to(device),
                            attention_mask=additive_mask(visible, self.layer.fuse.weight.dtype, device))
            predicted.update(zip(frontier, out))
            return self.output.full(out)

        return grow_tree(score_root, score_frontier, depth, branching, budget=budget, children=children,
                         temperature=temperature, generator=generator, vocab=self.vocab_size,
                         device=self.output.weight.device, stop=stop)

    def keep_path(self, drafted: DraftedTree, prefix: int, path: list[int]) -> None:
        """Step 3: drop every drafted node; the accepted ones return with the target's own features."""
        crop_cache(self.cache, self.fed)

    def rollback(self, length: int, features: torch.Tensor | None) -> None:
        """Step 3: drop the drafted entries and queue the target's features of the tokens it kept."""
        crop_cache(self.cache, self.fed)
        self.pending = features if self.pending is None else torch.cat([self.pending, features])
        assert self.fed + len(self.pending) == length, "a drafter must be handed every kept token's feature once"

    def cache_length(self) -> int:
        return cache_length(self.cache)
