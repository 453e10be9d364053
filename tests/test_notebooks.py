"""The course's notebooks: every notebook under ``solutions/`` and its generated student version.

Fast checks (metadata, no outputs, no leaked answers, no drift between ``solutions/`` and the generated
``lessons/`` and ``quizzes/``) run on every ``pytest``. The executing checks are marked ``slow``: each
notebook version runs exactly once, through nbgrader's own ``Validator`` (which executes it headless with
nbclient, in the notebook's folder, with the course's ``nbgrader_config.py``), and every test of that
version reads the same execution from a module-scoped fixture.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
# nbgrader's gradebook module trips a SQLAlchemy deprecation notice on import; it is not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:User-placed attribute:DeprecationWarning")


def _load_release():
    spec = importlib.util.spec_from_file_location("course_release", ROOT / "tools" / "release.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


release = _load_release()

SOLUTIONS = sorted((ROOT / "solutions").glob("*/*.ipynb"))
NOTEBOOK_FOLDERS = ("solutions", "lessons", "quizzes")
COMMITTED = sorted(
    path
    for folder in NOTEBOOK_FOLDERS
    for path in (ROOT / folder).rglob("*.ipynb")
    if ".ipynb_checkpoints" not in path.parts
)
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _executions(version: str) -> list:
    """SOLUTIONS as parameters, each version of a notebook in its own xdist group: under ``pytest -n`` (as in
    ``make test``) the tests that read one execution run in one worker, so each version still runs once."""
    return [pytest.param(path, id=_rel(path), marks=pytest.mark.xdist_group(f"{path.stem}:{version}"))
            for path in SOLUTIONS]


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _is_test_cell(cell) -> bool:
    meta = _nbgrader(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


# --- Fast checks ---------------------------------------------------------------------------------------


def test_there_are_notebooks():
    assert SOLUTIONS, "no notebooks under solutions/"


@pytest.mark.parametrize("path", COMMITTED, ids=_rel)
def test_committed_notebooks_carry_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, cell in enumerate(nb.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, f"{_rel(path)}: cells {dirty} carry outputs or execution counts; run `make release`, which strips them"


@pytest.mark.parametrize("path", COMMITTED, ids=_rel)
def test_kernelspec_is_python3(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", f"{_rel(path)}: the kernel must be python3"


@pytest.mark.parametrize("path", SOLUTIONS, ids=_rel)
def test_nbgrader_metadata(path):
    nb = nbformat.read(path, as_version=4)
    graded = [cell for cell in nb.cells if _nbgrader(cell)]
    ids = [_nbgrader(cell).get("grade_id") for cell in graded]
    assert all(ids), f"{_rel(path)}: every nbgrader cell needs a grade_id"
    assert len(ids) == len(set(ids)), f"{_rel(path)}: grade_ids repeat"
    assert all(_nbgrader(cell).get("schema_version") == 3 for cell in graded)
    tests = [cell for cell in nb.cells if _is_test_cell(cell)]
    assert tests, f"{_rel(path)}: no autograded test cell"
    for cell in tests:
        meta = _nbgrader(cell)
        assert meta.get("locked") and meta.get("points", 0) > 0, f"{meta['grade_id']}: test cells are locked and score points"
    assert any(_nbgrader(cell).get("solution") for cell in nb.cells), f"{_rel(path)}: no answer cell"


def test_student_versions_leak_no_answers():
    """No solution or hidden-test markers in any file of a generated assignment folder."""
    leaks = []
    for folder in release.RELEASE_FOLDERS:
        for path in (ROOT / folder).glob("*/**/*"):
            if path.is_file() and ".ipynb_checkpoints" not in path.parts:
                text = path.read_text(encoding="utf-8", errors="replace")
                leaks += [f"{_rel(path)}: {marker}" for marker in MARKERS if marker in text]
    assert not leaks, "solution or hidden-test markers in student versions:\n" + "\n".join(leaks)


# Library functions that a lesson's hidden tests forbid (nb.own) but that its visible cells may still import, and why.
VISIBLE_REFERENCES_ALLOWED = {
    # the target alone, the baseline that sections 1 and 5 compare with (lesson 1's loop, not this lesson's answer);
    # speculative_decode's hidden test makes a submission that calls it fail. The speculative loop itself is not
    # imported: the lesson reads a recorded run of it (nb.recorded_runs)
    "02_draft_and_verify": {"autoregressive_generate"},
    # the tree decoder whose step records section 3 reads and which section 6 measures (no exercise's answer)
    "04_token_trees": {"tree_speculative_generate"},
    # measurements of real caches that the learner's formulas are checked against (the formulas take model shapes,
    # which these tools cannot turn into an answer)
    "06_memory_cost": {"measured_cache_bytes", "memory_report"},
    # the library's per-tested-node profile, another quantity than exercise 1's per-level rate, shown after it
    "07_acceptance_dynamics": {"depth_profile"},
}


def _own_references(source: str) -> set[str]:
    """The names of the references in every ``nb.own(answer, *references)`` call of ``source`` (last name of a dotted
    module attribute; methods and properties of a class, ``Class.attribute``, give the class's attribute name)."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "own"
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "nb"):
            for arg in node.args[1:]:
                if isinstance(arg, ast.Name):
                    names.add(arg.id)
                elif isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) and not arg.value.id[:1].isupper():
                    names.add(arg.attr)
    return names


