"""The four-domain acceptance study: one decoding configuration over the prompt sets, every node kept.

It reproduces the analysis of "Acceptance Dynamics Across Cognitive Domains in Speculative Decoding"
(arXiv 2604.14682): tree drafting (depth 3, branching 2), greedy, 200 prompts in four domains.

What is counted (per domain, pooling the domain's prompts):

* **acceptance rate** = accepted nodes / drafted nodes. A *node* is one drafted token; in a tree every
  node of every step counts, siblings and descendants of rejected nodes included (the paper's count of
  "speculative nodes"); a node is *accepted* when the target kept it, i.e. it lies on the accepted
  path. For a chain this is :attr:`GenerationResult.acceptance_rate`. Its 95 % confidence interval is
  a percentile bootstrap over prompts (``scipy.stats.bootstrap``, prompts resampled with replacement,
  statistic = sum of accepted / sum of drafted);
* **alpha** - accepted / tested over first-ranked nodes whose parent was accepted
  (:func:`~specdec_lite.theory.alpha_from_nodes`), the per-token acceptance probability of the theory;
* **expected accepted length** = mean over steps of the drafted tokens accepted in the step (the step
  records' ``accepted``; the target's own token is not included), with the same bootstrap over prompts;
* **depth profile** - the acceptance rate of the nodes at each depth, and the conditional rate among
  nodes whose parent was accepted;
* **entropy-acceptance correlation** - Pearson's r between a node's entropy (the draft's ``q_entropy``
  by default; nats) and its 0/1 acceptance (a point-biserial correlation), with the Fisher-z
  confidence interval of ``scipy.stats.pearsonr(...).confidence_interval()``.

"Task type predicts acceptance better than depth" is tested with two logistic regressions of a node's
acceptance (statsmodels ``Logit``), one on domain dummies and one on depth dummies, compared by
McFadden's pseudo-R^2 = 1 - log L(model) / log L(intercept only) (the verdict), with AIC and the
in-sample ROC AUC (scikit-learn) reported beside it.
"""

from __future__ import annotations

import importlib.util
import json
import time
import warnings
import zlib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
import torch
from scipy.stats import pearsonr
from sklearn.metrics import roc_auc_score
from tqdm.auto import tqdm
from transformers import PreTrainedModel

from .calls import eos_token_id, model_device
from .checks import check_int, check_seed, check_temperature
from .outputs import sha256_of
from .prompts import DOMAINS
from .reports import jsonable
from .results import GenerationResult
from .speculative import speculative_generate
from .statistics import ratio_ci
from .theory import alpha_from_nodes, nodes_tested
from .tree_speculative import check_tree_args, tree_speculative_generate

__all__ = [
    "SCHEMA_VERSION",
    "DOMAINS",
    "PAPER",
    "PUBLISHED_ACCEPTANCE",
    "PUBLISHED_ACCEPTED_LENGTH",
    "PUBLISHED_ENTROPY_R",
    "StudyConfig",
    "StudyResult",
    "run_study",
    "acceptance_by_domain",
    "depth_profile",
    "compare_predictors",
    "pearson_r",
    "fit_logit",
    "published_comparison",
    "StudyAnalysis",
    "analyse_study",
    "study_report",
    "format_report",
    "save_frame",
    "load_frame",
    "TABLES",
    "TABLE_FORMATS",
    "save_study",
    "load_study",
]

SCHEMA_VERSION = 2  # 2: acceptance per tree level is the headline; predictors fit per-level outcomes

# Published figures of the study (arXiv 2604.14682: TinyLlama-1.1B drafting for Llama-2-7B-Chat-GPTQ,
# tree depth 3, branching 2, greedy, 200 prompts). Only the figures the paper states are kept here.
PAPER = "arXiv 2604.14682"
PUBLISHED_ACCEPTANCE = {"chat": 0.565, "math": 0.518}  # chat highest, math lowest
PUBLISHED_ACCEPTED_LENGTH = {"chat": 1.065}  # the only domain above 1.0 accepted tokens per step
PUBLISHED_ENTROPY_R = (-0.20, -0.15)  # Pearson r between entropy and acceptance, in every domain
PAPER_DEPTH = 3  # the paper's trees: depth 3, branching 2


