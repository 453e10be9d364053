"""A whole term on the course's JupyterHub (``make hub``), in a real browser: Playwright and Debian's Chromium.

The test is root, as a hub that logs people in with their system passwords must be. It creates an instructor and
two students as system users (homes in a scratch folder, passwords it sets, all removed at the end), builds the
learners' environment with ``make hub-env``, starts ``make hub`` on free ports of 127.0.0.1, and then:

- the instructor logs in and, in a JupyterLab terminal through the hub, releases ``00_setup`` and ``quiz_1`` to
  nbgrader's exchange (``tools/hub.py release``);
- each student logs in and fetches both from the Assignments tab; ann answers quiz_1 fully right, ben first
  submits it blank and then answered (one letter wrong), so that his second submission must replace the first;
- the instructor collects, grades with the course's sandboxed grader (``tools/grading.py autograde``), makes
  feedback and releases it, and opens Formgrader, which lists quiz_1's two submissions;
- each student fetches feedback from the Assignments tab and reads their own score, and nothing of the other's;
- from ben's own terminal, through the hub: the exchange's inbound folder, ann's home and the instructor's
  course folder cannot be read, and a program that writes 5 GiB, past his server's 4G memory limit, is killed
  while his server goes on.

The answers are written into the fetched notebook by the test (as the student's own file): typing code into
cells is lesson 2's browser test's business; this one is about the hub, the exchange and the grader.
Screenshots: ``runs/browser/hub-*.png``; with ``SPECDEC_UPDATE_SCREENSHOTS=1`` the README's two also go to
``docs/screenshots/``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import nbformat
import pytest

from hub_session import Person, missing, running_hub
from lab_server import ROOT
from test_browser import screenshot

sys.path.insert(0, str(ROOT / "tools"))
import hub  # noqa: E402  (tools/hub.py)
import sandbox  # noqa: E402  (tools/sandbox.py: "3G" -> bytes)
import test_grading as tg  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:User-placed attribute:DeprecationWarning")
INSTRUCTORS = ROOT / "docs" / "instructors.md"
RESOURCES = ROOT / "results" / "hub_resources.json"


@pytest.fixture(scope="module")
def term():
    """The hub, its three users and a released course: everything the steps below share."""
    if reason := missing():
        if os.environ.get("SPECDEC_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    with running_hub({"instructor": "teach", "ann": "ann", "ben": "ben"}, ["00_setup", "quiz_1"]) as shared:
        yield shared


def _answered(course: Path, notebook: Path, wrong_letter: bool) -> None:
    """The fetched notebook with every answer cell as the solution's (one multiple-choice letter changed)."""
    solution = tg._solution(course, "quiz_1")
    nb = nbformat.read(notebook, as_version=4)
    key = tg.answer_key(solution)
    for cell in nb.cells:
        grade_id = tg._meta(cell).get("grade_id")
        if tg._meta(cell).get("solution") and grade_id:
            cell.source = tg._cell(solution, grade_id).source
    if wrong_letter:
        letter = next(name for name, value in key.items() if isinstance(value, str))
        tg._cell(nb, letter).source = f'{letter} = "{tg._other_letter(key[letter])}"'
    stat = notebook.stat()
    nbformat.write(nb, notebook)
    os.chown(notebook, stat.st_uid, stat.st_gid)


def _fetched(person: Person, assignment: str) -> Path:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = sorted(person.home.rglob(f"{assignment}/{assignment}.ipynb"))
        if found:
            return found[0]
        time.sleep(0.5)
    raise AssertionError(f"{person.name} fetched {assignment}, but no {assignment}/{assignment}.ipynb is in their home")


