"""Fixture students (tests/fixture_students/), graded through nbgrader's own autograde on a scratch course.

For every lesson, three submissions are built from the released notebook by filling its answer cells:

* ``alternative``: every exercise answered by the fixture's correct answer in another style; it must get
  full marks on every test cell;
* ``wrong_a`` and ``wrong_b``: the fixture's wrong answers, hard-coded and delegating (or a plausible slip
  where no library function is the answer) in turns, so that each exercise is seen with both kinds; every
  exercise's test cell must score 0.

The fast test checks that every answer cell of the lessons has its fixture students.
"""

from __future__ import annotations

import os
import shutil
import sys
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


def test_fixture_students_cover_both_wrong_kinds_per_exercise():
    """The rotation gives each exercise its hard-coded answer in one wrong submission and the other in the other."""
    for notebook in LESSONS:
        answers = fixture_students.answers(notebook.parent.name)
        plan = _plan([answer for answer, _ in exercises(notebook)], answers)
        for answer, _ in exercises(notebook):
            seen = {plan["wrong_a"][answer][0], plan["wrong_b"][answer][0]}
            assert "hardcoded" in seen and seen & {"delegating", "slip"}, (notebook.parent.name, answer, seen)


def _plan(ids: list[str], answers: dict) -> dict[str, dict[str, tuple[str, str]]]:
    """student -> answer grade_id -> (kind, source)."""
    plan = {"alternative": {}, "wrong_a": {}, "wrong_b": {}}
    for i, answer in enumerate(ids):
        kinds = answers[answer]
        # the second wrong kind: the plausible slip where there is one (lesson 4's broken variant of stochastic
        # verification must fail), else the delegating answer
        other = "slip" if "slip" in kinds else "delegating"
        first, second = ("hardcoded", other) if i % 2 == 0 else (other, "hardcoded")
        plan["alternative"][answer] = ("alternative", kinds["alternative"])
        plan["wrong_a"][answer] = (first, kinds[first])
        plan["wrong_b"][answer] = (second, kinds[second])
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
