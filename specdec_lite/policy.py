"""Domain-aware speculation: choose each domain's draft and gamma from what was measured on it, then check.

The theory (:mod:`specdec_lite.theory`) says how many tokens to draft from ``alpha`` and ``c``; the study
shows that ``alpha`` depends on the task. So a server that knows a request's domain could draft more
where the draft is good and less where it is not, or use another draft altogether. Done honestly:

1. **fit** - on half of each domain's prompts (:func:`split_prompts`, seeded), decode once with every
   candidate drafter at gamma ``probe_gamma`` and estimate each domain's ``alpha`` per drafter
   (:func:`~specdec_lite.theory.alpha_from_nodes`); measure each drafter's step cost and the target's
   verification cost for ``g + 1`` tokens (its ratio to a one-token step timed interleaved, times that step);
2. **choose** - for each domain the (drafter, gamma) with the best predicted speed-up
   ``E[tokens](alpha, g) T_target(1) / (g T_draft + T_target(g + 1))`` (verification priced at its
   measured cost); the *fixed* policy is the single (drafter, gamma) best on all fit prompts pooled;
3. **measure** - on the other half, time the target alone, the fixed policy and the per-domain policy,
   interleaved, and report the median speed-up per domain and overall with its bootstrap interval over
   prompts and its value per round (the timing noise), however small the difference.

:func:`auto_choice` is ``drafter="auto"``: the committed per-domain choice when a request's domain is known, and
prompt lookup falling back to the draft, stopped by the draft's fitted rule (:mod:`specdec_lite.dynamic`), when not.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .autoregressive import autoregressive_generate
from .bench import draft_time, speedup_figures, step_time, time_decoders, tokens_and_result, verify_ratio
from .calls import model_device
from .drafters import Drafter
from .dynamic import StopRule, committed_rule
from .lookup import LookupOr, PromptLookup
from .prompts import DOMAINS
from .reports import jsonable
from .speculative import speculative_generate
from .theory import alpha_from_nodes, expected_speedup

__all__ = ["split_prompts", "predicted_speedup", "choose", "PolicyResult", "fit_and_measure", "AutoChoice",
           "auto_choice"]


def split_prompts(prompts: list, seed: int = 0) -> tuple[list, list]:
    """Half of each domain's prompts to fit on and the other half to measure on (seeded shuffle per domain)."""
    fit, held_out = [], []
    for domain in DOMAINS:
        of_domain = [p for p in prompts if p.domain == domain]
        random.Random(f"{seed}-{domain}").shuffle(of_domain)
        half = len(of_domain) // 2
        fit += of_domain[:half]
        held_out += of_domain[half:]
    return fit, held_out


def predicted_speedup(alpha: float, gamma: int, draft_step: float, target_step: float, verify_step: float) -> float:
    """Expected tokens per call over the step's cost, in target steps: ``E[tokens] T_t(1) / (g T_d + T_t(g+1))``.

    That is :func:`~specdec_lite.theory.expected_speedup` with ``c = T_d / T_t(1)`` and the verification
    pass priced at ``v = T_t(g+1) / T_t(1)``, from step times in seconds.
    """
    return expected_speedup(alpha, gamma, draft_step / target_step, verify=verify_step / target_step)


def choose(alphas: pd.DataFrame, costs: dict, verify: dict[int, float], gammas: tuple[int, ...]) -> pd.DataFrame:
    """The predicted speed-up of every (domain, drafter, gamma); ``alphas`` has columns domain, drafter, alpha.

    ``costs[drafter]`` is its step time in seconds (a chain of ``g`` tokens costs ``g`` steps), or a dict
    ``{g: seconds}`` of the measured time of a whole chain (:func:`~specdec_lite.bench.draft_time`: Medusa's
    heads cost one evaluation whatever ``g``), which then lists the gammas that drafter can draft;
    ``costs["target"]`` is the target's one-token step and ``verify[g]`` its time for ``g + 1`` tokens. A
    drafter with no tested token in a domain (``alpha`` NaN: prompt lookup that never found a match) is left
    out there.
    """
    def step(drafter: str, g: int) -> float | None:
        cost = costs[drafter]
        return (cost[g] / g if g in cost else None) if isinstance(cost, dict) else cost

    rows = [{"domain": row.domain, "drafter": row.drafter, "gamma": g, "alpha": row.alpha,
             "predicted_speedup": predicted_speedup(row.alpha, g, step(row.drafter, g), costs["target"], verify[g])}
            for row in alphas.dropna(subset=["alpha"]).itertuples() for g in gammas if step(row.drafter, g) is not None]
    return pd.DataFrame(rows)


