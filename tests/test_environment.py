"""The two ways to build the environment must agree: environment.yml pins exactly what pyproject.toml pins."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_pins() -> set[str]:
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])


def _environment_pins() -> tuple[str, set[str]]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return python, {p for p in pip if not p.startswith("-e")}


def test_environment_yml_matches_pyproject():
    python, pins = _environment_pins()
    assert python == "python=3.11"
    assert pins == _pyproject_pins()


def test_every_dependency_is_pinned_exactly():
    for pin in _pyproject_pins():
        assert "==" in pin and not any(op in pin for op in (">", "<", "~", "*")), pin


def test_required_pins():
    pins = {p.split("==")[0]: p.split("==")[1] for p in _pyproject_pins()}
    assert pins["torch"] == "2.13.0"
    assert pins["transformers"] == "4.57.6"
    assert pins["auto-gptq"] == "0.7.1"
    assert pins["peft"].startswith("0.10.") and pins["datasets"].startswith("3.")  # what auto-gptq imports with
    assert pins["jupyterlab"].startswith("4.") and pins["nbgrader"].startswith("0.9.")
    assert pins["ipywidgets"].startswith("8.")
    assert {"matplotlib", "seaborn", "pandas", "scipy"} <= pins.keys()