@dataclass
class StudyConfig:
    """One configuration: ``mode`` ``"tree"`` (``depth``, ``branching``, ``budget``) or ``"chain"`` (``gamma``).

    ``prompts_per_domain=None`` takes every prompt; ``entropy`` names the node column correlated with
    acceptance (``"q_entropy"``, the draft's, or ``"p_entropy"``, the target's).
    """

    mode: str = "tree"
    gamma: int = 4
    depth: int = 3
    branching: int = 2
    budget: int | None = None
    temperature: float = 0.0
    domains: tuple[str, ...] = DOMAINS
    max_new_tokens: int = 64
    prompts_per_domain: int | None = None
    seed: int = 0
    entropy: str = "q_entropy"
    confidence: float = 0.95
    n_resamples: int = 2000

    def __post_init__(self):
        if self.mode not in ("tree", "chain"):
            raise ValueError(f"mode must be 'tree' or 'chain', got {self.mode!r}.")
        if isinstance(self.domains, str):
            raise ValueError(f"domains must be a tuple of domain names, got the string {self.domains!r}; "
                             f"write domains=({self.domains!r},).")
        unknown = set(self.domains) - set(DOMAINS)
        if unknown:
            raise ValueError(f"unknown domain(s) {sorted(unknown)}; choose from {list(DOMAINS)}.")
        if self.entropy not in ("q_entropy", "p_entropy"):
            raise ValueError(f"entropy must be 'q_entropy' or 'p_entropy', got {self.entropy!r}.")
        for name in ("gamma", "max_new_tokens", "n_resamples"):
            setattr(self, name, check_int(name, getattr(self, name)))
        if self.prompts_per_domain is not None:
            self.prompts_per_domain = check_int("prompts_per_domain", self.prompts_per_domain,
                                                hint="or None for every prompt.")
        if self.mode == "tree":
            self.depth, self.branching, self.budget = check_tree_args(self.depth, self.branching, self.budget, "topk")
        self.temperature, self.seed = check_temperature(self.temperature), check_seed(self.seed)
        if self.seed is None:
            raise ValueError("seed must be an integer: prompt i of a study is decoded with seed + i, so that it can be rerun.")
        try:
            confidence = float("nan") if isinstance(self.confidence, (bool, str)) else float(self.confidence)
        except (TypeError, ValueError):
            confidence = float("nan")
        if not 0 < confidence < 1:
            raise ValueError(f"confidence must be a number between 0 and 1 (e.g. 0.95), got {self.confidence!r}.")

    def quick(self) -> "StudyConfig":
        """The same configuration cut down to 2 prompts per domain and 16 new tokens (a smoke run)."""
        return replace(self, prompts_per_domain=2, max_new_tokens=16, n_resamples=500)


def _prompt_ids(prompt, encode) -> torch.Tensor:
    """A prompt's token ids: ids pass through; text goes through ``encode`` (e.g. :meth:`Pair.encode`)."""
    if not isinstance(prompt, str):
        return torch.as_tensor(prompt, dtype=torch.long).reshape(-1)
    if encode is None:
        raise ValueError("this prompt is text, so the study needs encode=pair.encode to turn it into token ids.")
    return encode(prompt)


def _decode(draft, target, ids, config: StudyConfig, eos, seed) -> GenerationResult:
    common = dict(temperature=config.temperature, seed=seed, eos_token_id=eos)
    if config.mode == "chain":
        return speculative_generate(draft, target, ids, config.max_new_tokens, gamma=config.gamma, **common)
    return tree_speculative_generate(draft, target, ids, config.max_new_tokens, depth=config.depth,
                                     branching=config.branching, budget=config.budget, **common)


@dataclass
class StudyResult:
    """The raw material of the study: one row per node and per step, each tagged with ``prompt_id`` and ``domain``."""

    config: StudyConfig
    nodes: pd.DataFrame
    steps: pd.DataFrame
    seconds: float = 0.0
    device: str = "cpu"


def _select(prompts, config: StudyConfig) -> list:
    chosen = []
    for domain in config.domains:
        of_domain = [p for p in prompts if p.domain == domain]
        chosen += of_domain[: config.prompts_per_domain] if config.prompts_per_domain else of_domain
    if not chosen:
        raise ValueError(f"no prompts in the domains {list(config.domains)}.")
    return chosen


