"""Domain-aware speculation policies (each domain's drafter and gamma) on a pair, for lesson 8.

    python tools/run_policies.py OUT.json


Runs :func:`specdec_lite.policy.fit_and_measure` (fit each domain's drafter and gamma on half of its prompts,
time the policies on the other half, greedy) and writes the result with what is needed to judge it: the pair,
the prompts used, the settings, the machine, its load, and how long the run took. The course's committed
copy is ``results/policies/smol.json``:

    python tools/run_policies.py results/policies/smol.json --pair smol --per-domain 8

Lesson 9's copy adds the course's feature drafters (Medusa's heads, the EAGLE-style layer, and prompt lookup
falling back to that layer) to the candidates that ``domain_drafter`` chooses from:

    python tools/run_policies.py results/policies/smol_features.json --pair smol --per-domain 8 --feature-drafters

The first ``--per-domain`` prompts of each domain of the pair's prompt set are used (half to fit, half to measure).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from specdec_lite.pairs import load_pair
from specdec_lite.policy import fit_and_measure, split_prompts
from specdec_lite.prompts import DOMAINS, load_prompts
from specdec_lite.reports import jsonable


def feature_candidates(pair) -> dict:
    """Lesson 9's extra candidates: Medusa's heads, the EAGLE-style layer, and lookup falling back to that layer.

    They are the chain drafters of the study comparison (``tools/compare_drafters.py``), built there once.
    """
    from compare_drafters import drafter_set  # this folder is on the path when the tool runs as a script

    study = drafter_set(pair, "study")
    return {name: study[name][0] for name in ("medusa", "eagle", "lookup_eagle")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the JSON file to write")
    parser.add_argument("--pair", default="smol", choices=["smol", "tiny"])
    parser.add_argument("--per-domain", type=int, default=12, help="prompts per domain (half fit, half measured)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per held-out prompt and decoder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--feature-drafters", action="store_true",
                        help="add medusa, eagle and lookup_eagle to the candidates (smol pair only)")
    args = parser.parse_args(argv)
    if args.per_domain < 2:
        parser.error(f"--per-domain must be at least 2 (half to fit, half to measure), not {args.per_domain}")

    if args.feature_drafters and args.pair != "smol":
        parser.error("--feature-drafters needs --pair smol: the course trained its feature drafters on that target only")

    torch.manual_seed(args.seed)
    pair = load_pair(args.pair)
    others = feature_candidates(pair) if args.feature_drafters else None
    prompts = [p for d in DOMAINS for p in load_prompts(d, prompt_set=pair.prompt_set)[: args.per_domain]]
    load_before = os.getloadavg()
    start = time.perf_counter()
    result = fit_and_measure(pair, prompts, max_new_tokens=args.max_new_tokens, repeats=args.repeats,
                             seed=args.seed, others=others, progress=True)
    report = {
        "command": "python tools/run_policies.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "pair": pair.name,
        "settings": {"candidates": ["draft", "lookup", *(others or {})], "per_domain": args.per_domain, "max_new_tokens": args.max_new_tokens, "repeats": args.repeats,
                     "seed": args.seed, "prompt_ids": [p.id for p in prompts],
                     # the held-out half, in the order of the runs' "prompt" numbers
                     "held_out_ids": [p.id for p in split_prompts(prompts, args.seed)[1]]},
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "cpus": os.cpu_count(), "device": str(pair.device),
                    "load_average_before": load_before, "load_average_after": os.getloadavg()},
        "seconds": time.perf_counter() - start,
        "result": result.to_dict(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(jsonable(report), indent=1, allow_nan=False) + "\n")
    print(result.summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"wrote {args.out} in {report['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
