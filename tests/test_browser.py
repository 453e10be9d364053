"""The lessons in a real browser: JupyterLab from `make lab`, driven by Playwright and Debian's Chromium.

What a learner does, click for click: open JupyterLab, open a lesson from the file browser, run all cells
(Run > Run All Cells), read the outputs and play with the widgets. The test checks that no cell ends in
an error (from the notebook as the browser saved it), that the lesson's widget renders and changes what
it shows when its controls are used, and that a plot image appears.

Which version of a lesson runs: the *solution* notebook, copied into a scratch copy of the course at the
lesson's path (``lessons/<assignment>/``). That is the lesson as a learner sees it after solving the
exercises. The student version cannot show the same: JupyterLab's "Run All Cells" stops at the first
error, which is an exercise stub's ``NotImplementedError`` before the lesson's plots and summary, so
everything after it would go untested in the browser. That the student versions fail only at their stubs
is checked headless, for every lesson, in ``test_notebooks.py``.

Screenshots go to ``runs/browser/`` (ignored by git) on every run. With ``SPECDEC_UPDATE_SCREENSHOTS=1`` the
test also writes the README's screenshots in ``docs/screenshots/``.

Chromium comes from the system (``apt-get install chromium``; ``.ci/run`` installs it when missing):
Playwright's own browser download is not reachable from the course's machines. Without Chromium the test
skips and says so, unless ``SPECDEC_REQUIRE_BROWSER=1`` (set by ``.ci/run``), which makes it fail instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab_server import ROOT, running_lab

pytestmark = pytest.mark.slow

ARTIFACTS = ROOT / "runs" / "browser"
README_SCREENSHOTS = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ACTION_TIMEOUT_MS = 120_000  # one click or one element to appear; the machine may be loaded
RUN_TIMEOUT_S = 600  # one lesson's "Run All Cells"; a lesson takes about 2 minutes on an idle laptop CPU


@dataclass(frozen=True)
class Lesson:
    """A lesson to open in the browser: its assignment folder and notebook name."""

    assignment: str

    @property
    def notebook(self) -> str:
        return f"{self.assignment}.ipynb"

    @property
    def source(self) -> Path:
        return ROOT / "solutions" / self.assignment / self.notebook


LESSON_0 = Lesson("00_setup")
LESSON_2 = Lesson("02_draft_and_verify")
LESSON_5 = Lesson("05_measuring_speedup")
LESSON_9 = Lesson("09_self_drafting")


def chromium_path() -> str | None:
    """The system Chromium: ``$SPECDEC_CHROMIUM`` if set, else ``chromium`` (Debian) or ``chromium-browser`` on PATH."""
    return os.environ.get("SPECDEC_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


# --- Fixtures: the browser, a scratch course, the server --------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A headless Chromium (a fresh profile) driven by Playwright; one for the module."""
    path = chromium_path()
    if path is None:
        message = ("no system Chromium found (looked for $SPECDEC_CHROMIUM, `chromium`, `chromium-browser`): "
                   "install it with `apt-get install chromium`, which .ci/run does when it can")
        if os.environ.get("SPECDEC_REQUIRE_BROWSER") == "1":
            pytest.fail(message + "; SPECDEC_REQUIRE_BROWSER=1 makes a missing browser an error")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=path, headless=True,
            args=CHROMIUM_ARGS, viewport=VIEWPORT, device_scale_factor=1,
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A scratch copy of the course's lessons/, where each tested lesson is its solution notebook."""
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "lessons", root / "lessons", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for lesson in (LESSON_2, LESSON_5, LESSON_9):
        if lesson.source.exists():
            shutil.copytree(lesson.source.parent, root / "lessons" / lesson.assignment, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return root


# Autosave off: the test saves explicitly once the run is over. With autosave on, a lesson that runs past
# its 2-minute interval on a loaded machine could save twice at once, and JupyterLab then raises its "File
# Changed ... on disk" dialog over the widgets (seen in CI, where it blocked the step-through clicks).
LAB_SETTINGS = {"@jupyterlab/docmanager-extension:plugin": {"autosave": False}}


@pytest.fixture(scope="module")
def lab(course, tmp_path_factory):
    with running_lab(tmp_path_factory.mktemp("lab"), root_dir=course, settings=LAB_SETTINGS) as server:
        yield server


# --- What a learner does ------------------------------------------------------------------------------


def open_lesson(context, lab, lesson: Lesson):
    """A new tab on JupyterLab (its own workspace, so no tab is restored), then the lesson from the file browser."""
    page = context.new_page()
    page.goto(f"{lab.base}/lab/workspaces/{lesson.assignment}/tree/lessons?token={lab.token}")
    listing = page.locator(".jp-DirListing-content")
    listing.get_by_text(lesson.assignment, exact=True).dblclick()
    listing.get_by_text(lesson.notebook, exact=True).dblclick()
    panel = page.locator(".jp-NotebookPanel:visible")
    panel.locator(".jp-Cell").first.wait_for()
    wait_for_kernel(page, lab, f"lessons/{lesson.assignment}/{lesson.notebook}")
    return page, panel


def wait_for_kernel(page, lab, path: str) -> None:
    """Wait until the notebook's kernel runs and is idle, answering JupyterLab's "Select Kernel" dialog if it asks.

    On a loaded machine JupyterLab may open the notebook before it has the list of kernels, and then asks
    which kernel to start (the notebook's own, Python 3, is preselected): a learner clicks "Select".
    The kernel's state comes from the server (its sessions API), which knows when it has really started.
    """
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    deadline = time.monotonic() + ACTION_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        if dialog.count() and dialog.is_visible():
            dialog.get_by_role("button", name="Select", exact=True).click()
        with urllib.request.urlopen(f"{lab.base}/api/sessions?token={lab.token}", timeout=30) as response:
            sessions = json.load(response)
        states = [s["kernel"]["execution_state"] for s in sessions if s.get("path") == path and s.get("kernel")]
        if states == ["idle"] and not dialog.count():
            return
        time.sleep(1)
    screenshot(page, "kernel-not-ready")
    raise AssertionError(f"the kernel of {path} was not running and idle after {ACTION_TIMEOUT_MS / 1000:.0f} s")


def dismiss_news_prompt(page) -> None:
    """JupyterLab's first start asks whether to fetch Jupyter news; a learner answers No (and screenshots stay clean)."""
    no = page.locator(".Toastify__toast").get_by_role("button", name="No")
    if no.count():
        no.first.click()


def run_all_cells(page, panel) -> str:
    """Run > Run All Cells; wait until the kernel has worked through them. Returns JupyterLab's own summary.

    The toolbar's execution indicator stays "busy" while any cell of the run is still queued, and once it
    is "idle" again its tooltip reads "Executed N cells, Elapsed time: T seconds" (before a run it has no
    such line). Run All stops at the first error, which ends the run too.
    """
    indicator = panel.locator(".jp-Notebook-ExecutionIndicator")
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    try:
        page.wait_for_function(
            "el => el.dataset.status === 'idle' && el.textContent.includes('Executed')",
            arg=indicator.element_handle(), timeout=RUN_TIMEOUT_S * 1000, polling=1000,
        )
    except Exception:
        screenshot(page, "run-all-timed-out")
        raise
    return "; ".join(" ".join(span.split()) for span in indicator.locator("span").all_text_contents())


def save_and_read(page, panel, path: Path) -> dict:
    """File > Save Notebook, then the notebook as the browser wrote it."""
    before = path.stat().st_mtime_ns
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^File$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Save Notebook$")).click()
    page.locator(".lm-TabBar-tab.jp-mod-current:not(.jp-mod-dirty)").wait_for()
    deadline = time.monotonic() + 60
    while path.stat().st_mtime_ns == before and time.monotonic() < deadline:
        time.sleep(0.5)
    return json.loads(path.read_text())


def cell_errors(notebook: dict) -> list[str]:
    """Every error output, and every code cell that never ran (Run All stops at the first error)."""
    problems = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        for out in cell.get("outputs", []):
            if out["output_type"] == "error":
                trace = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(out.get("traceback", [])))[-1500:]
                problems.append(f"cell {index}: {out['ename']}: {out['evalue']}\n{trace}")
        if cell.get("execution_count") is None:
            problems.append(f"cell {index} did not run")
    return problems


