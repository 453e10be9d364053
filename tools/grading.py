"""Grade the course's submissions with nbgrader on one machine: ``python tools/grading.py autograde|feedback|grades``.

The make targets call it (``make autograde``, ``make feedback``, ``make grades``);
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
- Every submission's kernel runs in a **sandbox** (``tools/sandbox.py``: bubblewrap, new PID, mount, network and
  user namespaces, a throwaway working folder, resource limits) that sees neither the solutions nor the gradebook
  nor any other student; nbgrader itself runs here, in the grading process, and its own results go into the
  gradebook. Before grading, each notebook is compared with the released one: a deleted cell of the assignment
  is restored from the release, and a cell whose nbgrader metadata was altered gets it back, each said in the
  submission's line. A grading that fails removes the submission's earlier grade. Without bubblewrap,
  ``autograde`` stops and says how to install it; ``--unsandboxed`` grades without isolation, for work you
  trust. What the sandbox does and does not protect against: docs/instructors.md, section 5.
- ``feedback`` writes HTML feedback, ``feedback/<student>/<assignment>/<notebook>.html``, for every autograded
  submission.
- ``grades`` exports the gradebook as CSV (nbgrader's own CSV export: one row per student and assignment, with
  ``score`` and ``max_score``; an assignment a student did not submit counts 0) and prints each student's total.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import release  # noqa: E402  (tools/release.py: which assignments exist, and how to record them in the gradebook)
import sandbox  # noqa: E402  (tools/sandbox.py: the bubblewrap sandbox of a submission's kernel)

ROOT = release.ROOT
SUBMITTED = "submitted"
# nbgrader's gradebook trips SQLAlchemy's autoflush warnings while it records a submission: noise, not ours to fix
warnings.filterwarnings("ignore", message=r"Object of type <Submitted\w+> not in session")

__all__ = ["Outcome", "Sandbox", "submissions", "check_submission", "restore_cells", "autograde", "feedback",
           "export_grades", "main"]


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
    """How each submission is graded in the sandbox (tools/sandbox.py): the kernel's limits, and a wall-clock
    limit for the whole submission, after which its kernel is killed and the submission reported."""

    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    wall_seconds: int = 1800


# --- nbgrader ------------------------------------------------------------------------------------------


def _api(submitted: Path | None = None, sandboxed: bool = False, cell_timeout: int | None = None):
    """nbgrader's API on the course, reading submissions from ``submitted`` (default ``submitted/``); with
    ``sandboxed``, every notebook's kernel starts in the open :class:`sandbox.Jail`."""
    import logging

    from nbgrader.apps import NbGraderAPI
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import Execute

    # nbgrader's own log goes into each result's "log"; keep its console output (and the exchange's
    # "no exchange directory" notice, irrelevant without JupyterHub) quiet
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    config = release.course_config()
    config.NbGraderAPI.log_level = "ERROR"
    if submitted is not None:
        config.CourseDirectory.submitted_directory = str(submitted)
    if cell_timeout is not None:
        config.Execute.timeout = cell_timeout
    if sandboxed:
        class SandboxedExecute(Execute):
            def __init__(self, *args, **kwargs):
                kwargs["kernel_manager_class"] = sandbox.SandboxedKernelManager
                super().__init__(*args, **kwargs)

        config.Autograde.autograde_preprocessors = [SandboxedExecute if step is Execute else step
                                                    for step in Autograde.class_traits()["autograde_preprocessors"].default()]
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def _bin_on_path() -> None:
    """nbgrader shells out to ``alembic`` (gradebook migrations): the environment's bin folder must be on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def _gradebook():
    from nbgrader.api import Gradebook

    config = release.course_config()
    return Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id)


def _in_gradebook(assignment: str) -> bool:
    from nbgrader.api import MissingEntry

    with _gradebook() as gb:
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
    with _gradebook() as gb:
        submission = gb.find_submission(assignment, student)
        return float(submission.score), float(submission.max_score)


def _forget(student: str, assignment: str) -> str:
    """Remove a submission's grade and autograded notebooks (a grading that failed must not leave the old ones)."""
    from nbgrader.api import MissingEntry

    removed = []
    with _gradebook() as gb:
        try:
            gb.remove_submission(assignment, student)
            removed.append("its grade was removed from the gradebook")
        except MissingEntry:
            pass
    folder = ROOT / "autograded" / student / assignment
    if folder.exists():
        shutil.rmtree(folder)
        removed.append(f"autograded/{student}/{assignment}/ was removed")
    if folder.parent.is_dir() and not any(folder.parent.iterdir()):
        folder.parent.rmdir()  # nbgrader leaves the student's folder behind when it fails
    return f" ({'; '.join(removed)})" if removed else ""


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


def _nbgrader_id(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) else None