def run_study(
    draft: PreTrainedModel,
    target: PreTrainedModel,
    prompts: list,
    config: StudyConfig | None = None,
    *,
    encode=None,
    progress: bool = False,
) -> StudyResult:
    """Decode every selected prompt once and collect its node and step records.

    ``prompts`` are objects with ``.id``, ``.domain`` and ``.prompt`` (text, or token ids when there is
    no tokenizer), e.g. from :func:`specdec_lite.prompts.load_prompts`. Prompt ``i`` is decoded with
    seed ``config.seed + i`` (this matters only at temperature > 0). Generation stops at the target's
    EOS token.
    """
    config = config or StudyConfig()
    chosen = _select(prompts, config)
    eos = eos_token_id(target)
    node_frames, step_frames = [], []
    start = time.perf_counter()
    for i, prompt in enumerate(tqdm(chosen, desc=f"study ({config.mode})", disable=not progress, leave=False)):
        ids = _prompt_ids(prompt.prompt, encode)
        result = _decode(draft, target, ids, config, eos, config.seed + i)
        tag = {"prompt_id": prompt.id, "domain": prompt.domain}
        nodes = result.nodes_frame().assign(**tag)
        nodes["node"] = nodes.groupby("step").cumcount()
        node_frames.append(nodes)
        step_frames.append(result.steps_frame().assign(**tag))
    nodes = pd.concat(node_frames, ignore_index=True)
    nodes["tested"] = nodes_tested(nodes, group=("prompt_id", "step")).to_numpy()
    front = ["prompt_id", "domain", "step", "node"]
    nodes = nodes[front + [c for c in nodes.columns if c not in front]]
    steps = pd.concat(step_frames, ignore_index=True)
    steps = steps[["prompt_id", "domain"] + [c for c in steps.columns if c not in ("prompt_id", "domain")]]
    return StudyResult(config, nodes, steps, time.perf_counter() - start, str(model_device(target)))


def pearson_r(x: pd.Series, y: pd.Series, confidence: float) -> tuple[float, float, float, float]:
    """Pearson r, its CI and p-value; all NaN when either variable is constant or there are < 4 points."""
    x, y = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
    if len(x) < 4 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return (float("nan"),) * 4
    test = pearsonr(x, y)
    ci = test.confidence_interval(confidence)
    return float(test.statistic), float(ci.low), float(ci.high), float(test.pvalue)


def level_outcomes(nodes: pd.DataFrame, group: tuple[str, ...] = ("prompt_id", "step")) -> pd.DataFrame:
    """One row per tree level that a step reached: ``group`` columns, ``domain`` if present, ``depth`` and ``accepted``.

    Level ``d`` of a step is *reached* when ``d = 1`` or the path was accepted down to depth ``d - 1``
    (and the step drafted nodes at depth ``d``); it is *accepted* when some node at depth ``d`` was.
    With one node per level (a chain) a level is a node the target tested. The mean of ``accepted`` is
    the acceptance per level, the probability that the path grows by one more token given that it got
    this far: the rate that enters ``E[accepted length] = alpha + alpha^2 + ... + alpha^depth``.
    """
    keys = list(group) + (["domain"] if "domain" in nodes.columns else [])
    per_step = nodes.assign(kept=nodes["depth"].where(nodes["accepted"], 0)).groupby(keys, sort=False).agg(
        kept=("kept", "max"), drafted=("depth", "max")).reset_index()
    reached = np.minimum(per_step["kept"] + 1, per_step["drafted"]).to_numpy()
    rows = per_step.loc[per_step.index.repeat(reached), keys].reset_index(drop=True)
    rows["depth"] = np.concatenate([np.arange(1, n + 1) for n in reached]) if len(reached) else []
    rows["accepted"] = rows["depth"].to_numpy() <= np.repeat(per_step["kept"].to_numpy(), reached)
    return rows


def predicted_accepted_length(alpha: float, depth: int) -> float:
    """``alpha + alpha^2 + ... + alpha^depth``: the expected accepted length per step at a constant per-level rate."""
    return float(sum(alpha**d for d in range(1, depth + 1)))


