"""Wall-clock benchmarks: the target alone, chain and tree speculation, and Hugging Face assisted generation.

All decoders run greedily (temperature 0), so every one of them must print the target's own greedy
output; the benchmark checks that as it goes (``outputs_match``).

Method.

* **Interleaving.** Each round visits every prompt and, for each prompt, runs every decoder once, in
  an order rotated from round to round; the first ``warmup`` rounds are thrown away. Drifts of the
  machine (another process, clock scaling) then hit all decoders alike.
* **Timing.** ``time.perf_counter`` around the call, with ``torch.cuda.synchronize`` before and after
  on a GPU (kernels run asynchronously).
* **Speed-up.** For every (round, prompt) the ratio of the target's time to the decoder's, both for the
  same tokens; the table gives the median of these paired ratios and their interquartile range (IQR).
  The ratio to HF assisted generation is built the same way.
* **Cost coefficient.** ``c = T(draft step) / T(target step)``: medians of cached one-token forward
  passes after a ``context``-token prefix (:func:`cost_coefficient`).
* **Theory check.** :func:`gamma_sweep` times chain speculation for several ``gamma``, estimates
  ``alpha`` from the node records of the same runs (:func:`~specdec_lite.theory.alpha_from_nodes`) and
  sets the measured speed-up against :func:`~specdec_lite.theory.expected_speedup`.

Hugging Face assisted generation drafts ``num_assistant_tokens`` tokens per step; the benchmark sets it
to ``gamma`` with the ``"constant"`` schedule and an ``assistant_confidence_threshold`` of 0 (otherwise
the assistant stops drafting early when unsure), and restores the draft's settings afterwards.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
import torch
from scipy.stats import iqr
from tqdm.auto import tqdm
from transformers import PreTrainedModel

from .autoregressive import autoregressive_generate
from .calls import cache_length, crop_cache, eos_token_id, eval_mode, forward, model_device, new_cache, score
from .checks import check_int
from .drafters import Drafter, as_drafter
from .reports import jsonable
from .speculative import speculative_generate
from .theory import alpha_from_nodes, best_gamma, expected_speedup, expected_tokens_per_call
from .tree import TokenTree
from .tree_speculative import check_tree_args, tree_speculative_generate
from .tree_verify import verify_tree

__all__ = [
    "SCHEMA_VERSION",
    "DECODERS",
    "BenchConfig",
    "BenchResult",
    "hf_assisted_generate",
    "timed",
    "step_time",
    "verify_ratio",
    "hand_over",
    "draft_time",
    "cost_coefficient",
    "time_decoders",
    "summarize_runs",
    "gamma_sweep",
    "run_bench",
    "tokens_and_result",
    "paired_ratio",
    "prompt_speedups",
    "speedup_figures",
    "jsonable",  # from specdec_lite.reports, still importable from here (the tools and older notebooks do)
]

SCHEMA_VERSION = 1
DECODERS = ("target", "chain", "tree", "hf_assisted")


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable, device: torch.device | str = "cpu"):
    """``(seconds, fn())``: wall time of one call of ``fn``, waiting for the GPU's queued work before and after.

    On a GPU, kernels run asynchronously: without ``torch.cuda.synchronize`` the clock would stop when the
    work is queued, not when it is done (and start while earlier work is still running).
    """
    device = torch.device(device)
    _synchronize(device)
    start = time.perf_counter()
    out = fn()
    _synchronize(device)
    return time.perf_counter() - start, out


HF_DYNAMIC = (20, 0.4)  # transformers' defaults: most assistant tokens a step, and the starting confidence threshold


@torch.inference_mode()
def hf_assisted_generate(
    draft: PreTrainedModel, target: PreTrainedModel, input_ids: torch.Tensor, max_new_tokens: int, gamma: int | None
) -> torch.Tensor:
    """Greedy assisted generation, ``target.generate(assistant_model=draft)``, drafting exactly ``gamma`` a step.

    ``gamma=None`` is Hugging Face's own dynamic speculation, from its defaults at every call: up to 20 tokens a
    step, stopping at the first whose draft probability is below a threshold that starts at 0.4 and is re-tuned
    during the call from the tokens accepted so far (an ROC fit, with scikit-learn installed).
    Returns the new tokens (1-D, on the CPU). Stops at the target's EOS like the other decoders here, and
    runs both models in eval mode like them.
    """
    config = draft.generation_config
    saved = (config.num_assistant_tokens, config.num_assistant_tokens_schedule,
             config.assistant_confidence_threshold)
    config.num_assistant_tokens, config.num_assistant_tokens_schedule = gamma or HF_DYNAMIC[0], "constant"
    config.assistant_confidence_threshold = 0.0 if gamma else HF_DYNAMIC[1]
    ids = input_ids.reshape(1, -1).to(model_device(target))
    eos = eos_token_id(target)
    try:
        with eval_mode(draft, target):
            out = target.generate(
                ids, attention_mask=torch.ones_like(ids), assistant_model=draft, do_sample=False,
                max_new_tokens=max_new_tokens, eos_token_id=eos, pad_token_id=0 if eos is None else eos,
            )
    finally:
        config.num_assistant_tokens, config.num_assistant_tokens_schedule, config.assistant_confidence_threshold = saved
    return out[0, ids.shape[1]:].cpu()


def step_time(
    model: PreTrainedModel, context: int = 64, repeats: int = 30, warmup: int = 3, seed: int = 0, tokens: int = 1
) -> float:
    """Median seconds of one cached forward pass over ``tokens`` new tokens after a ``context``-token prefix."""
    device = model_device(model)
    generator = torch.Generator().manual_seed(seed)
    prefix = torch.randint(model.config.vocab_size, (context + tokens,), generator=generator).to(device)
    fed = prefix[context:].clone()
    cache = new_cache()
    forward(model, prefix[:context], cache)
    times = _stopwatch({"step": lambda: forward(model, fed, cache)}, lambda: crop_cache(cache, context),
                       device, warmup, repeats)
    return float(np.median(times["step"]))


def hand_over(drafter: Drafter, target: PreTrainedModel, sequence: list[int], cache) -> None:
    """Bring ``drafter`` to where a decoding step leaves it: the target has scored all of ``sequence`` but the newest.

    The tokens ``cache`` lacks (all but the newest) go through the target in one call, and the drafter is rolled
    back to ``len(sequence) - 1`` with their features when it wants them, as the decoders do after a verification.
    """
    unseen = torch.tensor(sequence[cache_length(cache):-1], device=model_device(target))
    drafter.rollback(len(sequence) - 1, score(target, unseen, cache, features=drafter.wants_features).features)


@torch.inference_mode()
def draft_time(drafter, target: PreTrainedModel, gamma: int, context: int = 64, repeats: int = 30, warmup: int = 3,
               seed: int = 0) -> float:
    """Median seconds any drafter takes to propose a chain of ``gamma`` tokens, as inside decoding.

    A draft model pays ``gamma`` calls, Medusa's heads one evaluation whatever ``gamma``, prompt lookup a list
    search: so the cost of drafting is timed per chain, not assumed to be ``gamma`` times a step. Before each
    timed draft the sequence grows by one token that the target has scored (untimed), and the drafter is
    rolled back to it with the target's features when it wants them, so every draft starts as in a
    decoding step: its cache one token behind the sequence.
    """
    drafter = as_drafter(drafter)
    drafter.start(tree=False)
    device = model_device(target)
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(target.config.vocab_size, (context + warmup + repeats,), generator=generator).tolist()
    cache = new_cache()
    sequence = tokens[:context]
    times = []
    with eval_mode(*drafter.models, target):
        for i in range(warmup + repeats):
            hand_over(drafter, target, sequence, cache)
            seconds, _ = timed(lambda: drafter.draft(sequence, gamma, 0.0, generator), device)
            if i >= warmup:
                times.append(seconds)
            sequence = sequence + [tokens[context + i]]
    return float(np.median(times))


def verify_ratio(
    model: PreTrainedModel, tokens: int, context: int = 64, repeats: int = 30, warmup: int = 3, seed: int = 0
) -> float:
    """``T(tokens) / T(1)``: a cached pass over ``tokens`` new tokens, in one-token steps, timed interleaved.

    The ``tokens``-token pass and the one-token step are timed call by call in alternation (the order
    flipping every round) after the same ``context``-token prefix, and the ratio of their medians is
    returned. A change in the machine's load then slows both alike instead of leaking into the ratio, as
    it would between two :func:`step_time` calls. The verification pass of a chain step that drafted
    ``gamma`` tokens scores ``tokens = gamma + 1``.
    """
    if tokens < 1:
        raise ValueError(f"tokens must be >= 1, got {tokens}.")
    device = model_device(model)
    generator = torch.Generator().manual_seed(seed)
    prefix = torch.randint(model.config.vocab_size, (context + tokens,), generator=generator).to(device)
    fed = {"many": prefix[context:].clone(), "one": prefix[context:context + 1].clone()}
    cache = new_cache()
    forward(model, prefix[:context], cache)
    calls = {"many": lambda: forward(model, fed["many"], cache), "one": lambda: forward(model, fed["one"], cache)}
    times = _stopwatch(calls, lambda: crop_cache(cache, context), device, warmup, repeats)
    return float(np.median(times["many"]) / np.median(times["one"]))


def _stopwatch(calls: dict[str, Callable], reset: Callable, device: torch.device, warmup: int,
               repeats: int) -> dict[str, list[float]]:
    """Seconds of each call in ``calls`` for the last ``repeats`` of ``warmup + repeats`` rounds.

    Every round times each call once (:func:`timed`), in an order that flips from round to round
    (A, B, then B, A), and runs ``reset()`` after each call (e.g. crops the cache back to its prefix).
    """
    names = list(calls)
    times = {name: [] for name in names}
    for i in range(warmup + repeats):
        for name in names if i % 2 == 0 else names[::-1]:
            seconds, _ = timed(calls[name], device)
            reset()
            if i >= warmup:
                times[name].append(seconds)
    return times


def binary_tree(size: int) -> TokenTree:
    """A tree of ``size`` nodes filled level by level, two children a node (a heap layout)."""
    return TokenTree(torch.tensor([-1] + [(i - 1) // 2 for i in range(1, size)]))


def tree_verify_cost(
    target: PreTrainedModel, sizes=(1, 2, 4, 8, 16, 32, 64), context: int = 64, repeats: int = 20, warmup: int = 3
) -> pd.DataFrame:
    """Median seconds of one tree-verification pass (:func:`specdec_lite.tree_verify.verify_tree`) by node count.

    Each pass scores the last prefix token plus ``size`` nodes after a ``context``-token cache, as a
    decoding step does; ``ratio`` divides by a plain single-token cached step of the same model.
    """
    device = model_device(target)
    generator = torch.Generator().manual_seed(0)
    prefix = torch.randint(target.config.vocab_size, (context,), generator=generator).tolist()
    single = step_time(target, context, repeats, warmup)
    rows = []
    for size in sizes:
        tree = binary_tree(size)
        tokens = torch.randint(target.config.vocab_size, (size,), generator=generator).tolist()
        cache = new_cache()
        forward(target, torch.tensor(prefix[:-1], device=device), cache)
        times = _stopwatch({"verify": lambda: verify_tree(target, cache, prefix[-1:], tree, tokens)},
                           lambda: crop_cache(cache, context - 1), device, warmup, repeats)["verify"]
        rows.append({"nodes": size, "verify_ms": 1000 * float(np.median(times)), "ratio": float(np.median(times)) / single})
    frame = pd.DataFrame(rows)
    frame.attrs["single_step_ms"] = 1000 * single
    return frame


def cost_coefficient(draft: PreTrainedModel, target: PreTrainedModel, context: int = 64, repeats: int = 30) -> dict:
    """``c = T(draft step) / T(target step)`` with both step times (seconds), as a dict."""
    t_draft, t_target = step_time(draft, context, repeats), step_time(target, context, repeats)
    return {"draft_step_s": t_draft, "target_step_s": t_target, "c": t_draft / t_target, "context": context,
            "repeats": repeats}


@dataclass
class BenchConfig:
    """What to run: decoders (``None``: all of :data:`DECODERS` that are installed), token budget and rounds."""

    max_new_tokens: int = 32
    gamma: int = 4
    depth: int = 3
    branching: int = 2
    repeats: int = 3
    warmup: int = 1
    decoders: tuple[str, ...] | None = None
    gammas: tuple[int, ...] = (1, 2, 3, 4, 6, 8)
    sweep_repeats: int = 2
    c_context: int = 64
    c_repeats: int = 30

    def __post_init__(self):
        """Check every setting when the configuration is made, before anything runs."""
        for name in ("max_new_tokens", "gamma", "repeats", "sweep_repeats", "c_context", "c_repeats"):
            setattr(self, name, check_int(name, getattr(self, name)))
        self.warmup = check_int("warmup", self.warmup, minimum=0)
        try:
            gammas = () if isinstance(self.gammas, (str, bytes)) else tuple(self.gammas)
        except TypeError:
            gammas = ()
        if not gammas:
            raise ValueError(f"gammas (the gamma sweep) must hold at least one gamma, got {self.gammas!r}; "
                             "pass e.g. (1, 2, 4), or run_bench(..., sweep=False) to skip the sweep.")
        self.gammas = tuple(check_int("gammas (each swept gamma)", g) for g in gammas)
        if "tree" in self.chosen_decoders():
            self.depth, self.branching, _ = check_tree_args(self.depth, self.branching, None, "topk")

    def chosen_decoders(self) -> tuple[str, ...]:
        names = self.decoders or DECODERS
        unknown = set(names) - set(DECODERS)
        if unknown:
            raise ValueError(f"unknown decoder(s) {sorted(unknown)}; choose from {list(DECODERS)}.")
        if "target" not in names:
            raise ValueError("the benchmark needs the 'target' decoder: speed-ups are measured against it.")
        return tuple(names)


def _runners(draft, target, config: BenchConfig) -> dict[str, Callable]:
    """Each decoder as ``ids -> (new tokens, GenerationResult or None)``, greedy, stopping at the target's EOS."""
    n, eos = config.max_new_tokens, eos_token_id(target)
    return {
        "target": lambda ids: tokens_and_result(autoregressive_generate(target, ids, n, eos_token_id=eos)),
        "chain": lambda ids: tokens_and_result(speculative_generate(
            draft, target, ids, n, gamma=config.gamma, eos_token_id=eos)),
        "tree": lambda ids: tokens_and_result(tree_speculative_generate(
            draft, target, ids, n, depth=config.depth, branching=config.branching, eos_token_id=eos)),
        "hf_assisted": lambda ids: (hf_assisted_generate(draft, target, ids, n, config.gamma), None),
    }


