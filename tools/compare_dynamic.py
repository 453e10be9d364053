"""Dynamic speculation on the SmolLM2 pair: each drafter at a fixed gamma and with a fitted stop rule, beside HF.

    python tools/compare_dynamic.py                 # writes results/dynamic/smol.json (about 35 min, 2-core CPU)
    python tools/compare_dynamic.py --minutes 20    # stop after the round that passes 20 min; run again to resume
    python tools/compare_dynamic.py --quick --out /tmp/dynamic.json   # a smoke run (1 prompt a domain, 16 tokens)

Greedy, float32, ``--new-tokens`` (64). The prompts are the first ``--per-domain`` of each study domain, split in
halves per domain (:func:`specdec_lite.policy.split_prompts`, the policy run's split), and the first
``--grounded-per-kind`` input-grounded prompts of each of their five kinds (rewrite, fix, extract, edit code,
answer from a passage), split the same way per kind: the rules are fitted on one half and timed on the other.

1. **Fit** (:func:`specdec_lite.dynamic.fit_stop`): the separate draft and the EAGLE-style layer each decode the
   fit half at gamma ``MAX_GAMMA``; their chains are replayed under every confidence threshold and entropy limit
   and every ``max_gamma``, priced by each drafter's measured chain time (:func:`~specdec_lite.bench.draft_time`)
   and the target's measured verification ratio (:func:`~specdec_lite.bench.verify_ratio`), in target steps.
   Lookup-or-draft uses the draft's rule (it stops only the draft's chains: a copied chain is a point mass).
2. **Time** on the held-out half, interleaved rounds (:func:`specdec_lite.bench.time_decoders`): the target alone;
   the draft, the EAGLE layer and lookup-or-draft at gamma 4 and with their rule; prompt lookup at gamma 4 (a
   point mass is never unsure, so a rule changes nothing); Hugging Face's assisted generation with the draft,
   at a constant 4 tokens and with its own dynamic defaults (up to 20 tokens, confidence threshold 0.4 re-tuned
   during the call). Each round is saved as it ends, so ``--minutes`` can stop the run and a rerun resumes it.

Per decoder and domain: the speed-up over the target alone with its bootstrap interval over prompts and its value
per round (:func:`specdec_lite.bench.speedup_figures`), tokens per target call, tokens drafted per step, and
whether every output equals the target's own. The issue's budgets are recorded met or not (``BUDGETS``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "dynamic" / "smol.json"
GAMMA, MAX_GAMMA = 4, 6
BUDGETS = {"chat": 1.05, "grounded": 1.3, "every_domain": 1.3}
FITTED = ("draft", "eagle")


def chain_runs(pair, drafter, prompts: list, new_tokens: int):
    """The node records of ``drafter``'s fixed ``MAX_GAMMA`` chains on ``prompts``, as replayable steps."""
    import pandas as pd

    from specdec_lite import speculative_generate
    from specdec_lite.dynamic import chain_steps

    frames = [speculative_generate(drafter, pair.target, pair.encode(p.prompt), new_tokens, gamma=MAX_GAMMA,
                                   eos_token_id=pair.eos_token_id).nodes_frame().assign(prompt=i)
              for i, p in enumerate(prompts)]
    return chain_steps(pd.concat(frames, ignore_index=True))


def fit(pair, drafters: dict, prompts: list, new_tokens: int) -> dict:
    """Each fitted drafter's rule, from its chains on ``prompts`` priced by the measured costs (target steps)."""
    from specdec_lite.bench import draft_time, step_time, verify_ratio
    from specdec_lite.dynamic import fit_stop

    target_step = step_time(pair.target)
    verify = {k: verify_ratio(pair.target, k + 1) for k in range(1, MAX_GAMMA + 1)}
    fitted = {}
    for name in FITTED:
        chain_cost = {k: draft_time(drafters[name], pair.target, k) / target_step for k in range(1, MAX_GAMMA + 1)}
        rule = fit_stop(chain_runs(pair, drafters[name], prompts, new_tokens), chain_cost, verify, fixed_gamma=GAMMA)
        fitted[name] = {"rule": rule.rule, "level": rule.level, "max_gamma": rule.max_gamma,
                        "predicted": rule.predicted, "predicted_fixed_gamma": rule.fixed, "chain_cost": chain_cost}
    return {"target_step_s": target_step, "verify": verify, "rules": fitted}


