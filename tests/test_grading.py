"""The quizzes and the instructor's grading workflow (``tools/grading.py``, docs/instructors.md).

Fast checks: no quiz answer reaches a student version; the quiz answer-format helpers. Slow checks: a whole
round trip through nbgrader's Python API on a scratch copy of the course (generate, autograde a set of made-up
students, feedback, grades CSV), and the sandboxed autograde (no network, a memory limit).

The round trip generates every quiz and two lessons (00_setup and 03_rejection_sampling, the two quickest to
run) and grades all of them for the perfect student; the other students submit quiz_1 (and the blank one
00_setup too). Every notebook graded costs a kernel start and the course library's import (tens of seconds
on a loaded 2-core machine, minutes for a lesson), and tests/test_notebooks.py already runs every student
version and checks that no graded cell passes with the stubs.
"""

from __future__ import annotations

import ast
import csv
import math
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
QUIZZES = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and p.name.startswith(("quiz", "final")))
LESSONS = ("00_setup", "03_rejection_sampling")
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
# nbgrader's gradebook module trips a SQLAlchemy deprecation notice on import; it is not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:User-placed attribute:DeprecationWarning")


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _cell(nb, grade_id: str):
    return next(cell for cell in nb.cells if _meta(cell).get("grade_id") == grade_id)


# --- The answer key never reaches a student version --------------------------------------------------


def _solution_region(source: str) -> str | None:
    match = re.search(r"### BEGIN SOLUTION\n(.*?)\n\s*### END SOLUTION", source, re.S)
    return textwrap.dedent(match.group(1)) if match else None


def answer_key(solution_nb) -> dict[str, object]:
    """The plain-value answers of a quiz: ``{"q1": "b", "q5": 3.2, ...}``, from its solution cells.

    A solution region made only of assignments to names (``q5 = (100 * 80) / (20 * 125)``) is run to get the
    values; a region that defines a function (a code question) holds no value and is skipped.
    """
    key = {}
    for cell in solution_nb.cells:
        region = _solution_region(cell.source) if _meta(cell).get("solution") else None
        if region is None:
            continue
        tree = ast.parse(region)
        if tree.body and all(isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets)
                             for node in tree.body):
            namespace = {"math": math}
            exec(compile(tree, "<solution>", "exec"), namespace)  # noqa: S102  (our own solution cells)
            key.update({t.id: namespace[t.id] for node in tree.body for t in node.targets})
    return key


