"""Measure how often greedy speculative output leaves the target's own greedy output, in float32 and bfloat16.

    python tools/low_precision.py                  # the SmolLM2 pair: writes results/precision/smol.json
    python tools/low_precision.py --pair tiny --per-domain 1 --out /tmp/p.json     # a smoke run

For the first ``--per-domain`` prompts of each domain, the target alone, chain speculation and tree
speculation decode greedily in each dtype (:func:`specdec_lite.precision.divergences`): the JSON lists, per
prompt and decoder, whether the outputs are equal token for token, where they first differ, and the logit gap
between the two tokens there in the float32 target. Counts, not timings: a busy machine only makes it slower.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", default="smol", choices=("smol", "tiny"))
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write the JSON (default: results/precision/<pair>.json)")
    parser.add_argument("--per-domain", type=int, default=8, help="prompts per domain (default 8)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args(argv)
    out = args.out or ROOT / "results" / "precision" / f"{args.pair}.json"

    import pandas as pd
    import torch

    from specdec_lite import load_pair, load_prompts
    from specdec_lite.prompts import first_per_domain
    from specdec_lite.precision import divergences
    from specdec_lite.reports import provenance, tool_command, write_report

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    pair = load_pair(args.pair)
    chosen = first_per_domain(load_prompts(prompt_set=pair.prompt_set), args.per_domain)
    load_before, start = os.getloadavg(), time.perf_counter()
    frames = []
    for dtype in (torch.float32, torch.bfloat16):
        print(f"{dtype}: {len(chosen)} prompts ...", file=sys.stderr, flush=True)
        frames.append(divergences(pair, chosen, dtype, max_new_tokens=args.max_new_tokens))
    rows = pd.concat(frames, ignore_index=True)
    summary = (rows.astype({"first": float, "gap": float}).groupby(["dtype", "decoder"], sort=False)
               .agg(runs=("equal", "size"), equal=("equal", "sum"), median_first=("first", "median"),
                    median_gap=("gap", "median"), max_gap=("gap", "max"))
               .reset_index())
    command = tool_command("low_precision.py", argv)
    report = {
        "what": "greedy speculative output (chain gamma 4, tree depth 3 branching 2) against the target's own greedy "
                "output, both in the same dtype; first divergence and the float32 logit gap there",
        **provenance(command, start, load_before),
        "config": {"pair": args.pair, "per_domain": args.per_domain, "max_new_tokens": args.max_new_tokens},
        "summary": summary.to_dict(orient="records"),
        "runs": rows.to_dict(orient="records"),
    }
    print(summary.to_string(index=False), file=sys.stderr)
    write_report(out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
