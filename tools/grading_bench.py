"""How fast the course grades a class: a synthetic class graded at 1 and 2 local workers and on a Dask cluster.

    python tools/grading_bench.py [--students 8] [--assignments quiz_1 02_draft_and_verify] [--minutes 40]

The class is made from the committed fixture students (tests/fixture_students/): student i answers every
exercise of a lesson as the ``alternative`` (right, in another style), ``hardcoded``, ``delegating`` (or, where
the library has no such function, the ``slip``) fixture or leaves the release ``blank``, in turns. A quiz has no
fixture students; its four kinds are the solution's answers, one wrong letter, one wrong number, and blank.

Each configuration grades a fresh copy of the same class with ``tools/grading.py autograde``, sandboxed, exactly
as an instructor runs it: ``--workers 1``, ``--workers 2``, and ``--scheduler`` on a ``dask scheduler`` with two
``dask worker`` processes on 127.0.0.1 (what ``make scheduler`` and ``make worker`` start). It writes
``results/grading/bench.json`` (and a table in ``results/grading/README.md``):

* wall time and submissions per minute of each configuration, and the speed-up over one worker;
* whether every configuration's gradebook is identical to the one-worker gradebook;
* each assignment's peak resident memory of a sandboxed kernel (``tools/grading.py`` reads it to choose its
  default number of workers) and its mean seconds per submission at one worker;
* a projection for a class of 300: minutes on n cores, from the one-worker cost per student and the two-worker
  efficiency measured here (an extrapolation: it assumes throughput keeps scaling as it did from 1 to 2).

A configuration already in the JSON for the same class is not run again (``--force`` reruns all); ``--minutes``
stops before a configuration that would start after the limit, and a rerun goes on from there. Timings need a
quiet machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests"))
import grading  # noqa: E402
import release  # noqa: E402
import fixture_students  # noqa: E402  (tests/fixture_students/)

OUT = ROOT / "results" / "grading"
KINDS = ("alternative", "hardcoded", "delegating", "blank")
QUIZ_KINDS = {"alternative": "right", "hardcoded": "one wrong letter", "delegating": "one wrong number", "blank": "blank"}
CONFIGURATIONS = ("1 worker", "2 workers", "Dask cluster of 2 workers")
TOOLS = ("release.py", "grading.py", "grading_task.py", "grading_report.py", "sandbox.py")
CLASS_SIZE = 300


# --- The class -----------------------------------------------------------------------------------------------


def _grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _lesson_submission(released, assignment: str, kind: str):
    answers = fixture_students.answers(assignment)
    nb = nbformat.from_dict(released)
    for cell in nb.cells:
        kinds = answers.get(_grade_id(cell))
        if kinds and kind != "blank":
            cell.source = kinds.get(kind) or kinds["slip"]
    return nb


def _quiz_submission(released, solution, kind: str):
    """The solution's answers, with one letter or one number wrong, or the release itself (blank)."""
    if kind == "blank":
        return nbformat.from_dict(released)
    nb = nbformat.from_dict(solution)
    pattern = {"hardcoded": r'^(q\d+) = "([a-d])"$', "delegating": r"^(q\d+) = ([-0-9.e+*/() ]+)$"}.get(kind)
    if pattern:
        for cell in nb.cells:
            region = re.search(r"### BEGIN SOLUTION\n(.*?)\n### END SOLUTION", cell.source, re.S)
            line = region and re.match(pattern, region.group(1).strip())
            if line:
                name, value = line.groups()
                wrong = f'"{"a" if value != "a" else "b"}"' if kind == "hardcoded" else f"({value}) * 1.5 + 1"
                cell.source = cell.source.replace(region.group(0), f"{name} = {wrong}")
                break
    return nb


def build_class(course: Path, students: int, assignments: list[str]) -> dict[str, str]:
    """A scratch course in ``course`` (config, grading tools, the assignments' sources, released) and its class
    under ``submitted/``; returns student -> kind."""
    (course / "tools").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    for tool in TOOLS:
        shutil.copy(ROOT / "tools" / tool, course / "tools")
    for assignment in assignments:
        shutil.copytree(release.SOURCE / assignment, course / "solutions" / assignment)
    _run(course, "tools/release.py", "--quiet", *assignments)
    roster = {f"student{i + 1:03d}": KINDS[i % len(KINDS)] for i in range(students)}
    for assignment in assignments:
        folder = release.release_folder(assignment)
        name = f"{assignment}.ipynb"
        released = nbformat.read(course / folder / assignment / name, as_version=4)
        solution = nbformat.read(course / "solutions" / assignment / name, as_version=4)
        for student, kind in roster.items():
            nb = (_quiz_submission(released, solution, kind) if folder == "quizzes"
                  else _lesson_submission(released, assignment, kind))
            (course / "submitted" / student / assignment).mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, course / "submitted" / student / assignment / name)
    return roster