def _same(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a.strip().lower() == b.strip().lower()
    return isinstance(a, (int, float)) and not isinstance(a, bool) and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def leaked_answers(key: dict[str, object], released_nb) -> list[str]:
    """Where ``released_nb`` gives away an answer of ``key``: an assignment of an answer name to anything but
    ``None``, any assignment of an answer's value, or an answer cell holding more than its placeholder and the stub."""
    leaks = []
    for index, cell in enumerate(released_nb.cells):
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if not isinstance(node, ast.Assign):
                continue
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                value = ...  # an expression: it could compute the answer
            for name in names:
                if name in key and value is not None:
                    leaks.append(f"cell {index} assigns {name} = {ast.unparse(node.value)}")
            leaks += [f"cell {index} assigns the answer of {answer} ({ast.unparse(node.value)}) to {names}"
                      for answer, expected in key.items() if value is not ... and _same(value, expected)]
        if _meta(cell).get("solution"):
            rest = [line for line in cell.source.splitlines()
                    if not re.fullmatch(r"\s*(q\d+ = None\s*(#.*)?|#.*)?", line) and line.strip() != "raise NotImplementedError()"]
            named = set(re.findall(r"^(q\d+) = None", cell.source, re.M)) & key.keys()
            if named and (rest or not cell.source.rstrip().endswith(STUB)):
                leaks.append(f"answer cell {index} ({_meta(cell)['grade_id']}) holds more than its placeholder and the stub: {rest}")
    return leaks


@pytest.mark.parametrize("quiz", QUIZZES)
def test_no_quiz_answer_reaches_the_student_version(quiz):
    solution = nbformat.read(ROOT / "solutions" / quiz / f"{quiz}.ipynb", as_version=4)
    released = nbformat.read(ROOT / "quizzes" / quiz / f"{quiz}.ipynb", as_version=4)
    key = answer_key(solution)
    values = [cell for cell in solution.cells if _meta(cell).get("solution") and re.search(r"^q\d+ = None", cell.source, re.M)]
    assert len(key) == len(values) > 0, f"{quiz}: found {len(key)} answers for {len(values)} plain-value answer cells"
    leaks = leaked_answers(key, released)
    assert not leaks, f"quizzes/{quiz} gives answers away:\n" + "\n".join(leaks)


def test_the_leak_check_finds_a_leaked_answer():
    """The check above can fail: on a solution notebook passed off as a student version it finds every answer."""
    solution = nbformat.read(ROOT / "solutions" / "quiz_1" / "quiz_1.ipynb", as_version=4)
    key = answer_key(solution)
    leaks = leaked_answers(key, solution)
    assert all(any(f"assigns {name} = " in leak for leak in leaks) for name in key)
    released = nbformat.read(ROOT / "quizzes" / "quiz_1" / "quiz_1.ipynb", as_version=4)
    name, value = next(iter(key.items()))
    released.cells[-1] = nbformat.v4.new_code_cell(f"hint = {value!r}")
    assert any(f"the answer of {name}" in leak for leak in leaked_answers(key, released))


def test_every_quiz_has_its_questions_in_solutions_and_quizzes():
    assert {"quiz_1", "quiz_2", "quiz_3", "quiz_4", "final_check"} <= set(QUIZZES)
    final = nbformat.read(ROOT / "solutions" / "final_check" / "final_check.ipynb", as_version=4)
    assert sum(1 for cell in final.cells if _meta(cell).get("solution")) >= 15, "the final check has at least 15 questions"


# --- The answer-format helpers -------------------------------------------------------------------------


def test_choice_accepts_a_letter_however_written():
    from specdec_lite.course import choice

    for answer in ("b", " B ", "b)", "(b)", "B."):
        assert choice(answer, "abcd", "q1") == "b"


@pytest.mark.parametrize("answer, message", [(2, "one letter in quotes"), ("e", "not one of the options"),
                                             ("ab", "not one of the options"), (["a"], "one letter in quotes")])
def test_choice_explains_a_bad_format(answer, message):
    from specdec_lite.course import choice

    with pytest.raises(AssertionError, match=message):
        choice(answer, "abcd", "q1")


def test_unanswered_questions_raise_like_a_stub():
    from specdec_lite.course import choice, number

    with pytest.raises(NotImplementedError, match="q1 has no answer yet"):
        choice(None, "abcd", "q1")
    with pytest.raises(NotImplementedError, match="q2 has no answer yet"):
        number(None, "q2")


def test_number_accepts_any_kind_of_number():
    from specdec_lite.course import number

    for answer in (2.5, np.float32(2.5), np.array(2.5), np.array([[2.5]]), torch.tensor(2.5), torch.tensor([2.5])):
        assert number(answer, "q5") == 2.5
    assert number(3, "q5") == 3.0 and isinstance(number(np.int64(3), "q5"), float)


@pytest.mark.parametrize("answer, message", [("2.5", "remove the quotes"), (True, "should be a number"),
                                             ([2.5], "should be a number"), (np.array([1.0, 2.0]), "should be a number"),
                                             (float("nan"), "finite number")])
def test_number_explains_a_bad_format(answer, message):
    from specdec_lite.course import number

    with pytest.raises(AssertionError, match=message):
        number(answer, "q5")


# --- The round trip ------------------------------------------------------------------------------------


def _scratch_course(folder: Path, assignments: list[str]) -> Path:
    """A copy of what grading needs: the nbgrader config, the grading tools, and the solutions of ``assignments``."""
    (folder / "tools").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", folder)
    for tool in ("release.py", "grading.py", "grading_task.py", "grading_report.py", "sandbox.py"):
        shutil.copy(ROOT / "tools" / tool, folder / "tools")
    for name in assignments:
        shutil.copytree(ROOT / "solutions" / name, folder / "solutions" / name)
    return folder


def _run(course: Path, *args: str, timeout: int = 3000, **env: str) -> subprocess.CompletedProcess:
    path = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]  # nbgrader calls alembic
    return subprocess.run([sys.executable, *args], cwd=course, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PATH": path, **env})


def _submit(course: Path, student: str, assignment: str, nb, name: str | None = None) -> None:
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / (name or f"{assignment}.ipynb"))


