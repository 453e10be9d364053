"""The course on a JupyterHub (``make hub``, ``hub/jupyterhub_config.py``): its shared folders, and the exchange.

  python tools/hub.py prepare --root ROOT [--instructor NAME --course PATH]   (as root, before the hub starts)
  python tools/hub.py release ASSIGNMENT...                                   (the instructor, in the course folder)

``prepare`` makes what nbgrader's exchange needs on a shared machine (nbgrader's docs, "one class, one grader"):

- ``ROOT/exchange``, writable by everyone with the sticky bit (mode 1777), so that each student can submit and
  no one can remove what another wrote;
- ``ROOT/etc/jupyter/nbgrader_config.py``, read by every user's server (the spawner sets ``JUPYTER_CONFIG_PATH``):
  the course id of the course's ``nbgrader_config.py`` and the exchange's folder; and ``jupyter_server_config.py``
  beside it, whose terminals keep the course's environment on PATH;
- ``ROOT/course``: a read-only copy of the course's committed results (``results/``, ``docs/gpu_runs/``), which the
  lessons load (the spawner sets ``SPECDEC_COURSE_DIR`` to it: a learner's fetched lesson is not in a clone);
- ``ROOT/cache``: SmolLM2-135M converted once, read-only, for everyone (the spawner sets ``SPECDEC_CACHE``), so
  that no learner converts their own 0.5 GB copy;
- for the instructor, ``~/.jupyter/nbgrader_config.py``, which loads the course's own ``nbgrader_config.py``, so
  that Formgrader and nbgrader's commands find the course folder and its gradebook.

``release`` puts assignments into the exchange, each from where ``make release`` wrote it (``lessons/`` or
``quizzes/``: nbgrader's own ``release_assignment`` knows only one folder).
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import release as course_release  # noqa: E402  (tools/release.py)

__all__ = ["course_id", "prepare", "release", "main"]


def course_id(course: Path) -> str:
    """The course id that ``course``'s ``nbgrader_config.py`` sets."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config().CourseDirectory.course_id