def _imported_names(source: str) -> set[str]:
    import ast

    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            names |= {alias.name for alias in node.names} | {alias.asname for alias in node.names if alias.asname}
    return names


@pytest.mark.parametrize("path", [p for p in SOLUTIONS if not p.parent.name.startswith(("quiz", "final"))],
                         ids=lambda path: path.parent.name)
def test_visible_cells_import_no_forbidden_reference(path):
    """A library function that a hidden test forbids (the exercise's answer) is imported only inside hidden tests."""
    forbidden = set()
    for cell in nbformat.read(path, as_version=4).cells:
        if _is_test_cell(cell) and "BEGIN HIDDEN TESTS" in cell.source:
            forbidden |= _own_references(cell.source.split("### BEGIN HIDDEN TESTS", 1)[1])
    released = nbformat.read(release.released_path(path), as_version=4)
    visible = set()
    for cell in released.cells:
        if cell.cell_type == "code":
            visible |= _imported_names(cell.source)
    leaked = (forbidden & visible) - VISIBLE_REFERENCES_ALLOWED.get(path.parent.name, set())
    assert not leaked, f"{_rel(path)}: the learner's cells import {sorted(leaked)}, which its hidden tests forbid"


LESSON_SOLUTIONS = [p for p in SOLUTIONS if not p.parent.name.startswith(("quiz", "final"))]
SECTION_TIME = re.compile(r"\((?:about )?(\d+) min(?:ute)?s?\)\s*$")


@pytest.mark.parametrize("path", LESSON_SOLUTIONS, ids=lambda path: path.parent.name)
def test_lesson_structure(path):
    """Every section has its own time, and they add up to the lesson's; the glossary is linked; and there are at
    least two predict-then-check prompts, each with a guess cell that a later cell reads and a collapsible
    explanation after it."""
    cells = nbformat.read(path, as_version=4).cells
    total = re.search(r"\*\*Time:\*\* about (\d+) minutes", cells[0].source)
    assert total, f"{_rel(path)}: the first cell gives no '**Time:** about N minutes'"
    headers = [line for cell in cells if cell.cell_type == "markdown" for line in cell.source.splitlines()
               if line.startswith("## ")]
    untimed = [line for line in headers if not SECTION_TIME.search(line)]
    assert not untimed, f"{_rel(path)}: sections without their own time: {untimed}"
    minutes = sum(int(SECTION_TIME.search(line).group(1)) for line in headers)
    assert minutes == int(total.group(1)), f"{_rel(path)}: sections add up to {minutes} min, the header says {total.group(1)}"
    assert "docs/glossary.md" in cells[0].source, f"{_rel(path)}: the first cell does not link the glossary"
    prompts = [i for i, cell in enumerate(cells) if cell.cell_type == "markdown" and "**Predict, then check.**" in cell.source]
    assert len(prompts) >= 2, f"{_rel(path)}: {len(prompts)} predict-then-check prompt(s), at least 2 wanted"
    for i in prompts:
        guess = next((found for cell in cells[i + 1:i + 3]
                      if cell.cell_type == "code" and (found := re.match(r"(my_\w+_guess) = None\b", cell.source))), None)
        assert guess, f"{_rel(path)}: the prompt in cell {i} is not followed by a 'my_..._guess = None' cell"
        name = guess.group(1)
        readers = [j for j, cell in enumerate(cells) if j > i + 1 and cell.cell_type == "code" and name in cell.source]
        assert readers, f"{_rel(path)}: no cell reads {name} back beside the measurement"
        assert any(cell.cell_type == "markdown" and "<details>" in cell.source for cell in cells[readers[0]:]), \
            f"{_rel(path)}: no collapsible explanation after the check of {name}"