def acceptance_by_domain(result: StudyResult) -> pd.DataFrame:
    """Per domain: counts, acceptance rate with CI, alpha, expected accepted length with CI, entropy-acceptance r."""
    config, rows = result.config, []
    ci = dict(confidence=config.confidence, n_resamples=config.n_resamples, seed=config.seed)  # over prompts
    levels_all = level_outcomes(result.nodes)
    depth = config.depth if config.mode == "tree" else config.gamma
    for domain in [d for d in DOMAINS if d in set(result.nodes["domain"]) | set(result.steps["domain"])]:
        nodes = result.nodes[result.nodes["domain"] == domain]
        steps = result.steps[result.steps["domain"] == domain]
        levels = levels_all[levels_all["domain"] == domain]
        per_prompt = steps.groupby("prompt_id").agg(accepted=("accepted", "sum"), drafted=("drafted", "sum"),
                                                     steps=("step", "count"))
        per_prompt_levels = levels.groupby("prompt_id")["accepted"].agg(["sum", "count"]).reindex(per_prompt.index,
                                                                                                 fill_value=0)
        r, r_low, r_high, r_p = pearson_r(nodes[config.entropy], nodes["accepted"], config.confidence)
        accepted = per_prompt["accepted"].to_numpy()
        level_low, level_high = ratio_ci(per_prompt_levels["sum"].to_numpy(), per_prompt_levels["count"].to_numpy(),
                                         **ci)
        rate_low, rate_high = ratio_ci(accepted, per_prompt["drafted"].to_numpy(), **ci)
        len_low, len_high = ratio_ci(accepted, per_prompt["steps"].to_numpy(), **ci)
        level_rate = levels["accepted"].mean() if len(levels) else float("nan")
        rows.append({
            "domain": domain,
            "prompts": len(per_prompt),
            "steps": len(steps),
            "nodes": len(nodes),
            "accepted": int(nodes["accepted"].sum()),
            "levels_reached": len(levels),
            "level_acceptance": level_rate,
            "level_acceptance_ci_low": level_low,
            "level_acceptance_ci_high": level_high,
            "predicted_accepted_length": predicted_accepted_length(level_rate, depth),
            "acceptance_rate": nodes["accepted"].mean() if len(nodes) else float("nan"),
            "tested_node_acceptance": nodes.loc[nodes["tested"], "accepted"].mean() if len(nodes) else float("nan"),
            "acceptance_ci_low": rate_low,
            "acceptance_ci_high": rate_high,
            "alpha": alpha_from_nodes(nodes, group=("prompt_id", "step")),
            "expected_accepted_length": steps["accepted"].mean(),
            "accepted_length_ci_low": len_low,
            "accepted_length_ci_high": len_high,
            "mean_entropy": nodes[config.entropy].mean(),
            "mean_target_entropy": nodes["p_entropy"].mean(),
            "entropy_r": r,
            "entropy_r_ci_low": r_low,
            "entropy_r_ci_high": r_high,
            "entropy_r_p": r_p,
        })
    return pd.DataFrame(rows)


def depth_profile(result: StudyResult) -> pd.DataFrame:
    """Per domain and depth: nodes, accepted, their rate, and the conditional rate among tested nodes."""
    nodes = result.nodes
    profile = nodes.groupby(["domain", "depth"]).agg(
        nodes=("accepted", "size"), accepted=("accepted", "sum"), acceptance_rate=("accepted", "mean"),
        tested=("tested", "sum"),
    ).reset_index()
    profile["domain"] = pd.Categorical(profile["domain"], [d for d in DOMAINS if d in set(profile["domain"])])
    profile = profile.sort_values(["domain", "depth"], ignore_index=True)
    profile["domain"] = profile["domain"].astype(str)
    profile["conditional_rate"] = profile["accepted"] / profile["tested"].where(profile["tested"] > 0)
    return profile


