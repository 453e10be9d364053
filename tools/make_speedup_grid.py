"""Measure lesson 5's speed-up grid: chain speculation on the SmolLM2 pair by gamma and temperature.

    python tools/make_speedup_grid.py            # writes results/speedup/smol_grid.json
    python tools/make_speedup_grid.py --quick    # a smoke run (2 gammas, 2 temperatures, 1 prompt) to --out

For every temperature, :func:`specdec_lite.bench.gamma_sweep` times the target alone and chain speculation
at every gamma, interleaved, on the first prompt of each domain of the pair's prompt set, and sets the
measured speed-up against Leviathan et al.'s prediction and against the prediction that prices the
verification pass at its measured cost. The cost coefficient c is measured once, before the sweeps.
The JSON records the command, the machine (CPU count, torch threads, load average before and after,
since a shared machine makes timings noisy) and the versions, with one row per (temperature, gamma).

Lesson 5 (``solutions/05_measuring_speedup/``) loads the file and has a cell that runs this script.
About 20 minutes on an idle 2-core laptop CPU (19.6 on 2026-12-02); 31 at load average 6 on one thread.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "speedup" / "smol_grid.json"
GAMMAS = tuple(range(1, 7))
TEMPERATURES = (0.0, 0.5, 1.0)
MAX_NEW_TOKENS = 32
REPEATS, WARMUP = 2, 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write the JSON (default: {OUT})")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 gammas, 2 temperatures, 1 prompt")
    args = parser.parse_args(argv)

    import pandas as pd
    import torch

    from specdec_lite import load_pair, load_prompts
    from specdec_lite import course as nb
    from specdec_lite.bench import cost_coefficient, gamma_sweep
    from specdec_lite.reports import provenance, tool_command, write_report

    nb.setup(seed=0)
    if args.threads:
        torch.set_num_threads(args.threads)
    gammas, temperatures = ((1, 4), (0.0, 1.0)) if args.quick else (GAMMAS, TEMPERATURES)
    pair = load_pair("smol")
    prompts = load_prompts(prompt_set=pair.prompt_set)
    chosen = [next(p for p in prompts if p.domain == d) for d in dict.fromkeys(p.domain for p in prompts)]
    chosen = chosen[:1] if args.quick else chosen
    ids = [pair.encode(p.prompt) for p in chosen]
    load_before, start = os.getloadavg(), time.perf_counter()
    cost = cost_coefficient(pair.draft, pair.target, context=64, repeats=20)
    frames = []
    for temperature in temperatures:
        print(f"temperature {temperature}: gammas {list(gammas)} ...", file=sys.stderr, flush=True)
        sweep = gamma_sweep(pair.draft, pair.target, ids, gammas, cost, max_new_tokens=MAX_NEW_TOKENS,
                            repeats=REPEATS, warmup=WARMUP, temperature=temperature, seed=0, progress=True)
        frames.append(sweep.assign(temperature=temperature, c=cost["c"]))
    grid = pd.concat(frames, ignore_index=True)
    report = {
        "what": "chain speculative decoding on the SmolLM2 pair: measured and predicted speed-up by gamma and "
                "temperature (bench.gamma_sweep per temperature; c from bench.cost_coefficient)",
        **provenance(tool_command("make_speedup_grid.py", argv), start, load_before),
        "config": {"pair": "smol", "gammas": list(gammas), "temperatures": list(temperatures),
                   "max_new_tokens": MAX_NEW_TOKENS, "repeats": REPEATS, "warmup": WARMUP, "seed": 0},
        "prompts": [p.id for p in chosen],
        "cost": cost,
        "grid": grid.to_dict(orient="records"),
    }
    report["machine"]["device"] = str(pair.device)
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