def test_release_folders():
    assert release.release_folder("00_setup") == "lessons"
    assert release.release_folder("quiz_1") == "quizzes"
    assert release.release_folder("final_exam") == "quizzes"
    assert release.released_path(ROOT / "solutions" / "quiz_2" / "q.ipynb") == ROOT / "quizzes" / "quiz_2" / "q.ipynb"


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and ".ipynb_checkpoints" not in path.parts
    }


def test_student_versions_match_solutions(tmp_path):
    """No drift: regenerating every student version gives, byte for byte, what is committed."""
    subprocess.run([sys.executable, str(ROOT / "tools" / "release.py"), "--out", str(tmp_path), "--no-db", "--quiet"],
                   check=True, cwd=ROOT)
    names = release.assignments()
    for name in names:
        folder = release.release_folder(name)
        fresh, committed = _files(tmp_path / folder / name), _files(ROOT / folder / name)
        assert fresh.keys() == committed.keys(), f"{folder}/{name} differs from its source in files; run `make release`"
        changed = [file for file in fresh if fresh[file] != committed[file]]
        assert not changed, f"{folder}/{name}: {changed} differ from what solutions/ generates; run `make release`"
    for folder in release.RELEASE_FOLDERS:
        stale = [child.name for child in (ROOT / folder).iterdir()
                 if child.is_dir() and any(child.glob("*.ipynb")) and child.name not in names]
        assert not stale, f"{folder}/ holds {stale}, which have no source in solutions/; run `make release`"


