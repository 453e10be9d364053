"""Drafting a token tree level by level: one draft call per level, over every node of the frontier.

The draft cache holds the prefix. The first call feeds the sequence tokens the draft has not seen
and gives ``q`` at the root; each later call feeds the frontier (the newest level) under the tree
mask, so every frontier node sees the prefix, its ancestors and itself, and gives ``q`` at each of
them. The fed nodes stay in the draft cache after the prefix; the decoder later keeps the accepted
ones (:func:`specdec_lite.calls.compact_cache`) and drops the rest. The growing itself (:func:`grow_tree`)
asks only for logits at the root and at each frontier, so the drafters that read the target's features
(:mod:`specdec_lite.medusa`, :mod:`specdec_lite.eagle`) grow their trees with it too.

How the ``branching`` children of a node are chosen (``children=``):

* ``"topk"`` (default): the ``b`` most likely tokens under ``q``, most likely first. The choice is
  deterministic, so for the acceptance rule each child's "draft distribution" is the point mass on
  it: child ``x`` is accepted with probability ``p(x)``; otherwise ``p(x)`` is zeroed and ``p``
  renormalised before the next sibling (EAGLE's rule). Lossless for any deterministic set of distinct
  children, which is why only this mode allows a ``budget``.
* ``"sample"``: ``b`` children drawn i.i.d. from ``q`` (duplicates possible). Multi-step speculative
  sampling (SpecInfer) then accepts ``x`` with probability ``min(1, p(x)/q(x))`` and after a rejection
  sets ``p := norm(max(0, p - q))``, which is lossless precisely because the siblings are independent
  draws from the same ``q``. Pruning sampled children by their own probabilities would break that
  independence, so this mode grows the full static tree. At temperature 0 ``q`` is a point mass and
  all ``b`` children are the draft's argmax.

With a ``budget`` the tree is grown best-first (EAGLE-2, Sequoia): a node's score is its cumulative
draft probability (the product of ``q`` along its path, plain softmax when greedy), and after each
level only the ``budget`` best nodes so far survive; only survivors are expanded.

With a ``stop`` rule (:mod:`specdec_lite.dynamic`) a node the draft was unsure of stays a leaf: its branch
grows no further. Whether a node is expanded depends only on draws already made, so the tree stays lossless.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers import DynamicCache, PreTrainedModel

from .calls import cache_length, forward, masked_forward, model_device
from .dynamic import StopRule, keep_drafting
from .sampling import distribution, point_mass, record_distribution, sample
from .tree import TokenTree, best_first

__all__ = ["CHILD_MODES", "DraftedTree", "draft_tree", "grow_tree", "frontier_visibility"]

CHILD_MODES = ("topk", "sample")


@dataclass(frozen=True)
class DraftedTree:
    """A drafted tree: its shape, each node's token and sibling rank, the draft logits at its parent.

    ``q_logits[i]`` are the draft's logits at node ``i``'s parent, i.e. what node ``i`` was chosen from.
    ``draft_slots[i]`` is where node ``i`` sits in the draft cache after the prefix, -1 if it was never fed.
    ``calls`` counts the draft forward passes spent (one per level grown).
    """

    tree: TokenTree
    tokens: list[int]
    ranks: list[int]
    q_logits: torch.Tensor
    draft_slots: list[int]
    calls: int
    children: str
    temperature: float

    def acceptance_q(self, node: int) -> torch.Tensor:
        """The draft distribution the acceptance rule uses for ``node``: ``q`` when sampled, a point mass when top-k."""
        if self.children == "sample":
            return distribution(self.q_logits[node], self.temperature)
        return point_mass(self.tokens[node], self.q_logits.shape[-1], device=self.q_logits.device)


def _pick_children(logits: torch.Tensor, branching: int, children: str, temperature: float,
                   generator: torch.Generator) -> list[int]:
    """The ``branching`` children of one node: top-k of ``q``, or i.i.d. draws from ``q``."""
    if children == "topk":
        return torch.topk(logits, min(branching, logits.shape[-1])).indices.tolist()
    q = distribution(logits, temperature)
    return [sample(q, generator) for _ in range(branching)]


def frontier_visibility(prefix: int, tree: TokenTree, frontier: list[int], fed: list[int]) -> torch.Tensor:
    """The bool mask of one frontier call: each frontier node sees the ``prefix``, its ancestors in ``fed``, and itself.

    The cache holds the ``prefix`` and then the nodes listed in ``fed``, so the mask is ``(len(frontier),
    prefix + len(fed) + len(frontier))``.
    """
    return torch.cat([torch.ones(len(frontier), prefix, dtype=torch.bool), tree.ancestors[frontier][:, fed + frontier]],
                     dim=1)


ScoreFrontier = Callable[[TokenTree, list[int], list[int], list[int]], torch.Tensor]


def draft_tree(
    draft: PreTrainedModel,
    cache: DynamicCache,
    sequence: list[int],
    depth: int,
    branching: int,
    *,
    budget: int | None,
    children: str,
    temperature: float,
    generator: torch.Generator,
    stop: StopRule | None = None,
) -> DraftedTree:
    """Grow a tree of up to ``depth`` levels after ``sequence``, one draft call per level (none if ``depth`` is 0)."""
    device, prefix = model_device(draft), len(sequence)

    def score_root() -> torch.Tensor:
        return forward(draft, torch.tensor(sequence[cache_length(cache):], device=device), cache)[-1]

    def score_frontier(grown: TokenTree, tokens: list[int], frontier: list[int], fed: list[int]) -> torch.Tensor:
        return masked_forward(draft, torch.tensor([tokens[i] for i in frontier]), grown.position_ids(prefix)[frontier],
                              frontier_visibility(prefix, grown, frontier, fed), cache)

    return grow_tree(score_root, score_frontier, depth, branching, budget=budget, children=children,
                     temperature=temperature, generator=generator, vocab=draft.config.vocab_size, device=device,
                     stop=stop)


def grow_tree(
    score_root: Callable[[], torch.Tensor],
    score_frontier: ScoreFrontier,
    depth: int,
    branching: int,
    *,
    budget: int | None,
    children: str,
    temperature: float,
    generator: torch.Generator,
    vocab: int,
    device: torch.device | str = "cpu",
    stop: StopRule | None = None,
) -> DraftedTree:
    """Grow a tree level by level from whatever scores it: any drafter's tree, a draft model's or a feature drafter's.

    ``score_root()`` gives the ``(V,)`` logits at the root (the level-1 call); ``score_frontier(tree, tokens,
    frontier, fed)`` the ``(len(frontier), V)`` logits at the ``frontier`` nodes of the tree grown so far,
    after the nodes ``fed`` to earlier calls (each level's frontier is fed once, in order: ``fed`` lists them).
    A node that fails the ``stop`` rule is not expanded.
    """
    parents: list[int] = []
    tokens: list[int] = []
    ranks: list[int] = []
    scores: list[float] = []
    rows: list[torch.Tensor] = []
    alive = torch.zeros(0, dtype=torch.long)
    fed: list[int] = []
    leaves: set[int] = set()  # nodes the stop rule keeps from growing
    calls = 0
    for level in range(1, depth + 1):
        if level == 1:
            frontier, logits = [-1], score_root()[None]
        else:
            grown = TokenTree(torch.tensor(parents))
            frontier = [i for i in alive.tolist() if int(grown.depths[i]) == level - 1 and i not in leaves]
            if not frontier:  # the budget is spent on shallower nodes
                break
            logits = score_frontier(grown, tokens, frontier, fed)
            fed += frontier
        first_new = len(parents)
        calls += 1
        for node, row in zip(frontier, logits):
            q_score = record_distribution(row, temperature)
            for rank, x in enumerate(_pick_children(row, branching, children, temperature, generator)):
                if not keep_drafting(stop, q_score, x):
                    leaves.add(len(parents))
                parents.append(node)
                tokens.append(x)
                ranks.append(rank)
                scores.append((scores[node] if node >= 0 else 1.0) * float(q_score[x]))
                rows.append(row)
        alive = torch.cat([alive, torch.arange(first_new, len(parents))])
        if budget is not None:
            alive = alive[best_first(torch.tensor(scores)[alive], budget)]
    return _keep(alive.tolist(), parents, tokens, ranks, rows, fed, calls, children, temperature, vocab, device)


def _keep(kept: list[int], parents: list[int], tokens: list[int], ranks: list[int], rows: list[torch.Tensor],
          fed: list[int], calls: int, children: str, temperature: float, vocab: int,
          device: torch.device | str) -> DraftedTree:
    """Renumber the surviving nodes ``kept`` (ascending, closed under ancestors) into a :class:`DraftedTree`."""
    new_index = {old: new for new, old in enumerate(kept)}
    slot = {node: s for s, node in enumerate(fed)}
    return DraftedTree(
        tree=TokenTree(torch.tensor([new_index[parents[i]] if parents[i] >= 0 else -1 for i in kept], dtype=torch.long)),
        tokens=[tokens[i] for i in kept],
        ranks=[ranks[i] for i in kept],
        q_logits=torch.stack([rows[i] for i in kept]) if kept else torch.empty(0, vocab, device=device),
        draft_slots=[slot.get(i, -1) for i in kept],
        calls=calls,
        children=children,
        temperature=temperature,
    )
