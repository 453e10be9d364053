"""Grade the course's submissions with nbgrader on one machine: ``python tools/grading.py autograde|feedback|grades``.

The make targets call it (``make autograde``, ``make feedback``, ``make grades``, ``make autograde-sandboxed``);
docs/instructors.md describes the whole workflow. Everything goes through nbgrader's Python API (``NbGraderAPI``),
configured by the repository's ``nbgrader_config.py``:

- ``autograde`` grades every ``submitted/<student>/<assignment>/`` folder (or only ``--student`` / ``--assignment``).
  Each submission is checked first: the assignment must exist in ``solutions/``, every notebook must carry the
  name of the assignment's notebook and must be a readable notebook. A problem is reported in words and that
  submission is skipped (or graded without the misnamed file), and grading goes on with the next one. Each
  autograde result is checked (nbgrader reports failure in its return value, it does not raise). The command
  prints one line per submission with its score and time, and exits with status 1 if any submission failed.
  An assignment that is not yet in the gradebook (``.nbgrader/gradebook.db``, never committed; e.g. in a fresh
  clone) is recorded there first, as ``make release`` would, without touching ``lessons/`` or ``quizzes/``.
- ``--sandbox`` runs the autograde of each submission in its own process with no network (a new network
  namespace, ``unshare --net --map-root-user``), resource limits (``prlimit``: address space, CPU seconds, file
  size) and a wall-clock limit. It needs Linux with unprivileged user namespaces and util-linux; where they are
  missing it stops with a message saying so. What it does and does not protect against: docs/instructors.md.
- ``feedback`` writes HTML feedback, ``feedback/<student>/<assignment>/<notebook>.html``, for every autograded
  submission.
- ``grades`` exports the gradebook as CSV (nbgrader's own CSV export: one row per student and assignment, with
  ``score`` and ``max_score``; an assignment a student did not submit counts 0) and prints each student's total.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import release  # noqa: E402  (tools/release.py: which assignments exist, and how to record them in the gradebook)

ROOT = release.ROOT
SUBMITTED = "submitted"
# nbgrader's gradebook trips SQLAlchemy's autoflush warnings while it records a submission: noise, not ours to fix
warnings.filterwarnings("ignore", message=r"Object of type <Submitted\w+> not in session")

__all__ = ["Outcome", "Sandbox", "submissions", "check_submission", "autograde", "feedback", "export_grades", "main"]


@dataclass
class Outcome:
    """What happened to one submission: ``ok`` is False when it needs the instructor's attention."""

    student: str
    assignment: str
    ok: bool
    message: str
    seconds: float = 0.0
    score: float | None = None
    max_score: float | None = None

    def line(self) -> str:
        head = f"{self.student}/{self.assignment}"
        if self.ok:
            return f"  ok      {head}: {self.message} ({self.seconds:.1f} s)"
        return f"  FAILED  {head}: {self.message}"


@dataclass
class Sandbox:
    """Limits for ``autograde --sandbox``: per process address space and CPU time, per submission wall time."""

    memory: str = "4G"
    cpu_seconds: int = 900
    wall_seconds: int = 1800
    file_size: str = "1G"

    def available(self) -> str | None:
        """None when this machine can run the sandbox, else why not (in words)."""
        missing = [tool for tool in ("unshare", "prlimit") if shutil.which(tool) is None]
        if missing:
            return f"{' and '.join(missing)} not found (they come with util-linux)"
        probe = subprocess.run(["unshare", "--net", "--map-root-user", "true"], capture_output=True, text=True)
        if probe.returncode != 0:
            return ("this kernel does not let an unprivileged process create a network namespace "
                    f"(`unshare --net --map-root-user true` failed: {probe.stderr.strip() or probe.returncode})")
        return None

    def wrap(self, command: list[str]) -> list[str]:
        """``command`` under the limits, in a new user and network namespace (only a loopback, which is down)."""
        return ["prlimit", f"--as={_bytes(self.memory)}", f"--cpu={self.cpu_seconds}",
                f"--fsize={_bytes(self.file_size)}", "--",
                "unshare", "--net", "--map-root-user", "--", *command]


def _bytes(size: str) -> int:
    """``"4G"`` -> 4 * 2**30 (suffixes K, M, G; a plain number is bytes)."""
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    text = str(size).strip().upper().removesuffix("B").removesuffix("I")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


