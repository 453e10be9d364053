"""What a decoder returns: the new tokens plus the records that every measurement is built from.

A *step* is one round of draft-then-verify (or one target call for the autoregressive baseline).
A *node* is one drafted token: in a chain the nodes of a step form a path, in a tree they form a tree.
The node records are the raw material of the acceptance study. A decoder fills them through a
:class:`Recorder`, which keeps the bookkeeping (timing, counts, records) out of its loop.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch

__all__ = ["StepRecord", "NodeRecord", "GenerationResult", "Recorder"]


@dataclass(frozen=True)
class StepRecord:
    """One decoding step.

    ``drafted``: tokens the draft proposed (0 for the baseline); ``accepted``: how many of them the
    target kept; ``emitted``: tokens appended to the output this step (accepted + the target's own
    token, fewer if EOS or ``max_new_tokens`` cut it); ``seconds``: wall time of the step;
    ``target_cache``/``draft_cache``: cache lengths after the step (``-1`` where there is no draft).
    """

    step: int
    drafted: int
    accepted: int
    emitted: int
    seconds: float
    target_cache: int
    draft_cache: int = -1


@dataclass(frozen=True)
class NodeRecord:
    """One drafted token and how verification treated it.

    ``q_prob``/``q_entropy`` come from the draft's distribution at the node's parent and ``p_prob``/
    ``p_entropy`` from the target's, both after temperature; at temperature 0 they come from the
    plain softmax (temperature 1), since the point masses that greedy decoding uses carry no
    information. Entropies are in nats. ``depth`` is 1 for a node that follows the last accepted
    token. ``parent`` is the index (within the step) of the parent node, -1 for the root's children;
    ``rank`` is the node's position among its siblings (0 for chains); ``on_path`` tells whether the
    node lies on the accepted path, which for a chain equals ``accepted``.
    """

    step: int
    depth: int
    token: int
    q_prob: float
    q_entropy: float
    p_prob: float
    p_entropy: float
    accepted: bool
    parent: int = -1
    rank: int = 0
    on_path: bool = False


@dataclass
class GenerationResult:
    """The output of a decoder.

    ``tokens`` holds the new tokens only (1-D LongTensor on the CPU), exactly ``max_new_tokens``
    long unless EOS came first. ``draft_calls``/``target_calls`` count forward passes;
    ``wall_time`` is in seconds.
    """

    tokens: torch.Tensor
    steps: list[StepRecord] = field(default_factory=list)
    nodes: list[NodeRecord] = field(default_factory=list)
    draft_calls: int = 0
    target_calls: int = 0
    wall_time: float = 0.0

    @property
    def tokens_per_target_call(self) -> float:
        """New tokens per target forward pass (1.0 for the baseline; higher is better)."""
        return len(self.tokens) / max(self.target_calls, 1)

    @property
    def acceptance_rate(self) -> float:
        """Accepted drafted tokens over drafted tokens (``nan`` when nothing was drafted)."""
        drafted = sum(s.drafted for s in self.steps)
        return sum(s.accepted for s in self.steps) / drafted if drafted else float("nan")

    @property
    def mean_accepted(self) -> float:
        """Mean number of drafted tokens accepted per step (the expected accepted length)."""
        return sum(s.accepted for s in self.steps) / len(self.steps) if self.steps else float("nan")

    def nodes_frame(self):
        """The node records as a pandas DataFrame, one row per drafted token."""
        import pandas as pd

        return pd.DataFrame([asdict(n) for n in self.nodes], columns=list(NodeRecord.__dataclass_fields__))

    def steps_frame(self):
        """The step records as a pandas DataFrame, one row per step."""
        import pandas as pd

        return pd.DataFrame([asdict(s) for s in self.steps], columns=list(StepRecord.__dataclass_fields__))

    def to_dict(self) -> dict:
        """The result as plain JSON types (tokens a list of ints, records lists of dicts); :meth:`from_dict` reads it back."""
        return {"tokens": self.tokens.tolist(), "steps": [asdict(s) for s in self.steps],
                "nodes": [asdict(n) for n in self.nodes], "draft_calls": self.draft_calls,
                "target_calls": self.target_calls, "wall_time": self.wall_time}

    @classmethod
    def from_dict(cls, data: dict) -> GenerationResult:
        """The result that :meth:`to_dict` wrote (a ``KeyError``/``TypeError`` names a missing or unexpected field)."""
        return cls(tokens=torch.tensor(data["tokens"], dtype=torch.long),
                   steps=[StepRecord(**s) for s in data["steps"]], nodes=[NodeRecord(**n) for n in data["nodes"]],
                   draft_calls=data["draft_calls"], target_calls=data["target_calls"], wall_time=data["wall_time"])


@dataclass
class Recorder:
    """A decoding loop's bookkeeping: it times the generation and each step, and fills a :class:`GenerationResult`.

    Made when the generation starts; each step is opened with :meth:`start_step` and closed with
    :meth:`end_step` (every step makes one target call), and :meth:`finish` hands the result over.
    """

    result: GenerationResult = field(default_factory=lambda: GenerationResult(tokens=torch.empty(0, dtype=torch.long)))
    started: float = field(default_factory=time.perf_counter)
    step_started: float = 0.0

    def start_step(self) -> int:
        """Start timing a step; return its index."""
        self.step_started = time.perf_counter()
        return len(self.result.steps)

    def end_step(self, drafted: int, accepted: int, emitted: int, target_cache: int, draft_cache: int = -1, *,
                 draft_calls: int = 0, nodes: Sequence[NodeRecord] = ()) -> None:
        """Record the step (see :class:`StepRecord`), its ``draft_calls``, its one target call and its ``nodes``."""
        self.result.draft_calls += draft_calls
        self.result.target_calls += 1
        self.result.nodes.extend(nodes)
        self.result.steps.append(StepRecord(len(self.result.steps), drafted, accepted, emitted,
                                            time.perf_counter() - self.step_started, target_cache, draft_cache))

    def finish(self, tokens: list[int]) -> GenerationResult:
        """The result, with the new ``tokens`` and the wall time since the generation started."""
        self.result.tokens = torch.tensor(tokens, dtype=torch.long)
        self.result.wall_time = time.perf_counter() - self.started
        return self.result