def _released(course: Path, assignment: str):
    folder = "quizzes" if assignment.startswith(("quiz", "final")) else "lessons"
    return nbformat.read(course / folder / assignment / f"{assignment}.ipynb", as_version=4)


def _solution(course: Path, assignment: str):
    return nbformat.read(course / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)


def _other_letter(letter: str) -> str:
    return "a" if letter != "a" else "b"


@dataclass
class RoundTrip:
    course: Path
    autograde: subprocess.CompletedProcess
    feedback: subprocess.CompletedProcess
    grades: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory) -> RoundTrip:
    course = _scratch_course(tmp_path_factory.mktemp("course"), [*QUIZZES, *LESSONS])
    generated = _run(course, "tools/release.py", "--quiet")
    assert generated.returncode == 0, generated.stderr

    for assignment in [*QUIZZES, *LESSONS]:  # alice: the solutions, unchanged
        _submit(course, "alice", assignment, _solution(course, assignment))
    for assignment in ["quiz_1", LESSONS[0]]:  # bob: the released notebooks, untouched
        _submit(course, "bob", assignment, _released(course, assignment))

    key = answer_key(_solution(course, "quiz_1"))
    # carol: right answers written another way (q1 " B ", q5 within 1%, q7 a NumPy number), q2 wrong, and a q9
    # that is right on ordinary steps but returns 0 instead of nan when nothing was checked
    carol = _solution(course, "quiz_1")
    _cell(carol, "q1").source = f'q1 = " {key["q1"].upper()} "'
    _cell(carol, "q2").source = f'q2 = "{_other_letter(key["q2"])}"'
    _cell(carol, "q5").source = f"q5 = {key['q5'] * 0.995!r}"
    _cell(carol, "q7").source = f"import numpy as np\nq7 = np.float32({key['q7']!r})"
    _cell(carol, "q9").source = textwrap.dedent("""
        def acceptance_rate(steps):
            checked = accepted = 0
            for drafted, kept in steps:
                accepted += kept
                checked += min(kept + 1, drafted)
            return accepted / max(checked, 1)""").strip()
    _submit(course, "carol", "quiz_1", carol)

    # dave: answers everything right but deletes the test cell of q1
    dave = _solution(course, "quiz_1")
    dave.cells = [cell for cell in dave.cells if _meta(cell).get("grade_id") != "test_q1"]
    _submit(course, "dave", "quiz_1", dave)

    # erin: a wrong q3, whose test cell she edits into a pass, and a setup cell that disables the checks
    erin = _released(course, "quiz_1")
    for name, value in key.items():
        _cell(erin, name).source = f"{name} = {value!r}"
    _cell(erin, "q3").source = f'q3 = "{_other_letter(key["q3"])}"'
    _cell(erin, "test_q3").source = 'print("q3: answer recorded.")'
    _cell(erin, "setup").source += "\nnb.check = lambda condition, message: None"
    _cell(erin, "q9").source = _cell(_solution(course, "quiz_1"), "q9").source
    _submit(course, "erin", "quiz_1", erin)

    # frank: a notebook cut short (broken JSON); grace: the right notebook under another name
    folder = course / "submitted" / "frank" / "quiz_1"
    folder.mkdir(parents=True)
    (folder / "quiz_1.ipynb").write_text(nbformat.writes(_released(course, "quiz_1"))[:2000])
    _submit(course, "grace", "quiz_1", _solution(course, "quiz_1"), name="quiz_1 (1).ipynb")

    # in the sandbox where this machine has bubblewrap (CI always: .ci/run installs it), else without
    autograded = _run(course, "tools/grading.py", "autograde", *(["--unsandboxed"] if _sandbox_missing() else []))
    print(autograded.stdout)  # with -s: each submission's score and grading time
    return RoundTrip(course, autograded, _run(course, "tools/grading.py", "feedback"),
                     _run(course, "tools/grading.py", "grades"))


def _gradebook(course: Path):
    from nbgrader.api import Gradebook

    return Gradebook(f"sqlite:///{course / '.nbgrader' / 'gradebook.db'}", "specdec-course")


