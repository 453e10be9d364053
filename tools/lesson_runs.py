"""Record the library's decoding runs that a lesson shows before the learner has written the loop themselves.

    python tools/lesson_runs.py 02_draft_and_verify     # writes results/lessons/02_draft_and_verify.json

Lesson 2 steps through a greedy speculative generation and counts its accepted guesses in sections 1, 2 and 6,
but exercise 3 asks the learner to write that loop: so the lesson never imports ``speculative_generate``, and
reads these records instead (``nb.recorded_runs``). Each run keeps every step and node record
(``GenerationResult.to_dict``). Greedy decoding in float32 on the CPU: the tokens do not depend on the machine's load.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# lesson -> the pair, gamma and the runs it shows: run name -> [(question, new tokens), ...]
LESSONS = {
    "02_draft_and_verify": {
        "pair": "smol",
        "gamma": 4,
        "runs": {
            "demo": [("How can I make my mornings less stressful? Give three tips.", 48)],
            "acceptance": [
                ("Write a Python function that checks whether a word is a palindrome.", 32),
                ("A shop sells pencils at 3 for 45 cents. How much do 12 pencils cost?", 32),
                ("If every bloop is a razzie and every razzie is a lazzie, is every bloop a lazzie?", 32),
                ("What should I pack for a weekend hike?", 32),
            ],
        },
    },
}


def record(lesson: str) -> dict:
    """The runs of ``lesson`` (a key of LESSONS), decoded now: ``{name: [{question, max_new_tokens, result}]}``."""
    from specdec_lite import load_pair, speculative_generate

    spec = LESSONS[lesson]
    pair = load_pair(spec["pair"])
    runs = {}
    for name, questions in spec["runs"].items():
        runs[name] = []
        for question, n in questions:
            result = speculative_generate(pair.draft, pair.target, pair.encode(question), n, gamma=spec["gamma"],
                                          eos_token_id=pair.eos_token_id)
            runs[name].append({"question": question, "max_new_tokens": n, "result": result.to_dict()})
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lesson", choices=sorted(LESSONS))
    parser.add_argument("--out", type=Path, default=None, help="default: results/lessons/<lesson>.json")
    args = parser.parse_args(argv)
    out = args.out or ROOT / "results" / "lessons" / f"{args.lesson}.json"

    import torch

    from specdec_lite.reports import provenance, tool_command, write_report

    torch.manual_seed(0)
    torch.set_num_threads(1)
    load_before, start = os.getloadavg(), time.perf_counter()
    runs = record(args.lesson)
    command = tool_command("lesson_runs.py", argv)
    spec = LESSONS[args.lesson]
    report = {
        "what": f"greedy chain speculative decoding (speculative_generate, gamma {spec['gamma']}, float32, CPU) on "
                f"the questions that lesson {args.lesson} shows; every step and node record",
        **provenance(command, start, load_before),
        "config": {"pair": spec["pair"], "gamma": spec["gamma"], "temperature": 0.0, "dtype": "float32"},
        "runs": runs,
    }
    write_report(out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