def scroll_to(panel, selector: str):
    """Scroll the notebook from its top until an element matching ``selector`` is shown, as a reader would.

    JupyterLab attaches only the cells near the viewport to the page, so the element may not exist until
    the notebook is scrolled to it. Returns its locator; fails when the end of the notebook is reached first.
    """
    scroller = panel.locator(".jp-WindowedPanel-outer")
    scroller.evaluate("el => { el.scrollTop = 0; }")
    target = panel.locator(selector).first
    while True:
        if target.count() and target.is_visible():
            target.scroll_into_view_if_needed()
            return target
        moved = scroller.evaluate(
            "el => { const top = el.scrollTop; el.scrollTop = top + 0.7 * el.clientHeight; return el.scrollTop > top; }"
        )
        panel.page.wait_for_timeout(300)
        if not moved and not (target.count() and target.is_visible()):
            raise AssertionError(f"scrolled through the whole notebook and found no {selector!r}")


def screenshot(page, name: str, target=None, *, readme: bool = False) -> Path:
    """Save a screenshot of ``target`` (or the whole window) as runs/browser/<name>.png; one the README shows
    (``readme``) also goes to docs/screenshots/ when SPECDEC_UPDATE_SCREENSHOTS=1. Returns the artifact's path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    (target or page).screenshot(path=str(path))
    if readme and os.environ.get("SPECDEC_UPDATE_SCREENSHOTS") == "1":
        README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, README_SCREENSHOTS / path.name)
    return path


def run_lesson(browser, lab, course: Path, lesson: Lesson):
    """Open ``lesson`` from the file browser, run all its cells, and check that none ended in an error."""
    page, panel = open_lesson(browser, lab, lesson)
    dismiss_news_prompt(page)
    summary = run_all_cells(page, panel)
    saved = save_and_read(page, panel, course / "lessons" / lesson.assignment / lesson.notebook)
    problems = cell_errors(saved)
    if problems:
        screenshot(page, f"{lesson.assignment}-failed")
    assert not problems, f"{lesson.notebook} in the browser ({summary}):\n\n" + "\n\n".join(problems)
    dismiss_news_prompt(page)
    print(f"{lesson.notebook} in JupyterLab: {summary}")
    return page, panel


def check_plot(page, panel, name: str, *, readme: bool = False) -> None:
    """A plot is shown: a PNG image in an output, which the browser decoded."""
    image = scroll_to(panel, ".jp-OutputArea-output img[src^='data:image/png']")
    assert image.evaluate("img => img.complete && img.naturalWidth > 100 && img.naturalHeight > 100")
    screenshot(page, name, image, readme=readme)


# --- The lessons -------------------------------------------------------------------------------------------


def test_lesson_2_step_through_widget_and_plot_in_jupyterlab(browser, lab, course):
    page, panel = run_lesson(browser, lab, course, LESSON_2)

    widget = scroll_to(panel, ".specdec-step-through")
    view = widget.locator(".specdec-step-view")
    step = view.locator("[data-step]")
    readout = widget.locator(".specdec-step-slider .widget-readout")
    previous, following = widget.locator("button.specdec-step-prev"), widget.locator("button.specdec-step-next")
    assert step.get_attribute("data-step") == "0" and readout.inner_text().strip() == "1"
    assert previous.is_disabled() and following.is_enabled()
    first_page = view.inner_text()
    assert "Step 1 of" in first_page and view.locator(".specdec-target").count() >= 1

    following.click()
    view.locator("[data-step='1']").wait_for()
    following.click()
    view.locator("[data-step='2']").wait_for()
    assert readout.inner_text().strip() == "3" and "Step 3 of" in view.inner_text()
    assert view.inner_text() != first_page and previous.is_enabled()
    previous.click()
    view.locator("[data-step='1']").wait_for()
    assert readout.inner_text().strip() == "2"

    # on to a step where the target accepted some guesses and rejected others: the picture worth a screenshot
    for index in range(2, 12):
        following.click()
        view.locator(f"[data-step='{index}']").wait_for()
        if view.locator(".specdec-accepted").count() and view.locator(".specdec-rejected").count():
            break
    assert view.locator(".specdec-accepted").count(), "no step in the first 12 shows an accepted guess"
    screenshot(page, "lesson-02-step-through", widget, readme=True)
    screenshot(page, "lesson-02-jupyterlab", readme=True)
    last = move_slider(page, widget.locator(".specdec-step-slider"))  # the slider's far end: the last step
    view.locator(f"[data-step='{last - 1:g}']").wait_for()
    assert following.is_disabled()

    check_plot(page, panel, "lesson-02-plot", readme=True)
    page.close()


@pytest.mark.skipif(not LESSON_5.source.exists(), reason=f"{LESSON_5.source.relative_to(ROOT)} is not written yet")
def test_lesson_5_speedup_explorer_in_jupyterlab(browser, lab, course):
    page, panel = run_lesson(browser, lab, course, LESSON_5)

    explorer = scroll_to(panel, ".specdec-speedup")
    view = explorer.locator(".specdec-speedup-view")
    shown = view.locator(".specdec-speedup-page")
    assert shown.locator("img[src^='data:image/png']").count() == 1
    for name, attribute in (("gamma", "data-gamma"), ("temperature", "data-temperature")):
        before, image = shown.get_attribute(attribute), shown.locator("img").get_attribute("src")
        value = move_slider(page, explorer.locator(f".specdec-speedup-{name}"))
        view.locator(f".specdec-speedup-page:not([{attribute}='{before}'])").wait_for()
        assert float(shown.get_attribute(attribute)) == pytest.approx(value), f"the {name} slider shows {value}"
        assert shown.locator("img").get_attribute("src") != image, f"moving {name} left the plot as it was"
    screenshot(page, "lesson-05-speedup-explorer", explorer, readme=True)

    check_plot(page, panel, "lesson-05-plot")
    page.close()


def test_lesson_9_runs_in_jupyterlab_with_its_plots(browser, lab, course):
    """The newest lesson, as a learner meets it: every cell runs, and each of its plots reaches the page."""
    page, panel = run_lesson(browser, lab, course, LESSON_9)
    saved = json.loads((course / "lessons" / LESSON_9.assignment / LESSON_9.notebook).read_text())
    plots = [out for cell in saved["cells"] for out in cell.get("outputs", []) if "image/png" in out.get("data", {})]
    source = json.loads(LESSON_9.source.read_text())
    assert len(plots) == sum("plt.show()" in "".join(cell["source"]) for cell in source["cells"]) >= 3
    check_plot(page, panel, "lesson-09-plot")
    page.close()


def test_nbgrader_validate_and_formgrader_in_jupyterlab(browser, lab, course, tmp_path):
    """nbgrader's extension in `make lab`: the Validate button runs a lesson as nbgrader grades it and shows what
    failed (the student version of lesson 0, whose stubs raise ``NotImplementedError``), and Formgrader lists the
    course's assignments. Formgrader needs the course folder as JupyterLab's folder, so it is opened on a second
    `make lab` exactly as an instructor starts it, on the checkout (it reads the checkout's gradebook,
    ``.nbgrader/gradebook.db``, creating an empty one if there is none, and grades nothing). The Assignments tab
    needs an exchange: tests/test_hub.py fetches and submits from it on the hub."""
    page, panel = open_lesson(browser, lab, LESSON_0)
    dismiss_news_prompt(page)
    panel.locator(".validate-button button, .validate-button jp-button").first.click()
    dialog = page.locator(".jp-Dialog", has_text="Validation Results")
    dialog.wait_for(timeout=RUN_TIMEOUT_S * 1000)
    text = dialog.inner_text()
    screenshot(page, "nbgrader-validate")
    assert "NotImplementedError" in text and "prompt_length" in text, text[:3000]
    dialog.get_by_role("button", name="Ok").click()
    page.close()

    with running_lab(tmp_path / "instructor") as instructor:
        page = browser.new_page()
        page.goto(f"{instructor.base}/formgrader/manage_assignments?token={instructor.token}")
        for assignment in (LESSON_0.assignment, "quiz_1"):  # a lesson and a quiz, from solutions/
            page.locator("tr", has_text=assignment).first.wait_for()
        screenshot(page, "nbgrader-formgrader")
        assert not page.get_by_text("the formgrader encountered an error").count()
        page.close()


def move_slider(page, slider) -> float:
    """Set an ipywidgets slider to the other end of its range by typing into its readout, as a learner can.

    The readout next to a slider is editable: click it, type a value, press Enter. The range comes from
    the slider handle's ARIA attributes. Returns the value typed.
    """
    handle = slider.locator(".noUi-handle")
    low, high, now = (float(handle.get_attribute(f"aria-value{k}")) for k in ("min", "max", "now"))
    value = low if now == high else high
    readout = slider.locator(".widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(f"{value:g}")
    page.keyboard.press("Enter")
    return value