def runners(pair, drafters: dict, rules: dict, new_tokens: int) -> dict:
    """decoder name -> a function of the prompt's ids that returns (tokens, GenerationResult or None)."""
    from specdec_lite import autoregressive_generate, speculative_generate
    from specdec_lite.bench import hf_assisted_generate, tokens_and_result
    from specdec_lite.dynamic import stop_rule

    eos, target = pair.eos_token_id, pair.target
    out = {"target": lambda ids: tokens_and_result(autoregressive_generate(target, ids, new_tokens,
                                                                           eos_token_id=eos))}

    def chain(drafter, gamma, stop=None):
        return lambda ids: tokens_and_result(speculative_generate(drafter, target, ids, new_tokens, gamma=gamma,
                                                                  eos_token_id=eos, stop=stop))

    for name in ("draft", "eagle", "lookup_draft"):
        rule = rules["draft" if name == "lookup_draft" else name]
        out[name] = chain(drafters[name], GAMMA)
        out[f"{name}_dynamic"] = chain(drafters[name], rule["max_gamma"], stop_rule(rule["rule"], rule["level"]))
    out["lookup"] = chain(drafters["lookup"], GAMMA)
    out["hf_assisted"] = lambda ids: (hf_assisted_generate(pair.draft, target, ids, new_tokens, GAMMA), None)
    out["hf_dynamic"] = lambda ids: (hf_assisted_generate(pair.draft, target, ids, new_tokens, None), None)
    return out


def round_rows(last: dict, reference: list, round_: int) -> list[dict]:
    """What a round's outputs say beside its timings: exactness, target calls, tokens drafted and accepted."""
    import torch

    rows = []
    for name, outputs in last.items():
        for i, ((tokens, result), expected) in enumerate(zip(outputs, reference)):
            steps = result.steps if result is not None else []
            rows.append({"round": round_, "prompt": i, "decoder": name,
                         "exact": bool(torch.equal(tokens.cpu(), expected.cpu())),
                         "steps": len(steps), "drafted": sum(s.drafted for s in steps),
                         "accepted": sum(s.accepted for s in steps),
                         "tested": sum(s.accepted + (s.accepted < s.drafted) for s in steps)})
    return rows


def figures(runs, outputs, prompts: list) -> dict:
    """Per decoder and domain: speed-up figures, alpha per tested token, tokens per call and per step, exactness."""
    from specdec_lite.bench import speedup_figures

    out = {}
    domains = list(dict.fromkeys(p.domain for p in prompts))
    runs = runs.assign(domain=[prompts[i].domain for i in runs["prompt"]])
    outputs = outputs.assign(domain=[prompts[i].domain for i in outputs["prompt"]])
    last = outputs[outputs["round"] == outputs["round"].max()]
    timed = runs[runs["round"] == runs["round"].max()]
    for name in dict.fromkeys(runs["decoder"]):
        if name == "target":
            continue
        out[name] = {}
        for domain in domains:
            mine = last[(last["decoder"] == name) & (last["domain"] == domain)]
            calls = timed[(timed["decoder"] == name) & (timed["domain"] == domain)]["target_calls"]
            new = timed[(timed["decoder"] == name) & (timed["domain"] == domain)]["new_tokens"]
            steps = mine["steps"].sum()
            out[name][domain] = {
                **speedup_figures(runs[runs["domain"] == domain], name, "target"),
                "alpha": mine["accepted"].sum() / mine["tested"].sum() if mine["tested"].sum() else None,
                "tokens_per_call": float(new.sum() / calls.sum()) if calls.notna().all() else None,
                "drafted_per_step": float(mine["drafted"].sum() / steps) if steps else None,
                "exact": bool(mine["exact"].all())}
    return out