def test_release_is_deterministic(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        release.release(out, db=False, verbose=False)
    assert _files(first) == _files(second)


# --- Executing every notebook version once -------------------------------------------------------------


@dataclass
class Execution:
    """One run of a notebook through nbgrader's Validator: its verdict and the executed notebook."""

    path: Path
    results: dict
    notebook: nbformat.NotebookNode | None


def _validate(path: Path, invert: bool) -> Execution:
    from nbgrader.validator import Validator
    from traitlets.config.loader import PyFileConfigLoader

    class RecordingValidator(Validator):
        executed = None

        def _preprocess(self, nb):
            nb = super()._preprocess(nb)
            self.executed = nb
            return nb

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    config.Validator.invert = invert
    config.Execute.kernel_name = "python3"
    validator = RecordingValidator(config=config)
    results = validator.validate(str(path))
    return Execution(path, results, validator.executed)


@pytest.fixture(scope="module")
def executed():
    """``executed(path, invert)``: the Execution of ``path``, run on first use and shared afterwards."""
    cache: dict[tuple[Path, bool], Execution] = {}

    def run(path: Path, invert: bool) -> Execution:
        if (path, invert) not in cache:
            cache[(path, invert)] = _validate(path, invert)
        return cache[(path, invert)]

    return run


def _errors(nb) -> list[tuple[int, object]]:
    return [(i, out) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for out in cell.get("outputs", []) if out.output_type == "error"]


def _describe(i: int, cell, out) -> str:
    trace = "\n".join(out.get("traceback", []))[-3000:]
    return f"cell {i} ({_nbgrader(cell).get('grade_id', cell.get('id'))}): {out.ename}: {out.evalue}\n{trace}"


def _from_stub(out) -> bool:
    """An error raised by an exercise stub, directly or from a cell that called one."""
    return out.ename == "NotImplementedError" or any("NotImplementedError" in line for line in out.get("traceback", []))


@pytest.mark.slow
@pytest.mark.parametrize("solution", _executions("solution"))
def test_solution_runs_without_errors(solution, executed):
    run = executed(solution, False)
    assert run.notebook is not None, f"cell types changed: {run.results}"
    errors = _errors(run.notebook)
    assert not errors, "\n\n".join(_describe(i, run.notebook.cells[i], out) for i, out in errors)


@pytest.mark.slow
@pytest.mark.parametrize("solution", _executions("solution"))
def test_solution_passes_nbgrader_validation(solution, executed):
    results = executed(solution, False).results
    problems = {key: value for key, value in results.items() if key in ("failed", "changed", "type_changed")}
    assert not problems, f"nbgrader's Validator rejects {_rel(solution)}: {problems}"


@pytest.mark.slow
@pytest.mark.parametrize("solution", _executions("solution"))
def test_solution_graded_cells_write_nothing_to_stderr(solution, executed):
    nb = executed(solution, False).notebook
    noisy = [
        f"{_nbgrader(cell)['grade_id']}: {out.text[:300]!r}"
        for cell in nb.cells if _is_test_cell(cell)
        for out in cell.outputs if out.output_type == "stream" and out.name == "stderr"
    ]
    assert not noisy, "graded cells wrote to stderr (nbgrader scores such a cell 0):\n" + "\n".join(noisy)


@pytest.mark.slow
@pytest.mark.parametrize("solution", _executions("student"))
def test_student_version_fails_only_at_the_stubs(solution, executed):
    student = release.released_path(solution)
    run = executed(student, True)
    assert run.notebook is not None, f"cell types changed: {run.results}"
    errors = _errors(run.notebook)
    assert errors, f"{_rel(student)} ran without any error: are its exercises stubbed?"
    other = [(i, out) for i, out in errors if not _from_stub(out)]
    assert not other, "errors other than the exercise stubs' NotImplementedError:\n\n" + "\n\n".join(
        _describe(i, run.notebook.cells[i], out) for i, out in other)


@pytest.mark.slow
@pytest.mark.parametrize("solution", _executions("student"))
def test_student_version_fails_nbgrader_validation(solution, executed):
    student = release.released_path(solution)
    results = executed(student, True).results
    assert "passed" not in results, f"graded cells of {_rel(student)} pass with the stubs: {results['passed']}"
    assert not {"changed", "type_changed"} & results.keys(), f"{_rel(student)}: {results}"


# --- Notebook helpers ------------------------------------------------------------------------------------


def test_check_raises_the_teaching_message():
    from specdec_lite.course import check

    check(True, "never shown")
    with pytest.raises(AssertionError, match="clamp before normalising"):
        check(False, "your residual has negative entries: clamp before normalising")


@pytest.fixture(scope="module")
def tiny_generation():
    from specdec_lite import load_pair, speculative_generate

    pair = load_pair("tiny")
    prompt = pair.encode("User: What is a rainbow?\nAssistant:")
    return pair, speculative_generate(pair.draft, pair.target, prompt, 24, gamma=4)


def test_record_calls_counts_fed_tokens(tiny_generation):
    from specdec_lite.calls import forward, new_cache
    from specdec_lite.course import record_calls

    pair, _ = tiny_generation
    import torch

    with record_calls(pair.target) as fed:
        cache = new_cache()
        forward(pair.target, torch.tensor([5, 6, 7]), cache)
        forward(pair.target, torch.tensor([8]), cache)
    assert fed == [3, 1]


def test_step_html_marks_accepted_rejected_and_target_tokens(tiny_generation):
    from specdec_lite.course import step_html

    pair, result = tiny_generation
    for index, step in enumerate(result.steps):
        page = step_html(result, pair.tokenizer, index)
        assert f'data-step="{index}"' in page
        assert page.count('class="specdec-accepted"') == step.accepted
        assert page.count('class="specdec-rejected"') == step.drafted - step.accepted
        assert page.count('class="specdec-target"') == step.emitted - step.accepted
    with pytest.raises(ValueError, match="does not exist"):
        step_html(result, pair.tokenizer, len(result.steps))


def test_step_through_widget_follows_its_buttons(tiny_generation):
    from specdec_lite.course import step_through

    pair, result = tiny_generation
    box = step_through(result, pair.tokenizer)
    (previous, slider, following), view = box.children[0].children, box.children[1]
    assert (previous.description, following.description, slider.description) == ("Previous step", "Next step", "Step")
    assert "specdec-step-through" in box._dom_classes and "specdec-step-view" in view._dom_classes
    assert 'data-step="0"' in view.value and previous.disabled
    following.click()
    following.click()
    assert 'data-step="2"' in view.value and slider.value == 3
    previous.click()
    assert 'data-step="1"' in view.value
    slider.value = slider.max
    assert following.disabled and f'data-step="{len(result.steps) - 1}"' in view.value


# --- Quizzes against the course's own data ---------------------------------------------------------------

def _study_report(pair: str = "smol") -> dict:
    import json

    return json.loads((ROOT / "results" / "study" / pair / "study.json").read_text())


def _by_domain(report: dict, key: str) -> dict[str, float]:
    return {row["domain"]: float(row[key]) for row in report["domains"]}


def _published(report: dict, key: str) -> dict[str, float]:
    return {row["domain"]: row[key] for row in report["published"] if row[key] is not None}


def _quiz_cell(assignment: str, cell_id: str) -> str:
    nb = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    return next(cell.source for cell in nb.cells if cell.get("id") == cell_id)


def _quoted(text: str, pattern: str) -> float:
    import re

    found = re.search(pattern, text)
    assert found, f"the figure {pattern!r} is no longer quoted in: {text[:200]!r}"
    return float(found.group(1).replace("−", "-"))


# Every quiz statement about what the course measured, with how to compute it from the committed files:
# (assignment, cell id, [(regex capturing a quoted figure, value computed from results/, decimals)], claims)
def _quiz_facts():
    import json

    report = _study_report()
    level = _by_domain(report, "level_acceptance")
    entropy = _by_domain(report, "mean_entropy")
    r = _by_domain(report, "entropy_r")
    published_acceptance = _published(report, "acceptance_published")
    low, high = report["published"][0]["entropy_r_published_low"], report["published"][0]["entropy_r_published_high"]
    findings = {f["finding"]: f["holds"] for f in report["findings"]}
    compared = json.loads((ROOT / "results" / "drafters" / "smol.json").read_text())["study"]["drafters"]
    drafters = {d: {name: per[d] for name, per in compared.items()} for d in next(iter(compared.values()))}
    fastest = {d: max(per, key=lambda name: per[name]["speedup"]) for d, per in drafters.items()}
    course_reverses = {
        "chat has the highest acceptance (study) / lowest (course)":
            max(published_acceptance, key=published_acceptance.get) == "chat" and min(level, key=level.get) == "chat",
        "math lowest (study) / highest (course)":
            min(published_acceptance, key=published_acceptance.get) == "math" and max(level, key=level.get) == "math",
        "the study's findings on chat and math do not hold in the course's run":
            findings["chat has the highest acceptance rate"] is False and findings["math has the lowest acceptance rate"] is False,
    }
    return [
        ("quiz_4", "q5_text",
         [(r"r from (-?0\.\d\d) to", min(r.values()), 2), (r"to (-?0\.\d\d)\)", max(r.values()), 2),
          (r"lowest acceptance per level \((0\.\d\d)\)", level["chat"], 2), (r"math the highest \((0\.\d\d)\)", level["math"], 2)],
         {**course_reverses,
          "weakly negative in every domain, as published": all(-0.3 < v < 0 for v in r.values()) and -0.3 < low < high < 0,
          "chat has the highest draft entropy": max(entropy, key=entropy.get) == "chat",
          "the study's entropy finding on chat does not hold here":
              findings["chat has the highest target entropy and still the highest acceptance"] is False}),
        ("quiz_4", "q4_text", [],
         {"the course's run also finds task type the better predictor": report["predictors"]["domain_better"] is True
          and findings["task type predicts acceptance better than depth"] is True}),
        ("quiz_4", "q1_text", [(r"α = (0\.\d+) \(the study's", published_acceptance["chat"], 3)], {}),
        ("final_check", "q13_text",
         [(r"math highest at (0\.\d\d)", level["math"], 2), (r"chat lowest at (0\.\d\d)", level["chat"], 2)],
         course_reverses),
        ("final_check", "q20_text",
         [(r"prompt lookup in code \((\d\.\d\d)x\)", drafters["code"]["lookup"]["speedup"], 2),
          (r"separate draft in math \((\d\.\d\d)x\)", drafters["math"]["draft"]["speedup"], 2)],
         {"no drafter's median reached 1.3x in any domain": all(f["speedup"] < 1.3 for per in drafters.values() for f in per.values()),
          "prompt lookup was the fastest in code": fastest["code"] == "lookup",
          "the separate draft was the fastest in math": fastest["math"] == "draft",
          "in chat none beat the target alone": all(f["speedup"] < 1 for f in drafters["chat"].values()),
          "EAGLE was not the fastest in every domain": any(not n.startswith("eagle") for n in fastest.values()),
          "Medusa was not the fastest everywhere": any(not n.startswith("medusa") for n in fastest.values()),
          "every output was exact": all(f["exact"] for per in drafters.values() for f in per.values())}),
    ]


def test_quiz_answers_agree_with_the_committed_results():
    for assignment, cell_id, figures, claims in _quiz_facts():
        text = _quiz_cell(assignment, cell_id)
        for pattern, value, decimals in figures:
            quoted = _quoted(text, pattern)
            assert quoted == round(value, decimals), (
                f"{assignment} {cell_id} quotes {quoted} where the committed results give {value:.{decimals + 2}f}")
        broken = [claim for claim, holds in claims.items() if not holds]
        assert not broken, f"{assignment} {cell_id} states what the committed results no longer show: {broken}"


def test_every_quiz_statement_about_the_course_run_is_checked():
    """A quiz cell that speaks of the course's own run must be listed in _quiz_facts (so its figures are checked)."""
    checked = {(assignment, cell_id) for assignment, cell_id, _, _ in _quiz_facts()}
    for path in SOLUTIONS:
        if not path.parent.name.startswith(("quiz", "final")):
            continue
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown" and ("course's own run" in cell.source or "course's run" in cell.source):
                assert (path.parent.name, cell.get("id")) in checked, f"{_rel(path)} {cell.get('id')}: not checked"
