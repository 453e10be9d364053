"""Measure acceptance against temperature on a pair: beta(T) on real text and chain decoding's alpha at several T.

    python tools/temperature_sweep.py                      # the SmolLM2 pair: writes results/temperature/smol.json
    python tools/temperature_sweep.py --pair tiny --per-domain 2 --out /tmp/t.json   # a smoke run

beta(T) = sum_x min(p_T(x), q_T(x)) is averaged over every position of the target's own greedy answers to the
first ``--per-domain`` prompts of each domain (teacher-forced, :func:`specdec_lite.temperature.acceptance_curve`);
alpha is measured by running chain speculative decoding at each temperature on the same prompts
(:func:`specdec_lite.temperature.sampled_acceptance`). Both carry 95% bootstrap CIs over prompts. These are
counts, not timings, so a busy machine changes only how long the run takes; the JSON records the command,
the machine and the versions.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CURVE_TEMPERATURES = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
SAMPLED_TEMPERATURES = (0.0, 0.5, 1.0, 1.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", default="smol", choices=("smol", "tiny"))
    parser.add_argument("--out", type=Path, default=None, help="where to write the JSON (default: "
                        "results/temperature/<pair>.json)")
    parser.add_argument("--per-domain", type=int, default=8, help="prompts per domain (default 8)")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="greedy answer length for beta (default 64)")
    parser.add_argument("--sampled-tokens", type=int, default=48, help="new tokens per sampled decode (default 48)")
    parser.add_argument("--gamma", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args(argv)
    out = args.out or ROOT / "results" / "temperature" / f"{args.pair}.json"

    import torch

    from specdec_lite import load_pair, load_prompts
    from specdec_lite.prompts import first_per_domain
    from specdec_lite.reports import provenance, tool_command, write_report
    from specdec_lite.temperature import acceptance_curve, greedy_answers, sampled_acceptance

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    pair = load_pair(args.pair)
    chosen = first_per_domain(load_prompts(prompt_set=pair.prompt_set), args.per_domain)
    load_before, start = os.getloadavg(), time.perf_counter()
    print(f"{len(chosen)} greedy answers ...", file=sys.stderr, flush=True)
    texts = greedy_answers(pair, chosen, args.max_new_tokens)
    curve = acceptance_curve(pair, texts, CURVE_TEMPERATURES)
    print("chain decoding at", SAMPLED_TEMPERATURES, "...", file=sys.stderr, flush=True)
    sampled = sampled_acceptance(pair, chosen, SAMPLED_TEMPERATURES, gamma=args.gamma,
                                 max_new_tokens=args.sampled_tokens)
    command = tool_command("temperature_sweep.py", argv)
    report = {
        "what": "acceptance against temperature: beta(T) = sum min(p_T, q_T) over the target's greedy answers "
                "(teacher-forced) and alpha of chain decoding at each T; 95% percentile bootstrap CIs over prompts",
        **provenance(command, start, load_before),
        "config": {"pair": args.pair, "per_domain": args.per_domain, "max_new_tokens": args.max_new_tokens,
                   "sampled_tokens": args.sampled_tokens, "gamma": args.gamma,
                   "curve_temperatures": list(CURVE_TEMPERATURES), "sampled_temperatures": list(SAMPLED_TEMPERATURES),
                   "seed": 0},
        "prompts": [p.id for p in chosen],
        "beta": curve.to_dict(orient="records"),
        "alpha": sampled.to_dict(orient="records"),
    }
    write_report(out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
