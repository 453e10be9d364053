"""Measure the SmolLM2 pair against its goals: ``python -m training.evaluate_smol [--threads 2]``.

Writes ``specdec_lite/zoo/smol/eval.json`` and renders ``smol/MODEL_CARD.md`` (:mod:`training.card_smol`):

* ``load_seconds`` - ``load_pair("smol")`` from the converted cache (median of 3, in-process);
* ``cost`` - :func:`specdec_lite.bench.cost_coefficient`: median cached step of draft and target
  (64-token context, after warm-up rounds) and ``c = T(draft step) / T(target step)``; goal ``c <= 0.12``;
* ``acceptance`` - greedy chain speculation (``gamma`` 4, 64 new tokens) over the 200 study prompts
  (:func:`specdec_lite.study.run_study`): per domain, the acceptance per tested token (alpha, the
  rate of the theory; goal >= 0.65), per drafted token, and accepted tokens per step;
* ``bench`` - :func:`specdec_lite.bench.run_bench` on ``--bench-prompts`` prompts per domain: the
  target alone, chain, tree and Hugging Face assisted generation (greedy, 64 new tokens), and a gamma
  sweep; goal: chain at the best gamma >= 1.3x the target alone, and at least as fast as HF assisted;
* ``samples`` - the pair's greedy answer to the first prompt of each domain;
* ``generalisation`` - the draft's teacher-forced top-1 agreement with the target on the target's greedy
  answers, by domain, for three kinds of prompt: training instructions (sequences of the distillation
  data), new instructions from the same templates (another seed), and the study's prompts. Training far
  above new-template means overfitting; new-template far above study means the templates do not cover the
  study's prompts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from specdec_lite import load_pair, load_prompts, speculative_generate
from specdec_lite.bench import BenchConfig, cost_coefficient, run_bench
from specdec_lite.pairs import SMOL_DIR
from specdec_lite.prompts import DOMAINS
from specdec_lite.study import StudyConfig, acceptance_by_domain, run_study

from . import card_smol
from .distill_data import DATA_FILE, DOMAIN_CODES, answer, batch_of
from .evaluation import header, median_seconds, write_report
from .instructions import training_instructions
from .train_smol import kl_loss

GOALS = {"c": 0.12, "alpha": 0.65, "speedup": 1.3}


def acceptance(pair, gamma: int, new_tokens: int, per_domain: int | None = None) -> dict:
    config = StudyConfig(mode="chain", gamma=gamma, max_new_tokens=new_tokens, n_resamples=1000,
                         prompts_per_domain=per_domain)
    result = run_study(pair.draft, pair.target, load_prompts(prompt_set=pair.prompt_set), config, encode=pair.encode,
                       progress=True)
    summary = acceptance_by_domain(result).set_index("domain")
    levels = int(summary["levels_reached"].sum())
    figures = {
        domain: {"prompts": int(row["prompts"]), "alpha": row["level_acceptance"],
                 "alpha_ci": [row["level_acceptance_ci_low"], row["level_acceptance_ci_high"]],
                 "per_drafted_token": row["acceptance_rate"], "accepted_per_step": row["expected_accepted_length"]}
        for domain, row in summary.iterrows()
    }
    figures["all"] = {"alpha": float((summary["level_acceptance"] * summary["levels_reached"]).sum() / levels),
                      "per_drafted_token": float(result.nodes["accepted"].mean()),
                      "accepted_per_step": float(result.steps["accepted"].mean()), "seconds": result.seconds}
    return figures


def samples(pair, new_tokens: int) -> dict:
    out = {}
    for domain in DOMAINS:
        prompt = load_prompts(domain=domain, prompt_set=pair.prompt_set)[0]
        result = speculative_generate(pair.draft, pair.target, pair.encode(prompt.prompt), new_tokens, gamma=4,
                                      eos_token_id=pair.eos_token_id)
        out[domain] = {"id": prompt.id, "prompt": prompt.prompt, "answer": pair.decode(result.tokens)}
    return out


@torch.inference_mode()
def generalisation(pair, per_domain: int, new_tokens: int, seed: int = 0) -> dict:
    """Teacher-forced top-1 agreement on greedy answers: training sequences, new template prompts, study prompts."""
    data = dict(np.load(DATA_FILE))
    pad = pair.target.generation_config.pad_token_id

    def agreement(rows_data: dict, rows) -> float:
        return float(torch.stack([kl_loss(pair.draft, pair.target, *batch_of(rows_data, rows[i : i + 4], 512, pad,
                                                                             pair.device), "shortlist")[1]
                                  for i in range(0, len(rows), 4)]).mean())

    def answered(prompts: list[str]) -> dict:
        ids = [pair.encode(text).tolist() for text in prompts]
        replies = answer(pair.target, pair.tokenizer, ids, sample=False, temperature=1.0, max_new_tokens=new_tokens,
                         batch=len(ids), device=pair.device)
        sequences = [i + r for i, r in zip(ids, replies)]
        lengths = np.array([len(s) for s in sequences])
        return {"tokens": np.concatenate(sequences), "starts": np.concatenate([[0], np.cumsum(lengths)[:-1]]),
                "lengths": lengths, "prompt_len": np.array([len(i) for i in ids])}

    training = {record["prompt"] for record in training_instructions(per_domain=800, seed=0)}
    fresh = [r for r in training_instructions(per_domain=4 * per_domain, seed=seed + 1) if r["prompt"] not in training]
    rng, out = np.random.default_rng(seed), {}
    for domain in DOMAINS:
        greedy = np.flatnonzero((data["mode"] == 0) & (data["domain"] == DOMAIN_CODES[domain]))
        new = [r["prompt"] for r in fresh if r["domain"] == domain][:per_domain]
        study = [p.prompt for p in load_prompts(domain=domain, prompt_set=pair.prompt_set)[:per_domain]]
        out[domain] = {"training": agreement(data, rng.choice(greedy, per_domain, replace=False)),
                       "new_template": agreement(answered(new), np.arange(len(new))),
                       "study": agreement(answered(study), np.arange(len(study)))}
        print(domain, out[domain], flush=True)
    return out | {"prompts_per_domain": per_domain, "new_tokens": new_tokens}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--gamma", type=int, default=4)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--bench-prompts", type=int, default=3, help="prompts per domain in the speed benchmark")
    parser.add_argument("--parts", default="load,cost,acceptance,bench,samples,generalisation")
    parser.add_argument("--acceptance-prompts", type=int, default=None, help="prompts per domain (default: all 50)")
    parser.add_argument("--out", type=Path, default=SMOL_DIR / "eval.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    parts = args.parts.split(",")
    report = json.loads(args.out.read_text()) if args.out.exists() else {}
    report.update(header("training.evaluate_smol", args.threads) | {"goals": GOALS})

    def save():
        write_report(args.out, report)

    if "load" in parts:
        report["load_seconds"] = round(median_seconds(lambda: load_pair("smol", device="cpu")), 2)
    pair = load_pair("smol", device="cpu")
    report["parameters"] = {"target": pair.target.num_parameters(), "draft": pair.draft.num_parameters()}
    if "cost" in parts:
        report["cost"] = cost_coefficient(pair.draft, pair.target, context=64, repeats=50)
        save()
    if "acceptance" in parts:
        report["acceptance"] = acceptance(pair, args.gamma, args.new_tokens, args.acceptance_prompts)
        report["acceptance"]["gamma"] = args.gamma
        save()
    if "bench" in parts:
        ids = [pair.encode(p.prompt) for d in DOMAINS
               for p in load_prompts(domain=d, prompt_set=pair.prompt_set)[: args.bench_prompts]]
        config = BenchConfig(max_new_tokens=args.new_tokens, gamma=args.gamma, repeats=2, gammas=(2, 3, 4, 5, 6),
                             sweep_repeats=2)
        report["bench"] = run_bench(pair.draft, pair.target, ids, config, sweep=True, progress=True).to_dict()
        save()
    if "samples" in parts:
        report["samples"] = samples(pair, 160)
        save()
    if "generalisation" in parts:
        report["generalisation"] = generalisation(pair, per_domain=8, new_tokens=args.new_tokens)
    save()
    card_smol.write(args.out.parent, report)


if __name__ == "__main__":
    main()