def _scores(course: Path, student: str) -> dict[str, tuple[float, float]]:
    """The student's graded assignments; none for a student the gradebook never recorded (the grading client
    writes a student only with a successful grading)."""
    from nbgrader.api import MissingEntry

    with _gradebook(course) as gb:
        try:
            return {s.assignment.name: (s.score, s.max_score) for s in gb.find_student(student).submissions}
        except MissingEntry:
            return {}


def _grade(course: Path, student: str, assignment: str, grade_id: str) -> float:
    with _gradebook(course) as gb:
        notebook = gb.find_submission_notebook(assignment, assignment, student)
        return next(g.score for g in notebook.grades if g.name == grade_id)


def _line(run: subprocess.CompletedProcess, student: str, assignment: str) -> str:
    return next(line for line in run.stdout.splitlines() if f" {student}/{assignment}:" in line)


@pytest.mark.slow
def test_round_trip_generates_every_quiz_and_the_lessons(round_trip):
    for assignment in [*QUIZZES, *LESSONS]:
        released = _released(round_trip.course, assignment)
        assert not any("BEGIN SOLUTION" in cell.source or "BEGIN HIDDEN TESTS" in cell.source for cell in released.cells)


@pytest.mark.slow
def test_round_trip_perfect_submission_gets_full_marks(round_trip):
    scores = _scores(round_trip.course, "alice")
    assert set(scores) == {*QUIZZES, *LESSONS}
    for assignment, (score, max_score) in scores.items():
        assert max_score > 0 and score == max_score, f"alice/{assignment}: {score} / {max_score}\n{round_trip.autograde.stdout}"


@pytest.mark.slow
def test_round_trip_blank_submission_gets_zero(round_trip):
    scores = _scores(round_trip.course, "bob")
    assert set(scores) == {"quiz_1", LESSONS[0]}
    assert all(score == 0 and max_score > 0 for score, max_score in scores.values()), scores


@pytest.mark.slow
def test_round_trip_some_wrong_answers_get_partial_credit(round_trip):
    course = round_trip.course
    score, max_score = _scores(course, "carol")["quiz_1"]
    assert 0 < score < max_score
    # the right answers written another way score; q2 and the edge cases of q9 do not
    assert [_grade(course, "carol", "quiz_1", g) for g in ("test_q1", "test_q5", "test_q7", "test_q9_steps")] == [1, 1, 1, 1]
    assert _grade(course, "carol", "quiz_1", "test_q2") == 0 and _grade(course, "carol", "quiz_1", "test_q9_edges") == 0
    assert score == max_score - 2


@pytest.mark.slow
def test_round_trip_deleted_test_cell_is_still_scored(round_trip):
    course = round_trip.course
    assert _scores(course, "dave")["quiz_1"] == (10, 10)
    assert _grade(course, "dave", "quiz_1", "test_q1") == 1
    autograded = nbformat.read(course / "autograded" / "dave" / "quiz_1" / "quiz_1.ipynb", as_version=4)
    assert "BEGIN HIDDEN TESTS" in _cell(autograded, "test_q1").source


@pytest.mark.slow
def test_round_trip_edited_locked_cells_are_restored(round_trip):
    course = round_trip.course
    solution = _solution(course, "quiz_1")
    autograded = nbformat.read(course / "autograded" / "erin" / "quiz_1" / "quiz_1.ipynb", as_version=4)
    for grade_id in ("test_q3", "setup"):
        assert _cell(autograded, grade_id).source == _cell(solution, grade_id).source
    assert _grade(course, "erin", "quiz_1", "test_q3") == 0
    assert _scores(course, "erin")["quiz_1"] == (9, 10)


@pytest.mark.slow
def test_round_trip_malformed_submissions_are_reported_and_others_graded(round_trip):
    run = round_trip.autograde
    assert run.returncode == 1, "autograde must exit non-zero when a submission failed"
    frank, grace = _line(run, "frank", "quiz_1"), _line(run, "grace", "quiz_1")
    assert "FAILED" in frank and "not a readable notebook" in frank and "NotJSONError" in frank
    assert "FAILED" in grace and "quiz_1 (1).ipynb is not a notebook of quiz_1" in grace and "quiz_1.ipynb is missing" in grace
    ok = [line for line in run.stdout.splitlines() if line.startswith("  ok ")]
    assert len(ok) == len(QUIZZES) + len(LESSONS) + 2 + 3, run.stdout  # alice, bob, carol, dave, erin
    assert "2 need attention" in run.stdout
    assert not (round_trip.course / "autograded" / "frank").exists()


