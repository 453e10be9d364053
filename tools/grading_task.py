"""Grade one submission on a Dask worker and return nbgrader's results as data (``tools/grading.py`` sends it).

A task is a plain dict that carries everything the grading needs, as bytes: the assignment's source folder
(``solutions/<assignment>/``: nbgrader records the assignment from it, with its hidden tests, in a scratch
gradebook, and copies its other files beside the notebook) and the submission, already checked and with its
deleted or altered cells restored by the client. The worker builds a throwaway course folder from them,
runs nbgrader's autograde there, the kernel in the bubblewrap sandbox (``tools/sandbox.py``) which sees none of
that folder, and sends back:

- ``rows``: the submission's rows of the scratch gradebook (every column nbgrader wrote: scores, comments,
  late penalty, timestamp), read from the gradebook nbgrader itself wrote, never from a file the student's
  code could reach;
- ``files``: the autograded folder (the executed notebook), for feedback;
- ``peak_mib``: the sandboxed kernel's peak resident memory, for choosing how many kernels a machine holds.

A worker never sees the instructor's gradebook, the other assignments' solutions or the other students. The
grading client (``tools/grading.py``) is the only writer of the instructor's gradebook. A worker must hold
the course at the client's version (``task["code"]``) and its ``.venv``, and bubblewrap for sandboxed tasks;
start it from the course folder with ``tools/`` importable (``make worker``).
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import release  # tools/release.py: the course's nbgrader configuration
import sandbox  # tools/sandbox.py: the kernel's jail

__all__ = ["pack", "unpack", "digest", "code_version", "grade", "stop"]

CODE_FILES = ("tools/grading.py", "tools/grading_task.py", "tools/sandbox.py", "tools/release.py", "nbgrader_config.py")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TORCH_NUM_THREADS")
# the columns a person fills in when grading by hand; an autograde never sets them
MANUAL_COLUMNS = ("manual_score", "extra_credit", "manual_comment")

_ONE_AT_A_TIME = threading.Lock()  # one jail per process (sandbox.active): a worker with several threads queues
_TEMPLATES: dict[str, Path] = {}  # assignment source digest -> a gradebook holding only that assignment
_READABLE: dict[bool, list[Path]] = {}  # converted SmolLM2 cache or not -> what a kernel may read
_SCRATCH = Path(tempfile.mkdtemp(prefix="specdec-worker-"))
atexit.register(shutil.rmtree, _SCRATCH, True)
_STOPPING = threading.Event()


# --- Files as data ---------------------------------------------------------------------------------------


def pack(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones and checkpoints left out), by path relative to it."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)}


def unpack(files: dict[str, bytes], folder: Path) -> None:
    """Write ``files`` (from :func:`pack`) under ``folder``; a path that would leave it is refused."""
    folder = Path(folder)
    for name, data in files.items():
        target = (folder / name).resolve()
        if not target.is_relative_to(folder.resolve()):
            raise ValueError(f"refusing to write {name!r} outside {folder}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def digest(*packs: dict[str, bytes]) -> str:
    """One hash of several packs: names and contents."""
    h = hashlib.sha256()
    for files in packs:
        for name in sorted(files):
            h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
        h.update(b"\1")
    return h.hexdigest()


def code_version() -> str:
    """A hash of the grading code and nbgrader configuration of this checkout: client and worker must agree."""
    return digest({name: (release.ROOT / name).read_bytes() for name in CODE_FILES})[:16]


# --- nbgrader in a scratch course --------------------------------------------------------------------------


def _config(root: Path, cell_timeout: int | None):
    config = release.course_config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    config.CourseDirectory.release_directory = "release"
    config.NbGraderAPI.log_level = "ERROR"
    if cell_timeout is not None:
        config.Execute.timeout = cell_timeout
    return config


def _template(assignment: str, source: dict[str, bytes]) -> Path:
    """A gradebook that records only ``assignment`` (nbgrader's GenerateAssignment on its source), made once per
    worker process and source version."""
    key = digest(source)
    if key not in _TEMPLATES:
        from nbgrader.converters import GenerateAssignment
        from nbgrader.coursedir import CourseDirectory

        root = _SCRATCH / f"template-{key[:16]}"
        unpack(source, root / "solutions" / assignment)
        config = _config(root, None)
        config.BaseConverter.force = True
        log = logging.getLogger("specdec_grading_task")
        log.setLevel(logging.ERROR)
        coursedir = CourseDirectory(config=config, log=log)
        coursedir.assignment_id = assignment
        GenerateAssignment(coursedir=coursedir, config=config, log=log).start()
        _TEMPLATES[key] = root / "gradebook.db"
    return _TEMPLATES[key]


def _api(root: Path, sandboxed: bool, cell_timeout: int | None):
    """nbgrader's API on the scratch course ``root``; with ``sandboxed``, every kernel starts in the open jail."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import Execute

    logging.getLogger("traitlets").setLevel(logging.ERROR)
    config = _config(root, cell_timeout)
    if sandboxed:
        class SandboxedExecute(Execute):
            def __init__(self, *args, **kwargs):
                kwargs["kernel_manager_class"] = sandbox.SandboxedKernelManager
                super().__init__(*args, **kwargs)

        config.Autograde.autograde_preprocessors = [SandboxedExecute if step is Execute else step
                                                    for step in Autograde.class_traits()["autograde_preprocessors"].default()]
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def _columns(row) -> dict:
    """The columns of a gradebook row that nbgrader fills in (not its ids, not the ones a person grades by hand)."""
    return {c.name: getattr(row, c.name) for c in type(row).__table__.columns
            if c.name != "id" and not c.foreign_keys and c.name not in MANUAL_COLUMNS}


def _rows(root: Path, assignment: str, student: str) -> dict:
    """The submission's rows in the scratch gradebook: what nbgrader's autograde recorded."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", release.course_config().CourseDirectory.course_id) as gb:
        submission = gb.find_submission(assignment, student)
        return {"submission": _columns(submission),
                "notebooks": {nb.name: {"columns": _columns(nb),
                                        "grades": {g.name: _columns(g) for g in nb.grades},
                                        "comments": {c.name: _columns(c) for c in nb.comments}}
                              for nb in submission.notebooks}}


# --- The kernel's resources --------------------------------------------------------------------------------


def kernel_can_read(smol_cache: Path) -> list[Path]:
    """What a sandboxed kernel may read: the Python installation and environment, and of the course only the
    library, the committed results and GPU measurements that lessons load, and the converted SmolLM2 cache."""
    spec = importlib.util.find_spec("specdec_lite")  # found, not imported (that would load torch here)
    library = Path(next(iter(spec.submodule_search_locations))).resolve()
    paths = [Path(sys.prefix), Path(sys.base_prefix).resolve(), library,
             library.parent / "results", library.parent / "docs" / "gpu_runs", smol_cache]
    return sorted({p for p in paths if p.exists()})


def smol_cache(convert: bool) -> Path:
    """The converted SmolLM2 cache, which a sandboxed kernel may only read. With ``convert`` (a lesson is to be
    graded) it is converted here first if needed (once; about 30-60 s, as the first load in a lesson would)."""
    code = ("import sys\nfrom specdec_lite import smol\n"
            "print(smol.smol_target_dir(verbose=False) if sys.argv[1] == 'convert' else smol.cache_dir())")
    run = subprocess.run([sys.executable, "-c", code, "convert" if convert else "find"], capture_output=True, text=True)
    if run.returncode != 0:
        tail = (run.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"cannot prepare SmolLM2's cache for the lessons' kernels: {tail}")
    return Path(run.stdout.strip().splitlines()[-1])


def _readable(lessons: bool) -> list[Path]:
    """What a sandboxed kernel may read on this worker, SmolLM2 converted first when a lesson is graded."""
    if lessons not in _READABLE:
        _READABLE[lessons] = kernel_can_read(smol_cache(convert=lessons))
    return _READABLE[lessons]


def _threads(task: dict) -> None:
    """Torch threads per kernel, so that the kernels of this machine's workers do not oversubscribe its cores."""
    threads = task.get("threads") or {}
    count = threads.get(_worker_address()) or threads.get("*")
    if count:
        for name in THREAD_VARIABLES:
            os.environ[name] = str(count)


def _worker_address() -> str | None:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return None


class _PeakMemory:
    """Samples the resident memory of the jail's kernels and everything they start, every ``period`` seconds."""

    def __init__(self, jail: sandbox.Jail, period: float = 0.25):
        self.jail, self.period, self.peak = jail, period, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        import psutil

        total = 0
        for manager in list(self.jail.managers):
            pid = getattr(getattr(manager, "provisioner", None), "pid", None)
            try:
                root = psutil.Process(pid) if pid else None
                for process in ([root, *root.children(recursive=True)] if root else []):
                    total += process.memory_info().rss
            except psutil.Error:
                continue
        return total

    def _run(self) -> None:
        while not self._done.wait(self.period):
            self.peak = max(self.peak, self._sample())

    def __enter__(self) -> "_PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.peak = max(self.peak, self._sample())
        self._done.set()
        self._thread.join()


# --- One task ------------------------------------------------------------------------------------------------


def stop() -> None:
    """End the kernel this worker is running now (Ctrl+C on the client): its grading fails and is not recorded."""
    _STOPPING.set()
    if sandbox._ACTIVE is not None:  # noqa: SLF001  (the open jail of this process)
        sandbox._ACTIVE.kill_all()  # noqa: SLF001


def grade(task: dict) -> dict:
    """Grade the task's submission (see the module's docstring); never raises for what the submission does."""
    student, assignment = task["student"], task["assignment"]
    if task["code"] != code_version():
        raise RuntimeError(f"the worker on {socket.gethostname()} holds another version of the course's grading code "
                           f"({code_version()}, the client's is {task['code']}): update its checkout and restart it")
    with _ONE_AT_A_TIME:
        _STOPPING.clear()
        _threads(task)
        start = time.perf_counter()
        root = Path(tempfile.mkdtemp(prefix="task-", dir=_SCRATCH))
        try:
            unpack(task["source"], root / "solutions" / assignment)
            unpack(task["submission"], root / "submitted" / student / assignment)
            shutil.copy(_template(assignment, task["source"]), root / "gradebook.db")
            api = _api(root, task["sandboxed"], task.get("cell_timeout"))
            timed_out, peak = False, None
            if not task["sandboxed"]:
                result = api.autograde(assignment, student, force=True, create=True)
            else:
                with sandbox.Jail(_readable(task["lessons"]), task["limits"]) as jail:
                    expired = threading.Event()
                    timer = threading.Timer(task["wall_seconds"], lambda: (expired.set(), jail.kill_all()))
                    timer.start()
                    try:
                        with _PeakMemory(jail) as memory:
                            result = api.autograde(assignment, student, force=True, create=True)
                    finally:
                        timer.cancel()
                    timed_out, peak = expired.is_set(), memory.peak / 2**20
            ok = bool(result.get("success")) and not timed_out and not _STOPPING.is_set()
            return {"student": student, "assignment": assignment, "success": ok, "timed_out": timed_out,
                    "stopped": _STOPPING.is_set(), "log": (result.get("log") or "") + "\n" + (result.get("error") or ""),
                    "rows": _rows(root, assignment, student) if ok else None,
                    "files": pack(root / "autograded" / student / assignment) if ok else None,
                    "peak_mib": peak, "wall_seconds": task["wall_seconds"], "seconds": time.perf_counter() - start, "host": socket.gethostname()}
        finally:
            shutil.rmtree(root, ignore_errors=True)
