"""What a cell shows, as pure functions of measured numbers: prose, coloured tokens, a step of a generation,
a page of the speed-up explorer, and number formats.

The widgets of :mod:`specdec_lite.course.widgets` are built on these, so that tests can check the page a
widget shows without a browser.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np

from .committed import check_speedup_grid

__all__ = ["show_markdown", "token_html", "step_html", "format_pvalue", "ranked", "format_bytes", "speedup_page"]


ACCEPTED_COLOUR = "#b7e4b0"


REJECTED_COLOUR = "#f4b6b6"


TARGET_COLOUR = "#b3d1f5"


def show_markdown(text: str) -> None:
    """Render ``text`` as Markdown in the notebook (use it for prose built from measured numbers)."""
    from IPython.display import Markdown, display

    display(Markdown(text))


def _visible(piece: str) -> str:
    """One token's text, HTML-escaped, with newlines shown as a return arrow so that they stay visible."""
    return html.escape(piece).replace("\n", "\u21b5")


def token_html(pieces: list[str], css_class: str = "", colour: str | None = None, title: str | None = None) -> str:
    """Each text piece as one ``<span>`` (with a thin border, so that token boundaries show)."""
    style = "border:1px solid #999;border-radius:3px;padding:0 1px;margin:0 1px;"
    if colour:
        style += f"background:{colour};color:#000;"
    extra = f' title="{html.escape(title)}"' if title else ""
    return "".join(f'<span class="{css_class}" style="{style}"{extra}>{_visible(p)}</span>' for p in pieces)


def _step_parts(result, index: int) -> dict:
    """Tokens of step ``index`` of a chain generation: before it, accepted, rejected, and the target's own."""
    start = sum(s.emitted for s in result.steps[:index])
    step = result.steps[index]
    emitted = result.tokens[start : start + step.emitted].tolist()
    nodes = sorted((n for n in result.nodes if n.step == step.step), key=lambda n: n.depth)
    kept = min(step.accepted, len(emitted))
    return {
        "step": step,
        "before": result.tokens[:start].tolist(),
        "accepted": nodes[:kept],
        "rejected": nodes[kept:],
        "own": emitted[kept:],
    }


def step_html(result, tokenizer, index: int, *, context_chars: int = 400) -> str:
    """One step of a chain speculative generation as HTML.

    Shows the text generated before the step (grey, its last ``context_chars`` characters), then the
    drafted tokens the target accepted (green), the drafted tokens it rejected (red, struck through: the
    first one failed the check, the ones after it were discarded with it), and the target's own token
    (blue). A table gives, for every drafted token, the draft's probability q(x) and the target's p(x).
    """
    if not 0 <= index < len(result.steps):
        raise ValueError(f"step {index} does not exist: this generation has steps 0 to {len(result.steps) - 1}.")
    parts = _step_parts(result, index)
    step = parts["step"]
    before = tokenizer.decode(parts["before"])
    if len(before) > context_chars:
        before = "\u2026" + before[-context_chars:]

    def pieces(tokens):
        return [tokenizer.decode([t]) for t in tokens]

    text = (
        f'<span class="specdec-context" style="color:#666">{_visible(before)}</span>'
        + token_html(pieces([n.token for n in parts["accepted"]]), "specdec-accepted", ACCEPTED_COLOUR, "accepted draft")
        + "".join(
            token_html(pieces([n.token]), "specdec-rejected", REJECTED_COLOUR, "rejected draft").replace(
                "style=\"", 'style="text-decoration:line-through;', 1)
            for n in parts["rejected"]
        )
        + token_html(pieces(parts["own"]), "specdec-target", TARGET_COLOUR, "the target's own token")
    )
    own = len(parts["own"])
    summary = (
        f"<b>Step {index + 1} of {len(result.steps)}</b>: the draft proposed {step.drafted} token"
        f"{'s' if step.drafted != 1 else ''}, the target accepted {step.accepted} and added {own} of its own "
        f"({step.emitted} new token{'s' if step.emitted != 1 else ''} for one target call)."
    )
    rows = "".join(
        f"<tr><td>{i + 1}</td><td>{token_html(pieces([n.token]))}</td><td>{n.q_prob:.2f}</td>"
        f"<td>{n.p_prob:.2f}</td><td>{'accepted' if n.accepted else 'rejected'}</td></tr>"
        for i, n in enumerate(parts["accepted"] + parts["rejected"])
    )
    table = (
        '<table class="specdec-step-table" style="margin-top:6px;font-size:90%;border-collapse:separate;'
        'border-spacing:12px 2px">'
        "<tr><th>#</th><th>drafted token</th><th>q(x), draft</th><th>p(x), target</th><th>verdict</th></tr>"
        f"{rows}</table>"
        if rows
        else ""
    )
    legend = (
        '<div style="margin-top:6px;font-size:85%">'
        + token_html(["accepted draft"], colour=ACCEPTED_COLOUR)
        + token_html(["rejected draft"], colour=REJECTED_COLOUR)
        + token_html(["target's own token"], colour=TARGET_COLOUR)
        + "</div>"
    )
    return (
        f'<div class="specdec-step" data-step="{index}">'
        f"<div>{summary}</div>"
        f'<div style="white-space:pre-wrap;font-family:monospace;line-height:1.8;margin-top:6px">{text}</div>'
        f"{table}{legend}</div>"
    )


