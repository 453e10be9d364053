"""Token trees for tree speculative decoding: structure, attention mask, positions, and drawings.

A tree of drafted tokens is described by one tensor of parent indices: node ``i``'s parent is
``parents[i]``, and ``-1`` marks a child of the root. The root is not a node: it is the last
accepted token, whose next-token distribution the root's children are drawn from. Parents always
come before their children, so a single pass in index order can derive everything else:

* ``depth[i] = depth[parents[i]] + 1``, with depth 1 for the root's children;
* the ancestor mask: row ``i`` is its parent's row plus ``i`` itself, so node ``i`` attends to
  exactly its ancestors and itself (and, in a forward pass, to the whole prefix before the tree);
* position ids: node ``i`` sits where it would sit in a plain sequence, ``prefix_length + depth[i] - 1``
  (the root's children right after a prefix of ``prefix_length`` tokens, the root included);
* the root-to-leaf paths, each a candidate continuation.

Two shapes: :func:`static_tree` (every node has ``branching`` children down to ``depth``) and the
budgeted, best-first tree of EAGLE-2 and Sequoia, whose shape depends on the draft's probabilities and
is chosen with :func:`best_first` while drafting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

__all__ = ["TokenTree", "static_tree", "drafted_nodes", "best_first", "tree_text", "plot_tree"]


@dataclass(frozen=True)
class TokenTree:
    """A tree of ``size`` nodes given by ``parents`` (a 1-D long tensor on the CPU, -1 for the root's children)."""

    parents: torch.Tensor

    def __post_init__(self) -> None:
        parents = torch.as_tensor(self.parents, dtype=torch.long).cpu()
        if parents.dim() != 1:
            raise ValueError(f"parents must be 1-D, got shape {tuple(parents.shape)}.")
        if torch.any(parents >= torch.arange(len(parents))) or torch.any(parents < -1):
            raise ValueError("every parent index must be -1 (the root) or the index of an earlier node.")
        object.__setattr__(self, "parents", parents)

    @property
    def size(self) -> int:
        """Number of nodes (the root excluded)."""
        return len(self.parents)

    @property
    def depths(self) -> torch.Tensor:
        """``(size,)`` depths; the root's children have depth 1."""
        depth = torch.zeros(self.size, dtype=torch.long)
        for i, parent in enumerate(self.parents.tolist()):
            depth[i] = 1 if parent < 0 else depth[parent] + 1
        return depth

    @property
    def ancestors(self) -> torch.Tensor:
        """``(size, size)`` bool: ``[i, j]`` is True when ``j`` is ``i`` or one of its ancestors."""
        mask = torch.eye(self.size, dtype=torch.bool)
        for i, parent in enumerate(self.parents.tolist()):
            if parent >= 0:
                mask[i] |= mask[parent]
        return mask

    def position_ids(self, prefix_length: int) -> torch.Tensor:
        """``(size,)`` positions ``prefix_length + depth - 1``: each node sits where it would in a plain sequence."""
        return prefix_length + self.depths - 1

    def attention_mask(self, prefix_length: int) -> torch.Tensor:
        """``(size, prefix_length + size)`` bool: what each node sees when the nodes follow the prefix in index order.

        True means "may attend": the whole prefix, then the node's ancestors and the node itself.
        """
        prefix = torch.ones(self.size, prefix_length, dtype=torch.bool)
        return torch.cat([prefix, self.ancestors], dim=1)

    def children(self, node: int) -> list[int]:
        """The children of ``node`` (``-1`` for the root) in index order, which is the order they are tried in."""
        return (self.parents == node).nonzero()[:, 0].tolist()

    def path(self, node: int) -> list[int]:
        """The nodes from depth 1 down to ``node``."""
        return self.ancestors[node].nonzero()[:, 0].tolist()

    def paths(self) -> list[list[int]]:
        """Every root-to-leaf path, leaves in index order."""
        has_child = torch.zeros(self.size, dtype=torch.bool)
        has_child[self.parents[self.parents >= 0]] = True
        return [self.path(leaf) for leaf in (~has_child).nonzero()[:, 0].tolist()]


def static_tree(depth: int, branching: int) -> TokenTree:
    """The full ``branching``-ary tree of the given ``depth``, level by level (``b + b^2 + ... + b^d`` nodes)."""
    parents: list[int] = []
    level = [-1]
    for _ in range(depth):
        start = len(parents)
        parents += [parent for parent in level for _ in range(branching)]
        level = list(range(start, len(parents)))
    return TokenTree(torch.tensor(parents, dtype=torch.long))


def drafted_nodes(depth: int, branching: int, budget: int | None = None) -> int:
    """How many nodes the draft creates in one step: ``b + b^2 + ... + b^d`` for the static tree.

    With a ``budget`` at most ``budget`` nodes survive, but each level still expands every surviving
    node of the level above into ``branching`` candidates, so the draft creates up to
    ``b + b min(budget, b) + ...`` nodes while the target scores at most ``budget`` of them.
    """
    total, level = 0, 1
    for _ in range(depth):
        level = (level if budget is None else min(level, budget)) * branching
        total += level
    return total


def best_first(scores: torch.Tensor, budget: int) -> torch.Tensor:
    """Indices (ascending) of the ``budget`` highest ``scores``, ties going to the lower index.

    With ``scores`` the cumulative draft probabilities (the product of q along each node's path) a
    child never outscores its parent, and a parent has the lower index, so the kept set always
    contains every kept node's ancestors: it is again a tree.
    """
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    return torch.tensor(sorted(order[:budget]), dtype=torch.long)


def tree_text(tree: TokenTree, labels: Sequence[str], path: Sequence[int] = ()) -> str:
    """Draw the tree as text, one node a line; nodes on the accepted ``path`` are marked with ``*``."""
    on_path = set(path)

    def lines(node: int, indent: str) -> list[str]:
        out = []
        kids = tree.children(node)
        for k, child in enumerate(kids):
            last = k == len(kids) - 1
            mark = " *" if child in on_path else ""
            out.append(f"{indent}{'└── ' if last else '├── '}{labels[child]}{mark}")
            out += lines(child, indent + ("    " if last else "│   "))
        return out

    return "\n".join(["(root)"] + lines(-1, ""))


def plot_tree(tree: TokenTree, labels: Sequence[str], path: Sequence[int] = (), ax=None):
    """Draw the tree with matplotlib, depth left to right, the accepted ``path`` highlighted; return the axes."""
    import matplotlib.pyplot as plt

    depths, on_path, leaves = tree.depths.tolist(), set(path), tree.paths()
    if ax is None:
        _, ax = plt.subplots(figsize=(2 + 1.6 * max(depths, default=0), 1 + 0.45 * max(len(leaves), 1)))
    y: dict[int, float] = {}
    for row, leaf_path in enumerate(leaves):
        y.setdefault(leaf_path[-1], -row)
    for node in reversed(range(tree.size)):  # a parent sits at the mean height of its children
        kids = tree.children(node)
        if kids:
            y[node] = sum(y[k] for k in kids) / len(kids)
    roots = tree.children(-1)
    y[-1] = sum(y[k] for k in roots) / len(roots) if roots else 0.0
    x = {-1: 0, **{i: d for i, d in enumerate(depths)}}
    for node, parent in enumerate(tree.parents.tolist()):
        highlight = node in on_path
        ax.plot([x[parent], x[node]], [y[parent], y[node]], color="tab:orange" if highlight else "0.7",
                lw=2.5 if highlight else 1, zorder=1)
    for node in [-1, *range(tree.size)]:
        highlight = node == -1 or node in on_path
        ax.text(x[node], y[node], "root" if node == -1 else labels[node], ha="center", va="center", zorder=2,
                bbox=dict(boxstyle="round", fc="moccasin" if highlight else "white", ec="tab:orange" if highlight else "0.5"))
    ax.set_xticks(range(max(depths, default=0) + 1))
    ax.set_xlabel("depth")
    ax.set_yticks([])
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    return ax
