"""Lesson 9's comparison: every drafter on the SmolLM2 target, timed against the target alone, on the same prompts.

    python tools/compare_drafters.py             # writes results/drafters/smol.json (about 30 min, 2-core CPU)
    python tools/compare_drafters.py --quick     # a smoke run (1 prompt per domain, 16 tokens) to --out
    python tools/compare_drafters.py --set study --repeats 3   # re-time one prompt set; the other is kept

Two prompt sets, greedy, float32, ``--new-tokens`` new tokens (64), interleaved rounds
(:func:`specdec_lite.bench.time_decoders`):

* the study's four domains (the first ``--per-domain`` chat prompts of each): the separate draft (chain,
  gamma 4), prompt lookup, Medusa's heads (chain of 4, and a tree of their top choices), the EAGLE-style
  layer (chain and tree), and prompt lookup falling back to the EAGLE layer;
* the course's input-grounded prompts (rewrite, fix, extract, edit code, answer from a passage), where
  copying from the context should pay: the separate draft, prompt lookup, and lookup falling back to each
  model drafter.

For each drafter and domain: alpha per tested token (:func:`specdec_lite.theory.alpha_from_nodes`), tokens per
target call, the speed-up over the target alone with its bootstrap interval over prompts and its value in each
round (:func:`specdec_lite.bench.speedup_figures`), and whether every output equals the
target's own. Each set records its own run (``provenance``: command, start, seconds, machine) and its
``repeats``, so that ``--set`` can re-time one set in place and keep the other as it was measured. The drafting price ``c = T_draft(4) / (4 T_target(1))`` comes from
:func:`specdec_lite.bench.draft_time` and :func:`~specdec_lite.bench.step_time`. Budgets (issue: lesson 9): the
best drafter per study domain at least 1.3x; EAGLE's alpha at least the separate draft's; lookup or its
combination at least 1.5x on the grounded set. The JSON says which were met; ``python -m training.card_features``
(run by ``make drafters`` after this tool) writes them into the feature drafters' model cards.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "drafters" / "smol.json"
GAMMA, TREE = 4, {"depth": 4, "branching": 2, "budget": 12}
BUDGETS = {"best_per_domain": 1.3, "grounded": 1.5}


def drafter_set(pair, which: str) -> dict:
    """name -> (drafter, "chain" or "tree") for one prompt set."""
    from specdec_lite.lookup import LookupOr, PromptLookup
    from specdec_lite.pairs import feature_drafter

    vocab = pair.target.config.vocab_size
    medusa, eagle = feature_drafter(pair, "medusa"), feature_drafter(pair, "eagle")
    if which == "study":
        return {"draft": (pair.draft, "chain"), "lookup": (PromptLookup(vocab), "chain"),
                "medusa": (medusa, "chain"), "medusa_tree": (medusa, "tree"), "eagle": (eagle, "chain"),
                "eagle_tree": (eagle, "tree"), "lookup_eagle": (LookupOr(PromptLookup(vocab), eagle), "chain")}
    return {"draft": (pair.draft, "chain"), "lookup": (PromptLookup(vocab), "chain"),
            "lookup_draft": (LookupOr(PromptLookup(vocab), pair.draft), "chain"),
            "lookup_eagle": (LookupOr(PromptLookup(vocab), eagle), "chain"),
            "lookup_medusa": (LookupOr(PromptLookup(vocab), medusa), "chain")}


def compare(pair, prompts: list, drafters: dict, new_tokens: int, repeats: int) -> dict:
    """Time the target and every drafter on ``prompts``, interleaved; the figures per drafter and domain."""
    import pandas as pd
    import torch

    from specdec_lite import autoregressive_generate, speculative_generate, tree_speculative_generate
    from specdec_lite.bench import speedup_figures, time_decoders, tokens_and_result
    from specdec_lite.calls import model_device
    from specdec_lite.theory import alpha_from_nodes

    eos, target = pair.eos_token_id, pair.target
    encoded = [pair.encode(p.prompt) for p in prompts]
    runners = {"target": lambda ids: tokens_and_result(autoregressive_generate(target, ids, new_tokens,
                                                                               eos_token_id=eos))}
    for name, (drafter, shape) in drafters.items():
        if shape == "chain":
            runners[name] = (lambda d: lambda ids: tokens_and_result(speculative_generate(
                d, target, ids, new_tokens, gamma=GAMMA, eos_token_id=eos)))(drafter)
        else:
            runners[name] = (lambda d: lambda ids: tokens_and_result(tree_speculative_generate(
                d, target, ids, new_tokens, eos_token_id=eos, **TREE)))(drafter)
    runs, last = time_decoders(runners, encoded, repeats=repeats, warmup=0, device=model_device(target), progress=True)
    runs["domain"] = [prompts[i].domain for i in runs["prompt"]]
    reference = [tokens for tokens, _ in last["target"]]
    figures = {}
    for name in drafters:
        exact = [bool(torch.equal(t.cpu(), r.cpu())) for (t, _), r in zip(last[name], reference)]
        per_domain = {}
        for domain in dict.fromkeys(p.domain for p in prompts):
            rows = [i for i, p in enumerate(prompts) if p.domain == domain]
            results = [last[name][i][1] for i in rows]
            nodes = pd.concat([r.nodes_frame().assign(prompt=i) for i, r in zip(rows, results)], ignore_index=True)
            per_domain[domain] = {
                "alpha": alpha_from_nodes(nodes, group=("prompt", "step")) if len(nodes) else float("nan"),
                "tokens_per_call": sum(len(r.tokens) for r in results) / sum(r.target_calls for r in results),
                **speedup_figures(runs[runs["domain"] == domain], name, "target"), "exact": all(exact[i] for i in rows)}
        figures[name] = per_domain
    return {"drafters": figures, "repeats": repeats, "runs": runs.to_dict("records")}


def budgets(report: dict) -> dict:
    """Which of the issue's budgets a comparison met, with each threshold (``BUDGETS``) beside what was measured."""
    from specdec_lite.prompts import DOMAINS

    figures, grounded = report["study"]["drafters"], report["grounded"]["drafters"]
    best = {d: max(figures, key=lambda n: figures[n][d]["speedup"]) for d in DOMAINS}
    eagle_alpha = sum(figures["eagle"][d]["alpha"] for d in DOMAINS) / len(DOMAINS)
    draft_alpha = sum(figures["draft"][d]["alpha"] for d in DOMAINS) / len(DOMAINS)
    grounded_best = max((n for n in grounded if n.startswith("lookup")), key=lambda n: grounded[n]["grounded"]["speedup"])
    grounded_speedup = grounded[grounded_best]["grounded"]["speedup"]
    return {
        "best_per_domain": {d: {"drafter": best[d], "speedup": figures[best[d]][d]["speedup"],
                                "budget": BUDGETS["best_per_domain"],
                                "met": figures[best[d]][d]["speedup"] >= BUDGETS["best_per_domain"]} for d in DOMAINS},
        "eagle_alpha_vs_draft": {"eagle": eagle_alpha, "draft": draft_alpha, "met": eagle_alpha >= draft_alpha},
        "grounded": {"drafter": grounded_best, "speedup": grounded_speedup, "budget": BUDGETS["grounded"],
                     "met": grounded_speedup >= BUDGETS["grounded"]},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--per-domain", type=int, default=6, help="study prompts per domain")
    parser.add_argument("--grounded", type=int, default=40, help="input-grounded prompts")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="1 prompt per domain, 4 grounded, 16 new tokens")
    parser.add_argument("--set", choices=("both", "study", "grounded"), default="both",
                        help="the prompt set(s) to time; with one, the other is kept from the existing --out file")
    args = parser.parse_args(argv)
    if args.quick:
        args.per_domain, args.grounded, args.new_tokens = 1, 4, 16
    sets_to_run = ("study", "grounded") if args.set == "both" else (args.set,)
    report = {}
    if args.set != "both":
        if not args.out.exists():
            parser.error(f"--set {args.set} keeps the other set from {args.out}, which does not exist: "
                         "run with --set both first")
        report = json.loads(args.out.read_text())
        if report["settings"]["new_tokens"] != args.new_tokens:
            parser.error(f"{args.out} was measured with {report['settings']['new_tokens']} new tokens: "
                         f"--set {args.set} must use the same --new-tokens")

    from specdec_lite.bench import draft_time, step_time
    from specdec_lite.pairs import load_pair
    from specdec_lite.prompts import DOMAINS, load_prompts
    from specdec_lite.reports import provenance, tool_command, write_report

    command = tool_command("compare_drafters.py", argv)
    load_before, started = os.getloadavg(), time.perf_counter()
    pair = load_pair("smol", device="cpu")
    prompts = {"study": [p for d in DOMAINS for p in load_prompts(d, prompt_set=pair.prompt_set)[: args.per_domain]],
               "grounded": load_prompts(prompt_set="grounded")[: args.grounded]}
    settings = report.get("settings", {}) | {"gamma": GAMMA, "tree": TREE, "new_tokens": args.new_tokens}
    settings.pop("repeats", None)   # each set records its own
    report["settings"] = settings | {f"{name}_prompts": [p.id for p in prompts[name]] for name in sets_to_run}
    target_step = step_time(pair.target)
    sets = {"study": drafter_set(pair, "study"), "grounded": drafter_set(pair, "grounded")}
    report["costs"] = {"target_step": target_step} | {
        name: {"draft_time": (t := draft_time(d, pair.target, GAMMA)), "c": t / (GAMMA * target_step)}
        for name, (d, shape) in {**sets["study"], **sets["grounded"]}.items() if shape == "chain"}
    for name in ("study", "grounded"):
        if name in sets_to_run:
            set_started, set_load = time.perf_counter(), os.getloadavg()
            report[name] = compare(pair, prompts[name], sets[name], args.new_tokens, args.repeats)
            report[name]["provenance"] = provenance(command, set_started, set_load)
    report["budgets"] = budgets(report)
    write_report(args.out, report | provenance(command, started, load_before))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