def fit_logit(data: pd.DataFrame, formula: str) -> tuple[dict, object]:
    """A logistic regression of a level's outcome, with standard errors clustered by prompt."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = smf.logit(f"accepted ~ {formula}", data).fit(disp=0, cov_type="cluster",
                                                           cov_kwds={"groups": data["cluster"]})
    summary = {
        "formula": f"accepted ~ {formula}",
        "pseudo_r2": float(fit.prsquared),
        "aic": float(fit.aic),
        "auc": float(roc_auc_score(data["accepted"], fit.predict(data))),
        "parameters": int(fit.df_model) + 1,
        "llr_pvalue": float(fit.llr_pvalue),
    }
    return summary, fit


def _cluster_wald_p(fit, term: str) -> float:
    """p-value of the cluster-robust Wald test that every coefficient of ``term`` is zero."""
    names = [name for name in fit.params.index if name.startswith(f"C({term})")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(fit.wald_test(", ".join(f"{name} = 0" for name in names), scalar=True).pvalue)


def compare_predictors(result: StudyResult) -> dict:
    """Does task type (domain) predict acceptance better than tree depth?

    The outcome is one row per tree level reached (:func:`level_outcomes`), not one per node: nodes
    under a rejected parent were never tested, and siblings share one outcome. Three logistic models,
    ``accepted ~ C(domain)``, ``~ C(depth)`` and ``~ C(domain) + C(depth)``, are compared by McFadden's
    pseudo-R^2 (the verdict), AIC and in-sample ROC AUC; ``llr_pvalue`` tests each against the
    intercept-only model. Levels of one prompt are not independent, so standard errors are clustered
    by prompt, and ``domain_wald_p`` / ``depth_wald_p`` are cluster-robust Wald tests of each term in the
    joint model (the likelihood-ratio p-values assume independence and are optimistic).
    """
    levels = level_outcomes(result.nodes)
    # Sparse deepest levels whose outcomes are all alike would separate perfectly: pool them into the
    # deepest level that has both outcomes (with real data every level has both, and nothing is pooled).
    mixed = levels.groupby("depth")["accepted"].nunique()
    deepest = mixed.index[mixed > 1].max() if (mixed > 1).any() else levels["depth"].min()
    data = levels.assign(accepted=levels["accepted"].astype(int), depth=levels["depth"].clip(upper=deepest),
                         cluster=pd.factorize(levels["prompt_id"])[0])
    reasons = []
    if data["accepted"].nunique() < 2:
        reasons.append("every level has the same outcome")
    if data["domain"].nunique() < 2:
        reasons.append("only one domain was run")
    if data["depth"].nunique() < 2:
        reasons.append("every level has the same depth")
    if reasons:
        return {"outcome": "level", "levels": len(data), "domain": None, "depth": None, "both": None,
                "domain_better": None, "verdict": "not testable: " + "; ".join(reasons) + "."}
    try:
        (domain, _), (depth, _), (both, joint) = (fit_logit(data, f) for f in ("C(domain)", "C(depth)",
                                                                                 "C(domain) + C(depth)"))
    except np.linalg.LinAlgError:
        return {"outcome": "level", "levels": len(data), "domain": None, "depth": None, "both": None,
                "domain_better": None, "verdict": "not testable: the logistic fits are singular (some domain or depth has levels of "
                           "one outcome only); run more prompts or more tokens."}
    both["domain_wald_p"], both["depth_wald_p"] = _cluster_wald_p(joint, "domain"), _cluster_wald_p(joint, "depth")
    better = domain["pseudo_r2"] > depth["pseudo_r2"]
    aic_agrees = (domain["aic"] < depth["aic"]) == better
    verdict = (
        f"task type {'predicts' if better else 'does not predict'} acceptance better than depth "
        f"(per-level outcomes, {len(data)} levels from {data['cluster'].nunique()} prompts; McFadden pseudo-R2 "
        f"{domain['pseudo_r2']:.4f} for domain vs {depth['pseudo_r2']:.4f} for depth; AUC {domain['auc']:.3f} vs "
        f"{depth['auc']:.3f}; AIC {'agrees' if aic_agrees else 'disagrees'}; in the joint model, cluster-robust "
        f"Wald p: domain {both['domain_wald_p']:.2g}, depth {both['depth_wald_p']:.2g})."
    )
    return {"outcome": "level", "levels": len(data), "domain": domain, "depth": depth, "both": both,
            "domain_better": bool(better), "verdict": verdict}


def published_comparison(summary: pd.DataFrame) -> pd.DataFrame:
    """Our per-domain figures beside the published ones (NaN where the paper gives no number).

    Acceptance is the rate per tree level on both sides. ``accepted_length_from_rate_*`` is the
    consistency check ``alpha + alpha^2 + ... + alpha^depth``: from the paper's chat rate 0.565 it gives
    1.065, its published accepted length, and it should sit close to our measured length too.
    """
    rows = []
    for _, row in summary.iterrows():
        domain = row["domain"]
        published = PUBLISHED_ACCEPTANCE.get(domain, float("nan"))
        rows.append({
            "domain": domain,
            "acceptance_ours": row["level_acceptance"],
            "acceptance_published": published,
            "accepted_length_ours": row["expected_accepted_length"],
            "accepted_length_from_rate_ours": row["predicted_accepted_length"],
            "accepted_length_published": PUBLISHED_ACCEPTED_LENGTH.get(domain, float("nan")),
            "accepted_length_from_rate_published": predicted_accepted_length(published, PAPER_DEPTH),
            "entropy_r_ours": row["entropy_r"],
            "entropy_r_published_low": PUBLISHED_ENTROPY_R[0],
            "entropy_r_published_high": PUBLISHED_ENTROPY_R[1],
        })
    return pd.DataFrame(rows)


def _findings(summary: pd.DataFrame, predictors: dict) -> list[dict]:
    """The paper's qualitative findings, each checked on our numbers (``holds`` is None when not checkable)."""
    by = summary.set_index("domain")
    four = set(by.index) == set(DOMAINS)
    above = set(by.index[by["expected_accepted_length"] > 1.0])
    r = by["entropy_r"].dropna()
    return [
        {"finding": "chat has the highest acceptance rate",
         "holds": bool(by["level_acceptance"].idxmax() == "chat") if four else None},
        {"finding": "math has the lowest acceptance rate",
         "holds": bool(by["level_acceptance"].idxmin() == "math") if four else None},
        {"finding": "only chat has an expected accepted length above 1.0",
         "holds": above == {"chat"} if four else None},
        {"finding": "entropy and acceptance are weakly negatively correlated in every domain",
         "holds": bool(len(r) == len(by) and (r < 0).all()) if len(by) else None},
        {"finding": "chat has the highest target entropy and still the highest acceptance",
         "holds": bool(by["mean_target_entropy"].idxmax() == "chat" and by["level_acceptance"].idxmax() == "chat")
         if four else None},
        {"finding": "task type predicts acceptance better than depth", "holds": predictors["domain_better"]},
    ]


