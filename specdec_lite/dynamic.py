"""Dynamic speculation: draft while the draft is sure of itself, stop at the first token it is not sure of.

A fixed ``gamma`` drafts as many tokens after an easy token as after a hard one. The draft's own
distribution says which is which: a token it gave a high probability is one the target usually accepts
(the study's node records: acceptance climbs with ``q(x)``). A **stop rule** looks at each drafted token
``x_i`` and the distribution ``q_i`` it was drawn from, and says whether to draft ``x_{i+1}``:

* :class:`ConfidenceStop` - go on while ``q_i(x_i) >= threshold`` (Hugging Face's assisted generation does
  this with ``assistant_confidence_threshold``);
* :class:`EntropyStop` - go on while ``H(q_i) <= limit`` nats.

``q`` here is the distribution node records describe (:func:`~specdec_lite.sampling.record_distribution`:
the sampling one, the plain softmax when greedy), so a threshold fitted on records means the same when drafting.
The token that fails the rule is still proposed (it is drafted already, and the target may accept it);
only the draft calls after it are saved. A tree stops growing the branch below such a node.

**Why it stays lossless.** Whether ``x_{i+1}`` is drafted depends only on the draws ``x_1 .. x_i`` already
made, never on ``x_{i+1}`` itself or on the target, so the chain's length is a stopping time of the draft's
own draws. Each proposed ``x_i`` is still a fresh draw from ``q_i``, and the acceptance rule, which only
needs ``x_i ~ q_i``, is unchanged. (Dropping the unsure token instead would not be lossless: the tokens
proposed would no longer be distributed as ``q``.)

**Choosing the threshold** (:func:`fit_stop`). Replay chains drafted at a fixed ``max_gamma``: a rule cuts
a step's chain after ``k`` tokens, and since token ``x_i``'s acceptance does not depend on what was drafted
after it, that step would have emitted ``min(accepted, k) + 1`` tokens for ``k`` draft steps and one
verification of ``k + 1`` tokens. With ``c`` the price of a draft step and ``v(k)`` of that verification, in
target steps (:mod:`specdec_lite.theory`), the predicted speed-up over the target alone is

    S = sum_steps (min(a, k) + 1)  /  sum_steps (c_k + v(k)),

``c_k`` the price of a ``k``-token chain. The replay ignores that a shorter step starts the next one
elsewhere in the text, so the fitted rule is measured afterwards on prompts it was not fitted on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
import torch

from .sampling import entropy

__all__ = ["StopRule", "ConfidenceStop", "EntropyStop", "stop_rule", "check_stop", "keep_drafting", "chain_steps", "first_choice_chains", "replay", "fit_stop",
           "FittedStop", "DEFAULT_GAMMA", "committed_rule", "default_chain"]

DEFAULT_GAMMA = 4  # tokens a chain step drafts when no gamma is given and no fitted rule applies


class StopRule(Protocol):
    """Whether to draft one more token after ``x``, drawn from ``q`` (a 1-D distribution over the vocabulary)."""

    def keep_drafting(self, q: torch.Tensor, x: int) -> bool: ...


@dataclass(frozen=True)
class ConfidenceStop:
    """Go on while the token just drafted had ``q(x) >= threshold``."""

    threshold: float

    def __post_init__(self):
        if not 0.0 <= float(self.threshold) <= 1.0:
            raise ValueError(f"a confidence threshold is a probability in [0, 1], got {self.threshold!r}.")

    def keep_drafting(self, q: torch.Tensor, x: int) -> bool:
        return float(q[x]) >= self.threshold

    def __str__(self) -> str:
        return f"stop after q(x) < {self.threshold:.3g}"


@dataclass(frozen=True)
class EntropyStop:
    """Go on while the distribution the token was drawn from had entropy ``H(q) <= limit`` (nats)."""

    limit: float

    def __post_init__(self):
        if not float(self.limit) >= 0.0:
            raise ValueError(f"an entropy limit is a number of nats >= 0, got {self.limit!r}.")

    def keep_drafting(self, q: torch.Tensor, x: int) -> bool:
        return float(entropy(q)) <= self.limit

    def __str__(self) -> str:
        return f"stop after H(q) > {self.limit:.3g} nats"


def stop_rule(rule: str, level: float) -> StopRule:
    """The rule a fit names: ``"confidence"`` (a threshold on q(x)) or ``"entropy"`` (a limit on H(q), nats)."""
    if rule not in ("confidence", "entropy"):
        raise ValueError(f"unknown stop rule {rule!r}: use 'confidence' or 'entropy'.")
    return ConfidenceStop(level) if rule == "confidence" else EntropyStop(level)


def check_stop(stop) -> StopRule | None:
    """``stop`` itself when it is a rule (or None), else a TypeError that says what a stop rule is."""
    if stop is None or callable(getattr(stop, "keep_drafting", None)):
        return stop
    hint = (f" (for a confidence threshold of {stop!r}, pass ConfidenceStop({stop!r}))"
            if isinstance(stop, (int, float)) else "")
    raise TypeError(f"stop must be a stop rule with a keep_drafting(q, x) method, such as "
                    f"specdec_lite.dynamic.ConfidenceStop or EntropyStop, or None; got {type(stop).__name__}{hint}.")


def keep_drafting(stop: StopRule | None, q: torch.Tensor, x: int) -> bool:
    """The decoders' question: no rule always drafts on (up to ``gamma``), a rule decides from ``q`` and ``x``."""
    return stop is None or stop.keep_drafting(q, x)


