"""Fixture students (tests/fixture_students/), graded through nbgrader's own autograde on a scratch course.

For every lesson, submissions are built from the released notebook by filling its answer cells:

* ``alternative``: every exercise answered by the fixture's correct answer in another style; it must get
  full marks on every test cell;
* ``wrong_1``, ``wrong_2``, ...: the fixture's wrong answers (hard-coded, delegating, a plausible slip), as many
  submissions as the exercise with the most wrong answers has, each exercise's wrong kinds in turns, so that
  every committed wrong answer is graded once at least; every exercise's test cell must score 0 in each.

Exercises with more broken variants than a hard-coded and a delegating answer (``BROKEN`` in a fixture module:
the sampled loop of lesson 3, the stochastic tree verification and walk of lesson 4, and their slips) have their
test cell run directly on each extra variant, without the lesson's models: each variant must fail it, and the
solution and the alternative must pass it. An autograde runs the whole lesson (one to two minutes in CI), so each
lesson gets three: the alternative and two wrong submissions.

The fast test checks that every answer cell of the lessons has its fixture students.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import fixture_students  # noqa: E402  (tests/ is not a package)

pytestmark = pytest.mark.filterwarnings("ignore:User-placed attribute:DeprecationWarning")

LESSONS = sorted(path for path in (ROOT / "solutions").glob("*/*.ipynb")
                 if not path.parent.name.startswith(("quiz", "final")))


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def exercises(notebook: Path) -> list[tuple[str, str]]:
    """(answer cell grade_id, grade_id of the test cell that follows it), in notebook order."""
    cells = nbformat.read(notebook, as_version=4).cells
    pairs = []
    for i, cell in enumerate(cells):
        if _nbgrader(cell).get("solution") and cell.cell_type == "code":
            test = next(c for c in cells[i + 1:] if _nbgrader(c).get("grade"))
            pairs.append((_nbgrader(cell)["grade_id"], _nbgrader(test)["grade_id"]))
    return pairs


def _wrong_kinds(kinds: dict) -> list[str]:
    return [kind for kind in fixture_students.WRONG_KINDS if kind in kinds]


@pytest.mark.parametrize("notebook", LESSONS, ids=lambda path: path.parent.name)
def test_every_exercise_has_fixture_students(notebook):
    assignment = notebook.parent.name
    answers = fixture_students.answers(assignment)
    ids = [answer for answer, _ in exercises(notebook)]
    missing = [answer for answer in ids if answer not in answers]
    assert not missing, f"{assignment}: no fixture students for {missing} (tests/fixture_students/)"
    stale = sorted(set(answers) - set(ids))
    assert not stale, f"{assignment}: fixture students for answer cells that no longer exist: {stale}"
    for answer in ids:
        kinds = answers[answer]
        assert "alternative" in kinds and "hardcoded" in kinds, f"{assignment}/{answer}: {sorted(kinds)}"
        assert {"delegating", "slip"} & kinds.keys(), f"{assignment}/{answer}: no delegating (or slip) answer"
        for kind, source in kinds.items():
            compile(source, f"{assignment}/{answer}/{kind}", "exec")  # each is valid Python


def test_fixture_students_grade_every_wrong_answer():
    """The rotation puts every committed wrong answer of every exercise in some wrong submission."""
    for notebook in LESSONS:
        answers = fixture_students.answers(notebook.parent.name)
        plan = _plan([answer for answer, _ in exercises(notebook)], answers)
        for answer, _ in exercises(notebook):
            graded = {chosen[answer][0] for student, chosen in plan.items() if student != "alternative"}
            assert graded == set(_wrong_kinds(answers[answer])), (notebook.parent.name, answer, graded)
            assert "hardcoded" in graded and graded & {"delegating", "slip"}, (notebook.parent.name, answer, graded)


def _plan(ids: list[str], answers: dict) -> dict[str, dict[str, tuple[str, str]]]:
    """student -> answer grade_id -> (kind, source): the alternative, then one wrong submission per wrong kind of
    the exercise that has the most, each exercise's wrong kinds taken in turns (starting at a different kind from
    one exercise to the next, so that a submission mixes kinds)."""
    wrong = {answer: _wrong_kinds(answers[answer]) for answer in ids}
    plan = {"alternative": {answer: ("alternative", answers[answer]["alternative"]) for answer in ids}}
    for j in range(max((len(kinds) for kinds in wrong.values()), default=0)):
        plan[f"wrong_{j + 1}"] = {}
        for i, answer in enumerate(ids):
            kind = wrong[answer][(i + j) % len(wrong[answer])]
            plan[f"wrong_{j + 1}"][answer] = (kind, answers[answer][kind])
    return plan


def _scratch_course(tmp: Path, assignment: str) -> Path:
    course = tmp / "course"
    (course / "tools").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copy(ROOT / "tools" / "release.py", course / "tools" / "release.py")
    shutil.copytree(ROOT / "solutions" / assignment, course / "solutions" / assignment)
    import subprocess

    env = dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    subprocess.run([sys.executable, str(course / "tools" / "release.py"), "--quiet", assignment], cwd=course,
                   env=env, check=True, capture_output=True, text=True)
    return course


def _submit(course: Path, assignment: str, notebook_name: str, student: str, sources: dict[str, str]) -> None:
    released = next((course / folder / assignment / notebook_name) for folder in ("lessons", "quizzes")
                    if (course / folder / assignment / notebook_name).exists())
    nb = nbformat.read(released, as_version=4)
    filled = set()
    for cell in nb.cells:
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id in sources:
            cell.source = sources[grade_id]
            filled.add(grade_id)
    assert filled == set(sources), f"answer cells not found in the release: {set(sources) - filled}"
    out = course / "submitted" / student / assignment
    out.mkdir(parents=True)
    nbformat.write(nb, out / notebook_name)


def _scores(course: Path, config, assignment: str, notebook: str, student: str) -> dict[str, tuple[float, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(config.CourseDirectory.db_url) as gradebook:
        submission = gradebook.find_submission_notebook(notebook, assignment, student)
        return {grade.name: (float(grade.score), float(grade.max_score)) for grade in submission.grades}


def _grade_lesson(notebook: Path, tmp_path: Path) -> None:
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    assignment = notebook.parent.name
    os.environ["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"  # alembic
    course = _scratch_course(tmp_path, assignment)
    pairs = exercises(notebook)
    plan = _plan([answer for answer, _ in pairs], fixture_students.answers(assignment))
    for student, chosen in plan.items():
        _submit(course, assignment, notebook.name, student, {answer: src for answer, (_, src) in chosen.items()})

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    config.Execute.kernel_name = "python3"
    api = NbGraderAPI(config=config)
    problems = []
    for student, chosen in plan.items():
        result = api.autograde(assignment, student, force=True, create=True)
        assert result["success"], f"autograde of {student} failed: {result.get('error') or result.get('log')}"
        scores = _scores(course, config, assignment, notebook.stem, student)
        for answer, test in pairs:
            score, top = scores[test]
            kind = chosen[answer][0]
            if student == "alternative" and score != top:
                problems.append(f"{answer}: the alternative correct answer got {score:g} of {top:g} on {test}")
            if student != "alternative" and score != 0:
                problems.append(f"{answer}: the {kind} answer got {score:g} of {top:g} on {test} (expected 0)")
    assert not problems, f"{assignment}:\n" + "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", [
    pytest.param(path, id=path.parent.name, marks=pytest.mark.xdist_group(f"fixture_students:{path.parent.name}"))
    for path in LESSONS])
def test_fixture_students_get_what_a_fair_grader_gives(notebook, tmp_path):
    _grade_lesson(notebook, tmp_path)


# --- Broken variants, run directly on a test cell ----------------------------------------------------------

_PRELUDE = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display

from specdec_lite import TokenTree, tree_speculative_generate
from specdec_lite import course as nb
from specdec_lite.sampling import distribution, make_generator, sample
"""