def _flags(meta: dict) -> dict:
    """What nbgrader grades by in a cell's metadata (its checksum is nbgrader's own business)."""
    return {key: meta.get(key) for key in ("grade", "solution", "locked", "points", "task")}


def restore_cells(nb, released) -> list[str]:
    """Put back, in place, what a submission ``nb`` changed of the assignment's cells; say each change in words.

    The released notebook ``released`` names the assignment's cells by their nbgrader ``grade_id``. A cell of
    it that the submission deleted is inserted again where it stood (after the cell before it in the release):
    a locked cell as released, an answer cell as the blank stub. A cell whose nbgrader metadata differs from
    the release's (a flag or the points edited) gets the release's metadata back. A cell whose metadata names
    no cell of the assignment, names one twice, or has no ``grade_id``, loses its nbgrader metadata and runs as
    an ordinary cell. nbgrader then restores the contents of locked cells from the gradebook, as always.
    """
    wanted = {_nbgrader_id(cell): cell for cell in released.cells if _nbgrader_id(cell)}
    notes, seen = [], set()
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is None:
            continue
        grade_id = _nbgrader_id(cell)
        if grade_id not in wanted or grade_id in seen:
            why = ("has no grade_id" if not grade_id else f"names {grade_id!r} again" if grade_id in seen
                   else f"names {str(grade_id)[:40]!r}, which is not a cell of this assignment")
            notes.append(f"cell {index + 1}'s nbgrader metadata {why}: it runs as an ordinary cell")
            del cell.metadata["nbgrader"]
            continue
        seen.add(grade_id)
        if _flags(meta) != _flags(wanted[grade_id].metadata["nbgrader"]):
            cell.metadata["nbgrader"] = copy.deepcopy(wanted[grade_id].metadata["nbgrader"])
            notes.append(f"the nbgrader metadata of {grade_id!r} was altered: restored")
        if cell.cell_type != wanted[grade_id].cell_type:
            nb.cells[index] = copy.deepcopy(wanted[grade_id])
            notes.append(f"{grade_id!r} was changed into a {cell.cell_type} cell: restored as released")
    position = {_nbgrader_id(cell): i for i, cell in enumerate(nb.cells) if _nbgrader_id(cell)}
    after = -1  # where the previous cell of the release stands in the submission
    for grade_id, cell in wanted.items():
        if grade_id in position:
            after = position[grade_id]
            continue
        after += 1
        restored = copy.deepcopy(cell)
        if "id" in restored and any(c.get("id") == restored.id for c in nb.cells):
            restored.id = uuid.uuid4().hex[:8]  # cell ids must stay unique
        nb.cells.insert(after, restored)
        position = {_nbgrader_id(c): i for i, c in enumerate(nb.cells) if _nbgrader_id(c)}
        kind = "answer cell" if cell.metadata["nbgrader"].get("solution") else "cell"
        notes.append(f"the {kind} {grade_id!r} was deleted: restored from the release")
    return notes


def _prepare(student: str, assignment: str, into: Path) -> list[str]:
    """Copy ``submitted/<student>/<assignment>/`` into ``into`` (same layout), restoring the assignment's cells
    in the copy (:func:`restore_cells`); the instructor's ``submitted/`` is never changed. Returns the notes."""
    source = ROOT / SUBMITTED / student / assignment
    target = into / student / assignment
    shutil.copytree(source, target)
    notes = []
    for path in sorted(target.glob("*.ipynb")):
        released = release.released_path(release.SOURCE / assignment / path.name)
        if not released.exists():
            raise SystemExit(f"{released.relative_to(ROOT)} is missing: run `make release` before grading")
        nb = nbformat.read(path, as_version=4)
        changes = restore_cells(nb, nbformat.read(released, as_version=4))
        if changes:
            nbformat.write(nb, path)
            notes += [f"{path.name}: {change}" for change in changes]
    return notes


def _kernel_can_read(smol_cache: Path) -> list[Path]:
    """What a sandboxed kernel may read: the Python installation and environment, and of the course only the
    library, the committed results and GPU measurements that lessons load, and the converted SmolLM2 cache."""
    spec = importlib.util.find_spec("specdec_lite")  # found, not imported (that would load torch here)
    library = Path(next(iter(spec.submodule_search_locations))).resolve()
    paths = [Path(sys.prefix), Path(sys.base_prefix).resolve(), library,
             library.parent / "results", library.parent / "docs" / "gpu_runs", smol_cache]
    return sorted({p for p in paths if p.exists()})


def _smol_cache(assignments: list[str]) -> Path:
    """The converted SmolLM2 cache, which a sandboxed kernel may only read. When a lesson is to be graded, it is
    converted here first if needed (once; about 30-60 s, as the first load in a lesson would)."""
    convert = any(release.release_folder(a) == "lessons" for a in assignments)
    code = ("import sys\nfrom specdec_lite import smol\n"
            "print(smol.smol_target_dir(verbose=False) if sys.argv[1] == 'convert' else smol.cache_dir())")
    run = subprocess.run([sys.executable, "-c", code, "convert" if convert else "find"], capture_output=True, text=True)
    if run.returncode != 0:
        tail = (run.stderr.strip().splitlines() or ["no message"])[-1]
        raise SystemExit(f"cannot prepare SmolLM2's cache for the lessons' kernels: {tail}")
    return Path(run.stdout.strip().splitlines()[-1])


