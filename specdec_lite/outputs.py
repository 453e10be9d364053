"""Output folders of the command line: checked before a run, written atomically after it, and fingerprinted.

A run's results must not be lost to a folder problem found only at the end, so ``--out`` is checked
(and, for a study, its staging folder made) before anything runs. A study replaces its folder whole:
it is written into a temporary folder beside ``--out`` and then renamed into place, so an interrupted
run leaves the old study as it was instead of a mix of old and new tables. ``sha256_of`` is the one
file digest of the package (the SmolLM2 cache's manifest and a study's table records use it).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import tempfile
from pathlib import Path

__all__ = ["OutputFolderError", "sha256_of", "check_out_folder", "replaced_folder"]


class OutputFolderError(ValueError):
    """``--out`` cannot take the results; the message says why and what to do."""


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 24), b""):
            sha.update(block)
    return sha.hexdigest()


def _make_parent(path: Path) -> None:
    """Create ``path``'s parent folders, or say why they cannot be."""
    if path.exists() and not path.is_dir():
        raise OutputFolderError(f"--out {path} is a file, not a folder: name a folder (it is created if missing).")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputFolderError(f"cannot create the folders above --out {path} ({error}): name a folder you can "
                                "write to.") from error


def check_out_folder(path: Path) -> None:
    """Make sure results can be written into the folder ``path`` (created if missing), before a run starts."""
    _make_parent(path)
    try:
        path.mkdir(exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise OutputFolderError(f"cannot write into --out {path} ({error}): name a folder you can write to.") from error


@contextlib.contextmanager
def replaced_folder(path: Path, owned: set[str]):
    """Yield an empty staging folder beside ``path``; when the block succeeds it replaces ``path`` whole.

    The staging folder is made at once (so a folder that cannot be written is found before the run). If
    the block raises, or the process is interrupted, the staging folder is removed and ``path`` is left as
    it was. ``path`` may hold only files named in ``owned`` (an older run's output): anything else would be
    lost with it, so it is refused up front, as is the folder the command runs in.
    """
    path = Path(path)
    _make_parent(path)
    if path.is_dir():
        foreign = sorted(p.name for p in path.iterdir() if p.name not in owned)
        if foreign:
            raise OutputFolderError(
                f"--out {path} holds files this command does not write ({', '.join(foreign[:5])}"
                f"{', ...' if len(foreign) > 5 else ''}); it replaces the whole folder, so name a new or empty folder.")
        if Path.cwd().resolve().is_relative_to(path.resolve()):
            raise OutputFolderError(f"--out {path} holds the folder you run in; it is replaced whole, so name another.")
    staging = _sibling(path, "new")
    try:
        staging.mkdir()  # with the usual permissions (a temporary folder would be private to its owner)
    except OSError as error:
        raise OutputFolderError(f"cannot write beside --out {path} ({error}): name a folder you can write to.") from error
    try:
        yield staging
        if not path.exists():
            os.replace(staging, path)
            return
        old = _sibling(path, "old")
        os.replace(path, old)
        try:
            os.replace(staging, path)
        except BaseException:
            os.replace(old, path)  # put the old folder back
            raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _sibling(path: Path, role: str) -> Path:
    """A hidden name beside ``path`` that no other run uses, e.g. ``.study-new-3f2a9c1d``."""
    return path.parent / f".{path.name}-{role}-{secrets.token_hex(4)}"