def tokens_and_result(result):
    """A decoder's :class:`~specdec_lite.results.GenerationResult` as a runner of :func:`time_decoders` returns it."""
    return result.tokens, result


def time_decoders(
    runners: dict[str, Callable],
    prompts: list[torch.Tensor],
    *,
    repeats: int,
    warmup: int,
    device: torch.device,
    progress: bool = False,
) -> tuple[pd.DataFrame, dict[str, list]]:
    """Run every decoder on every prompt, interleaved, ``warmup + repeats`` rounds; keep the last ``repeats``.

    Returns one row per timed run (``round, prompt, decoder, seconds, new_tokens, tokens_per_s,
    target_calls``) and, per decoder, the results of the last round (tokens, GenerationResult or None),
    in prompt order.
    """
    names = list(runners)
    rows, last = [], {name: [None] * len(prompts) for name in names}
    bar = tqdm(total=(warmup + repeats) * len(prompts) * len(names), desc="bench", disable=not progress, leave=False)
    for round_ in range(warmup + repeats):
        for i, ids in enumerate(prompts):
            shift = (round_ + i) % len(names)
            for name in names[shift:] + names[:shift]:
                seconds, (tokens, result) = timed(lambda: runners[name](ids), device)
                bar.update()
                if round_ < warmup:
                    continue
                rows.append({
                    "round": round_ - warmup, "prompt": i, "decoder": name, "seconds": seconds,
                    "new_tokens": len(tokens), "tokens_per_s": len(tokens) / seconds,
                    "target_calls": result.target_calls if result is not None else None,
                })
                last[name][i] = (tokens, result)
    bar.close()
    return pd.DataFrame(rows), last


