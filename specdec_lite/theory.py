"""What speculative decoding should gain, in theory (Leviathan et al. 2023, section 3).

Notation: ``alpha`` is the probability that the target accepts one drafted token, ``gamma`` the
number of tokens drafted per step, and ``c = T(draft step) / T(target step)`` the cost coefficient,
the time of one cached draft forward pass over that of one target forward pass.

If every drafted token is accepted independently with probability ``alpha``, the number of tokens a
step emits (accepted drafts plus the target's own token) is a capped geometric variable with mean

    E[tokens per target call] = (1 - alpha^(gamma + 1)) / (1 - alpha)          (-> gamma + 1 as alpha -> 1)

A step costs ``gamma`` draft calls and one target call, ``(gamma c + 1)`` target-call units, whereas the
target alone pays one unit per token. The expected wall-time improvement is therefore

    speed-up(alpha, gamma, c) = (1 - alpha^(gamma + 1)) / ((1 - alpha) (gamma c + 1))

Some ``gamma`` gives a speed-up above 1 exactly when ``alpha > c``; the best ``gamma`` has no closed
form and is found here by evaluating the formula over a range of integers.

The formula prices the verification pass, which scores ``gamma + 1`` tokens in one target call, like
a one-token step. Where that is not so (on a CPU, scoring 5 tokens costs well over one step), write
``v = T_target(gamma + 1) / T_target(1)`` for the measured price of verification in target-step units;
a step then costs ``gamma c + v`` units and

    speed-up(alpha, gamma, c, v) = (1 - alpha^(gamma + 1)) / ((1 - alpha) (gamma c + v))

(``expected_speedup(..., verify=v)``; ``v = 1`` is Leviathan et al.'s case).

Pricing a drafter that was never timed on a machine (:class:`CallCost`). Where a forward pass is bound by
launching kernels (a GPU at batch size 1, in eager mode), a call of ``L`` layers costs about

    T(L) = a + b L         (a: fixed per call - embedding, output layer, Python; b: per layer)

Two models of the same family timed on the machine give two points of that line, so ``a`` and ``b``. A
drafter's step is then priced by its layers; dividing a whole call's time by its layers alone (``a = 0``)
would spread the fixed part over the layers and price a one-layer drafter far too low.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

__all__ = [
    "CallCost",
    "expected_tokens_per_call",
    "expected_speedup",
    "best_gamma",
    "speedup_possible",
    "nodes_tested",
    "alpha_from_nodes",
]


@dataclass(frozen=True)
class CallCost:
    """``T(L) = per_call + per_layer L`` seconds for a forward pass of ``L`` layers (see the module's text)."""

    per_call: float
    per_layer: float

    @classmethod
    def fit(cls, seconds_a: float, layers_a: int, seconds_b: float, layers_b: int) -> "CallCost":
        """The line through two timed calls, ``(layers_a, seconds_a)`` and ``(layers_b, seconds_b)``."""
        if layers_a == layers_b:
            raise ValueError("two calls with the same number of layers cannot separate the fixed and per-layer cost.")
        per_layer = (seconds_b - seconds_a) / (layers_b - layers_a)
        return cls(seconds_a - per_layer * layers_a, per_layer)

    def seconds(self, layers: float) -> float:
        """The price of one call of ``layers`` layers (a fraction counts a small module as part of a layer)."""
        return self.per_call + self.per_layer * layers


def expected_tokens_per_call(alpha: float, gamma: int) -> float:
    """``(1 - alpha^(gamma+1)) / (1 - alpha)``: mean tokens emitted per target call; ``gamma + 1`` at ``alpha = 1``."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha is a probability and must lie in [0, 1], got {alpha}.")
    if gamma < 0:
        raise ValueError(f"gamma must be >= 0, got {gamma}.")
    if alpha == 1.0:
        return float(gamma + 1)
    return float((1.0 - alpha ** (gamma + 1)) / (1.0 - alpha))


def expected_speedup(alpha: float, gamma: int, c: float, verify: float = 1.0) -> float:
    """``(1 - alpha^(gamma+1)) / ((1 - alpha)(gamma c + verify))``: expected wall-time gain over the target alone.

    ``verify`` is the time of the verification pass (``gamma + 1`` tokens in one target call) over that
    of a one-token target step; the default 1 is Leviathan et al.'s formula.
    """
    if c < 0:
        raise ValueError(f"the cost coefficient c must be >= 0, got {c}.")
    if verify <= 0:
        raise ValueError(f"verify, the cost of the verification pass in target steps, must be > 0, got {verify}.")
    return expected_tokens_per_call(alpha, gamma) / (gamma * c + verify)


def best_gamma(alpha: float, c: float, max_gamma: int = 32) -> tuple[int, float]:
    """The ``gamma`` in ``1 .. max_gamma`` with the highest expected speed-up, and that speed-up.

    Ties go to the smaller ``gamma`` (it wastes fewer draft calls). At ``alpha = 1`` and ``c = 0`` the
    speed-up grows without bound, so the answer is ``max_gamma``.
    """
    gammas = np.arange(1, max_gamma + 1)
    gains = np.array([expected_speedup(alpha, int(g), c) for g in gammas])
    best = int(np.argmax(gains))
    return int(gammas[best]), float(gains[best])


def speedup_possible(alpha: float, c: float) -> bool:
    """Leviathan et al.'s criterion: some ``gamma`` beats the target alone iff ``alpha > c``."""
    return alpha > c


def _as_frame(nodes) -> pd.DataFrame:
    if isinstance(nodes, pd.DataFrame):
        return nodes
    return pd.DataFrame([asdict(n) for n in nodes])


def nodes_tested(nodes, group: tuple[str, ...] = ("step",)) -> pd.Series:
    """Which nodes the target actually tested: a node is tested if it hangs off the root or its parent was accepted.

    ``nodes`` is a node frame (or a list of :class:`~specdec_lite.results.NodeRecord`) in record order;
    ``parent`` indexes the nodes of the same step, so the frame is grouped by ``group`` (add
    ``"prompt_id"`` when the frame pools several generations).
    """
    frame = _as_frame(nodes)
    tested = pd.Series(False, index=frame.index)
    for _, step in frame.groupby(list(group), sort=False):
        accepted = step["accepted"].to_numpy(dtype=bool)
        parents = step["parent"].to_numpy(dtype=int)
        tested.loc[step.index] = [p < 0 or bool(accepted[p]) for p in parents]
    return tested


def alpha_from_nodes(nodes, group: tuple[str, ...] = ("step",)) -> float:
    """Estimate ``alpha`` from node records: accepted / tested, over first-ranked nodes.

    The estimator. Only nodes the target actually tested count: a node whose parent was rejected was
    never looked at, and counting it as a rejection would bias ``alpha`` down. Among tested nodes only
    ``rank == 0`` nodes (the draft's first choice, the token a chain would draft) count, so that a tree
    and a chain estimate the same quantity; in a chain every node has rank 0. With ``a`` accepted out of
    ``n`` tested nodes, ``alpha_hat = a / n``, the maximum-likelihood estimate of the per-token acceptance
    probability under the independence model behind the formulas above (each chain step is a capped
    geometric run of successes). ``nan`` when nothing was tested.
    """
    frame = _as_frame(nodes)
    if frame.empty:
        return float("nan")
    keep = nodes_tested(frame, group) & (frame["rank"] == 0)
    n = int(keep.sum())
    return float(frame.loc[keep, "accepted"].sum() / n) if n else float("nan")
