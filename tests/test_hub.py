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
  course folder cannot be read.

The answers are written into the fetched notebook by the test (as the student's own file): typing code into
cells is lesson 2's browser test's business; this one is about the hub, the exchange and the grader.
Screenshots: ``runs/browser/hub-*.png``; with ``SPECDEC_UPDATE_SCREENSHOTS=1`` the README's two also go to
``docs/screenshots/``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from lab_server import ROOT, free_port
from test_browser import CHROMIUM_ARGS, VIEWPORT, chromium_path, screenshot

sys.path.insert(0, str(ROOT / "tools"))
import grading_bench  # noqa: E402
import hub  # noqa: E402  (tools/hub.py)
import test_grading as tg  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:User-placed attribute:DeprecationWarning")]
STEP_TIMEOUT_S = 600  # one instructor step in the terminal (grading included) on a loaded 2-core machine
ACTION_TIMEOUT_MS = 180_000  # one click, or a server to start through the hub


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "the hub's test creates system users and runs JupyterHub with PAM: it must run as root"
    for tool in ("useradd", "userdel", "chpasswd", "npm", "bwrap"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (.ci/run installs what the hub needs when it can)"
    if chromium_path() is None:
        return "no system Chromium (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    """The hub, its three users and a released course: everything the steps below share."""
    if reason := _missing():
        if os.environ.get("SPECDEC_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="specdec-hub-", dir="/tmp"))
    root.chmod(0o755)
    tag = f"sd{os.getpid() % 100000}"
    users = {"instructor": f"{tag}teach", "ann": f"{tag}ann", "ben": f"{tag}ben"}
    processes = []
    try:
        built = subprocess.run(["make", "hub-env", f"HUB_ROOT={root}"], cwd=ROOT, capture_output=True, text=True)
        assert built.returncode == 0, built.stdout + built.stderr
        (root / "home").mkdir(mode=0o755)
        for name in users.values():
            subprocess.run(["useradd", "--create-home", "--home-dir", str(root / "home" / name), "--shell", "/bin/bash",
                            name], check=True)
            (root / "home" / name).chmod(0o700)
        subprocess.run(["chpasswd"], input="".join(f"{n}:pw-{n}\n" for n in users.values()), text=True, check=True)
        teacher = pwd.getpwnam(users["instructor"])
        course = tg._scratch_course(Path(teacher.pw_dir) / "specdec-course", ["00_setup", "quiz_1"])
        shutil.copy(ROOT / "tools" / "hub.py", course / "tools")
        assert tg._run(course, "tools/release.py", "--quiet").returncode == 0
        subprocess.run(["chown", "-R", f"{teacher.pw_uid}:{teacher.pw_gid}", str(course)], check=True)
        port, hub_api, proxy_api = free_port(), free_port(), free_port()
        log = root / "hub.log"
        processes.append(grading_bench.start_process(
            ["make", "hub", f"HUB_ROOT={root}", f"HUB_PORT={port}", f"INSTRUCTOR={users['instructor']}",
             f"STUDENTS={users['ann']} {users['ben']}", f"COURSE={course}"], ROOT, log,
            SPECDEC_HUB_API_PORT=str(hub_api), SPECDEC_PROXY_API_PORT=str(proxy_api), SPECDEC_HUB_MEMORY="4G"))
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{base}/hub/login", processes[0], log)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
            try:
                yield {"root": root, "base": base, "users": users, "course": course, "browser": browser, "log": log}
            finally:
                browser.close()
    finally:
        for process in processes:
            grading_bench.end_process(process)
        for name in users.values():
            _remove_user(name)
        shutil.rmtree(root, ignore_errors=True)


def _remove_user(name: str) -> None:
    """End the user's processes (their server may still be stopping), then remove the user and their home."""
    deadline = time.monotonic() + 30
    while subprocess.run(["pgrep", "-u", name], capture_output=True).returncode == 0 and time.monotonic() < deadline:
        subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
        time.sleep(0.5)
    subprocess.run(["userdel", "--remove", name], capture_output=True)
    if subprocess.run(["id", name], capture_output=True).returncode == 0:
        subprocess.run(["userdel", "--force", name], capture_output=True)


def _wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"make hub exited ({process.returncode}):\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError(f"the hub did not answer {url} in {timeout:.0f} s:\n{log.read_text()[-4000:]}")


class Person:
    """One person's browser session on the hub: their own context (cookies), their JupyterLab page."""

    def __init__(self, term: dict, role: str):
        self.term, self.name = term, term["users"][role]
        self.home = Path(pwd.getpwnam(self.name).pw_dir)
        self.context = term["browser"].new_context(viewport=VIEWPORT, device_scale_factor=1)
        self.context.set_default_timeout(ACTION_TIMEOUT_MS)
        self.page = self.context.new_page()
        self.steps = 0

    @property
    def lab(self) -> str:
        return f"{self.term['base']}/user/{self.name}/lab"

    def log_in(self) -> None:
        page = self.page
        page.goto(f"{self.term['base']}/hub/login")
        page.fill("#username_input", self.name)
        page.fill("#password_input", f"pw-{self.name}")
        page.click("#login_submit")
        page.wait_for_url(f"**/user/{self.name}/lab**", timeout=ACTION_TIMEOUT_MS)
        page.locator(".jp-LabShell").wait_for()

    def to_lab(self) -> None:
        """Back to JupyterLab if the page shows something else (Formgrader, a feedback file)."""
        if not self.page.locator(".jp-LabShell").count():
            self.page.goto(self.lab)
            self.page.locator(".jp-LabShell").wait_for()

    def menu(self, top: str, item: str) -> None:
        self.to_lab()
        self.page.locator(".lm-MenuBar-item", has_text=top).click()
        self.page.locator(".lm-Menu-item", has_text=item).first.click()

    def run(self, command: str) -> tuple[int, str]:
        """``command`` typed into a JupyterLab terminal of this person's server; its exit status and output."""
        page, self.steps = self.page, self.steps + 1
        self.to_lab()
        if not page.locator(".jp-Terminal").count():
            self.menu("File", "New")
            page.locator(".lm-Menu-item", has_text="Terminal").first.click()
        terminal = page.locator(".jp-Terminal .xterm").first
        terminal.wait_for()
        terminal.click()
        out, rc = self.home / f".step-{self.steps}.log", self.home / f".step-{self.steps}.rc"
        page.keyboard.type(f"({command}) > {out} 2>&1; echo $? > {rc}\n")
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while not (rc.exists() and rc.read_text().strip()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: `{command}` did not finish in {STEP_TIMEOUT_S} s: "
                                     f"{out.read_text() if out.exists() else ''}")
            time.sleep(1)
        return int(rc.read_text()), out.read_text()

    def assignments(self):
        """The Assignments tab (Nbgrader > Assignment List), refreshed."""
        page = self.page
        self.to_lab()
        if not page.locator("#released_assignments_list").count():
            self.menu("Nbgrader", "Assignment List")
        page.locator("#refresh_assignments_list").click()
        return page

    def row(self, listing: str, assignment: str):
        return self.page.locator(f"#{listing} .list_item", has_text=assignment).first


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
