"""Scoring a whole token tree in one forward pass.

The target sees ``prefix + all tree nodes`` in one call. A 4-D attention mask of shape
``(1, 1, n_new, cache_length + n_new)`` tells each new token what it may attend to: a plain token
the usual causal past, a tree node the prefix, its ancestors and itself. Position ids put each node
where it would sit in a plain sequence. Node ``i``'s logits are then exactly the logits the target
gives at the end of the sequence ``prefix + path(i)``, so one call yields ``p`` at every node
(:func:`specdec_lite.calls.masked_forward` runs it, and says which attention implementations take the mask).
"""

from __future__ import annotations

import torch
from transformers import DynamicCache, PreTrainedModel

from .calls import Scores, cache_length, masked_score
from .tree import TokenTree

__all__ = ["score_tree", "verify_tree"]


def score_tree(
    target: PreTrainedModel, cache: DynamicCache, unseen: list[int], tree: TokenTree, tokens: list[int], *,
    features: bool = False,
) -> Scores:
    """Score the ``unseen`` sequence tokens and every tree node in one target call, one row per token fed.

    Row ``j`` is the target after unseen token ``j``, row ``len(unseen) + i`` after node ``i``; with
    ``features`` the rows carry the last layer's hidden states too. The cache grows by ``len(unseen) + size``.
    """
    past, u = cache_length(cache), len(unseen)
    prefix_length = past + u
    causal = torch.ones(u, prefix_length, dtype=torch.bool).tril(past)
    plain_rows = torch.cat([causal, torch.zeros(u, tree.size, dtype=torch.bool)], dim=1)
    visible = torch.cat([plain_rows, tree.attention_mask(prefix_length)], dim=0)
    positions = torch.cat([torch.arange(past, prefix_length), tree.position_ids(prefix_length)])
    return masked_score(target, torch.tensor(unseen + tokens), positions, visible, cache, features=features)


def verify_tree(
    target: PreTrainedModel, cache: DynamicCache, unseen: list[int], tree: TokenTree, tokens: list[int]
) -> torch.Tensor:
    """Score the ``unseen`` sequence tokens and every tree node in one target call; return ``(1 + size, V)`` logits.

    Row 0 is the target's logits after the last sequence token (the root), row ``1 + i`` those after
    node ``i``: ``p`` at the root and at every node (:func:`score_tree`'s rows from ``len(unseen) - 1`` on).
    """
    return score_tree(target, cache, unseen, tree, tokens).logits[len(unseen) - 1:]