def format_pvalue(pvalue: float) -> str:
    """A p-value for prose and tables: two significant digits, or "< 1e-300" where it underflows to 0."""
    return "< 1e-300" if pvalue < 1e-300 else f"{pvalue:.2g}"


def ranked(values, digits: int = 3) -> str:
    """``{"code": 0.7, "chat": 0.6}`` (or a Series) as ``"code 0.700 > chat 0.600"``, highest first; ``=`` for ties."""
    items = sorted(dict(values).items(), key=lambda item: -item[1])
    text = [f"{items[0][0]} {items[0][1]:.{digits}f}"] if items else []
    for (_, before), (name, value) in zip(items, items[1:]):
        text.append(f"{'=' if f'{value:.{digits}f}' == f'{before:.{digits}f}' else '>'} {name} {value:.{digits}f}")
    return " ".join(text)


def format_bytes(n: float) -> str:
    """A byte count in binary units with three significant digits: ``"512 B"``, ``"5.34 MiB"``, ``"12.6 GiB"``."""
    value, unit = float(n), "B"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.0f} {unit}" if unit == "B" else f"{value:.3g} {unit}"


def _speedup_cell(grid, gamma: int, temperature: float):
    """The grid's row at (``gamma``, ``temperature``), or None when that pair was not measured."""
    rows = grid[(grid["gamma"] == gamma) & np.isclose(grid["temperature"], temperature)]
    return None if rows.empty else rows.iloc[0]