def committed_rule(pair_name: str, drafter: str = "draft") -> tuple[StopRule, int] | None:
    """The stop rule and ``max_gamma`` fitted for ``drafter`` on pair ``pair_name`` and measured on held-out prompts
    (``results/dynamic/<pair_name>.json``, from ``tools/compare_dynamic.py``), or ``None`` where the course's
    committed results hold no such fit."""
    import json

    from .course.committed import course_dir

    try:
        path = course_dir() / "results" / "dynamic" / f"{pair_name}.json"
    except FileNotFoundError:  # no clone of the course to read committed results from
        return None
    if not path.is_file():
        return None
    fitted = json.loads(path.read_text())["fit"]["rules"].get(drafter)
    return None if fitted is None else (stop_rule(fitted["rule"], fitted["level"]), int(fitted["max_gamma"]))


def default_chain(draft, target) -> tuple[int, StopRule | None]:
    """``(gamma, stop)`` for a chain decoder called without ``gamma``: for one of the course's pairs, its draft
    model before its own target (:func:`~specdec_lite.pairs.shipped_pair_name`), the committed fitted rule
    (:func:`committed_rule`; the smol pair's measured faster than fixed gamma 4 in every domain); for any other
    drafter or pair, or with no committed fit, ``DEFAULT_GAMMA`` tokens a step and no rule."""
    from transformers import PreTrainedModel

    from .pairs import shipped_pair_name

    name = shipped_pair_name(draft, target) if isinstance(draft, PreTrainedModel) else None
    fitted = committed_rule(name) if name else None
    return (DEFAULT_GAMMA, None) if fitted is None else (fitted[1], fitted[0])


def chain_steps(nodes: pd.DataFrame) -> pd.DataFrame:
    """One row per chain step of node records: its drafted tokens' ``q_prob`` and ``q_entropy`` in order, and
    ``accepted`` (how many were). ``nodes`` are chain records (:meth:`GenerationResult.nodes_frame`), with a
    ``prompt`` (or a study's ``prompt_id``) column when they come from several generations."""
    keys = [c for c in ("prompt_id", "prompt", "step") if c in nodes.columns]
    ordered = nodes.sort_values([*keys, "depth"])
    grouped = ordered.groupby(keys, sort=False)
    return pd.DataFrame({"q_prob": grouped["q_prob"].agg(list), "q_entropy": grouped["q_entropy"].agg(list),
                         "accepted": grouped["accepted"].sum().astype(int)}).reset_index()