# answer grade_id -> (assignment, the cells its test cell needs, run in order: visible helpers and the solutions
# of the exercises it builds on)
DIRECT = {
    "speculative_sample": ("03_rejection_sampling",
                           ["toy_rule", "acceptance_probability", "residual", "accept_or_resample", "toy_language"]),
    "accept_children": ("04_token_trees", []),
    "accepted_path_sampled": ("04_token_trees", ["accept_children", "toy_tree"]),
}


def _without_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def _run_test_cell(answer: str, answer_source: str) -> str | None:
    """Run ``answer``'s test cell (visible and hidden parts) with ``answer_source``; the failure, or None if it passes."""
    import contextlib
    import io

    assignment, context = DIRECT[answer]
    cells = {cell.get("id"): cell.source for cell in nbformat.read(next((ROOT / "solutions" / assignment).glob("*.ipynb")),
                                                                    as_version=4).cells}
    test_id = exercises(next((ROOT / "solutions" / assignment).glob("*.ipynb")))
    test_id = dict(test_id)[answer]
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(_PRELUDE, namespace)
        for cell_id in context:
            exec(_without_markers(cells[cell_id]), namespace)
        exec(answer_source, namespace)
        try:
            exec(cells[test_id], namespace)
        except AssertionError as error:
            return str(error)
    return None