@dataclass(frozen=True)
class StudyAnalysis:
    """Everything the reports show, computed once from a study (the bootstrap and the fits are the slow part)."""

    summary: pd.DataFrame  # acceptance_by_domain
    profile: pd.DataFrame  # depth_profile
    predictors: dict  # compare_predictors
    published: pd.DataFrame  # published_comparison of the summary
    findings: list[dict]  # the paper's findings, checked


def analyse_study(result: StudyResult) -> StudyAnalysis:
    """The analysis behind :func:`study_report`, :func:`format_report` and the study's figures."""
    summary = acceptance_by_domain(result)
    predictors = compare_predictors(result)
    return StudyAnalysis(summary, depth_profile(result), predictors, published_comparison(summary),
                         _findings(summary, predictors))


def study_report(result: StudyResult, analysis: StudyAnalysis | None = None) -> dict:
    """The study as the documented JSON object (``docs/json_schema.md``); NaN becomes ``null``.

    ``analysis`` is :func:`analyse_study`'s for ``result``, when the caller has it already.
    """
    analysis = analysis or analyse_study(result)
    nodes, steps = result.nodes, result.steps
    return jsonable({
        "schema_version": SCHEMA_VERSION,
        "kind": "study",
        "paper": PAPER,
        "device": result.device,
        "config": asdict(result.config),
        "seconds": result.seconds,
        "totals": {
            "prompts": int(steps["prompt_id"].nunique()),
            "steps": len(steps),
            "nodes": len(nodes),
            "accepted": int(nodes["accepted"].sum()),
            "acceptance_rate": float(nodes["accepted"].mean()) if len(nodes) else float("nan"),
            "level_acceptance": float(level_outcomes(nodes)["accepted"].mean()) if len(nodes) else float("nan"),
            "expected_accepted_length": float(steps["accepted"].mean()),
        },
        "domains": analysis.summary.to_dict(orient="records"),
        "depth_profile": analysis.profile.to_dict(orient="records"),
        "predictors": analysis.predictors,
        "published": analysis.published.to_dict(orient="records"),
        "findings": analysis.findings,
    })


