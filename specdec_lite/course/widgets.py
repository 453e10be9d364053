"""The interactive views of the lessons, built on the pure pages of :mod:`specdec_lite.course.displays`.

Their controls carry stable descriptions and CSS classes for the browser tests; each function's docstring
lists them.
"""

from __future__ import annotations

import numpy as np

from .committed import check_speedup_grid
from .displays import speedup_page, step_html

__all__ = ["step_through", "speedup_explorer"]


def step_through(result, tokenizer, start: int = 0):
    """An ipywidgets control that steps through ``result`` (a chain speculative generation) one step at a time.

    "Previous step" / "Next step" buttons and a "Step" slider choose the step; the view below shows
    :func:`step_html` for it. Returns the widget box (the last expression of a cell displays it).
    """
    import ipywidgets as widgets

    n = len(result.steps)
    if n == 0:
        raise ValueError("this generation has no steps to show.")
    pages = [step_html(result, tokenizer, i) for i in range(n)]
    start = min(max(start, 0), n - 1)
    slider = widgets.IntSlider(value=start + 1, min=1, max=n, description="Step", continuous_update=True)
    previous = widgets.Button(description="Previous step", icon="arrow-left", tooltip="show the previous step")
    following = widgets.Button(description="Next step", icon="arrow-right", tooltip="show the next step")
    view = widgets.HTML(value=pages[start])
    slider.add_class("specdec-step-slider")
    previous.add_class("specdec-step-prev")
    following.add_class("specdec-step-next")
    view.add_class("specdec-step-view")

    def refresh(change=None):
        index = slider.value - 1
        view.value = pages[index]
        previous.disabled = index == 0
        following.disabled = index == n - 1

    def go(delta):
        slider.value = min(max(slider.value + delta, 1), n)

    slider.observe(refresh, names="value")
    previous.on_click(lambda _: go(-1))
    following.on_click(lambda _: go(+1))
    refresh()
    box = widgets.VBox([widgets.HBox([previous, slider, following]), view])
    box.add_class("specdec-step-through")
    return box


def speedup_explorer(grid, gamma: int = 4, temperature: float | None = None, *, title: str = ""):
    """An ipywidgets control over a measured speed-up grid: a "gamma" and a "temperature" slider and the view.

    The view shows :func:`speedup_page` for the sliders' values (pages are rendered when first shown,
    then kept). Returns the widget box (the last expression of a cell displays it).
    """
    import ipywidgets as widgets

    check_speedup_grid(grid)
    gammas = sorted(int(g) for g in grid["gamma"].unique())
    temperatures = sorted(float(t) for t in grid["temperature"].unique())
    steps = np.diff(temperatures)
    if len(steps) and not np.allclose(steps, steps[0]):
        raise ValueError(f"the grid's temperatures {temperatures} must be evenly spaced for a slider.")
    step = float(steps[0]) if len(steps) else 0.1
    label = {"description_width": "initial"}  # the whole word "temperature", not cut to fit a fixed width
    start_t = temperatures[0] if temperature is None else min(temperatures, key=lambda t: abs(t - temperature))
    gamma_slider = widgets.IntSlider(value=min(max(gamma, gammas[0]), gammas[-1]), min=gammas[0], max=gammas[-1],
                                     step=1, description="gamma", continuous_update=False, style=label)
    temperature_slider = widgets.FloatSlider(value=start_t, min=temperatures[0], max=temperatures[-1], step=step,
                                             description="temperature", readout_format=".2f",
                                             continuous_update=False, style=label)
    view = widgets.HTML()
    gamma_slider.add_class("specdec-speedup-gamma")
    temperature_slider.add_class("specdec-speedup-temperature")
    view.add_class("specdec-speedup-view")
    pages: dict[tuple[int, float], str] = {}

    def refresh(change=None):
        nearest = min(temperatures, key=lambda t: abs(t - temperature_slider.value))
        key = (gamma_slider.value, nearest)
        if key not in pages:
            pages[key] = speedup_page(grid, *key, title=title)
        view.value = pages[key]

    gamma_slider.observe(refresh, names="value")
    temperature_slider.observe(refresh, names="value")
    refresh()
    box = widgets.VBox([widgets.HBox([gamma_slider, temperature_slider]), view])
    box.add_class("specdec-speedup")
    return box
