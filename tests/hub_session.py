"""A JupyterHub of the course (``make hub``) driven as its users would, in Playwright and Debian's Chromium: what
``tests/test_hub.py`` and ``tools/hub_resources.py`` share.

:func:`running_hub` (as root) creates the system users (homes in a scratch folder, passwords it sets, all removed
at the end), builds the learners' environment with ``make hub-env``, makes the instructor's copy of the course with
the given assignments released, starts ``make hub`` on free ports of 127.0.0.1 and a headless Chromium.
:class:`Person` is one user's browser session: log in, menus, a terminal, the Assignments tab.
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
from contextlib import contextmanager
from pathlib import Path

from lab_server import ROOT, free_port, log_tail
from test_browser import CHROMIUM_ARGS, VIEWPORT, chromium_path

sys.path.insert(0, str(ROOT / "tools"))
import grading_bench  # noqa: E402
import test_grading as tg  # noqa: E402

STEP_TIMEOUT_S = 600  # one instructor step in the terminal (grading included) on a loaded 2-core machine
ACTION_TIMEOUT_MS = 180_000  # one click, or a server to start through the hub


def missing() -> str | None:
    """None when this machine can run a hub as :func:`running_hub` does, else why not."""
    if os.geteuid() != 0:
        return "the hub's test creates system users and runs JupyterHub with PAM: it must run as root"
    for tool in ("useradd", "userdel", "chpasswd", "npm", "bwrap"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (.ci/run installs what the hub needs when it can)"
    if chromium_path() is None:
        return "no system Chromium (apt-get install chromium)"
    return None


@contextmanager
def running_hub(roles: dict[str, str], assignments: list[str], memory: str = "4G"):
    """The hub, its users (``roles``: role -> a short name, "instructor" among them) and the instructor's course
    holding ``assignments``, generated: everything a run on the hub shares, as a dict."""
    root = Path(tempfile.mkdtemp(prefix="specdec-hub-", dir="/tmp"))
    root.chmod(0o755)
    tag = f"sd{os.getpid() % 100000}"
    users = {role: f"{tag}{name}" for role, name in roles.items()}
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
        course = tg._scratch_course(Path(teacher.pw_dir) / "specdec-course", assignments)
        shutil.copy(ROOT / "tools" / "hub.py", course / "tools")
        assert tg._run(course, "tools/release.py", "--quiet").returncode == 0
        subprocess.run(["chown", "-R", f"{teacher.pw_uid}:{teacher.pw_gid}", str(course)], check=True)
        port, hub_api, proxy_api = free_port(), free_port(), free_port()
        log = root / "hub.log"
        students = " ".join(name for role, name in users.items() if role != "instructor")
        processes.append(grading_bench.start_process(
            ["make", "hub", f"HUB_ROOT={root}", f"HUB_PORT={port}", f"INSTRUCTOR={users['instructor']}",
             f"STUDENTS={students}", f"COURSE={course}"], ROOT, log,
            SPECDEC_HUB_API_PORT=str(hub_api), SPECDEC_PROXY_API_PORT=str(proxy_api), SPECDEC_HUB_MEMORY=memory))
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
            raise AssertionError(f"make hub exited ({process.returncode}):\n{log_tail(log, 4000)}")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError(f"the hub did not answer {url} in {timeout:.0f} s:\n{log_tail(log, 4000)}")


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

    def run(self, command: str, timeout: float = STEP_TIMEOUT_S) -> tuple[int, str]:
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
        deadline = time.monotonic() + timeout
        while not (rc.exists() and rc.read_text().strip()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: `{command}` did not finish in {timeout:.0f} s: "
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
