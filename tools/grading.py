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
import json
import os
import re
import shutil
import signal
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
import grading_task  # noqa: E402  (tools/grading_task.py: what a Dask worker does with one submission)
import sandbox  # noqa: E402  (tools/sandbox.py: the bubblewrap sandbox of a submission's kernel)

ROOT = release.ROOT
SUBMITTED = "submitted"
# nbgrader's gradebook trips SQLAlchemy's autoflush warnings while it records a submission: noise, not ours to fix
warnings.filterwarnings("ignore", message=r"Object of type <Submitted\w+> not in session")

__all__ = ["Outcome", "Sandbox", "State", "Run", "submissions", "check_submission", "restore_cells", "default_workers",
           "autograde", "feedback", "export_grades", "snapshot", "main"]


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


# --- nbgrader ---------------------------------------------------------------------------------------------


def _api():
    """nbgrader's API on the course (feedback reads the instructor's gradebook and autograded/)."""
    import logging

    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    logging.getLogger("traitlets").setLevel(logging.ERROR)
    config = release.course_config()
    config.NbGraderAPI.log_level = "ERROR"
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


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


# --- What is graded already: the client's state ----------------------------------------------------------


STATE = ".nbgrader/grading_state.json"
# A sandboxed kernel's peak memory where this machine has not measured it yet (MiB): SmolLM2 and the draft in
# a lesson, the course library alone in a quiz (results/grading/ holds the measured figures).
ASSUMED_PEAK_MIB = {"lessons": 1800, "quizzes": 700}
WORKER_MIB = 300  # a Dask worker process with nbgrader loaded, beside its kernel


@dataclass
class State:
    """``.nbgrader/grading_state.json``, written by the client alone: for each submission, the fingerprint of
    what was graded (its files, the assignment's source and release) and the outcome; per assignment, the
    highest peak memory a sandboxed kernel reached here."""

    submissions: dict = field(default_factory=dict)
    peak_mib: dict = field(default_factory=dict)

    @classmethod
    def load(cls) -> "State":
        path = ROOT / STATE
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text())
            return cls(data.get("submissions", {}), data.get("peak_mib", {}))
        except (json.JSONDecodeError, AttributeError):
            print(f"{STATE} is not readable: every submission is graded again", flush=True)
            return cls()

    def save(self) -> None:
        path = ROOT / STATE
        path.parent.mkdir(exist_ok=True)
        scratch = path.with_suffix(".json.tmp")
        scratch.write_text(json.dumps({"submissions": self.submissions, "peak_mib": self.peak_mib}, indent=1, sort_keys=True))
        scratch.replace(path)

    def is_graded(self, student: str, assignment: str, fingerprint: str) -> bool:
        entry = self.submissions.get(f"{student}/{assignment}")
        return bool(entry and entry.get("graded") and entry.get("fingerprint") == fingerprint)

    def note(self, outcome: "Outcome", fingerprint: str | None, graded: bool, peak: float | None = None) -> None:
        self.submissions[f"{outcome.student}/{outcome.assignment}"] = {
            "fingerprint": fingerprint, "graded": graded, "ok": outcome.ok, "message": outcome.message}
        if peak:
            self.peak_mib[outcome.assignment] = round(max(peak, self.peak_mib.get(outcome.assignment, 0)), 1)
        self.save()


def _fingerprint(student: str, assignment: str) -> str:
    """What a grading depends on: the submission's files, the assignment's source and its released notebooks."""
    released = {path.name: path.read_bytes() for path in map(release.released_path, (release.SOURCE / assignment).glob("*.ipynb"))
                if path.exists()}
    return grading_task.digest(grading_task.pack(ROOT / SUBMITTED / student / assignment),
                               grading_task.pack(release.SOURCE / assignment), released)


def _in_gradebook_as_submission(student: str, assignment: str) -> bool:
    from nbgrader.api import MissingEntry

    with _gradebook() as gb:
        try:
            gb.find_submission(assignment, student)
        except MissingEntry:
            return False
        return True


