"""The environment: exact pins, the same in both ways to build it, and a library that needs only its own dependencies.

environment.yml pins exactly what pyproject.toml pins (its dependencies and every extra). The library proper
(``specdec_lite`` outside its course helpers) imports only the runtime dependencies; JupyterLab, nbgrader, the
test tools and the browser driver live in the ``course`` and ``test`` extras.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _runtime_pins() -> set[str]:
    return set(_project()["dependencies"])


def _pyproject_pins() -> set[str]:
    """The runtime dependencies and every extra."""
    return _runtime_pins().union(*map(set, _project()["optional-dependencies"].values()))


def _name(pin: str) -> str:
    return pin.split("==")[0].lower().replace("_", "-")


def _environment_pins() -> tuple[str, set[str]]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return python, {p for p in pip if not p.startswith("-e")}


def test_environment_yml_matches_pyproject():
    python, pins = _environment_pins()
    assert python == "python=3.11"
    assert pins == _pyproject_pins()
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    extras = ",".join(_project()["optional-dependencies"])
    assert f"-e .[{extras}]" in pip, "environment.yml must install the package with every extra"


def test_make_setup_installs_every_extra():
    extras = ",".join(_project()["optional-dependencies"])
    assert f'pip install --quiet -e ".[{extras}]"' in (ROOT / "Makefile").read_text()


def test_extras_are_disjoint_from_the_runtime_dependencies():
    runtime = {_name(p) for p in _runtime_pins()}
    for extra, pins in _project()["optional-dependencies"].items():
        assert not runtime & {_name(p) for p in pins}, extra
    assert not runtime & {"jupyterlab", "notebook", "nbgrader", "pytest", "playwright", "ipywidgets"}


def _imported_top_level(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_library_imports_only_its_runtime_dependencies():
    """Every third-party module that the library proper imports belongs to a runtime dependency (or to one of
    theirs, as ``yaml`` does to transformers); the course helpers (``specdec_lite/course/``) may use the course
    extra, and the GPTQ loader imports ``auto_gptq`` from the gptq extra, said here by name."""
    allowed = {_name(p) for p in _runtime_pins()}
    optional = {"auto_gptq": "gptq"}  # imported inside pairs.load_gptq only, with a clear error when missing
    distributions = packages_distributions()
    package = ROOT / "specdec_lite"
    wrong = []
    for path in sorted(package.rglob("*.py")):
        if "course" in path.relative_to(package).parts:
            continue
        for module in _imported_top_level(path) - set(sys.stdlib_module_names) - {"specdec_lite"} - optional.keys():
            owners = {_name(d) for d in distributions.get(module, [module])}
            if not owners & allowed:
                wrong.append(f"{path.relative_to(ROOT)} imports {module} ({', '.join(sorted(owners))})")
    assert not wrong, "the library imports packages that are not runtime dependencies:\n" + "\n".join(wrong)


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