def format_report(result: StudyResult, analysis: StudyAnalysis | None = None) -> str:
    """A plain-text report: our figures beside the published ones, the depth profile and the verdict.

    ``analysis`` is :func:`analyse_study`'s for ``result``, when the caller has it already.
    """
    analysis = analysis or analyse_study(result)
    summary, side = analysis.summary, analysis.published.set_index("domain")
    lines = [
        f"Study: {result.config.mode}, "
        + (f"depth {result.config.depth}, branching {result.config.branching}" if result.config.mode == "tree"
           else f"gamma {result.config.gamma}")
        + f", temperature {result.config.temperature}, {result.steps['prompt_id'].nunique()} prompts, "
          f"{len(result.nodes)} nodes, {result.seconds:.1f} s on {result.device}",
        "",
        f"Per domain, ours vs published ({PAPER}; '-' where the paper gives no figure):",
        side.to_string(float_format=lambda v: f"{v:.3f}", na_rep="-"),
        "",
        "Acceptance per level (headline) with 95% bootstrap CI over prompts, per drafted node, per tested node;",
        "accepted length measured and from the per-level rate; mean target entropy; entropy-acceptance r (Fisher CI):",
        summary[["domain", "level_acceptance", "level_acceptance_ci_low", "level_acceptance_ci_high",
                 "acceptance_rate", "tested_node_acceptance", "expected_accepted_length", "predicted_accepted_length",
                 "mean_target_entropy", "entropy_r", "entropy_r_ci_low", "entropy_r_ci_high"]]
        .to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-"),
        "",
        "Depth profile:",
        analysis.profile.to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-"),
        "",
        "Findings of the paper, checked on these numbers:",
    ]
    for finding in analysis.findings:
        mark = {True: "holds", False: "does not hold", None: "not checkable"}[finding["holds"]]
        lines.append(f"  - {finding['finding']}: {mark}")
    lines += ["", "Verdict: " + analysis.predictors["verdict"]]
    return "\n".join(lines)


def save_frame(frame: pd.DataFrame, path: str | Path) -> Path:
    """Save a node or step frame: Parquet for a ``.parquet`` path (needs pyarrow), CSV otherwise (gzipped for ``.gz``)."""
    path = Path(path)
    if path.suffix == ".parquet":
        if importlib.util.find_spec("pyarrow") is None:
            raise ValueError(f"cannot write {path}: Parquet needs pyarrow, which is not installed; use a .csv path.")
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def load_frame(path: str | Path) -> pd.DataFrame:
    """Read back what :func:`save_frame` wrote."""
    path = Path(path)
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


TABLE_FORMATS = ("csv", "csv.gz", "parquet")
# The columns the analysis reads from each table (a study's tables hold more).
TABLES = {
    "nodes": {"prompt_id", "domain", "step", "depth", "parent", "accepted", "tested", "q_entropy", "p_entropy"},
    "steps": {"prompt_id", "domain", "step", "drafted", "accepted"},
}