# --- How many workers ----------------------------------------------------------------------------------------


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def default_workers(assignments: list[str], state: State) -> tuple[int, str]:
    """Workers for this machine: no more than its cores, and as many kernels as its free memory holds at the
    highest peak (measured here by earlier gradings, else in results/grading/, else assumed); with the reason."""
    import psutil

    committed = {}
    bench = ROOT / "results" / "grading" / "bench.json"
    if bench.exists():
        committed = json.loads(bench.read_text()).get("peak_mib", {})
    peaks = []
    for assignment in assignments:
        if assignment in state.peak_mib:
            peaks.append((state.peak_mib[assignment], assignment, "measured here"))
        elif assignment in committed:
            peaks.append((committed[assignment], assignment, "measured in results/grading/"))
        else:
            peaks.append((ASSUMED_PEAK_MIB[release.release_folder(assignment)], assignment, "assumed"))
    peak, which, how = max(peaks) if peaks else (ASSUMED_PEAK_MIB["quizzes"], "a quiz", "assumed")
    free = psutil.virtual_memory().available / 2**20
    by_memory = int(0.8 * free // (peak + WORKER_MIB))
    workers = max(1, min(cores(), by_memory))
    return workers, (f"{cores()} cores, {free / 1024:.1f} GiB free, a sandboxed kernel of {which} peaks at "
                     f"{peak:.0f} MiB ({how})")


# --- Progress --------------------------------------------------------------------------------------------------


class Progress:
    """One progress line for the whole run: done / total, submissions per minute, ETA. On a terminal it is a
    bar redrawn under the per-submission lines; elsewhere (CI, a log file) a plain line after each of them."""

    def __init__(self, total: int, echo: bool = True):
        self.total, self.done, self.echo = total, 0, echo
        self.tty = echo and sys.stdout.isatty()
        self.start = time.monotonic()

    def figures(self) -> str:
        minutes = (time.monotonic() - self.start) / 60
        rate = self.done / minutes if self.done and minutes > 0 else None
        left = self.total - self.done
        eta = ("done" if not left else "after the first submission" if rate is None
               else f"{left / rate:.1f} min" if left / rate >= 1 else f"{60 * left / rate:.0f} s")
        speed = f"{rate:.1f} submissions/min" if rate else "- submissions/min"
        return f"{self.done}/{self.total} graded, {speed}, ETA {eta}"

    def _bar(self) -> str:
        width = 30
        filled = int(width * self.done / self.total) if self.total else width
        return f"[{'#' * filled}{'.' * (width - filled)}] {self.figures()}"

    def show(self) -> None:
        if self.tty:
            sys.stdout.write("\r\033[K" + self._bar())
            sys.stdout.flush()

    def say(self, text: str) -> None:
        """A line above the bar (or a plain line)."""
        if not self.echo:
            return
        if self.tty:
            sys.stdout.write("\r\033[K")
        print(text, flush=True)
        self.show()

    def add(self, outcome: "Outcome") -> None:
        self.done += 1
        self.say(outcome.line())
        if self.echo and not self.tty:
            print(f"  progress: {self.figures()}", flush=True)

    def end(self) -> None:
        if self.tty:
            sys.stdout.write("\n")
            sys.stdout.flush()


# --- Grading on Dask -----------------------------------------------------------------------------------------


@dataclass
class Run:
    """What an autograde run did: the outcomes of what it graded, what it skipped, and whether Ctrl+C stopped it."""

    outcomes: list[Outcome] = field(default_factory=list)
    skipped: int = 0
    stopped: int = 0  # submissions left ungraded by Ctrl+C
    workers: str = ""


def _task(student: str, assignment: str, box: Sandbox | None, cell_timeout: int | None, threads: dict) -> tuple[dict, list[str]]:
    """The Dask task of one checked submission (tools/grading_task.py), with the restored cells' notes."""
    with tempfile.TemporaryDirectory(prefix="specdec-submitted-") as copies:
        notes = _prepare(student, assignment, Path(copies))
        submission = grading_task.pack(Path(copies) / student / assignment)
    return ({"student": student, "assignment": assignment, "submission": submission,
             "source": grading_task.pack(release.SOURCE / assignment), "code": grading_task.code_version(),
             "sandboxed": box is not None, "limits": box.limits if box else None,
             "wall_seconds": box.wall_seconds if box else None, "cell_timeout": cell_timeout,
             "lessons": release.release_folder(assignment) == "lessons", "threads": threads}, notes)


def _store(result: dict) -> None:
    """Record a worker's result: the autograded folder, then its rows in the gradebook (this is its only writer)."""
    student, assignment = result["student"], result["assignment"]
    folder = ROOT / "autograded" / student / assignment
    incoming = folder.parent / f".{assignment}.incoming"
    shutil.rmtree(incoming, ignore_errors=True)
    grading_task.unpack(result["files"], incoming)
    if folder.exists():
        shutil.rmtree(folder)
    incoming.rename(folder)
    rows = result["rows"]
    with _gradebook() as gb:
        gb.update_or_create_student(student)
        submission = gb.update_or_create_submission(assignment, student)
        _fill(submission, rows["submission"])
        for notebook in submission.notebooks:
            data = rows["notebooks"][notebook.name]
            _fill(notebook, data["columns"])
            for grade in notebook.grades:
                _fill(grade, data["grades"][grade.name])
            for comment in notebook.comments:
                _fill(comment, data["comments"][comment.name])
        gb.db.commit()


def _fill(row, columns: dict) -> None:
    """Set a gradebook row's columns from a worker's result: only columns its table has."""
    known = set(row.__table__.columns.keys())
    unknown = sorted(set(columns) - known)
    if unknown:
        raise ValueError(f"the worker's result names columns that {row.__tablename__} does not have: {unknown}")
    for name, value in columns.items():
        setattr(row, name, value)


def _outcome(future, student: str, assignment: str, notes: list[str], problems: list[str], state: State,
             fingerprint: str) -> Outcome:
    """The outcome of one finished task, recorded; a failed grading removes the earlier grade."""
    from distributed.scheduler import KilledWorker

    peak = None
    try:
        result = future.result()
        if (result["student"], result["assignment"]) != (student, assignment):
            raise RuntimeError(f"a worker answered the task of {student}/{assignment} with the result of "
                               f"{result['student']}/{result['assignment']}")
    except KilledWorker:
        outcome = Outcome(student, assignment, False, "its grading ended every worker that tried it (three): "
                          "a kernel that takes its worker down, or a worker short of memory" + _forget(student, assignment))
    except Exception as error:  # noqa: BLE001  (a worker's error is reported as this submission's, the others go on)
        hint = ("; the scheduler or the workers cannot import the course's grading code: start them from a course "
                "checkout with `make scheduler` and `make worker` (docs/instructors.md)"
                if "deserializ" in str(error) or isinstance(error, ModuleNotFoundError) else "")
        outcome = Outcome(student, assignment, False, f"the worker could not grade it: {type(error).__name__}: "
                          f"{str(error).splitlines()[0] if str(error) else ''}{hint}" + _forget(student, assignment))
    else:
        peak = result["peak_mib"]
        if not result["success"]:
            why = (f"grading took longer than the sandbox's {result['wall_seconds']} s and its kernel was stopped"
                   if result["timed_out"] else f"nbgrader's autograde failed: {_error_summary(result)}")
            outcome = Outcome(student, assignment, False, why + _forget(student, assignment), result["seconds"])
        else:
            _store(result)
            score, max_score = _score(assignment, student)
            restored = f" (restored: {'; '.join(notes)})" if notes else ""
            outcome = Outcome(student, assignment, True, f"{score:g} / {max_score:g}{restored}", result["seconds"],
                              score, max_score)
            if problems:
                outcome.ok = False
                outcome.message += " (graded, but: " + "; ".join(problems) + ")"
            state.note(outcome, fingerprint, graded=True, peak=peak)
            return outcome
    state.note(outcome, None, graded=False, peak=peak)
    return outcome


def _connect(workers: int, scheduler: str | None):
    """A Dask client: on the cluster at ``scheduler``, else on a LocalCluster of ``workers`` processes (one
    thread each) whose Ctrl+C is left to this process."""
    import logging

    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="30s")
        except OSError as error:
            raise SystemExit(f"cannot reach the Dask scheduler at {scheduler} ({error}): start it with `dask scheduler` "
                             "and workers with `make worker SCHEDULER=...` (docs/instructors.md, section 3)") from None
        client.wait_for_workers(1, timeout=300)
        return client, None
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker processes inherit it: Ctrl+C is ours alone
    try:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, memory_limit=0, silence_logs=logging.CRITICAL)
    finally:
        signal.signal(signal.SIGINT, previous)
    return Client(cluster), cluster