def paired_ratio(runs: pd.DataFrame, decoder: str, baseline: str) -> pd.Series:
    """``tokens/s of decoder / tokens/s of baseline`` for each (round, prompt) both ran."""
    speed = runs.pivot_table(index=["round", "prompt"], columns="decoder", values="tokens_per_s")
    return (speed[decoder] / speed[baseline]).dropna()


def prompt_speedups(runs: pd.DataFrame, decoder: str, baseline: str) -> pd.Series:
    """Each prompt's speed-up of ``decoder`` over ``baseline``: the median over its rounds of :func:`paired_ratio`.
    A prompt is the independent unit; its rounds only measure the timing noise."""
    return paired_ratio(runs, decoder, baseline).groupby(level="prompt").median()


def speedup_figures(runs: pd.DataFrame, decoder: str, baseline: str) -> dict:
    """The speed-up of ``decoder`` over ``baseline`` on a set of prompts, with what it can be trusted to:

    * ``speedup``: the median over prompts of :func:`prompt_speedups`;
    * ``speedup_ci``: its 95% percentile bootstrap interval over prompts (:func:`~specdec_lite.statistics.median_ci`);
    * ``speedup_rounds``: the same median from each round alone. The rounds repeat identical runs, so their spread
      is the timing noise floor: a gap smaller than it says nothing about the decoders.
    """
    from .statistics import median_ci

    per_prompt = prompt_speedups(runs, decoder, baseline)
    rounds = [float(paired_ratio(runs[runs["round"] == r], decoder, baseline).median()) for r in sorted(runs["round"].unique())]
    return {"speedup": float(per_prompt.median()), "speedup_ci": list(median_ci(per_prompt.to_numpy())),
            "speedup_rounds": rounds}