def save_study(result: StudyResult, report: dict, folder: str | Path, table_format: str = "csv") -> dict:
    """Write the node and step tables and ``study.json`` into ``folder``; return the report as written.

    ``study.json`` is ``report`` plus ``tables``: for each table its file name, rows, bytes and SHA-256,
    so that :func:`load_study` can refuse a table that was truncated, edited or taken from another run.
    """
    if table_format not in TABLE_FORMATS:
        raise ValueError(f"table_format must be one of {TABLE_FORMATS}, got {table_format!r}.")
    folder, tables = Path(folder), {}
    for name, frame in (("nodes", result.nodes), ("steps", result.steps)):
        path = save_frame(frame, folder / f"{name}.{table_format}")
        tables[name] = table_record(path, len(frame))
    report = report | {"tables": tables}
    (folder / "study.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def table_record(path: Path, rows: int) -> dict:
    """What ``study.json`` records about one saved table: ``file``, ``rows``, ``bytes`` and ``sha256``."""
    return {"file": path.name, "rows": int(rows), "bytes": path.stat().st_size, "sha256": sha256_of(path)}


def _table_file(folder: Path, name: str) -> Path:
    found = [folder / f"{name}.{suffix}" for suffix in TABLE_FORMATS if (folder / f"{name}.{suffix}").exists()]
    if len(found) != 1:
        raise FileNotFoundError(f"{folder} must hold exactly one {name}.csv, {name}.csv.gz or {name}.parquet "
                                f"(found {len(found)}); write one with `specdec-lite study --out {folder}`.")
    return found[0]


def _rerun(folder: Path) -> str:
    return (f"re-run the study that wrote it (`specdec-lite study ... --out {folder}` with the same options) or put "
            "back the folder's original files")


def _read_report(folder: Path) -> dict:
    """``study.json`` of ``folder`` as a dict, or a clear error when it is missing or not a study report."""
    report_file = folder / "study.json"
    if not report_file.exists():
        raise FileNotFoundError(f"{report_file} is missing: `specdec-lite study --out {folder}` writes it.")
    try:
        report = json.loads(report_file.read_text())
    except (OSError, ValueError) as error:
        report = {"error": str(error)}
    if not isinstance(report, dict) or report.get("kind") != "study" or not isinstance(report.get("config"), dict) \
            or not isinstance(report.get("tables") or {}, dict):
        raise ValueError(f"{report_file} is not a study report as `specdec-lite study --out` writes it; "
                         f"{_rerun(folder)}.")
    return report


def _read_table(folder: Path, name: str, report: dict) -> pd.DataFrame:
    """One table of a saved study, checked against what ``study.json`` records for it.

    A report with ``tables`` (see :func:`save_study`) fixes the file, its size, SHA-256 and rows; an older
    one without them still fixes the rows (its ``totals``). The columns the analysis reads must be there.
    """
    path, report_file = _table_file(folder, name), folder / "study.json"
    record = (report.get("tables") or {}).get(name)
    if record is not None:
        if not isinstance(record, dict):
            raise ValueError(f"{report_file} has a damaged record of its {name} table; {_rerun(folder)}.")
        differ = [what for what, ok in (
            ("file name", record.get("file") == path.name),
            ("size", record.get("bytes") == path.stat().st_size),
            ("SHA-256", record.get("sha256") == sha256_of(path)),
        ) if not ok]
        if differ:
            raise ValueError(f"{path} does not match what {report_file} records for it (its {' and '.join(differ)} "
                             f"differ): the table was changed, truncated or comes from another run; {_rerun(folder)}.")
    try:
        frame = load_frame(path)
    except (OSError, EOFError, ValueError, zlib.error) as error:
        raise ValueError(f"{path} cannot be read ({type(error).__name__}: {error}); it is damaged or truncated: "
                         f"{_rerun(folder)}.") from error
    rows = record.get("rows") if record is not None else (report.get("totals") or {}).get(name)
    if rows is not None and len(frame) != rows:
        raise ValueError(f"{path} has {len(frame)} rows, but {report_file} says the study had {rows}; {_rerun(folder)}.")
    missing = TABLES[name] - set(frame.columns)
    if missing:
        raise ValueError(f"{path} lacks the columns {sorted(missing)} that a study's {name} table holds; "
                         f"{_rerun(folder)}.")
    return frame


def load_study(*folders: str | Path) -> StudyResult:
    """The study saved in ``folders`` by ``specdec-lite study --out DIR``: its ``study.json`` and node and step tables.

    Several folders are merged into one study: runs of one configuration on disjoint prompts (say, two
    halves of the prompts run side by side). Their configurations must agree except in the prompts they
    took, and no prompt may appear twice; the merged study's ``seconds`` is the sum of the runs'. Each
    table must be the one its ``study.json`` records (file, size, SHA-256, rows); a mismatch raises an
    error that says to re-run the study.
    """
    if not folders:
        raise ValueError("load_study needs at least one folder written by `specdec-lite study --out DIR`.")
    known = {f.name for f in fields(StudyConfig)}  # keys that a newer report may add are left out
    configs, nodes, steps, seconds, devices = [], [], [], 0.0, set()
    for folder in map(Path, folders):
        report = _read_report(folder)
        configs.append({k: v for k, v in report["config"].items() if k in known}
                       | {"domains": tuple(report["config"].get("domains", DOMAINS))})
        nodes.append(_read_table(folder, "nodes", report))
        steps.append(_read_table(folder, "steps", report))
        seconds += report.get("seconds") or 0.0
        devices.add(report.get("device", "cpu"))
    differ = sorted(k for k in configs[0] if k not in ("domains", "prompts_per_domain")
                    and any(c.get(k) != configs[0][k] for c in configs[1:]))
    if differ:
        raise ValueError(f"cannot merge studies whose configurations differ in {differ}: {[str(f) for f in folders]}.")
    ids = [frame["prompt_id"].unique() for frame in steps]
    repeated = set.intersection(*map(set, ids)) if len(ids) > 1 else set()
    if repeated:
        raise ValueError(f"cannot merge studies that share prompts {sorted(repeated)[:5]}: each prompt once.")
    domains = tuple(d for d in DOMAINS if any(d in c["domains"] for c in configs))
    per_domain = configs[0].get("prompts_per_domain") if len(configs) == 1 else None
    config = StudyConfig(**(configs[0] | {"domains": domains, "prompts_per_domain": per_domain}))
    return StudyResult(config, pd.concat(nodes, ignore_index=True),
                       pd.concat(steps, ignore_index=True), seconds, ", ".join(sorted(devices)))