@pytest.mark.slow
def test_round_trip_feedback_html_for_every_graded_submission(round_trip):
    course = round_trip.course
    assert round_trip.feedback.returncode == 0, round_trip.feedback.stdout + round_trip.feedback.stderr
    pages = sorted(p.relative_to(course / "feedback").as_posix() for p in (course / "feedback").rglob("*.html"))
    graded = sorted(p.relative_to(course / "autograded").as_posix() for p in (course / "autograded").rglob("*.ipynb"))
    assert pages == [p.replace(".ipynb", ".html") for p in graded] and len(pages) == len(QUIZZES) + len(LESSONS) + 2 + 3
    score, max_score = _scores(course, "carol")["quiz_1"]
    page = (course / "feedback" / "carol" / "quiz_1" / "quiz_1.html").read_text()
    assert f"(Score: {score:.1f} / {max_score:.1f})" in page and "(Score: 0.0 / 1.0)" in page


@pytest.mark.slow
def test_round_trip_grades_csv_has_a_row_per_student_and_assignment(round_trip):
    course = round_trip.course
    assert round_trip.grades.returncode == 0, round_trip.grades.stderr
    with open(course / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    students = {"alice", "bob", "carol", "dave", "erin"}
    assert len(rows) == len(students) * (len(QUIZZES) + len(LESSONS))
    assert {(r["student_id"], r["assignment"]) for r in rows} == {(s, a) for s in students for a in [*QUIZZES, *LESSONS]}
    for student in students:
        scores = _scores(course, student)
        for row in (r for r in rows if r["student_id"] == student):
            expected = scores.get(row["assignment"], (0.0, None))[0]
            assert float(row["score"]) == expected, row
    totals = {line.split(":")[0].strip(): line for line in round_trip.grades.stdout.splitlines() if line.startswith("  ")}
    alice = sum(_scores(course, "alice")[a][0] for a in [*QUIZZES, *LESSONS])
    assert f"{alice:g} / {alice:g} over {len(QUIZZES) + len(LESSONS)} submitted" in totals["alice"]


# --- The sandbox: hostile submissions ------------------------------------------------------------------


# under `make test`'s two workers, the sandbox's tests run beside the round trip, not after it
SANDBOX_GROUP = pytest.mark.xdist_group("tests/test_grading.py:sandbox")


def _sandbox_missing() -> str | None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import sandbox
    finally:
        sys.path.pop(0)
    return sandbox.missing()


def test_without_bubblewrap_autograde_stops_and_says_how_to_install_it(tmp_path):
    course = _scratch_course(tmp_path / "course", [])
    empty = tmp_path / "bin"
    empty.mkdir()
    run = subprocess.run([sys.executable, "tools/grading.py", "autograde"], cwd=course, capture_output=True, text=True,
                         env={**os.environ, "PATH": str(empty)})
    assert run.returncode != 0
    assert "apt-get install bubblewrap" in run.stderr and "--unsandboxed" in run.stderr


def _hostile(attack: str, course: Path, answer: str) -> str:
    """An answer cell that first runs ``attack`` (with COURSE and MARKER filled in), then gives the right ``answer``."""
    attack = textwrap.dedent(attack).strip().replace("MARKER", MARKER)
    return f"COURSE = {str(course)!r}\n{attack}\n{answer}"


MARKER = "specdec-hostile-marker"  # in the command line of every process an attack starts, and in the files it writes
# Each attack runs at the top of one answer cell, before the right answer; COURSE is the scratch course's folder.
ATTACKS = {
    # a forged result line and the old sandbox protocol's JSON, to the grader's stdout and stderr, from the kernel
    # and from a detached process; its q2 is wrong as well, so the truth is 9 / 10
    "forger": ("q1", r"""
        import os, subprocess, sys
        FAKE = "  ok      forger/quiz_1: 10 / 10 (FORGED)\n[{'ok': true, 'score': 10}]\n"
        os.write(1, FAKE.encode()); os.write(2, FAKE.encode()); print(FAKE, file=sys.__stdout__, flush=True)
        subprocess.Popen([sys.executable, "-c", f"import os, time\nfor _ in range(60):\n    os.write(1, {FAKE!r}.encode()); time.sleep(1)  # MARKER"],
                         start_new_session=True)
        """),
    # rewrites the gradebook (every score 0), grades.csv and another student's submission
    "vandal": ("q3", r"""
        import sqlite3
        for path in (COURSE + "/.nbgrader/gradebook.db", "../../../.nbgrader/gradebook.db"):
            try:
                connection = sqlite3.connect(path); connection.execute("update grade set auto_score = 0"); connection.commit()
            except sqlite3.Error as error:
                print("refused:", error)
        for path in (COURSE + "/grades.csv", COURSE + "/submitted/alice/quiz_1/quiz_1.ipynb", "../../alice/quiz_1/quiz_1.ipynb"):
            try:
                open(path, "w").write("vandalised")
            except OSError as error:
                print("refused:", type(error).__name__)
        """),
    # reads the answer key: the cell fails, and q4 with it (9 / 10)
    "reader": ("q4", r"""
        print(open(COURSE + "/solutions/quiz_1/quiz_1.ipynb").read())
        """),
    # a process that tries to outlive its grading and write into the course for two minutes
    "lingerer": ("q6", r"""
        import subprocess, sys
        code = f"import time\nfor _ in range(240):\n    time.sleep(0.5)\n    try:\n        open({COURSE!r} + '/MARKER', 'w')\n    except OSError:\n        pass  # MARKER"
        subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
        """),
    # a fork bomb in a detached process; the kernel counts the processes it reached, and its answers still count
    "bomber": ("q8", r"""
        import os, subprocess, sys, time
        bomb = "import os, time\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.5)  # MARKER"
        subprocess.Popen([sys.executable, "-c", bomb], start_new_session=True)
        time.sleep(4)
        print("processes:", len([p for p in os.listdir("/proc") if p.isdigit()]))
        """),
    # an endless loop: that cell times out, the rest is graded (9 / 10)
    "looper": ("q5", r"""
        while True:
            pass
        """),
    # 50 GB in one allocation: MemoryError in that cell (9 / 10)
    "hog": ("q7", r"""
        import numpy as np
        hoard = np.ones(50 * 2**30, dtype=np.uint8)
        """),
    # the network: unreachable, so q9's two test cells fail (8 / 10)
    "netter": ("q9", r"""
        import socket
        socket.create_connection(("1.1.1.1", 80), timeout=10).close()
        """),
}

def _processes_with(text: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            pass
    return [pid for pid in found if pid != os.getpid()]


def _tree_digest(folder: Path, skip: tuple[str, ...]) -> dict[str, str]:
    import hashlib

    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.relative_to(folder).parts[0] in skip}


def _quiz_1_course(folder: Path) -> Path:
    """A scratch course with quiz_1 released and recorded in its gradebook."""
    course = _scratch_course(folder, ["quiz_1"])
    assert _run(course, "tools/release.py", "--quiet").returncode == 0
    return course


def _need_sandbox() -> None:
    """Skip where bubblewrap cannot run, unless SPECDEC_REQUIRE_SANDBOX is set (CI: .ci/run installs it)."""
    reason = _sandbox_missing()
    if reason:
        if os.environ.get("SPECDEC_REQUIRE_SANDBOX"):
            pytest.fail(f"the grading sandbox must run here (SPECDEC_REQUIRE_SANDBOX is set): {reason}")
        pytest.skip(f"the grading sandbox cannot run on this machine: {reason}")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    _need_sandbox()
    course = _quiz_1_course(tmp_path_factory.mktemp("hostile") / "course")
    solution = _solution(course, "quiz_1")
    key = answer_key(solution)
    for student in ("alice", "zoe"):  # graded first and last: the others must not change their grades
        _submit(course, student, "quiz_1", solution)
    for student, (question, attack) in ATTACKS.items():
        nb = _solution(course, "quiz_1")
        _cell(nb, question).source = _hostile(attack, course, _cell(solution, question).source)
        if student == "forger":
            _cell(nb, "q2").source = f'q2 = "{_other_letter(key["q2"])}"'
        _submit(course, student, "quiz_1", nb)
    # deleted and renamed cells: the set-up cell and q1's answer cell deleted, q3's answer cell renamed
    surgeon = _solution(course, "quiz_1")
    surgeon.cells = [cell for cell in surgeon.cells if _meta(cell).get("grade_id") not in ("setup", "q1")]
    _cell(surgeon, "q3").metadata["nbgrader"]["grade_id"] = "my_q3"
    _submit(course, "surgeon", "quiz_1", surgeon)
    # ignores the interrupt that ends a timed-out cell: the whole submission fails, the others are graded
    staller = _solution(course, "quiz_1")
    _cell(staller, "q5").source = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
    _submit(course, "staller", "quiz_1", staller)

    (course / "grades.csv").write_text("the instructor's earlier export\n")
    before = _tree_digest(course, skip=("autograded", ".nbgrader"))
    # two workers: a hostile submission graded beside honest ones, at the same time, cannot touch their results.
    # The run's temporary folder is its own, so that the check of what it leaves there sees no other test's grading.
    scratch = course.parent / "tmp"
    scratch.mkdir()
    run = _run(course, "tools/grading.py", "autograde", "--workers", "2", "--memory", "3G", "--cell-timeout", "20",
               "--processes", "64", TMPDIR=str(scratch))
    print(run.stdout, run.stderr)
    after = _tree_digest(course, skip=("autograded", ".nbgrader"))
    return course, run, before, after


@pytest.mark.slow
@SANDBOX_GROUP
@pytest.mark.parametrize("student, expected", [("alice", 10), ("zoe", 10), ("forger", 9), ("vandal", 10), ("reader", 9),
                                               ("lingerer", 10), ("bomber", 10), ("looper", 9), ("hog", 9),
                                               ("netter", 8), ("surgeon", 9)])
def test_hostile_submission_gets_the_grade_its_answers_earn(hostile, student, expected):
    course, run, _, _ = hostile
    assert _scores(course, student)["quiz_1"] == (expected, 10), run.stdout
    assert f"ok      {student}/quiz_1: {expected:g} / 10" in _line(run, student, "quiz_1")


@pytest.mark.slow
@SANDBOX_GROUP
def test_hostile_console_and_gradebook_agree_and_nothing_is_forged(hostile):
    course, run, _, _ = hostile
    assert "FORGED" not in run.stdout + run.stderr and "[{" not in run.stdout + run.stderr
    assert [line for line in run.stdout.splitlines() if "forger/" in line] == [_line(run, "forger", "quiz_1")]


@pytest.mark.slow
@SANDBOX_GROUP
def test_hostile_nothing_outside_the_throwaway_folder_changes(hostile):
    course, run, before, after = hostile
    assert before == after, "the grading changed files of the course other than autograded/ and the gradebook"
    left = [*(course.parent / "tmp").glob("**/specdec-grading-*"), *(course.parent / "tmp").glob("**/specdec-sockets-*")]
    assert not list(course.rglob(MARKER)) and not left, left
    with _gradebook(course) as gb:  # the vandal set every auto_score to 0 in any gradebook it found
        assert gb.find_submission("quiz_1", "alice").score == 10


@pytest.mark.slow
@SANDBOX_GROUP
def test_hostile_processes_end_with_their_grading(hostile):
    course, run, _, _ = hostile
    assert not _processes_with(MARKER), "a student's process outlived its grading"
    bomber = nbformat.read(course / "autograded" / "bomber" / "quiz_1" / "quiz_1.ipynb", as_version=4)
    counted = "".join(out.get("text", "") for out in _cell(bomber, "q8").outputs)
    assert 0 < int(re.search(r"processes: (\d+)", counted).group(1)) <= 64 + 2


@pytest.mark.slow
@SANDBOX_GROUP
def test_hostile_failures_name_their_cause_in_the_cell(hostile):
    course, run, _, _ = hostile

    def error(student, question):
        nb = nbformat.read(course / "autograded" / student / "quiz_1" / "quiz_1.ipynb", as_version=4)
        return next(out for out in _cell(nb, question).outputs if out.output_type == "error")

    assert error("reader", "q4").ename == "FileNotFoundError"
    assert error("hog", "q7").ename == "MemoryError"
    assert error("netter", "q9").ename == "OSError" and "Network is unreachable" in error("netter", "q9").evalue
    assert error("looper", "q5").ename in ("KeyboardInterrupt", "CellTimeoutError")
    reader = nbformat.read(course / "autograded" / "reader" / "quiz_1" / "quiz_1.ipynb", as_version=4)
    assert '"cell_type"' not in str(_cell(reader, "q4").outputs), "the answer key's JSON reached the reader's output"


@pytest.mark.slow
@SANDBOX_GROUP
def test_hostile_deleted_and_renamed_cells_are_restored_and_said(hostile):
    course, run, _, _ = hostile
    line = _line(run, "surgeon", "quiz_1")
    assert "'setup' was deleted: restored" in line and "'q1' was deleted: restored" in line
    assert "names 'my_q3', which is not a cell of this assignment" in line
    assert _grade(course, "surgeon", "quiz_1", "test_q1") == 0 and _grade(course, "surgeon", "quiz_1", "test_q3") == 1


@pytest.mark.slow
@SANDBOX_GROUP
def test_hostile_a_kernel_that_ignores_interrupts_fails_alone_and_leaves_no_grade(hostile):
    course, run, _, _ = hostile
    line = _line(run, "staller", "quiz_1")
    assert "FAILED" in line and "timed out" in line  # never graded before: there is no old grade to remove
    with _gradebook(course) as gb:
        assert all(s.student.id != "staller" for s in gb.find_assignment("quiz_1").submissions)
    assert not (course / "autograded" / "staller").exists()
    assert run.returncode == 1 and "1 needs attention" in run.stdout


def _alice_right(tmp_path: Path) -> Path:
    """A quiz_1 course where alice submitted the solution (the sandbox required)."""
    _need_sandbox()
    course = _quiz_1_course(tmp_path / "course")
    _submit(course, "alice", "quiz_1", _solution(course, "quiz_1"))
    return course


@pytest.mark.slow
@SANDBOX_GROUP
def test_a_failed_regrade_removes_the_stale_grade(tmp_path):
    course = _alice_right(tmp_path)
    assert _run(course, "tools/grading.py", "autograde").returncode == 0
    assert _scores(course, "alice")["quiz_1"] == (10, 10)
    (course / "submitted" / "alice" / "quiz_1" / "quiz_1.ipynb").write_text("{ cut short")
    again = _run(course, "tools/grading.py", "autograde")
    assert again.returncode == 1 and "grade was removed from the gradebook" in _line(again, "alice", "quiz_1")
    assert "quiz_1" not in _scores(course, "alice") and not (course / "autograded" / "alice").exists()
    assert _run(course, "tools/grading.py", "grades").returncode == 0
    with open(course / "grades.csv", newline="") as handle:
        assert [float(row["score"]) for row in csv.DictReader(handle) if row["student_id"] == "alice"] == [0.0]


@pytest.mark.slow
@SANDBOX_GROUP
def test_a_temporary_folder_too_long_for_a_socket_address_still_grades(tmp_path):
    """The kernel's Unix sockets need a path of at most 107 bytes; the sandbox keeps them short whatever TMPDIR is."""
    course = _alice_right(tmp_path)
    scratch = tmp_path / ("a-temporary-folder-" + "x" * 90)
    scratch.mkdir()
    run = _run(course, "tools/grading.py", "autograde", TMPDIR=str(scratch))
    assert run.returncode == 0 and _scores(course, "alice")["quiz_1"] == (10, 10), run.stdout + run.stderr
    assert not list(scratch.glob("specdec-*")), list(scratch.iterdir())


@pytest.mark.slow
@SANDBOX_GROUP
def test_a_submission_past_the_wall_clock_limit_is_stopped_and_reported(tmp_path):
    _need_sandbox()
    course = _quiz_1_course(tmp_path / "course")
    sleeper = _solution(course, "quiz_1")
    for question in ("q1", "q2", "q3", "q4"):  # each cell well inside the cell timeout, all of them not
        _cell(sleeper, question).source = "import time\ntime.sleep(10)\n" + _cell(sleeper, question).source
    _submit(course, "sleeper", "quiz_1", sleeper)
    run = _run(course, "tools/grading.py", "autograde", "--wall-seconds", "20")
    line = _line(run, "sleeper", "quiz_1")
    assert run.returncode == 1 and "FAILED" in line and "longer than the sandbox's 20 s" in line
    assert "quiz_1" not in _scores(course, "sleeper")