def _threads_per_kernel(client, local_workers: int | None) -> dict:
    """Torch threads per kernel: the cores of a worker's machine shared among that machine's workers."""
    if local_workers:
        return {"*": max(1, cores() // local_workers)}
    counts = client.run(os.cpu_count, on_error="ignore")
    hosts: dict[str, int] = {}
    for address in counts:
        host = address.rsplit(":", 1)[0]
        hosts[host] = hosts.get(host, 0) + 1
    return {address: max(1, (count or 1) // hosts[address.rsplit(":", 1)[0]]) for address, count in counts.items()}


def _who(futures: dict, keys) -> str:
    names = [f"{futures[k][0]}/{futures[k][1]}" for k in keys if k in futures]
    return ", ".join(names) or "nothing of this run"


def autograde(students: list[str] | None = None, assignments: list[str] | None = None,
              box: Sandbox | None = Sandbox(), cell_timeout: int | None = None, echo: bool = True,
              workers: int | None = None, scheduler: str | None = None, force: bool = False) -> Run:
    """Autograde every submission under ``submitted/`` (or those of ``students`` / ``assignments``) on Dask:
    ``workers`` local processes (default: what :func:`default_workers` finds), or the cluster at ``scheduler``.
    Each submission's kernel runs in the sandbox ``box`` (None: without isolation, for trusted work only).

    Never raises for a bad submission: each one's outcome says what happened, and the others are graded. A
    submission graded before and unchanged since is skipped, unless ``force``. Ctrl+C (SIGINT) stops the run:
    the running kernels end, nothing half-graded is recorded, and a rerun grades what is left.
    """
    _bin_on_path()
    todo = submissions(students, assignments)
    if box is not None and not scheduler and (reason := sandbox.missing()):
        raise SystemExit(f"cannot grade in the sandbox here: {reason}. To grade work you trust without isolation, "
                         "add --unsandboxed (docs/instructors.md, section 5).")
    known = set(release.assignments())
    _record(sorted({a for _, a in todo if a in known}))
    state, run = State.load(), Run()
    queue = []
    for student, assignment in todo:
        check = check_submission(student, assignment)
        if not check.gradable:
            outcome = Outcome(student, assignment, False, "; ".join(check.problems) + " (not graded)"
                              + (_forget(student, assignment) if assignment in known else ""))
            state.note(outcome, None, graded=False)
            run.outcomes.append(outcome)
            if echo:
                print(outcome.line(), flush=True)
            continue
        fingerprint = _fingerprint(student, assignment)
        if not force and state.is_graded(student, assignment, fingerprint) and _in_gradebook_as_submission(student, assignment):
            run.skipped += 1
            continue
        queue.append((student, assignment, check.problems, fingerprint))
    if run.skipped and echo:
        print(f"skipped {run.skipped} submission{'s' if run.skipped != 1 else ''} graded before and unchanged since "
              "(--force grades them again)", flush=True)
    if not queue:
        return run
    if not scheduler and workers is None:
        workers, why = default_workers(sorted({a for _, a, _, _ in queue}), state)
        why = f" ({why})"
    else:
        why = ""
    if not scheduler:
        workers = max(1, min(workers, len(queue)))
    client, cluster = _connect(workers, scheduler)
    try:
        threads = _threads_per_kernel(client, None if scheduler else workers)
        count = len(client.scheduler_info()["workers"])
        run.workers = (f"the Dask cluster at {scheduler} ({count} worker{'s' if count != 1 else ''})" if scheduler
                       else f"{workers} local worker{'s' if workers != 1 else ''}{why}")
        if echo:
            per = sorted(set(threads.values()))
            print(f"grading {len(queue)} submission{'s' if len(queue) != 1 else ''} on {run.workers}, "
                  f"{'/'.join(map(str, per))} torch thread{'s' if per != [1] else ''} per kernel", flush=True)
        _drive(client, queue, box, cell_timeout, threads, state, run, echo, window=2 * max(count, 1))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return run


def _drive(client, queue: list, box, cell_timeout, threads: dict, state: State, run: Run, echo: bool, window: int) -> None:
    """Keep ``window`` tasks on the cluster, record each result as it comes, watch for workers that leave, and
    stop cleanly on Ctrl+C."""
    import grading_task as task_module  # by name, so that the workers import it rather than receive a copy

    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    progress = Progress(len(queue), echo)
    progress.show()
    pending, waiting = {}, list(queue)
    holding, checked = {}, 0.0
    try:
        while (waiting or pending) and not stop.is_set():
            while waiting and len(pending) < window:
                student, assignment, problems, fingerprint = waiting.pop(0)
                task, notes = _task(student, assignment, box, cell_timeout, threads)
                future = client.submit(task_module.grade, task, key=f"grade-{student}-{assignment}-{uuid.uuid4().hex[:8]}",
                                       pure=False)
                pending[future] = (student, assignment, notes, problems, fingerprint)
            finished = [future for future in pending if future.done()]
            for future in finished:
                student, assignment, notes, problems, fingerprint = pending.pop(future)
                outcome = _outcome(future, student, assignment, notes, problems, state, fingerprint)
                run.outcomes.append(outcome)
                progress.add(outcome)
            if not finished:
                if time.monotonic() - checked > 1:
                    holding = _watch(client, holding, {f.key: v for f, v in pending.items()}, progress)
                    checked = time.monotonic()
                time.sleep(0.2)
        if stop.is_set():
            client.run(task_module.stop, on_error="ignore")
            client.cancel(list(pending))
            run.stopped = len(pending) + len(waiting)
            progress.say(f"stopped by Ctrl+C: {len(run.outcomes)} recorded, {run.stopped} not graded (their kernels "
                         "were ended and nothing of them recorded); run the same command again to grade the rest")
    finally:
        signal.signal(signal.SIGINT, previous)
        progress.end()


def _watch(client, holding: dict, pending: dict, progress: Progress) -> dict:
    """Say when a worker leaves the cluster while it holds submissions of this run (Dask gives them to another)."""
    try:
        now = {address: set(keys) for address, keys in client.processing().items()}
    except Exception:  # noqa: BLE001  (a scheduler busy or reconnecting: look again next time)
        return holding
    for address, keys in holding.items():
        if address not in now and (lost := [k for k in keys if k in pending]):
            progress.say(f"  worker {address} left the cluster (killed, out of memory or stopped) while it held "
                         f"{_who(pending, lost)}: Dask gives {'it' if len(lost) == 1 else 'them'} to another worker, "
                         "and only a finished grading is recorded")
    return now


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


def snapshot(db: Path | None = None) -> dict:
    """The gradebook's grading as plain data, to compare two gradings: for each ``student/assignment``, the
    timestamp, and per notebook its late penalty and every grade's and comment's autograded columns."""
    from nbgrader.api import Gradebook

    url = f"sqlite:///{db}" if db else release.course_config().CourseDirectory.db_url
    with Gradebook(url, release.course_config().CourseDirectory.course_id) as gb:
        out = {}
        for assignment in gb.assignments:
            for submission in assignment.submissions:
                out[f"{submission.student.id}/{assignment.name}"] = {
                    "timestamp": str(submission.timestamp), "score": submission.score, "max_score": submission.max_score,
                    "notebooks": {nb.name: {"late_penalty": nb.late_submission_penalty,
                                            "grades": {g.name: (g.auto_score, g.needs_manual_grade) for g in nb.grades},
                                            "comments": {c.name: c.auto_comment for c in nb.comments}}
                                  for nb in submission.notebooks}}
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
    grade.add_argument("--workers", type=_positive, help="grade this many submissions at once on a local Dask cluster "
                       "(default: what this machine's cores and free memory allow)")
    grade.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="grade on the Dask cluster of this scheduler instead (docs/instructors.md, section 3)")
    grade.add_argument("--force", action="store_true", help="grade again the submissions graded before and unchanged since")
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
    report = commands.add_parser("report", help="the class report: one HTML page from the gradebook and autograded/")
    report.add_argument("--out", type=Path, help="the HTML file (default: report.html in the course folder)")
    args = parser.parse_args(argv)

    if args.command == "grades":
        export_grades(args.out)
        return 0
    if args.command == "report":
        import grading_report

        print(f"wrote {grading_report.write(args.out)}")
        return 0
    if args.command == "autograde" and args.workers and args.scheduler:
        parser.error("--workers and --scheduler exclude each other: the cluster's workers do the grading")
    start = time.perf_counter()
    stopped = 0
    if args.command == "autograde":
        box = None if args.unsandboxed else Sandbox(sandbox.Limits(args.memory, args.cpu_seconds, processes=args.processes),
                                                    args.wall_seconds)
        run = autograde(args.student, args.assignment, box, args.cell_timeout, workers=args.workers,
                        scheduler=args.scheduler, force=args.force)
        outcomes, stopped = run.outcomes, run.stopped
        nothing = not outcomes and not run.skipped
    else:
        outcomes = feedback(args.student, args.assignment)
        nothing = not outcomes
    failed = [o for o in outcomes if not o.ok]
    verb = "graded" if args.command == "autograde" else "wrote feedback for"
    print(f"{verb} {len(outcomes) - len(failed)} of {len(outcomes)} submissions in {time.perf_counter() - start:.0f} s")
    if nothing:
        where = f"{SUBMITTED}/<student>/<assignment>/" if args.command == "autograde" else "autograded/ (run `make autograde`)"
        print(f"nothing to do: no submissions in {where}")
    if failed:
        print(f"{len(failed)} need{'s' if len(failed) == 1 else ''} attention:")
        for outcome in failed:
            print(outcome.line())
    if stopped:
        print(f"stopped before grading {stopped} submission{'s' if stopped != 1 else ''}: run the same command again")
        return 130
    return 1 if failed else 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: give at least 1 worker")
    return value


if __name__ == "__main__":
    sys.exit(main())