@pytest.mark.slow
def test_a_whole_term_on_the_hub(term):
    users, course = term["users"], term["course"]
    teacher = Person(term, "instructor")
    teacher.log_in()
    rc, out = teacher.run(f"cd {course} && python tools/hub.py release 00_setup quiz_1")
    assert rc == 0 and "released quiz_1" in out, out

    ann, ben = Person(term, "ann"), Person(term, "ben")
    for student in (ann, ben):
        student.log_in()
        page = student.assignments()
        for assignment in ("00_setup", "quiz_1"):
            student.row("released_assignments_list", assignment).get_by_role("button", name="Fetch").click()
            student.row("fetched_assignments_list", assignment).wait_for()
        if student is ann:
            screenshot(page, "hub-student-assignments", readme=True)
    _answered(course, _fetched(ann, "quiz_1"), wrong_letter=False)
    submit = [(ann, None), (ben, None), (ben, True)]  # ben: blank first, then answered with one wrong letter
    for student, wrong in submit:
        if wrong is not None:
            _answered(course, _fetched(student, "quiz_1"), wrong_letter=wrong)
        page = student.assignments()
        before = student.page.locator("#submitted_assignments_list .list_item").count()
        student.row("fetched_assignments_list", "quiz_1").get_by_role("button", name="Submit").click()
        deadline = time.monotonic() + 120
        while student.page.locator("#submitted_assignments_list .list_item").count() <= before:
            assert time.monotonic() < deadline, f"{student.name}'s submission never showed in the Assignments tab"
            time.sleep(1)

    for step in ("nbgrader collect quiz_1", "python tools/grading.py autograde --workers 1",
                 "python tools/grading.py feedback", "nbgrader release_feedback quiz_1"):
        rc, out = teacher.run(f"cd {course} && {step}")
        assert rc == 0, f"{step}:\n{out}"
    with tg._gradebook(course) as gb:
        scores = {s.student.id: (s.score, s.max_score) for s in gb.find_assignment("quiz_1").submissions}
    assert set(scores) == {users["ann"], users["ben"]}
    assert scores[users["ann"]][0] == scores[users["ann"]][1]
    assert 0 < scores[users["ben"]][0] < scores[users["ben"]][1], "ben's answered resubmission must replace his blank one"

    teacher.page.goto(f"{term['base']}/user/{users['instructor']}/formgrader/manage_assignments")
    listing = teacher.page.locator("tr", has_text="quiz_1").first
    listing.wait_for()
    screenshot(teacher.page, "hub-instructor-formgrader", readme=True)
    assert "2" in listing.inner_text().split(), listing.inner_text()  # two submissions

    for student, other in ((ann, ben), (ben, ann)):
        student.assignments()
        student.row("submitted_assignments_list", "quiz_1").get_by_role("button", name="Fetch Feedback").first.click()
        feedback = _wait_for_feedback(student)
        student.page.goto(f"{term['base']}/user/{student.name}/files/{feedback.relative_to(student.home)}")
        text = student.page.content()  # the feedback as the student's browser shows it, through the hub
        assert _score_line(*scores[student.name]) in text, text[:3000]
        assert _score_line(*scores[other.name]) not in text  # the two scores differ: this one is not the other's

    exchange = term["root"] / "exchange"
    for target in (exchange / hub.course_id(course) / "inbound", ann.home, course):
        rc, out = ben.run(f"ls {target}")
        assert rc != 0 and "Permission denied" in out, f"ben could list {target}: {out}"
    rc, out = ben.run(f"cat {course}/nbgrader_config.py")
    assert rc != 0 and "Permission denied" in out, out

    # a runaway program of ben's: 5 GiB written, past his server's 4G limit (the machine has more free), is killed
    # by his memory cgroup, and his server goes on
    rc, out = ben.run('python -c "big = b\'x\' * (5 * 2**30); print(len(big))"')
    assert rc == 137 and str(5 * 2**30) not in out, f"5 GiB past the 4G limit was not stopped ({rc}): {out}"
    assert ben.run("echo still here") == (0, "still here\n")


def _score_line(score: float, full: float) -> str:
    """The heading of nbgrader's feedback page for quiz_1 (its template rounds to two places)."""
    return f"quiz_1 (Score: {round(float(score), 2)} / {round(float(full), 2)})"


def _wait_for_feedback(student: Person) -> Path:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = sorted(student.home.rglob("quiz_1/feedback/*/quiz_1.html"))
        if found:
            return found[-1]
        time.sleep(1)
    raise AssertionError(f"{student.name} fetched feedback, but none arrived in their home")


# --- The sizing of docs/instructors.md, section 4, is the committed measurement (tools/hub_resources.py) -------


def _table(heading: str) -> list[list[str]]:
    """The rows of the markdown table of section 4 whose header starts with ``heading``."""
    text = INSTRUCTORS.read_text()
    lines = text[text.index("## 4."):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {heading}"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            return rows
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_per_lesson_table_is_the_committed_measurement():
    measured = json.loads(RESOURCES.read_text())["lessons"]
    assert all(row["ok"] for row in measured) and len(measured) == 10
    assert _table("Lesson") == [[row["lesson"], str(row["peak_server_mib"]), str(row["peak_process_mib"]),
                                 f"{row['cpu_seconds']:g}", f"{row['wall_seconds']:g}"] for row in measured]


def test_learners_per_machine_follow_from_the_limit_and_the_heaviest_lesson():
    measured = json.loads(RESOURCES.read_text())
    limit_mib = sandbox.size_bytes(measured["memory_limit"]) // 2**20
    heaviest = max(row["peak_server_mib"] for row in measured["lessons"])
    for machine, at_limit, heavy in _table("Machine"):
        usable = (int(machine.split()[0]) - 2) * 1024  # 2 GB for the system
        assert at_limit.split()[1] == str(usable // limit_mib), machine
        assert heavy.split()[1] == str(usable // heaviest), machine