def _write_as(path: Path, text: str, user: pwd.struct_passwd | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if user is not None:
        for owned in (path.parent, path):
            os.chown(owned, user.pw_uid, user.pw_gid)


def prepare(root: Path, instructor: str | None = None, course: Path | None = None) -> None:
    """The exchange, the configuration every user's server reads, and the instructor's pointer to the course."""
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    exchange = root / "exchange"
    exchange.mkdir(exist_ok=True)
    exchange.chmod(0o1777)
    ident = course_id(course or course_release.ROOT)
    _write_as(root / "etc" / "jupyter" / "nbgrader_config.py",
              "# Written by tools/hub.py prepare: what every learner's server needs to find the course's assignments.\n"
              f"c = get_config()  # noqa: F821\nc.CourseDirectory.course_id = {ident!r}\nc.Exchange.root = {str(exchange)!r}\n",
              None)
    # a terminal's shell that is not a login shell: /etc/profile would reset PATH, and the course's environment
    # (first on the PATH the spawner sets) would not be the terminal's `python`, `nbgrader` and `jupyter`
    _write_as(root / "etc" / "jupyter" / "jupyter_server_config.py",
              "# Written by tools/hub.py prepare.\nc = get_config()  # noqa: F821\n"
              "c.ServerApp.terminado_settings = {'shell_command': ['/bin/bash']}\n", None)
    for folder in (root / "etc", root / "etc" / "jupyter"):
        folder.chmod(0o755)
    for name in ("nbgrader_config.py", "jupyter_server_config.py"):
        (root / "etc" / "jupyter" / name).chmod(0o644)
    _share_results(root / "course")
    _share_smol_cache(root)
    if instructor:
        if course is None:
            raise SystemExit("tools/hub.py prepare: --instructor needs --course (make hub COURSE=path), the instructor's copy of the course")
        try:
            user = pwd.getpwnam(instructor)
        except KeyError:
            raise SystemExit(f"tools/hub.py prepare: no system user {instructor!r}: create the instructor's account "
                             "first (docs/instructors.md, section 4)") from None
        config = course.resolve() / "nbgrader_config.py"
        if not config.exists():
            raise SystemExit(f"tools/hub.py prepare: {config} does not exist: --course must be the instructor's "
                             "copy of the course (a clone of this repository)")
        _write_as(Path(user.pw_dir) / ".jupyter" / "nbgrader_config.py",
                  "# Written by tools/hub.py prepare: Formgrader and nbgrader's commands use the course below.\n"
                  f"c = get_config()  # noqa: F821\nload_subconfig({str(config)!r})  # noqa: F821\n", user)


# what the lessons read from the course's folder (specdec_lite.course.committed)
SHARED = ("results", "docs/gpu_runs")


def _share_results(into: Path) -> None:
    """A fresh read-only copy of the course's committed results: the lessons read them, no learner writes them."""
    staging = into.with_name(into.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    for part in SHARED:
        shutil.copytree(course_release.ROOT / part, staging / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(into, ignore_errors=True)
    staging.rename(into)
    _read_only_for_all(into)


def _share_smol_cache(root: Path) -> None:
    """SmolLM2 converted once into ``root/cache`` by the learners' environment (nothing when it is there already)."""
    python = root / "venv" / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"tools/hub.py prepare: {python} does not exist: build the learners' environment first "
                         "(`make hub-env HUB_ROOT=...`; `make hub` does it)")
    cache = root / "cache"
    cache.mkdir(exist_ok=True)
    subprocess.run([str(python), "-c", "from specdec_lite.smol import smol_target_dir; smol_target_dir(verbose=False)"],
                   cwd=root, env={**os.environ, "SPECDEC_CACHE": str(cache)}, check=True)  # cwd: not this checkout's package
    _read_only_for_all(cache)


def _read_only_for_all(folder: Path) -> None:
    for path in (folder, *folder.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _exchange_config():
    """The course's configuration over the global one of ``JUPYTER_CONFIG_PATH``, which names the exchange."""
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config.loader import Config, PyFileConfigLoader

    config = Config()
    for path in reversed(jupyter_config_path()):  # the first folder of the path wins, as in Jupyter itself
        if (Path(path) / "nbgrader_config.py").exists():
            config.merge(PyFileConfigLoader("nbgrader_config.py", path=path).load_config())
    config.merge(course_release.course_config())
    return config


def release(assignments: list[str]) -> list[str]:
    """Release each of ``assignments`` (generated by ``make release``) to the exchange; what went wrong, in words."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    problems = []
    for assignment in assignments:
        folder = course_release.release_folder(assignment)
        if not (course_release.ROOT / folder / assignment).is_dir():
            known = ", ".join(course_release.assignments()) or "none: solutions/ is empty"
            problems.append(f"{assignment}: {folder}/{assignment}/ does not exist; run `make release` first, or check "
                            f"the name (the course's assignments: {known})")
            continue
        config = _exchange_config()
        config.CourseDirectory.release_directory = folder
        result = NbGraderAPI(CourseDirectory(config=config), config=config).release_assignment(assignment)
        if result["success"]:
            print(f"released {assignment} to the exchange ({config.Exchange.root})")
        else:
            problems.append(f"{assignment}: {result.get('error') or result.get('log')}")
    return problems


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tools/hub.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    prep = commands.add_parser("prepare", help="the exchange and the configuration every user's server reads (as root)")
    prep.add_argument("--root", type=Path, required=True)
    prep.add_argument("--instructor")
    prep.add_argument("--course", type=Path)
    rel = commands.add_parser("release", help="release generated assignments to the exchange (the instructor)")
    rel.add_argument("assignments", nargs="+")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        prepare(args.root.resolve(), args.instructor, args.course)
    else:
        problems = release(args.assignments)
        if problems:
            raise SystemExit("tools/hub.py release: " + "\n".join(problems))


if __name__ == "__main__":
    main()