def summarize_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per decoder: medians and IQRs of tokens/s, speed-up over the target, ratio to HF assisted."""
    rows = []
    names = sorted(runs["decoder"].unique(), key=lambda d: DECODERS.index(d) if d in DECODERS else len(DECODERS))
    for name in names:
        group = runs[runs["decoder"] == name]
        speedup = paired_ratio(runs, name, "target")
        row = {
            "decoder": name,
            "runs": len(group),
            "new_tokens": int(group["new_tokens"].sum()),
            "median_seconds": float(group["seconds"].median()),
            "tokens_per_s": float(group["tokens_per_s"].median()),
            "tokens_per_s_iqr": float(iqr(group["tokens_per_s"])),
            "speedup": float(speedup.median()),
            "speedup_iqr": float(iqr(speedup)),
            "vs_hf_assisted": float("nan"),
            "vs_hf_assisted_iqr": float("nan"),
            "tokens_per_target_call": float("nan"),
        }
        if "hf_assisted" in set(runs["decoder"]):
            ratio = paired_ratio(runs, name, "hf_assisted")
            row["vs_hf_assisted"], row["vs_hf_assisted_iqr"] = float(ratio.median()), float(iqr(ratio))
        calls = group["target_calls"].dropna()
        if len(calls):
            row["tokens_per_target_call"] = float(group.loc[calls.index, "new_tokens"].sum() / calls.sum())
        rows.append(row)
    return pd.DataFrame(rows)


def gamma_sweep(
    draft: PreTrainedModel,
    target: PreTrainedModel,
    prompts: list[torch.Tensor],
    gammas: tuple[int, ...],
    cost: dict,
    *,
    max_new_tokens: int,
    repeats: int = 2,
    warmup: int = 1,
    temperature: float = 0.0,
    seed: int = 0,
    progress: bool = False,
) -> pd.DataFrame:
    """Measured against predicted speed-up for chain speculation at each ``gamma``.

    The target alone and every ``gamma`` are timed interleaved (:func:`time_decoders`), all at
    ``temperature`` (every run of a decoder on a prompt sampled with the same ``seed``); ``alpha`` for a
    ``gamma`` comes from the node records of its last round, and the prediction is
    ``expected_speedup(alpha, gamma, c)``. That formula prices the verification pass like a one-token
    step; ``predicted_speedup_verify`` replaces it by the measured time of a ``gamma + 1``-token target
    pass, ``E[tokens] / (gamma c + v)`` with ``c`` from ``cost`` (:func:`cost_coefficient`) and
    ``v = verify_ratio = T_target(gamma + 1) / T_target(1)`` (:func:`verify_ratio`, timed interleaved).
    Columns: ``gamma, alpha, measured_speedup, measured_speedup_iqr, predicted_speedup,
    predicted_speedup_verify, verify_ratio, measured_tokens_per_call, predicted_tokens_per_call``.
    """
    c = cost["c"]
    eos = eos_token_id(target)
    runners = {"target": lambda ids: tokens_and_result(autoregressive_generate(
        target, ids, max_new_tokens, temperature=temperature, seed=seed, eos_token_id=eos))}
    for g in gammas:
        runners[f"gamma={g}"] = (lambda g: lambda ids: tokens_and_result(speculative_generate(
            draft, target, ids, max_new_tokens, gamma=g, temperature=temperature, seed=seed, eos_token_id=eos)))(g)
    runs, last = time_decoders(runners, prompts, repeats=repeats, warmup=warmup,
                               device=model_device(target), progress=progress)
    rows = []
    for g in gammas:
        name = f"gamma={g}"
        results = [result for _, result in last[name]]
        frames = [r.nodes_frame().assign(prompt=i) for i, r in enumerate(results)]
        alpha = alpha_from_nodes(pd.concat(frames, ignore_index=True), group=("prompt", "step"))
        speedup = paired_ratio(runs, name, "target")
        verify = verify_ratio(target, g + 1, cost["context"], cost["repeats"])
        rows.append({
            "gamma": g,
            "alpha": alpha,
            "measured_speedup": float(speedup.median()),
            "measured_speedup_iqr": float(iqr(speedup)),
            "predicted_speedup": expected_speedup(alpha, g, c),
            "predicted_speedup_verify": expected_speedup(alpha, g, c, verify=verify),
            "verify_ratio": verify,
            "measured_tokens_per_call": sum(len(r.tokens) for r in results) / sum(r.target_calls for r in results),
            "predicted_tokens_per_call": expected_tokens_per_call(alpha, g),
        })
    return pd.DataFrame(rows)


@dataclass
class BenchResult:
    """Everything a benchmark measured; :meth:`to_dict` gives the documented JSON (``docs/json_schema.md``)."""

    config: BenchConfig
    device: str
    runs: pd.DataFrame
    summary: pd.DataFrame
    outputs_match: dict[str, bool]
    cost: dict
    alpha: float
    sweep: pd.DataFrame = field(default_factory=pd.DataFrame)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        c = self.cost["c"]
        predicted_best, predicted_gain = best_gamma(self.alpha, c) if np.isfinite(self.alpha) else (None, None)
        measured_best = None
        if not self.sweep.empty:
            measured_best = int(self.sweep.loc[self.sweep["measured_speedup"].idxmax(), "gamma"])
        return jsonable({
            "schema_version": SCHEMA_VERSION,
            "kind": "bench",
            "device": self.device,
            "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
            "config": asdict(self.config) | {"decoders": list(self.config.chosen_decoders())},
            "seconds": self.seconds,
            "summary": self.summary.to_dict(orient="records"),
            "outputs_match": self.outputs_match,
            "cost": self.cost,
            "alpha": self.alpha,
            "gamma_sweep": self.sweep.to_dict(orient="records"),
            "best_gamma": {"predicted": predicted_best, "predicted_speedup": predicted_gain, "measured": measured_best},
        })


def run_bench(
    draft: PreTrainedModel,
    target: PreTrainedModel,
    prompts: list[torch.Tensor],
    config: BenchConfig | None = None,
    *,
    sweep: bool = True,
    progress: bool = False,
) -> BenchResult:
    """The whole benchmark on ``prompts`` (1-D token-id tensors): decoders, ``c``, ``alpha`` and the gamma sweep."""
    config = config or BenchConfig()
    if not len(prompts):
        raise ValueError("run_bench needs at least one prompt (a 1-D tensor of token ids), got none; "
                         "e.g. [pair.encode(p.prompt) for p in load_prompts(domain='chat')[:2]].")
    start = time.perf_counter()
    device = model_device(target)
    runners = _runners(draft, target, config)
    runners = {name: runners[name] for name in config.chosen_decoders()}
    runs, last = time_decoders(runners, prompts, repeats=config.repeats, warmup=config.warmup,
                               device=device, progress=progress)
    reference = [tokens for tokens, _ in last["target"]]
    outputs_match = {
        name: all(torch.equal(tokens.cpu(), ref) for (tokens, _), ref in zip(last[name], reference))
        for name in runners if name != "target"
    }
    chain_nodes = [r.nodes_frame().assign(prompt=i) for i, (_, r) in enumerate(last.get("chain", []))]
    alpha = alpha_from_nodes(pd.concat(chain_nodes, ignore_index=True), group=("prompt", "step")) \
        if chain_nodes else float("nan")
    cost = cost_coefficient(draft, target, config.c_context, config.c_repeats)
    table = gamma_sweep(draft, target, prompts, config.gammas, cost, max_new_tokens=config.max_new_tokens,
                        repeats=config.sweep_repeats, warmup=config.warmup, progress=progress) \
        if sweep else pd.DataFrame()
    return BenchResult(config, str(device), runs, summarize_runs(runs), outputs_match, cost, alpha, table,
                       time.perf_counter() - start)