# --- Grading it ------------------------------------------------------------------------------------------------


def _env(**extra) -> dict:
    return {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"], **extra}


def _run(course: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, *args], cwd=course, capture_output=True, text=True, env=_env())
    if done.returncode not in (0, 1):  # 1: some submission needs attention, which a blank one does
        raise SystemExit(f"{' '.join(args)} failed in {course}:\n{done.stdout}\n{done.stderr}")
    return done


def start_process(command: list[str], cwd: Path, log: Path, **env: str) -> subprocess.Popen:
    """``command`` in the background, in its own process group, its output in ``log``; ``cwd/tools`` importable,
    and ``env`` added to the environment."""
    return subprocess.Popen(command, cwd=cwd, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
                            env=_env(PYTHONPATH=str(cwd / "tools"), **env))


def end_process(process: subprocess.Popen) -> None:
    """End a process started by :func:`start_process`, and its group: SIGTERM, then SIGKILL after 30 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def dask_cluster(course: Path, workers: int) -> tuple[str, list[subprocess.Popen]]:
    """``dask scheduler`` and ``workers`` single-threaded ``dask worker`` processes on 127.0.0.1, as
    ``make scheduler`` and ``make worker`` start them."""
    dask = str(Path(sys.executable).parent / "dask")
    address_file = course / "scheduler.json"
    processes = [start_process([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                         "--scheduler-file", str(address_file)], course, course / "scheduler.log")]
    deadline = time.monotonic() + 60
    while not (address_file.exists() and address_file.stat().st_size):
        if time.monotonic() > deadline:
            raise SystemExit(f"the Dask scheduler did not start: {(course / 'scheduler.log').read_text()}")
        time.sleep(0.5)
    address = json.loads(address_file.read_text())["address"]
    for i in range(workers):
        processes.append(start_process([dask, "worker", address, "--nthreads", "1", "--memory-limit", "0", "--no-dashboard",
                                 "--name", f"worker-{i}"], course, course / f"worker-{i}.log"))
    return address, processes


def grade(course: Path, configuration: str) -> dict:
    """Grade the class in ``course`` once, as ``configuration``; its figures and gradebook."""
    processes = []
    if configuration.startswith("Dask"):
        address, processes = dask_cluster(course, 2)
        args = ["--scheduler", address]
    else:
        args = ["--workers", configuration.split()[0]]
    load = round(os.getloadavg()[0], 2)
    try:
        start = time.perf_counter()
        done = _run(course, "tools/grading.py", "autograde", *args)
        wall = time.perf_counter() - start
    finally:
        for process in processes:
            end_process(process)
    graded = [line for line in done.stdout.splitlines() if line.startswith("  ok ")]
    seconds = {}
    for line in graded:
        name = line.split()[1].rstrip(":")
        seconds[name] = float(re.search(r"\(([\d.]+) s\)$", line).group(1))
    state = json.loads((course / grading.STATE).read_text())
    return {"wall_seconds": round(wall, 1), "graded": len(graded), "submissions_per_minute": round(60 * len(graded) / wall, 2),
            "seconds": seconds, "peak_mib": state["peak_mib"],
            "gradebook": {name: row for name, row in grading.snapshot(course / ".nbgrader" / "gradebook.db").items()},
            "load_average_before": load}


# --- The figures -------------------------------------------------------------------------------------------------


def summarise(runs: dict, assignments: list[str], roster: dict) -> dict:
    one = runs["1 worker"]
    per_assignment = {}
    for assignment in assignments:
        times = [s for name, s in one["seconds"].items() if name.endswith(f"/{assignment}")]
        per_assignment[assignment] = {"mean_seconds": round(sum(times) / len(times), 1),
                                      "peak_mib": max(r["peak_mib"].get(assignment, 0) for r in runs.values())}
    speedups = {name: round(run["submissions_per_minute"] / one["submissions_per_minute"], 2) for name, run in runs.items()}
    identical = {name: run["gradebook"] == one["gradebook"] for name, run in runs.items()}
    per_student = one["wall_seconds"] / len(roster)  # one worker's wall time per student, all of them included
    efficiency = speedups.get("2 workers", 0) / 2
    # one core is the one-worker run itself; n > 1 cores scale it by the two-worker efficiency
    scale = {n: 1 if n == 1 else n * efficiency for n in (1, 2, 4, 8, 16, 32, 64)}
    projection = {str(n): round(CLASS_SIZE * per_student / by / 60, 1) if by else None for n, by in scale.items()}
    return {"per_assignment": per_assignment, "speedup_over_1_worker": speedups, "identical_to_1_worker": identical,
            "budget": {"two workers at least 1.6x one, identical grades":
                       bool(speedups.get("2 workers", 0) >= 1.6 and identical.get("2 workers"))},
            "one_worker_seconds_per_student": round(per_student, 1), "two_worker_efficiency": round(efficiency, 2),
            f"projected_minutes_for_{CLASS_SIZE}_students_on_n_cores": projection}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    return {"cpu": cpu, "cores": grading.cores(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "system": platform.platform()}


def write_readme(result: dict, out: Path) -> None:
    s = result["summary"]
    lines = ["# Grading a class: measured throughput", "",
             f"`python tools/grading_bench.py --students {result['students']} --assignments {' '.join(result['assignments'])}`, "
             f"on {result['machine']['cores']} cores ({result['machine']['cpu']}), {result['date']}. Every submission is "
             "graded in its own bubblewrap sandbox. The class: " + ", ".join(
                 f"{sum(k == kind for k in result['roster'].values())} {kind}" for kind in KINDS)
             + " students (in a quiz: " + ", ".join(f"{k} = {v}" for k, v in QUIZ_KINDS.items()) + ").", "",
             "| configuration | submissions | wall (s) | submissions/min | speed-up | gradebook as 1 worker's |",
             "|---|---|---|---|---|---|"]
    for name, run in result["runs"].items():
        lines.append(f"| {name} | {run['graded']} | {run['wall_seconds']} | {run['submissions_per_minute']} | "
                     f"{s['speedup_over_1_worker'][name]}x | {'identical' if s['identical_to_1_worker'][name] else 'DIFFERENT'} |")
    lines += ["", "| assignment | mean s per submission (1 worker) | peak MiB of a sandboxed kernel |", "|---|---|---|"]
    lines += [f"| {a} | {v['mean_seconds']} | {v['peak_mib']} |" for a, v in s["per_assignment"].items()]
    projection = s[f"projected_minutes_for_{CLASS_SIZE}_students_on_n_cores"]
    lines += ["", f"Budget, two workers at >= 1.6x one with identical grades: "
              f"{'met' if all(s['budget'].values()) else 'NOT met'} ({s['speedup_over_1_worker'].get('2 workers')}x).", "",
              f"Projection for {CLASS_SIZE} students doing these assignments (one worker per core; "
              f"{s['one_worker_seconds_per_student']} s per student at one worker, two-worker efficiency "
              f"{s['two_worker_efficiency']}, assumed to hold at n cores, which a larger machine must confirm): "
              + ", ".join(f"{n} cores {projection[n]} min" for n in sorted(projection, key=int)) + "."]
    (out / "README.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=8)
    parser.add_argument("--assignments", nargs="+", default=["quiz_1", "02_draft_and_verify"])
    parser.add_argument("--minutes", type=float, default=60, help="start no configuration after this many minutes")
    parser.add_argument("--force", action="store_true", help="rerun every configuration")
    parser.add_argument("--out", type=Path, default=OUT, help="where bench.json and README.md go (results/grading/)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.assignments) - set(release.assignments()))
    if unknown:
        parser.error(f"no such assignment: {', '.join(unknown)} (choose from {', '.join(release.assignments())})")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    path = out / "bench.json"
    key = {"students": args.students, "assignments": args.assignments}
    previous = json.loads(path.read_text()) if path.exists() else {}
    runs = previous.get("runs", {}) if not args.force and all(previous.get(k) == v for k, v in key.items()) else {}
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="grading_bench_") as scratch:
        template = Path(scratch) / "class"
        roster = build_class(template, args.students, args.assignments)
        for configuration in CONFIGURATIONS:
            if configuration in runs:
                continue
            if time.monotonic() - start > 60 * args.minutes:
                print(f"--minutes {args.minutes:g} reached: run the same command again to go on", flush=True)
                break
            course = Path(scratch) / configuration.replace(" ", "_")
            shutil.copytree(template, course, symlinks=True)
            print(f"grading {args.students} students x {len(args.assignments)} assignments: {configuration}", flush=True)
            runs[configuration] = grade(course, configuration)
            print(f"  {runs[configuration]['wall_seconds']} s, {runs[configuration]['submissions_per_minute']} "
                  "submissions/min", flush=True)
            _write(path, key, roster, runs, args.assignments)
    if all(name in runs for name in CONFIGURATIONS):
        write_readme(json.loads(path.read_text()), out)
        print((out / "README.md").read_text())
    return 0


def _write(path: Path, key: dict, roster: dict, runs: dict, assignments: list[str]) -> None:
    result = {**key, "date": datetime.date.today().isoformat(), "machine": machine(), "roster": roster, "runs": runs}
    if all(name in runs for name in CONFIGURATIONS):
        result["summary"] = summarise(runs, assignments, roster)
        result["peak_mib"] = {a: v["peak_mib"] for a, v in result["summary"]["per_assignment"].items()}
    path.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    sys.exit(main())
