"""The package as a user installs it: a wheel built from the repository, imported outside the repository.

The wheel is built from a copy of the checkout's files (tracked, and untracked ones git does not ignore; a
build in place would reuse a stale ``build/``), without build isolation (setuptools and wheel are in .venv), installed with ``--no-deps``
into a scratch folder (the pinned dependencies are .venv's), and used from a scratch working directory, so that
nothing can come from the checkout: the test first checks that ``specdec_lite`` is the installed copy. Then
``load_pair("smol")`` and ``load_pair("tiny")`` decode, the command line generates, and the course's notebook
helpers read the committed results they show.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

USE = r"""
import json, sys
from pathlib import Path

import specdec_lite
from specdec_lite import autoregressive_generate, load_pair, speculative_generate

site = Path(sys.argv[1]).resolve()
where = Path(specdec_lite.__file__).resolve()
assert where.is_relative_to(site), f"specdec_lite came from {where}, not from the installed wheel in {site}"
report = {"file": str(where)}
for name in ("tiny", "smol"):
    pair = load_pair(name)
    ids = pair.encode("Write a Python function that reverses a list.")
    own = autoregressive_generate(pair.target, ids, 12, eos_token_id=pair.eos_token_id).tokens
    fast = speculative_generate(pair.draft, pair.target, ids, 12, gamma=3, eos_token_id=pair.eos_token_id).tokens
    report[name] = {"tokens": len(own), "equal": own.tolist() == fast.tolist()}
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel, built from the repository and unpacked into a folder of its own; returns that folder."""
    scratch = tmp_path_factory.mktemp("wheel")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    source = scratch / "source"
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir",
         str(scratch / "dist"), str(source)],
        capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (scratch / "dist").glob("specdec_lite-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "specdec_lite/zoo/smol/draft/config.json" in names and "specdec_lite/zoo/tiny/target/config.json" in names
    assert not [n for n in names if n.startswith(("tests/", "tools/", "solutions/", "lessons/", "training/"))]
    site = scratch / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
        capture_output=True, text=True, timeout=600,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    return site


def _run(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python *args`` with only the installed wheel ahead of .venv's packages, from ``cwd`` (not the checkout)."""
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def test_the_installed_wheel_loads_both_pairs_and_decodes_losslessly(installed, tmp_path):
    run = _run(installed, "-c", USE, str(installed), cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    for name in ("tiny", "smol"):
        assert report[name]["tokens"] == 12 and report[name]["equal"], report


def test_the_installed_wheel_runs_the_command_line(installed, tmp_path):
    run = _run(installed, "-m", "specdec_lite", "generate", "--pair", "tiny", "--prompt", "def add(a, b):",
               "--max-new-tokens", "8", "--json", "--no-progress", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout)
    assert out["pair"] == "tiny", out


HELPERS = r"""
import json, os, sys
from pathlib import Path

import specdec_lite
from specdec_lite import course as nb

site = Path(sys.argv[1]).resolve()
assert Path(nb.__file__).resolve().is_relative_to(site), nb.__file__
os.environ.pop("SPECDEC_COURSE_DIR", None)
try:
    nb.results_path("study", "smol", "study.json")
except FileNotFoundError as err:
    outside = str(err)
else:
    outside = ""
os.environ["SPECDEC_COURSE_DIR"] = sys.argv[2]
result, report = nb.committed_study(nb.results_path("study", "smol"))
print(json.dumps({"outside": outside, "course": str(nb.course_dir()), "nodes": len(result.nodes),
                  "pair": report["pair"], "gpu": sorted(nb.gpu_run(sys.argv[3]))[:3],
                  "device": nb.setup(seed=0), "check": nb.close([0.5], [0.5])}))
"""


def test_the_installed_wheels_course_helpers_read_the_committed_results(installed, tmp_path):
    """Outside a clone the helpers say where the results live and how to point at them; with
    SPECDEC_COURSE_DIR they read the clone's committed study and GPU runs."""
    gpu = sorted(p.name for p in (ROOT / "docs" / "gpu_runs").glob("*.json"))[0]
    run = _run(installed, "-c", HELPERS, str(installed), str(ROOT), gpu, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert "SPECDEC_COURSE_DIR" in out["outside"] and str(tmp_path) in out["outside"], out["outside"]
    assert out["course"] == str(ROOT) and out["nodes"] > 0 and out["pair"] == "smol" and out["check"], out