def budgets(table: dict) -> dict:
    """The issue's budgets beside what was measured: each met or not."""
    from specdec_lite.prompts import DOMAINS, GROUNDED

    study = [d for d in DOMAINS if d in table["draft"]]
    dynamic_vs = {}
    for name in ("draft", "eagle", "lookup_draft"):
        for domain in table[name]:
            fixed, dyn = table[name][domain]["speedup"], table[f"{name}_dynamic"][domain]["speedup"]
            dynamic_vs[f"{name} {domain}"] = {"fixed": fixed, "dynamic": dyn, "met": dyn >= fixed}
    best = {d: max(table, key=lambda n: table[n][d]["speedup"]) for d in table["draft"]}
    hf = {d: {"draft_dynamic": table["draft_dynamic"][d]["speedup"], "hf_dynamic": table["hf_dynamic"][d]["speedup"],
              "met": table["draft_dynamic"][d]["speedup"] >= table["hf_dynamic"][d]["speedup"]} for d in table["draft"]}
    out = {"dynamic_at_least_fixed": dynamic_vs, "dynamic_at_least_hf_dynamic": hf,
           "best": {d: {"decoder": best[d], "speedup": table[best[d]][d]["speedup"]} for d in best}}
    if "chat" in best:
        out["chat"] = {"budget": BUDGETS["chat"], "speedup": table[best["chat"]]["chat"]["speedup"],
                       "met": table[best["chat"]]["chat"]["speedup"] >= BUDGETS["chat"]}
    if GROUNDED in table["lookup_draft"]:
        got = max(table["lookup_draft"][GROUNDED]["speedup"], table["lookup_draft_dynamic"][GROUNDED]["speedup"])
        out["grounded"] = {"budget": BUDGETS["grounded"], "speedup": got, "met": got >= BUDGETS["grounded"]}
    out["every_domain"] = {"budget": BUDGETS["every_domain"],
                           "met": all(table[best[d]][d]["speedup"] >= BUDGETS["every_domain"] for d in study)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--per-domain", type=int, default=8, help="study prompts per domain (half fit, half timed)")
    parser.add_argument("--grounded-per-kind", type=int, default=2,
                        help="input-grounded prompts of each kind (half fit, half timed)")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--minutes", type=float, default=None,
                        help="stop after the round that passes this many minutes; a rerun resumes")
    parser.add_argument("--quick", action="store_true", help="2 prompts per domain, 16 new tokens, 1 round")
    args = parser.parse_args(argv)
    if args.quick:
        args.per_domain, args.grounded_per_kind, args.new_tokens, args.repeats = 2, 2, 16, 1

    import pandas as pd

    from specdec_lite.bench import time_decoders
    from specdec_lite.lookup import LookupOr, PromptLookup
    from specdec_lite.pairs import feature_drafter, load_pair
    from specdec_lite.policy import split_prompts
    from specdec_lite.prompts import DOMAINS, GROUNDED, load_prompts
    from specdec_lite.reports import provenance, tool_command, write_report

    command = tool_command("compare_dynamic.py", argv)
    settings = {"gamma": GAMMA, "max_gamma": MAX_GAMMA, "per_domain": args.per_domain, "grounded_per_kind": args.grounded_per_kind,
                "new_tokens": args.new_tokens, "repeats": args.repeats}
    saved = json.loads(args.out.read_text()) if args.out.exists() else None
    if saved is not None and saved.get("settings") == settings and saved.get("complete"):
        saved = None  # a finished run: start afresh
    if saved is not None and saved.get("settings") != settings:
        parser.error(f"{args.out} holds an unfinished run with other settings ({saved.get('settings')}): "
                     f"rerun with those, or pass another --out")
    load_before, started = os.getloadavg(), time.perf_counter()
    pair = load_pair("smol", device="cpu")
    study = [p for d in DOMAINS for p in load_prompts(d, prompt_set=pair.prompt_set)[: args.per_domain]]
    fit_prompts, held_out = split_prompts(study, seed=0)
    grounded = load_prompts(prompt_set=GROUNDED)
    for kind in dict.fromkeys(p.kind for p in grounded):
        of_kind = [p for p in grounded if p.kind == kind][: args.grounded_per_kind]
        half = len(of_kind) // 2
        fit_prompts, held_out = fit_prompts + of_kind[:half], held_out + of_kind[half:]
    vocab, eagle = pair.target.config.vocab_size, feature_drafter(pair, "eagle")
    drafters = {"draft": pair.draft, "eagle": eagle, "lookup": PromptLookup(vocab),
                "lookup_draft": LookupOr(PromptLookup(vocab), pair.draft)}
    if saved is None:
        saved = {"settings": settings, "fit_ids": [p.id for p in fit_prompts], "held_out_ids": [p.id for p in held_out],
                 "fit": fit(pair, drafters, fit_prompts, args.new_tokens), "runs": [], "outputs": [], "seconds_so_far": 0.0}
    decoders = runners(pair, drafters, saved["fit"]["rules"], args.new_tokens)
    encoded = [pair.encode(p.prompt) for p in held_out]
    before = saved["seconds_so_far"]  # spent by earlier, interrupted runs
    while (done := len({r["round"] for r in saved["runs"]})) < args.repeats:
        if args.minutes is not None and time.perf_counter() - started > 60 * args.minutes:
            print(f"stopped after {done} of {args.repeats} rounds (--minutes {args.minutes}); run again to resume")
            return 0
        runs, last = time_decoders(decoders, encoded, repeats=1, warmup=0, device=pair.device, progress=True)
        saved["runs"] += runs.assign(round=done).to_dict("records")
        saved["outputs"] += round_rows(last, [t for t, _ in last["target"]], done)
        saved["seconds_so_far"] = before + time.perf_counter() - started
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(saved) + "\n")
    table = figures(pd.DataFrame(saved["runs"]), pd.DataFrame(saved["outputs"]), held_out)
    report = saved | {"complete": True, "figures": table, "budgets": budgets(table)}
    run = provenance(command, started, load_before)
    run["seconds"] += before
    write_report(args.out, report | run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