@dataclass
class PolicyResult:
    """What was fitted and measured; ``policies`` maps a policy name to ``{domain: (drafter, gamma)}``."""

    alphas: pd.DataFrame
    predictions: pd.DataFrame
    policies: dict
    runs: pd.DataFrame
    summary: pd.DataFrame
    costs: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-able: tables as lists of records, ``policies[name][domain] = [drafter, gamma]``, costs in seconds."""
        tables = {name: getattr(self, name).to_dict("records") for name in ("alphas", "predictions", "runs", "summary")}
        return jsonable(tables | {"policies": self.policies, "costs": self.costs})

    @classmethod
    def from_dict(cls, data: dict) -> "PolicyResult":
        """The inverse of :meth:`to_dict` (JSON's nulls become NaN again, ``verify`` gets its integer gammas back)."""
        costs = dict(data["costs"])
        for name, cost in costs.items():  # JSON's keys are strings: the gammas of verify and of measured chains
            if isinstance(cost, dict):
                costs[name] = {int(g): t for g, t in cost.items()}
        policies = {name: {d: (c[0], int(c[1])) for d, c in policy.items()} for name, policy in data["policies"].items()}
        frames = {name: pd.DataFrame(data[name]).fillna(np.nan) for name in ("alphas", "predictions", "runs", "summary")}
        return cls(policies=policies, costs=costs, **frames)


def _pooled_alpha(frames: list[pd.DataFrame]) -> float:
    """alpha over several generations' node frames; NaN when none drafted anything (lookup found no match)."""
    frames = [f for f in frames if not f.empty]
    return alpha_from_nodes(pd.concat(frames, ignore_index=True), group=("prompt", "step")) if frames else float("nan")


def fit_and_measure(pair, prompts: list, *, gammas=(1, 2, 3, 4, 5, 6), probe_gamma: int = 4, max_new_tokens: int = 64,
                    repeats: int = 1, seed: int = 0, lookup: PromptLookup | None = None,
                    others: dict[str, Drafter] | None = None, progress: bool = False) -> PolicyResult:
    """Fit per-domain and fixed policies on half of ``prompts``, and time them on the other half (greedy).

    The candidates are the pair's draft model (``"draft"``), prompt lookup (``"lookup"``) and any ``others``
    (name -> drafter, e.g. Medusa's heads and the EAGLE layer of lesson 9), each priced by its own measured
    chain (:func:`~specdec_lite.bench.draft_time`); ``domain_drafter`` picks among all of them per domain.
    """
    drafters = {"draft": pair.draft, "lookup": lookup or PromptLookup(vocab_size=pair.target.config.vocab_size),
                **(others or {})}
    fit, held_out = split_prompts(prompts, seed)
    eos, target = pair.eos_token_id, pair.target
    # 1. fit: alpha per domain and drafter, from one decode of every fit prompt at probe_gamma
    frames: dict[tuple[str, str], list] = {}
    for i, prompt in enumerate(tqdm(fit, desc="fit", disable=not progress, leave=False)):
        ids = pair.encode(prompt.prompt)
        for name, drafter in drafters.items():
            result = speculative_generate(drafter, target, ids, max_new_tokens, gamma=probe_gamma, eos_token_id=eos)
            frames.setdefault((prompt.domain, name), []).append(result.nodes_frame().assign(prompt=i))
    alphas = pd.DataFrame([{"domain": d, "drafter": n, "alpha": _pooled_alpha(f)} for (d, n), f in frames.items()])
    pooled = pd.DataFrame([{"domain": "all", "drafter": n, "alpha": _pooled_alpha(
        [f for (d, m), fs in frames.items() if m == n for f in fs])} for n in drafters])
    # 2. costs and choices
    costs = {"target": step_time(target), "draft": step_time(pair.draft), "lookup": _lookup_step(drafters["lookup"])}
    for name, drafter in (others or {}).items():
        most = getattr(drafter, "max_draft", None) or max(gammas)  # Medusa drafts at most one token per head
        costs[name] = {g: draft_time(drafter, target, g) for g in gammas if g <= most}
    # the g+1-token pass priced against the one-token step timed alternately with it (bench.verify_ratio), so a
    # change of the machine's load between two separate timings cannot leak into the price
    verify = {g: verify_ratio(target, g + 1) * costs["target"] for g in gammas}
    predictions = choose(pd.concat([alphas, pooled], ignore_index=True), costs, verify, gammas)
    best = predictions.loc[predictions.groupby("domain")["predicted_speedup"].idxmax()].set_index("domain")
    fixed_model = predictions[(predictions["domain"] == "all") & (predictions["drafter"] == "draft")]
    fixed_gamma = int(fixed_model.loc[fixed_model["predicted_speedup"].idxmax(), "gamma"])
    model_only = predictions[predictions["drafter"] == "draft"]
    model_best = model_only.loc[model_only.groupby("domain")["predicted_speedup"].idxmax()].set_index("domain")
    domains = [d for d in DOMAINS if d in set(alphas["domain"])]
    policies = {
        "fixed": {d: ("draft", fixed_gamma) for d in domains},
        "domain_gamma": {d: ("draft", int(model_best.loc[d, "gamma"])) for d in domains},
        "domain_drafter": {d: (best.loc[d, "drafter"], int(best.loc[d, "gamma"])) for d in domains},
    }
    # 3. measure on the held-out half, interleaved with the target alone
    runners = {"target": lambda p: tokens_and_result(autoregressive_generate(
        target, pair.encode(p.prompt), max_new_tokens, eos_token_id=eos))}
    for name, policy in policies.items():
        runners[name] = (lambda policy: lambda p: tokens_and_result(speculative_generate(
            drafters[policy[p.domain][0]], target, pair.encode(p.prompt), max_new_tokens,
            gamma=policy[p.domain][1], eos_token_id=eos)))(policy)
    runs, last = time_decoders(runners, held_out, repeats=repeats, warmup=0, device=model_device(target),
                               progress=progress)
    runs["domain"] = [held_out[i].domain for i in runs["prompt"]]
    reference = [tokens for tokens, _ in last["target"]]
    for name in policies:  # greedy: every policy must reproduce the target's own output
        if not all(torch.equal(t.cpu(), r.cpu()) for (t, _), r in zip(last[name], reference)):
            raise RuntimeError(f"policy {name!r} changed the greedy output: speculative decoding is broken.")
    return PolicyResult(alphas, predictions, policies, runs, _summary(runs, policies), costs | {"verify": verify})


def _lookup_step(lookup: PromptLookup, length: int = 200, repeats: int = 20) -> float:
    """Median seconds of one lookup proposal of 4 tokens over a ``length``-token sequence."""
    sequence = list(np.random.default_rng(0).integers(0, 1000, length))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        lookup.draft(sequence, 4)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _summary(runs: pd.DataFrame, policies: dict) -> pd.DataFrame:
    """Per policy, per domain and overall: the speed-up over the target alone, its bootstrap interval over
    prompts and its value in each round (:func:`~specdec_lite.bench.speedup_figures`)."""
    rows = []
    for domain in [*sorted(set(runs["domain"]), key=DOMAINS.index), "all"]:
        part = runs if domain == "all" else runs[runs["domain"] == domain]
        row = {"domain": domain}
        for name in policies:
            figures = speedup_figures(part, name, "target")
            row[f"{name}_speedup"] = figures["speedup"]
            row[f"{name}_ci_low"], row[f"{name}_ci_high"] = figures["speedup_ci"]
            row[f"{name}_rounds"] = figures["speedup_rounds"]
            if domain != "all":
                drafter, gamma = policies[name][domain]
                row[f"{name}_choice"] = f"{drafter}, gamma {gamma}"
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class AutoChoice:
    """What ``drafter="auto"`` decodes with: a drafter, the most it drafts a step, its stop rule, and why."""

    name: str
    drafter: Drafter
    gamma: int
    stop: StopRule | None
    source: str

    def generate(self, pair, input_ids: torch.Tensor, max_new_tokens: int, **kwargs):
        """:func:`~specdec_lite.speculative_generate` on ``pair``'s target with this choice (``kwargs``: temperature...)."""
        return speculative_generate(self.drafter, pair.target, input_ids, max_new_tokens, gamma=self.gamma,
                                    stop=self.stop, eos_token_id=pair.eos_token_id, **kwargs)


def _named_drafter(pair, name: str) -> Drafter:
    """A policy's drafter name (``draft``, ``lookup``, ``medusa``, ``eagle``, ``lookup_<model>``) as a drafter on ``pair``."""
    from .pairs import FEATURE_DRAFTERS, feature_drafter

    if name.startswith("lookup_"):
        return LookupOr(PromptLookup(pair.target.config.vocab_size), _named_drafter(pair, name[len("lookup_"):]))
    if name == "lookup":
        return PromptLookup(pair.target.config.vocab_size)
    if name == "draft":
        return pair.draft
    if name in FEATURE_DRAFTERS:
        return feature_drafter(pair, name)
    raise ValueError(f"unknown drafter {name!r} in a committed policy.")


def auto_choice(pair, domain: str | None = None) -> AutoChoice:
    """``drafter="auto"`` for ``pair``: with a ``domain``, the committed policy run's per-domain choice
    (``results/policies/<pair>_features.json``, ``domain_drafter``); without one, lookup falling back to the draft
    with the draft's fitted stop rule and ``max_gamma`` (``results/dynamic/<pair>.json``).

    Raises ``ValueError`` for an unknown domain and ``FileNotFoundError`` naming the command that writes a missing
    committed file.
    """
    from .course.committed import course_dir

    if domain is not None and domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}: use one of {', '.join(DOMAINS)}, or None when it is not known.")
    name, tool = (f"policies/{pair.name}_features.json", "run_policies.py") if domain else (
        f"dynamic/{pair.name}.json", "compare_dynamic.py")
    path = course_dir() / "results" / name
    if not path.is_file():
        raise FileNotFoundError(f"drafter='auto' reads the committed results/{name}, which pair {pair.name!r} does not "
                                f"have: write it with `python tools/{tool}` (the course measured the smol pair).")
    if domain:
        import json

        drafter, gamma = json.loads(path.read_text())["result"]["policies"]["domain_drafter"][domain]
        return AutoChoice(drafter, _named_drafter(pair, drafter), int(gamma), None,
                          f"results/{name}: the per-domain policy for {domain}")
    stop, max_gamma = committed_rule(pair.name, "draft")
    return AutoChoice("lookup_draft", _named_drafter(pair, "lookup_draft"), max_gamma, stop,
                      f"results/{name}: lookup, else the draft stopped by its fitted rule, {stop}")