# --- nbgrader ------------------------------------------------------------------------------------------


def _config(kernel_over_ipc: bool = False):
    config = release.course_config()
    if kernel_over_ipc:
        # inside the sandbox's network namespace the loopback is down: talk to the kernel over Unix sockets, at an
        # absolute path (the kernel runs in the notebook's folder, the client here), short enough for a socket name
        config.KernelManager.transport = "ipc"
        sockets = tempfile.mkdtemp(prefix="grading-")
        atexit.register(shutil.rmtree, sockets, True)
        config.KernelManager.ip = os.path.join(sockets, "kernel")
    return config


def _api(kernel_over_ipc: bool = False):
    import logging

    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    # nbgrader's own log goes into each result's "log"; keep its console output (and the exchange's
    # "no exchange directory" notice, irrelevant without JupyterHub) quiet
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    config = _config(kernel_over_ipc)
    config.NbGraderAPI.log_level = "ERROR"
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def _bin_on_path() -> None:
    """nbgrader shells out to ``alembic`` (gradebook migrations): the environment's bin folder must be on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def _in_gradebook(assignment: str) -> bool:
    from nbgrader.api import Gradebook, MissingEntry

    config = _config()
    with Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as gb:
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            return False
        return True


def _record(assignments: list[str]) -> None:
    """Record ``assignments`` in the gradebook (nbgrader's GenerateAssignment), writing the student versions to a scratch folder."""
    missing = [a for a in assignments if not _in_gradebook(a)]
    if missing:
        with tempfile.TemporaryDirectory() as scratch:
            release.release(Path(scratch), db=True, only=missing, verbose=False)
        print(f"recorded {', '.join(missing)} in the gradebook")


def _score(assignment: str, student: str) -> tuple[float, float]:
    from nbgrader.api import Gradebook

    config = _config()
    with Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as gb:
        submission = gb.find_submission(assignment, student)
        return float(submission.score), float(submission.max_score)


def _error_summary(result: dict) -> str:
    """What went wrong, in one line: the last exception in nbgrader's log or traceback other than its own
    "see the above traceback" wrapper, else its last logged error."""
    text = (result.get("log") or "") + "\n" + (result.get("error") or "")
    raised = [line.strip() for line in text.splitlines()
              if re.match(r"\s*[\w.]+(Error|Exception|Exit)\b: ", line) and "NbGraderException" not in line]
    logged = [line.strip() for line in text.splitlines() if line.startswith(("[ERROR]", "[CRITICAL]"))]
    return (raised or logged or ["nbgrader reported a failure without a message"])[-1]


# --- Submissions ---------------------------------------------------------------------------------------


def submissions(students: list[str] | None = None, assignments: list[str] | None = None) -> list[tuple[str, str]]:
    """Every ``(student, assignment)`` with a folder ``submitted/<student>/<assignment>/``, sorted."""
    base = ROOT / SUBMITTED
    if not base.is_dir():
        return []
    found = []
    for student_dir in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for assignment_dir in sorted(p for p in student_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if (students is None or student_dir.name in students) and (assignments is None or assignment_dir.name in assignments):
                found.append((student_dir.name, assignment_dir.name))
    return found


@dataclass
class Check:
    """The result of :func:`check_submission`: problems in words, and whether nbgrader can grade what is there."""

    problems: list[str]
    gradable: bool


def check_submission(student: str, assignment: str) -> Check:
    """Check ``submitted/<student>/<assignment>/`` before grading it (no student code runs here).

    Problems: an assignment that ``solutions/`` does not have; a notebook whose name is not the assignment's
    (nbgrader would skip it, and score the expected notebook 0 as missing); a missing notebook; a file that
    is not a readable notebook (broken JSON, not nbformat 4). The submission is gradable when the assignment
    exists and every expected notebook that is there can be read, and at least one is there.
    """
    folder = ROOT / SUBMITTED / student / assignment
    where = f"{SUBMITTED}/{student}/{assignment}"
    known = release.assignments()
    if assignment not in known:
        return Check([f"{where}: there is no assignment {assignment!r} in solutions/ (known: {', '.join(known)}); "
                      "rename the folder to the assignment's name"], False)
    expected = sorted(p.name for p in (release.SOURCE / assignment).glob("*.ipynb"))
    present = sorted(p.name for p in folder.glob("*.ipynb"))
    problems, readable = [], 0
    for name in present:
        if name not in expected:
            problems.append(f"{where}/{name} is not a notebook of {assignment} (expected {', '.join(expected)}): "
                            "nbgrader ignores it; rename it and grade again")
    for name in expected:
        path = folder / name
        if not path.exists():
            problems.append(f"{where}/{name} is missing: nbgrader scores it 0")
            continue
        try:
            nbformat.read(path, as_version=4)
        except Exception as error:  # noqa: BLE001  (any reason a file is not a notebook is reported the same way)
            detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
            problems.append(f"{where}/{name} is not a readable notebook ({type(error).__name__}: {detail[:200]}); "
                            "ask the student to download it again from JupyterLab (File > Download) and resubmit")
            return Check(problems, False)
        readable += 1
    return Check(problems, readable > 0)


def _grade_one(api, student: str, assignment: str) -> Outcome:
    start = time.perf_counter()
    result = api.autograde(assignment, student, force=True, create=True)
    seconds = time.perf_counter() - start
    if not result.get("success"):
        return Outcome(student, assignment, False, f"nbgrader's autograde failed: {_error_summary(result)}", seconds)
    score, max_score = _score(assignment, student)
    return Outcome(student, assignment, True, f"{score:g} / {max_score:g}", seconds, score, max_score)


def _grade_sandboxed(student: str, assignment: str, sandbox: Sandbox) -> Outcome:
    command = [sys.executable, str(Path(__file__).resolve()), "autograde",
               "--student", student, "--assignment", assignment, "--kernel-over-ipc", "--json"]
    start = time.perf_counter()
    try:
        run = subprocess.run(sandbox.wrap(command), capture_output=True, text=True, timeout=sandbox.wall_seconds, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return Outcome(student, assignment, False, f"grading took longer than the sandbox's {sandbox.wall_seconds} s and "
                       "was stopped", time.perf_counter() - start)
    seconds = time.perf_counter() - start
    try:
        child = json.loads(run.stdout.strip().splitlines()[-1])[0]
    except (IndexError, ValueError, KeyError):
        tail = (run.stderr.strip().splitlines() or ["no output"])[-1]
        return Outcome(student, assignment, False, f"the sandboxed grading process ended with status {run.returncode} "
                       f"without a result: {tail}", seconds)
    return Outcome(student, assignment, child["ok"], child["message"], seconds, child["score"], child["max_score"])


def autograde(students: list[str] | None = None, assignments: list[str] | None = None,
              sandbox: Sandbox | None = None, kernel_over_ipc: bool = False, echo: bool = True) -> list[Outcome]:
    """Autograde every submission under ``submitted/`` (or those of ``students`` / ``assignments``).

    Never raises for a bad submission: each one's outcome says what happened, and the others are graded.
    """
    _bin_on_path()
    todo = submissions(students, assignments)
    if sandbox is not None and (reason := sandbox.available()):
        raise SystemExit(f"cannot sandbox the autograde here: {reason}. Run it in a container instead "
                         "(docs/instructors.md, 'Running students' code safely').")
    known = set(release.assignments())
    _record(sorted({a for _, a in todo if a in known}))
    api = None
    outcomes = []
    for student, assignment in todo:
        check = check_submission(student, assignment)
        if not check.gradable:
            outcome = Outcome(student, assignment, False, "; ".join(check.problems) + " (not graded)")
        else:
            if sandbox is not None:
                outcome = _grade_sandboxed(student, assignment, sandbox)
            else:
                api = api or _api(kernel_over_ipc)
                outcome = _grade_one(api, student, assignment)
            if check.problems:
                outcome.ok = False
                outcome.message += " (graded, but: " + "; ".join(check.problems) + ")"
        outcomes.append(outcome)
        if echo:
            print(outcome.line(), flush=True)
    return outcomes


def feedback(students: list[str] | None = None, assignments: list[str] | None = None, echo: bool = True) -> list[Outcome]:
    """HTML feedback for every autograded submission: ``feedback/<student>/<assignment>/<notebook>.html``."""
    _bin_on_path()
    base = ROOT / "autograded"
    todo = [(s.name, a.name) for s in sorted(base.iterdir()) if s.is_dir() for a in sorted(s.iterdir()) if a.is_dir()
            if (students is None or s.name in students) and (assignments is None or a.name in assignments)] \
        if base.is_dir() else []
    api = _api() if todo else None
    outcomes = []
    for student, assignment in todo:
        start = time.perf_counter()
        result = api.generate_feedback(assignment, student, force=True)
        seconds = time.perf_counter() - start
        pages = sorted((ROOT / "feedback" / student / assignment).glob("*.html"))
        if result.get("success") and pages:
            outcome = Outcome(student, assignment, True, ", ".join(str(p.relative_to(ROOT)) for p in pages), seconds)
        else:
            outcome = Outcome(student, assignment, False, f"no feedback written: {_error_summary(result)}", seconds)
        outcomes.append(outcome)
        if echo:
            print(outcome.line(), flush=True)
    return outcomes


def export_grades(out: Path | None = None, echo: bool = True) -> Path:
    """Write the gradebook as CSV (nbgrader's ``CsvExportPlugin``) to ``out`` (default ``grades.csv``); return its path."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    _bin_on_path()
    out = Path(out) if out else ROOT / "grades.csv"
    config = _config()
    with Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as gb:
        CsvExportPlugin(to=str(out)).export(gb)
        totals = {}
        for student in gb.students:
            graded = [s for s in student.submissions]
            totals[student.id] = (sum(s.score for s in graded), sum(s.max_score for s in graded), len(graded))
    if echo:
        print(f"wrote {out}")
        for student, (score, max_score, count) in sorted(totals.items()):
            print(f"  {student}: {score:g} / {max_score:g} over {count} submitted assignment{'s' if count != 1 else ''}")
    return out


# --- Command line --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("autograde", help="grade submitted/<student>/<assignment>/")
    give = commands.add_parser("feedback", help="HTML feedback for every autograded submission")
    for sub in (grade, give):
        sub.add_argument("--student", action="append", help="only this student (repeatable)")
        sub.add_argument("--assignment", action="append", help="only this assignment (repeatable)")
    grade.add_argument("--sandbox", action="store_true", help="no network, memory, CPU and time limits (docs/instructors.md)")
    grade.add_argument("--memory", default=Sandbox.memory, help="sandbox: address space per process (default %(default)s)")
    grade.add_argument("--cpu-seconds", type=int, default=Sandbox.cpu_seconds,
                       help="sandbox: CPU seconds per process (default %(default)s)")
    grade.add_argument("--wall-seconds", type=int, default=Sandbox.wall_seconds,
                       help="sandbox: wall-clock seconds per submission (default %(default)s)")
    grade.add_argument("--kernel-over-ipc", action="store_true", help=argparse.SUPPRESS)  # set inside the sandbox
    grade.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # the sandbox's child reports this way
    grades = commands.add_parser("grades", help="export the gradebook as CSV")
    grades.add_argument("--out", type=Path, help="the CSV file (default: grades.csv in the course folder)")
    args = parser.parse_args(argv)

    if args.command == "grades":
        export_grades(args.out)
        return 0
    start = time.perf_counter()
    if args.command == "autograde":
        sandbox = Sandbox(args.memory, args.cpu_seconds, args.wall_seconds) if args.sandbox else None
        outcomes = autograde(args.student, args.assignment, sandbox, args.kernel_over_ipc, echo=not args.json)
        if args.json:
            print(json.dumps([outcome.__dict__ for outcome in outcomes]))
            return 0 if all(o.ok for o in outcomes) else 1
    else:
        outcomes = feedback(args.student, args.assignment)
    failed = [o for o in outcomes if not o.ok]
    verb = "graded" if args.command == "autograde" else "wrote feedback for"
    print(f"{verb} {len(outcomes) - len(failed)} of {len(outcomes)} submissions in {time.perf_counter() - start:.0f} s")
    if not outcomes:
        where = f"{SUBMITTED}/<student>/<assignment>/" if args.command == "autograde" else "autograded/ (run `make autograde`)"
        print(f"nothing to do: no submissions in {where}")
    if failed:
        print(f"{len(failed)} need{'s' if len(failed) == 1 else ''} attention:")
        for outcome in failed:
            print(outcome.line())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