def _grade(student: str, assignment: str, box: Sandbox | None, cell_timeout: int | None, readable: list[Path]) -> Outcome:
    """Autograde one checked submission: from a restored copy, its kernel in a jail unless ``box`` is None."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="specdec-submitted-") as copies:
        notes = _prepare(student, assignment, Path(copies))
        api = _api(Path(copies), sandboxed=box is not None, cell_timeout=cell_timeout)
        if box is None:
            result, timed_out = api.autograde(assignment, student, force=True, create=True), False
        else:
            with sandbox.Jail(readable, box.limits) as jail:
                expired = threading.Event()
                timer = threading.Timer(box.wall_seconds, lambda: (expired.set(), jail.kill_all()))
                timer.start()
                try:
                    result = api.autograde(assignment, student, force=True, create=True)
                finally:
                    timer.cancel()
                timed_out = expired.is_set()
    seconds = time.perf_counter() - start
    if timed_out or not result.get("success"):
        why = (f"grading took longer than the sandbox's {box.wall_seconds} s and its kernel was stopped" if timed_out
               else f"nbgrader's autograde failed: {_error_summary(result)}")
        return Outcome(student, assignment, False, why + _forget(student, assignment), seconds)
    score, max_score = _score(assignment, student)
    restored = f" (restored: {'; '.join(notes)})" if notes else ""
    return Outcome(student, assignment, True, f"{score:g} / {max_score:g}{restored}", seconds, score, max_score)


def autograde(students: list[str] | None = None, assignments: list[str] | None = None,
              box: Sandbox | None = Sandbox(), cell_timeout: int | None = None, echo: bool = True) -> list[Outcome]:
    """Autograde every submission under ``submitted/`` (or those of ``students`` / ``assignments``), each
    submission's kernel in the sandbox ``box`` (None: without isolation, for trusted work only).

    Never raises for a bad submission: each one's outcome says what happened, and the others are graded.
    """
    _bin_on_path()
    todo = submissions(students, assignments)
    if box is not None and (reason := sandbox.missing()):
        raise SystemExit(f"cannot grade in the sandbox here: {reason}. To grade work you trust without isolation, "
                         "add --unsandboxed (docs/instructors.md, section 5).")
    known = set(release.assignments())
    graded = sorted({a for _, a in todo if a in known})
    _record(graded)
    readable = _kernel_can_read(_smol_cache(graded)) if box and todo else []
    outcomes = []
    for student, assignment in todo:
        check = check_submission(student, assignment)
        if not check.gradable:
            outcome = Outcome(student, assignment, False, "; ".join(check.problems) + " (not graded)"
                              + (_forget(student, assignment) if assignment in known else ""))
        else:
            outcome = _grade(student, assignment, box, cell_timeout, readable)
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
    from nbgrader.plugins import CsvExportPlugin

    _bin_on_path()
    out = Path(out) if out else ROOT / "grades.csv"
    with _gradebook() as gb:
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
    grade.add_argument("--unsandboxed", action="store_true",
                       help="run the students' code without the sandbox, with your permissions: only for work you trust")
    grade.add_argument("--memory", default=sandbox.Limits.memory, help="sandbox: address space per process (default %(default)s)")
    grade.add_argument("--cpu-seconds", type=int, default=sandbox.Limits.cpu_seconds,
                       help="sandbox: CPU seconds per process (default %(default)s)")
    grade.add_argument("--processes", type=int, default=sandbox.Limits.processes,
                       help="sandbox: processes and threads of one kernel (default %(default)s)")
    grade.add_argument("--wall-seconds", type=int, default=Sandbox.wall_seconds,
                       help="sandbox: wall-clock seconds per submission (default %(default)s)")
    grade.add_argument("--cell-timeout", type=int, help="seconds one cell may run (default: nbgrader_config.py's Execute.timeout)")
    grades = commands.add_parser("grades", help="export the gradebook as CSV")
    grades.add_argument("--out", type=Path, help="the CSV file (default: grades.csv in the course folder)")
    args = parser.parse_args(argv)

    if args.command == "grades":
        export_grades(args.out)
        return 0
    start = time.perf_counter()
    if args.command == "autograde":
        box = None if args.unsandboxed else Sandbox(sandbox.Limits(args.memory, args.cpu_seconds, processes=args.processes),
                                                    args.wall_seconds)
        outcomes = autograde(args.student, args.assignment, box, args.cell_timeout)
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