def _broken() -> list:
    params = []
    for answer, (assignment, _) in DIRECT.items():
        module = __import__(f"fixture_students.{fixture_students.module_name(assignment)}", fromlist=["BROKEN"])
        for name, source in module.BROKEN[answer].items():
            params.append(pytest.param(answer, textwrap.dedent(source), id=f"{answer}-{name}"))
    return params



@pytest.mark.slow
@pytest.mark.parametrize("answer", list(DIRECT))
def test_test_cell_passes_the_solution_and_the_alternative(answer):
    assignment, _ = DIRECT[answer]
    cells = {cell.get("id"): cell.source for cell in nbformat.read(next((ROOT / "solutions" / assignment).glob("*.ipynb")),
                                                                    as_version=4).cells}
    assert _run_test_cell(answer, _without_markers(cells[answer])) is None
    assert _run_test_cell(answer, fixture_students.answers(assignment)[answer]["alternative"]) is None


@pytest.mark.slow
@pytest.mark.parametrize("answer, source", _broken())
def test_test_cell_fails_every_broken_variant(answer, source):
    failure = _run_test_cell(answer, source)
    assert failure is not None, f"the test cell of {answer} passes a broken variant:\n{source}"


def test_lesson_3_shows_the_reseeded_sampler_failing_whatever_dtype_the_learner_draws_in():
    """Section 6 of lesson 3 beside an answer that draws its uniform in float32 (the ``alternative`` fixture): the
    correct rule (the learner's) passes the chi-square test, the reseeded sampler fails it and, as the lesson
    says, never outputs "dog" (3) or "sat" (4)."""
    import contextlib
    import io

    cells = {cell.get("id"): cell.source for cell in nbformat.read(
        ROOT / "solutions" / "03_rejection_sampling" / "03_rejection_sampling.ipynb", as_version=4).cells}
    demo = next(source for source in cells.values() if "def reseed_in_loop" in source)
    answers = fixture_students.answers("03_rejection_sampling")
    assert "float32" in answers["accept_or_resample"]["alternative"]
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(_PRELUDE, namespace)
        exec(_without_markers(cells["toy_rule"]), namespace)
        for answer in ("acceptance_probability", "residual", "accept_or_resample"):
            exec(answers[answer]["alternative"], namespace)
        exec(demo[:demo.index("samplers = ")], namespace)  # the four samplers' definitions
    from specdec_lite.course import chi_square_test

    p_toy = namespace["p_toy"]
    correct = namespace["correct_rule"](p_toy, namespace["q_toy"], 10_000, seed=3)
    reseeded = namespace["reseed_in_loop"](p_toy, namespace["q_toy"], 10_000, seed=3)
    assert chi_square_test(correct, p_toy).pvalue > 1e-4
    assert chi_square_test(reseeded, p_toy).pvalue < 1e-4
    assert not {3, 4} & set(reseeded)
