"""JSON reports: the values a report holds, turned into plain Python types that ``json.dumps`` writes.

The bench, the study, the policies and the command line build their JSON objects through :func:`jsonable`;
the measurement scripts in ``tools/`` say where and how a result was made with :func:`provenance`.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["jsonable", "provenance", "tool_command", "write_report"]


def provenance(command: str, started: float, load_before: tuple[float, float, float]) -> dict:
    """What a committed result must say about its run: the command, when it started, how long it took
    (``started`` is a ``time.perf_counter()`` reading), the machine (CPUs, torch threads, load average before
    and now, since a shared machine slows everything down) and the versions."""
    import torch
    import transformers

    return {
        "command": command,
        "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(time.time() - (time.perf_counter() - started))),
        "seconds": time.perf_counter() - started,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "load_average_before": list(load_before), "load_average_after": list(os.getloadavg())},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__},
    }


def tool_command(script: str, argv: list[str] | None) -> str:
    """The command line that ran ``tools/<script>`` with ``argv`` (``None``: this process's own arguments), for
    :func:`provenance`."""
    return shlex.join(["python", f"tools/{script}", *(sys.argv[1:] if argv is None else argv)])


def write_report(path, report: dict) -> None:
    """Write ``report`` as JSON (through :func:`jsonable`) to ``path``, making its folder, and say so on stderr with
    how long the run took (its ``seconds``, from :func:`provenance`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(jsonable(report), indent=1) + "\n")
    print(f"wrote {path} ({report['seconds'] / 60:.1f} min)", file=sys.stderr)


def jsonable(value):
    """Plain Python types only; NaN and infinities become ``None`` (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    return value