def _speedup_figure_png(grid, gamma: int, temperature: float, title: str) -> str:
    """Speed-up and tokens per target call against gamma at ``temperature``, as base64 PNG (no pyplot state)."""
    from matplotlib.figure import Figure

    rows = grid[np.isclose(grid["temperature"], temperature)].sort_values("gamma")
    fig = Figure(figsize=(9.5, 4.4), dpi=80)
    speed, tokens = fig.subplots(1, 2)
    speed.errorbar(rows["gamma"], rows["measured_speedup"], yerr=rows["measured_speedup_iqr"] / 2, marker="o",
                   capsize=3, color="tab:blue", label="measured (median, IQR)")
    speed.plot(rows["gamma"], rows["predicted_speedup"], "s--", color="tab:orange",
               label="predicted, Leviathan et al.")
    speed.plot(rows["gamma"], rows["predicted_speedup_verify"], "^:", color="tab:green",
               label="predicted, verification at its measured cost")
    speed.axhline(1.0, color="grey", linewidth=0.8)
    speed.set(title="Speed-up over the target alone", xlabel="gamma (tokens drafted per step)",
              ylabel="speed-up (x, wall time)")
    tokens.plot(rows["gamma"], rows["measured_tokens_per_call"], "o-", color="tab:blue", label="measured")
    tokens.plot(rows["gamma"], rows["predicted_tokens_per_call"], "s--", color="tab:orange",
                label="(1 - alpha^(gamma+1)) / (1 - alpha)")
    tokens.plot(rows["gamma"], rows["gamma"] + 1, ":", color="grey", label="gamma + 1 (every draft accepted)")
    tokens.set(title="Tokens per target call", xlabel="gamma (tokens drafted per step)",
               ylabel="tokens emitted per target call")
    for ax in (speed, tokens):
        ax.axvline(gamma, color="black", linewidth=1, alpha=0.4)
        ax.set_xticks(rows["gamma"].tolist())
    # below the axes: inside, the speed-up legend sat on the measured points
    speed.legend(frameon=False, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.2))
    tokens.legend(frameon=False, fontsize="small")
    fig.suptitle(f"{title}temperature {temperature:g}, gamma {gamma} marked", fontsize="medium")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def speedup_page(grid, gamma: int, temperature: float, *, title: str = "") -> str:
    """HTML for one (``gamma``, ``temperature``) of a measured speed-up grid: a sentence, a plot and a table.

    ``grid`` has one row per (temperature, gamma), with the columns of
    :func:`specdec_lite.bench.gamma_sweep` plus ``temperature`` and ``c`` (``SPEEDUP_COLUMNS``). The plot
    shows every measured gamma at ``temperature`` with ``gamma`` marked; the sentence and the table give
    that cell's figures. The page is a ``div`` with the class ``specdec-speedup-page`` and the attributes
    ``data-gamma`` and ``data-temperature``.
    """
    check_speedup_grid(grid)
    row = _speedup_cell(grid, gamma, temperature)
    if row is None:
        text = (f"<b>gamma = {gamma}, temperature {temperature:g}</b>: not measured. The grid holds gamma "
                f"{', '.join(str(g) for g in sorted(grid['gamma'].unique()))} at temperatures "
                f"{', '.join(f'{t:g}' for t in sorted(grid['temperature'].unique()))}.")
        table = ""
    else:
        text = (
            f"<b>gamma = {gamma}, temperature {temperature:g}</b>: the target accepted a drafted token with "
            f"probability alpha = {row['alpha']:.2f}, and one target call emitted {row['measured_tokens_per_call']:.2f} "
            f"tokens on average ({row['predicted_tokens_per_call']:.2f} predicted). Measured speed-up "
            f"<b>{row['measured_speedup']:.2f}x</b> (IQR {row['measured_speedup_iqr']:.2f}); Leviathan et al. predict "
            f"{row['predicted_speedup']:.2f}x with c = {row['c']:.3f}, and {row['predicted_speedup_verify']:.2f}x "
            f"once the verification pass is priced at its measured cost ({row['verify_ratio']:.2f} target steps for "
            f"{gamma + 1} tokens)."
        )
        cells = [("alpha", f"{row['alpha']:.3f}"), ("c", f"{row['c']:.3f}"),
                 ("verification pass, target steps", f"{row['verify_ratio']:.2f}"),
                 ("tokens per target call, measured", f"{row['measured_tokens_per_call']:.2f}"),
                 ("tokens per target call, predicted", f"{row['predicted_tokens_per_call']:.2f}"),
                 ("speed-up, measured", f"{row['measured_speedup']:.2f}x"),
                 ("speed-up, predicted (Leviathan et al.)", f"{row['predicted_speedup']:.2f}x"),
                 ("speed-up, predicted (verification priced)", f"{row['predicted_speedup_verify']:.2f}x")]
        table = ('<table class="specdec-speedup-table" style="font-size:90%">'
                 + "".join(f"<tr><td>{name}</td><td>{value}</td></tr>" for name, value in cells) + "</table>")
    image = _speedup_figure_png(grid, gamma, temperature, f"{title}, " if title else "")
    return (
        f'<div class="specdec-speedup-page" data-gamma="{gamma}" data-temperature="{temperature:g}">'
        f"<div>{text}</div>"
        f'<img src="data:image/png;base64,{image}" alt="speed-up against gamma at temperature {temperature:g}" '
        'style="max-width:100%"/>'
        f"{table}</div>"
    )
