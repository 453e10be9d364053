"""Measure the SmolLM2 pair's step costs on a quiet machine: c and the price of verification, at 1 and 2 threads.

    python tools/measure_costs.py          # writes results/costs/smol.json

Lesson 5 sets these beside the costs that the other committed files measured on the way (the speed-up grid,
the policy run, the model card), which disagree because they ran with other thread counts and under other
loads. For each thread count: ``bench.cost_coefficient`` (median cached one-token step of draft and target,
64-token context, after warm-up) and ``bench.verify_ratio`` for gamma 1, 2, 4 and 6 (the target's pass over
gamma + 1 tokens in one-token steps, timed interleaved). Run it with nothing else on the machine: the JSON
records the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GAMMAS = (1, 2, 4, 6)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", default="smol", choices=("smol", "tiny"))
    parser.add_argument("--out", type=Path, default=None, help="default: results/costs/<pair>.json")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per median (default 30)")
    args = parser.parse_args(argv)
    out = args.out or ROOT / "results" / "costs" / f"{args.pair}.json"

    import torch

    from specdec_lite import load_pair
    from specdec_lite.bench import cost_coefficient, verify_ratio
    from specdec_lite.reports import provenance, tool_command, write_report

    pair = load_pair(args.pair, device="cpu")
    load_before, start = os.getloadavg(), time.perf_counter()
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        cost = cost_coefficient(pair.draft, pair.target, context=64, repeats=args.repeats)
        verify = {g: verify_ratio(pair.target, g + 1, context=64, repeats=args.repeats) for g in GAMMAS}
        rows.append({"threads": threads, **cost, "verify_ratio": verify, "load_average_now": list(os.getloadavg())})
        print(f"{threads} thread(s): target {1e3 * cost['target_step_s']:.1f} ms, c = {cost['c']:.3f}, "
              f"v(4) = {verify[4]:.2f}", file=sys.stderr)
    command = tool_command("measure_costs.py", argv)
    report = {
        "what": "step costs of the pair on the CPU: c = T(draft step) / T(target step) and v(gamma) = T(target, gamma + 1 "
                "tokens) / T(target, 1 token), 64-token context, medians after warm-up, at 1 and 2 torch threads",
        **provenance(command, start, load_before),
        "config": {"pair": args.pair, "gammas": list(GAMMAS), "repeats": args.repeats, "context": 64},
        "rows": rows,
    }
    write_report(out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
