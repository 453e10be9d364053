"""Made-up inputs with known answers, for demonstrations, self-checks and hidden tests: random trees and a
simulated study with known acceptance rates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

__all__ = ["random_parents", "simulated_study"]


def random_parents(n: int, generator: torch.Generator) -> list[int]:
    """The parent indices of a random tree of ``n`` nodes: node ``i``'s parent is uniform over -1 (the root) .. i - 1."""
    return [int(torch.randint(-1, i, (), generator=generator)) if i > 0 else -1 for i in range(n)]


def simulated_study(rates: dict, *, prompts: int = 4, steps: int = 25, depth: int = 3, branching: int = 2,
                    short_steps: float = 0.1, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Node and step tables of a made-up greedy tree study whose acceptance per level is known in advance.

    ``rates[domain]`` is the probability that a level is accepted given that the path reached it: one number
    (the same rate at every depth) or one number per depth. Each of ``prompts`` prompts per domain runs
    ``steps`` steps; a step drafts the full ``branching``-ary tree of ``depth`` levels (a fraction
    ``short_steps`` of the steps drafts fewer levels, as real steps near the token limit do). Walking down from
    the root, each reached level is accepted with its rate, through one child (the draft's first choice three
    times in four); below a rejected node nothing is tested. A node's entropies (``q_entropy``, ``p_entropy``,
    nats, shared by siblings since they come from the parent's distribution, as in real records) are drawn
    from exponential laws with a lower mean where one of the siblings was accepted, so entropy and acceptance
    are negatively correlated. The columns are those of :func:`specdec_lite.study.run_study`'s tables, so
    every function of the study accepts them; probabilities and tokens are random filler.
    """
    from ..prompts import DOMAINS
    from ..tree import static_tree

    unknown = sorted(set(rates) - set(DOMAINS))
    if unknown or not rates:
        raise ValueError(f"rates needs one entry per domain, with domains from {list(DOMAINS)}; got {sorted(rates)}.")
    if depth < 1 or branching < 1 or prompts < 1 or steps < 1:
        raise ValueError("depth, branching, prompts and steps must all be at least 1.")
    per_depth = {}
    for domain, rate in rates.items():
        values = [float(rate)] * depth if np.ndim(rate) == 0 else [float(r) for r in rate]
        if len(values) != depth or not all(0.0 <= r <= 1.0 for r in values):
            raise ValueError(f"rates[{domain!r}] must be one probability or {depth} probabilities (one per depth) "
                             f"in [0, 1]; got {rate!r}.")
        per_depth[domain] = values
    rng = np.random.default_rng(seed)
    trees = {}
    for d in range(1, depth + 1):
        tree = static_tree(d, branching)
        parents = tree.parents.tolist()
        ranks = [sum(parents[j] == parents[k] for j in range(k)) for k in range(len(parents))]
        trees[d] = (parents, tree.depths.tolist(), ranks)
    node_rows, step_rows = [], []
    for domain in [d for d in DOMAINS if d in per_depth]:
        for i in range(prompts):
            prompt_id, cache = f"{domain}-{i + 1:03d}", 100
            for step in range(steps):
                drafted = depth if rng.random() >= short_steps else int(rng.integers(1, depth + 1))
                parents, node_depth, rank = trees[drafted]
                accepted, node = [False] * len(parents), -1
                for level in range(1, drafted + 1):
                    if rng.random() >= per_depth[domain][level - 1]:
                        break
                    children = [k for k, p in enumerate(parents) if p == node]
                    node = children[0] if rng.random() < 0.75 else children[int(rng.integers(len(children)))]
                    accepted[node] = True
                kept = sum(accepted)
                scale = {p: 0.6 if any(accepted[k] for k, q in enumerate(parents) if q == p) else 1.4
                         for p in set(parents)}
                q_entropy = {p: rng.exponential(scale[p]) for p in scale}
                p_entropy = {p: rng.exponential(scale[p]) for p in scale}
                for k, p in enumerate(parents):
                    node_rows.append({
                        "prompt_id": prompt_id, "domain": domain, "step": step, "node": k, "depth": node_depth[k],
                        "token": int(rng.integers(1000)), "q_prob": float(rng.random()), "q_entropy": q_entropy[p],
                        "p_prob": float(rng.random()), "p_entropy": p_entropy[p], "accepted": accepted[k],
                        "parent": p, "rank": rank[k], "on_path": accepted[k], "tested": p < 0 or accepted[p],
                    })
                cache += kept + 1
                step_rows.append({"prompt_id": prompt_id, "domain": domain, "step": step, "drafted": len(parents),
                                  "accepted": kept, "emitted": kept + 1, "seconds": 0.0, "target_cache": cache,
                                  "draft_cache": cache})
    return pd.DataFrame(node_rows), pd.DataFrame(step_rows)
