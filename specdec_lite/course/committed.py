"""The course's committed measurements: results too slow for a lesson's 3 minutes, each with the command that
regenerates it.

They live in the course's folder (a clone of the course), not in the package: ``results/`` and
``docs/gpu_runs/``. :func:`course_dir` finds that folder from ``$SPECDEC_COURSE_DIR``, the working directory
(a notebook runs in ``lessons/<lesson>/``, a graded one in ``autograded/<student>/...``) or the clone the
package sits in, so the helpers work whether ``specdec_lite`` is installed from a wheel or from the checkout.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["course_dir", "results_path", "committed_study", "recorded_runs", "study_command", "gpu_run",
           "check_speedup_grid"]


COURSE_ENV = "SPECDEC_COURSE_DIR"


def course_dir() -> Path:
    """The course's folder: ``$SPECDEC_COURSE_DIR`` when set, else the nearest folder at or above the working
    directory that holds ``results/README.md`` (the committed results' index), else the clone this package
    itself sits in (an editable install, as ``make setup`` makes; a sandboxed grading kernel, whose working
    folder is a scratch copy).

    Raises ``FileNotFoundError`` saying what to do when there is none (a notebook run outside a clone of the
    course with the package installed from a wheel).
    """
    if os.environ.get(COURSE_ENV):
        folder = Path(os.environ[COURSE_ENV]).expanduser()
        if not (folder / "results").is_dir():
            raise FileNotFoundError(
                f"{COURSE_ENV} is {folder}, which has no results/ folder: point it at a clone of the course."
            )
        return folder
    here = Path.cwd().resolve()
    for folder in (here, *here.parents, Path(__file__).resolve().parents[2]):
        if (folder / "results" / "README.md").is_file():
            return folder
    raise FileNotFoundError(
        f"no course folder at or above {here}: the lessons' committed results live in a clone of the course "
        f"(its results/ and docs/gpu_runs/ folders). Run the notebook from inside the clone, or set {COURSE_ENV} "
        "to the clone's folder."
    )


def results_path(*parts: str) -> Path:
    """The path of a committed result, ``results/<parts...>`` in the course's folder (:func:`course_dir`).

    Raises ``FileNotFoundError`` naming the file and how to get it back when it is missing.
    """
    return _committed(course_dir().joinpath("results", *parts), "the lessons' committed results", "results/",
                      ", or run the cell that regenerates it")


def _committed(path: Path, what: str, folder: str, otherwise: str = "") -> Path:
    """``path``, or a ``FileNotFoundError`` saying that ``what`` live in the repository's ``folder`` and how to restore it."""
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: {what} live in the course repository's {folder} folder. Run the lesson from a "
            f"clone of the course (`git checkout -- {folder}` restores a deleted file){otherwise}."
        )
    return path


def committed_study(folder) -> tuple:
    """A study saved by ``specdec-lite study --out FOLDER``, read back as ``(result, report)``.

    ``result`` is the :class:`~specdec_lite.study.StudyResult` rebuilt by :func:`specdec_lite.study.load_study`
    from the folder's node and step tables and configuration; ``report`` is its ``study.json`` as a dict.
    Pass the folder of a committed study, e.g. ``results_path("study", "smol")``.
    """
    from ..study import load_study as read_study

    result = read_study(folder)
    return result, json.loads((Path(folder) / "study.json").read_text())


def recorded_runs(lesson: str) -> tuple[dict, dict]:
    """The library's decoding runs recorded for ``lesson`` by ``tools/lesson_runs.py``, as ``(report, runs)``.

    ``runs`` maps each run's name to a list of ``(question, GenerationResult)``, the results rebuilt with
    :meth:`~specdec_lite.results.GenerationResult.from_dict`; ``report`` is the JSON (command, machine, config).
    A lesson reads these where it shows a loop that one of its exercises asks the learner to write.
    """
    from ..results import GenerationResult

    report = json.loads(results_path("lessons", f"{lesson}.json").read_text())
    runs = {name: [(run["question"], GenerationResult.from_dict(run["result"])) for run in entries]
            for name, entries in report["runs"].items()}
    return report, runs


def study_command(report: dict, out: str) -> list[str]:
    """The ``specdec-lite study`` command line that reruns the study of ``report`` into the folder ``out``.

    Built from the report's ``pair`` and ``config`` (every setting the command line takes), with
    ``--format csv.gz --plots --json``; redirect its standard output into ``out/study.json``.
    """
    config = report["config"]
    if not report.get("pair"):
        raise ValueError("this report names no pair (only `specdec-lite study` adds one): rerun it by hand.")
    command = ["specdec-lite", "study", "--pair", report["pair"], "--mode", config["mode"]]
    if config["mode"] == "tree":
        command += ["--depth", str(config["depth"]), "--branching", str(config["branching"])]
        command += ["--budget", str(config["budget"])] if config.get("budget") else []
    else:
        command += ["--gamma", str(config["gamma"])]
    command += ["--temperature", str(config["temperature"]), "--max-new-tokens", str(config["max_new_tokens"]),
                "--seed", str(config["seed"]), "--entropy", config["entropy"]]
    if config.get("prompts_per_domain"):
        command += ["--prompts", str(config["prompts_per_domain"])]
    from ..prompts import DOMAINS

    if tuple(config["domains"]) != DOMAINS:
        command += [arg for domain in config["domains"] for arg in ("--domain", domain)]
    return command + ["--out", str(out), "--format", "csv.gz", "--plots", "--json"]




SPEEDUP_COLUMNS = ("temperature", "gamma", "alpha", "c", "measured_speedup", "measured_speedup_iqr",
                   "predicted_speedup", "predicted_speedup_verify", "verify_ratio", "measured_tokens_per_call",
                   "predicted_tokens_per_call")


def gpu_run(name: str) -> dict:
    """The JSON of a committed GPU measurement, ``docs/gpu_runs/<name>`` (``docs/gpu.md`` describes each one)."""
    return json.loads(_committed(course_dir() / "docs" / "gpu_runs" / name, "the GPU measurements", "docs/gpu_runs/").read_text())


def check_speedup_grid(grid) -> None:
    """Raise ``ValueError`` naming what is missing unless ``grid`` has every column :func:`speedup_page` reads."""
    missing = [c for c in SPEEDUP_COLUMNS if c not in getattr(grid, "columns", ())]
    if missing or len(grid) == 0:
        raise ValueError(f"the speed-up grid needs one row per (temperature, gamma) with the columns "
                         f"{list(SPEEDUP_COLUMNS)}; missing: {missing or 'every row'}. Load it from "
                         "results/speedup/ or regenerate it with tools/make_speedup_grid.py.")
