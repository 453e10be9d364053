"""Each lesson's memory and CPU on the course's JupyterHub: the figures that docs/instructors.md sizes a hub from.

  sudo .venv/bin/python tools/hub_resources.py [--lessons NAME ...] [--memory 3G] [--out results/hub_resources.json]

As root: it starts a hub as the hub's test does (``tests/hub_session.py``: a scratch root, an instructor and one
learner as system users, ``make hub`` on free ports of 127.0.0.1, removed at the end). The learner logs in through
the hub in Chromium and, in a JupyterLab terminal of their own server, executes each lesson with ``jupyter nbconvert
--execute`` (the solution, as a learner who has done the exercises runs it: a student version stops at its first
stub). So each lesson's kernel runs as a lesson's kernel on the hub does: a child of the learner's server, in its
memory cgroup and under its limit, on the hub's environment, with the shared results and SmolLM2 cache.

Per lesson (in lesson order, one server, so a lesson after the first finds SmolLM2's files in the page cache):

- ``peak_server_mib``: the peak memory of the learner's whole cgroup while the lesson ran: JupyterLab's server, the
  terminal, nbconvert and the kernel (the cgroup's counter is reset before each lesson); what the limit must hold;
- ``peak_process_mib``: the largest resident set of one process of the run (the kernel: ``getrusage`` of the
  children nbconvert waited for);
- ``cpu_seconds`` (user + system, nbconvert and the kernel) and ``wall_seconds``; ``ok``: nbconvert's exit status
  was 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

LESSONS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and p.name[:2].isdigit())
OUT = ROOT / "results" / "hub_resources.json"
LESSON_TIMEOUT_S = 900  # one lesson, run by nbconvert in the learner's terminal (a lesson takes 3 minutes or less)

# Run by the learner's own Python in their terminal: one lesson, and what it cost (the last line printed).
MEASURE = """import json, resource, subprocess, sys, time
start = time.perf_counter()
rc = subprocess.run(["jupyter", "nbconvert", "--execute", "--to", "notebook", "--output", sys.argv[2],
                     "--ExecutePreprocessor.timeout=600", sys.argv[1]]).returncode
used = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": rc, "wall_seconds": time.perf_counter() - start, "cpu_seconds": used.ru_utime + used.ru_stime,
                  "peak_process_mib": used.ru_maxrss / 1024}))
"""


def memory_cgroup(user: str) -> tuple[Path, str]:
    """The memory cgroup the hub put ``user``'s server in (found from the server's own process), and its peak file."""
    import psutil

    for process in psutil.process_iter(["username", "cmdline"]):
        if process.info["username"] == user and any("jupyterhub-singleuser" in part for part in process.info["cmdline"] or []):
            for line in Path(f"/proc/{process.pid}/cgroup").read_text().splitlines():
                number, controllers, path = line.split(":", 2)
                if "memory" in controllers.split(","):
                    return Path("/sys/fs/cgroup/memory") / path.lstrip("/"), "memory.max_usage_in_bytes"
                if number == "0" and controllers == "":
                    return Path("/sys/fs/cgroup") / path.lstrip("/"), "memory.peak"
    raise SystemExit(f"tools/hub_resources.py: no server of {user} in a memory cgroup: the hub set no memory limit")


def measure(lessons: list[str], memory: str) -> dict:
    import hub_session
    import psutil

    if reason := hub_session.missing():
        raise SystemExit(f"tools/hub_resources.py: {reason}")
    rows = []
    with hub_session.running_hub({"instructor": "teach", "learner": "learn"}, ["00_setup"], memory=memory) as term:
        learner = hub_session.Person(term, "learner")
        learner.log_in()
        owner = learner.home.stat()
        script = learner.home / ".measure_lesson.py"
        script.write_text(MEASURE)
        for lesson in lessons:
            shutil.copytree(ROOT / "solutions" / lesson, learner.home / lesson, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        subprocess.run(["chown", "-R", f"{owner.st_uid}:{owner.st_gid}", str(learner.home)], check=True)
        group, peak_file = memory_cgroup(learner.name)
        for lesson in lessons:
            (group / peak_file).write_text("0")  # the peak since now (cgroup v1; v2 resets on write where supported)
            rc, out = learner.run(f"cd ~/{lesson} && python ~/.measure_lesson.py {lesson}.ipynb {lesson}.run.ipynb",
                                  timeout=LESSON_TIMEOUT_S)
            figures = json.loads(out.strip().splitlines()[-1])
            row = {"lesson": lesson, "ok": rc == 0 and figures["rc"] == 0,
                   "peak_server_mib": round(int((group / peak_file).read_text()) / 2**20),
                   "peak_process_mib": round(figures["peak_process_mib"]),
                   "cpu_seconds": round(figures["cpu_seconds"], 1), "wall_seconds": round(figures["wall_seconds"], 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
            if not row["ok"]:
                print(out[-3000:], file=sys.stderr)
    return {"command": "sudo .venv/bin/python tools/hub_resources.py", "memory_limit": memory,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB",
            "date": time.strftime("%Y-%m-%d"), "lessons": rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tools/hub_resources.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--lessons", nargs="+", default=LESSONS, choices=LESSONS, metavar="NAME")
    parser.add_argument("--memory", default="3G", help="each server's memory limit on the hub (default %(default)s)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    result = measure(args.lessons, args.memory)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
