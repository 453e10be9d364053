"""Generate the student versions of the course's notebooks: ``python tools/release.py`` (or ``make release``).

The one pipeline from ``solutions/`` to what learners open. For every assignment folder
``solutions/<assignment>/`` that holds notebooks it runs nbgrader's own ``GenerateAssignment`` converter
(configured by ``nbgrader_config.py``): answers are replaced by the stub, hidden tests are removed,
locked cells get their checksums, outputs and execution counts are cleared, and the grade cells are
recorded in the gradebook (``.nbgrader/gradebook.db``, which ``nbgrader autograde`` needs later).

Where a version goes depends only on the assignment's name (:func:`release_folder`): names starting
with ``quiz`` or ``final`` go to ``quizzes/<assignment>/``, all others to ``lessons/<assignment>/``.
Each destination folder is rebuilt from scratch (other files beside a source notebook are copied along,
so never keep answer keys there), and a generated folder whose source assignment is gone is removed.

The output is deterministic: running the script twice gives identical bytes, so a test regenerates
everything into a temporary folder (``--out DIR --no-db``) and compares it with the committed files.
Source notebooks that carry outputs or execution counts are stripped in place first (only with the
default ``--out``), since committed notebooks must not carry them.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "solutions"
CONFIG_FILE = ROOT / "nbgrader_config.py"
QUIZ_PREFIXES = ("quiz", "final")
RELEASE_FOLDERS = ("lessons", "quizzes")

__all__ = ["release_folder", "assignments", "released_path", "strip_outputs", "release", "main"]


def release_folder(assignment: str) -> str:
    """``"quizzes"`` for an assignment named ``quiz...`` or ``final...``, else ``"lessons"``."""
    return "quizzes" if assignment.startswith(QUIZ_PREFIXES) else "lessons"


def assignments(source: Path = SOURCE) -> list[str]:
    """The assignment folders of ``source`` that hold at least one notebook, sorted by name."""
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def released_path(notebook: Path, out: Path = ROOT) -> Path:
    """Where the student version of the source notebook ``solutions/<assignment>/<name>.ipynb`` lives under ``out``."""
    assignment = notebook.parent.name
    return out / release_folder(assignment) / assignment / notebook.name


def strip_outputs(path: Path) -> bool:
    """Clear the outputs and execution counts of the notebook at ``path`` in place; return whether it had any."""
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    dirty = False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if cell.get("outputs") or cell.get("execution_count") is not None:
            cell.outputs, cell.execution_count, dirty = [], None, True
    if dirty:
        nbformat.write(nb, path)
    return dirty


def course_config():
    """The course's ``nbgrader_config.py``, loaded, with the course directory at the repository root."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(CONFIG_FILE.name, path=str(ROOT)).load_config()
    config.CourseDirectory.root = str(ROOT)
    return config


def _load_config(db: bool):
    config = course_config()
    if not db:
        config.GenerateAssignment.no_database = True
        config.SaveCells.enabled = False
    return config


def _quiet_logger() -> logging.Logger:
    """nbgrader logs every step (and warns that it replaces the old version): show errors only."""
    logger = logging.getLogger("specdec_release")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("nbgrader: %(levelname)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.ERROR)
    logger.propagate = False
    return logger


def _generate(assignment: str, out: Path, db: bool) -> None:
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    config = _load_config(db)
    config.CourseDirectory.release_directory = str(out / release_folder(assignment))
    config.BaseConverter.force = True
    logger = _quiet_logger()
    coursedir = CourseDirectory(config=config, log=logger)
    coursedir.assignment_id = assignment
    converter = GenerateAssignment(coursedir=coursedir, config=config, log=logger)
    converter.start()
    # nbgrader builds the folder as <release>/./<assignment>; make sure it really landed where expected
    if not (out / release_folder(assignment) / assignment).is_dir():
        raise RuntimeError(f"nbgrader wrote no student version of {assignment}")


def _remove_stale(out: Path, current: list[str]) -> list[Path]:
    """Remove generated folders (they hold notebooks) whose assignment is no longer in ``solutions/``."""
    removed = []
    for folder_name in RELEASE_FOLDERS:
        folder = out / folder_name
        if not folder.is_dir():
            continue
        for child in sorted(folder.iterdir()):
            generated_here = release_folder(child.name) == folder_name and any(child.glob("*.ipynb"))
            if child.is_dir() and generated_here and child.name not in current:
                shutil.rmtree(child)
                removed.append(child)
    return removed


def release(out: Path = ROOT, *, db: bool = True, only: list[str] | None = None, verbose: bool = True) -> list[Path]:
    """Generate the student version of every assignment in ``solutions/`` (or of ``only``) under ``out``.

    Returns the notebooks written. ``db=False`` leaves the gradebook alone (for drift checks).
    """
    out = Path(out).resolve()
    names = assignments()
    unknown = sorted(set(only or []) - set(names))
    if unknown:
        raise SystemExit(f"no notebooks in solutions/ for {', '.join(unknown)}; known: {', '.join(names)}")
    # nbgrader calls `alembic` to create the gradebook: the environment's bin folder must be on PATH
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    if out == ROOT:
        for notebook in sorted(SOURCE.glob("*/*.ipynb")):
            if strip_outputs(notebook) and verbose:
                print(f"stripped outputs from {notebook.relative_to(ROOT)}")
    written = []
    for assignment in only or names:
        _generate(assignment, out, db)
        for notebook in sorted((SOURCE / assignment).glob("*.ipynb")):
            target = released_path(notebook, out)
            written.append(target)
            if verbose:
                print(f"{notebook.relative_to(ROOT)} -> {target.relative_to(out)}")
    if not only:
        for folder in _remove_stale(out, names):
            if verbose:
                print(f"removed {folder.relative_to(out)} (its source is gone from solutions/)")
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", help="only these assignments (default: every one in solutions/)")
    parser.add_argument("--out", type=Path, default=ROOT,
                        help="write lessons/ and quizzes/ under this folder instead of the repository root")
    parser.add_argument("--no-db", action="store_true", help="do not record the assignments in the gradebook")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    args = parser.parse_args(argv)
    release(args.out, db=not args.no_db, only=args.assignments or None, verbose=not args.quiet)


if __name__ == "__main__":
    main()
