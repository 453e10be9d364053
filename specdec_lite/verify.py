"""Scoring a whole token tree in one forward pass, and moving the accepted path's cache into place.

The target sees ``prefix + all tree nodes`` in one call. A 4-D attention mask of shape
``(1, 1, n_new, cache_length + n_new)`` tells each new token what it may attend to: a plain token
the usual causal past, a tree node the prefix, its ancestors and itself. Position ids put each node
where it would sit in a plain sequence. Node ``i``'s logits are then exactly the logits the target
gives at the end of the sequence ``prefix + path(i)``, so one call yields ``p`` at every node.

The mask is additive (0 where allowed, the dtype's most negative number elsewhere). transformers
4.57 hands a 4-D mask to the attention function unchanged; "eager" adds it to the scores and "sdpa"
passes it to ``torch.nn.functional.scaled_dot_product_attention``, on the CPU and on CUDA alike.
"flash_attention_2" takes no custom mask at all (only padding), and "flex_attention", which would add
the mask to the scores, crashed the process on the CPU with torch 2.13 and is untested on CUDA here,
so only "eager" and "sdpa" are accepted.
"""

from __future__ import annotations

import torch
from transformers import DynamicCache, PreTrainedModel

from .models import cache_length, model_device
from .tree import TokenTree

__all__ = ["SUPPORTED_ATTENTION", "attention_implementation", "check_attention", "masked_forward", "verify_tree",
           "compact_cache"]

SUPPORTED_ATTENTION = ("eager", "sdpa")


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


@torch.inference_mode()
def masked_forward(
    model: PreTrainedModel,
    tokens: torch.Tensor,
    position_ids: torch.Tensor,
    visible: torch.Tensor,
    cache: DynamicCache,
) -> torch.Tensor:
    """Run ``tokens`` (1-D, ``m`` long) after ``cache`` with an explicit mask; return ``(m, V)`` float logits.

    ``visible`` is a bool ``(m, cache_length + m)`` matrix, True where a token may attend. The cache
    grows by ``m`` entries, in the order of ``tokens``.
    """
    check_attention(model)
    device = model_device(model)
    dtype = model.get_input_embeddings().weight.dtype
    bias = torch.zeros(visible.shape, dtype=dtype, device=device)
    bias.masked_fill_(~visible.to(device), torch.finfo(dtype).min)
    out = model(
        input_ids=tokens[None].to(device),
        position_ids=position_ids[None].to(device),
        attention_mask=bias[None, None],
        past_key_values=cache,
        use_cache=True,
    )
    return out.logits[0].float()


def verify_tree(
    target: PreTrainedModel, cache: DynamicCache, unseen: list[int], tree: TokenTree, tokens: list[int]
) -> torch.Tensor:
    """Score the ``unseen`` sequence tokens and every tree node in one target call; return ``(1 + size, V)`` logits.

    Row 0 is the target's logits after the last sequence token (the root), row ``1 + i`` those after
    node ``i``: ``p`` at the root and at every node. The cache grows by ``len(unseen) + size``.
    """
    past, u = cache_length(cache), len(unseen)
    prefix_length = past + u
    causal = torch.ones(u, prefix_length, dtype=torch.bool).tril(past)
    plain_rows = torch.cat([causal, torch.zeros(u, tree.size, dtype=torch.bool)], dim=1)
    visible = torch.cat([plain_rows, tree.attention_mask(prefix_length)], dim=0)
    positions = torch.cat([torch.arange(past, prefix_length), tree.position_ids(prefix_length)])
    logits = masked_forward(target, torch.tensor(unseen + tokens), positions, visible, cache)
    return logits[u - 1:]


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
