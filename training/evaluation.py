"""What both pairs' evaluations share: the report's header, load time, and writing the report.

The cost coefficient c is measured as :mod:`specdec_lite.bench` measures it
(:func:`specdec_lite.bench.cost_coefficient`: warm-up rounds, then the median cached step), so a pair's
``eval.json`` and a ``specdec-lite bench`` run on the same machine agree.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

import torch

from specdec_lite.reports import jsonable


def header(module: str, threads: int) -> dict:
    """The command that wrote the report and the machine it ran on (CPU only, ``threads`` threads)."""
    return {"command": f"python -m {module}", "threads": threads,
            "machine": f"{platform.machine()} CPU, {threads} thread(s), no GPU", "torch": torch.__version__,
            "load_average_before": list(os.getloadavg())}


def median_seconds(call: Callable[[], object], repeats: int = 3) -> float:
    """Median wall time of ``repeats`` calls of ``call`` (loading a pair: the first call pays the disk cache)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def write_report(path: Path, report: dict) -> None:
    """``report`` as indented JSON (numpy and pandas values made plain first)."""
    path.write_text(json.dumps(jsonable(report), indent=1) + "\n")