def first_choice_chains(nodes: pd.DataFrame) -> pd.DataFrame:
    """The chain inside each step of greedy top-k tree records: the draft's first choice at every depth, under
    the first choice above it. That is the chain a draft model drafts greedily, so a study's trees can be replayed
    as chains (:func:`chain_steps`) as deep as the trees went. A first choice is accepted only if its parent was."""
    keys = [c for c in ("prompt_id", "prompt", "step") if c in nodes.columns]
    if "node" not in nodes.columns:  # a generation's records: a node's index within its step is its order there
        nodes = nodes.assign(node=nodes.groupby(keys).cumcount())
    first = nodes[nodes["rank"] == 0]
    level = first[first["depth"] == 1]
    kept = [level]
    for depth in range(2, int(nodes["depth"].max()) + 1):
        below = first[first["depth"] == depth]
        level = below.merge(level[[*keys, "node"]].rename(columns={"node": "parent"}), on=[*keys, "parent"])
        kept.append(level)
    return pd.concat(kept, ignore_index=True)


def _cut(values: list[float], rule: str, level: float, max_gamma: int) -> int:
    """How many of a chain's tokens a rule would have drafted: up to and including the first that fails it."""
    for i, value in enumerate(values[:max_gamma]):
        if (value < level) if rule == "confidence" else (value > level):
            return i + 1
    return min(len(values), max_gamma)


def replay(steps: pd.DataFrame, rule: str, level: float, max_gamma: int, chain_cost: dict[int, float],
           verify: dict[int, float]) -> dict:
    """The predicted speed-up of a rule (``"confidence"`` threshold or ``"entropy"`` limit at ``level``) on
    recorded chain ``steps`` (:func:`chain_steps`), drafting at most ``max_gamma`` a step.

    ``chain_cost[k]`` is a ``k``-token chain's drafting time and ``verify[k]`` the ``k + 1``-token
    verification, both in target steps. Returns the speed-up, tokens per target call and mean chain length.
    """
    column = "q_prob" if rule == "confidence" else "q_entropy"
    cuts = np.array([_cut(v, rule, level, max_gamma) for v in steps[column]])
    tokens = np.minimum(steps["accepted"].to_numpy(), cuts) + 1
    cost = np.array([chain_cost.get(k, 0.0) + (verify[k] if k else 1.0) for k in cuts])
    return {"speedup": float(tokens.sum() / cost.sum()), "tokens_per_call": float(tokens.mean()),
            "mean_drafted": float(cuts.mean())}


@dataclass(frozen=True)
class FittedStop:
    """The rule that replays fastest, what it predicts, and the fixed-gamma chain's prediction on the same steps."""

    rule: str
    level: float
    max_gamma: int
    predicted: dict
    fixed: dict


def fit_stop(steps: pd.DataFrame, chain_cost: dict[int, float], verify: dict[int, float], *,
             fixed_gamma: int = 4, levels: int = 20) -> FittedStop:
    """Search the rule, its level and ``max_gamma`` that :func:`replay` predicts fastest on ``steps``.

    Levels are the ``levels`` quantiles of the recorded values (so the grid adapts to the pair); ``max_gamma``
    ranges over the chain lengths priced in both ``chain_cost`` and ``verify`` and recorded in ``steps``.
    """
    longest = int(steps["q_prob"].map(len).max())
    gammas = [g for g in sorted(verify) if g in chain_cost and g <= longest]
    if not gammas:
        raise ValueError("fit_stop needs recorded chains and chain lengths priced in both chain_cost and verify.")
    best = None
    for rule, column in (("confidence", "q_prob"), ("entropy", "q_entropy")):
        values = np.concatenate([np.asarray(v, dtype=float) for v in steps[column]])
        grid = np.unique(np.quantile(values, np.linspace(0, 1, levels + 1)))
        for level in grid:
            for g in gammas:
                predicted = replay(steps, rule, float(level), g, chain_cost, verify)
                if best is None or predicted["speedup"] > best[3]["speedup"]:
                    best = (rule, float(level), g, predicted)
    fixed = replay(steps, "confidence", 0.0, min(fixed_gamma, longest), chain_cost, verify)  # q(x) < 0 never holds
    return FittedStop(*best, fixed=fixed)
