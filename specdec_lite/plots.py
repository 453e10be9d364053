"""Figures for the benchmark and the study. Each function takes the tables the other modules return and
gives back a matplotlib :class:`~matplotlib.figure.Figure` (save it with ``fig.savefig``).

:func:`tree_step_plot` rebuilds one step's tree from its node records and draws it with
:func:`specdec_lite.tree.plot_tree`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from .study import DOMAINS, PUBLISHED_ACCEPTED_LENGTH

__all__ = [
    "speedup_plot",
    "memory_plot",
    "depth_profile_plot",
    "entropy_acceptance_plot",
    "accepted_length_plot",
    "tree_step_plot",
]


def speedup_plot(sweep: pd.DataFrame):
    """Measured speed-up (median, IQR as error bars) and the two predictions against gamma.

    ``sweep`` is :func:`specdec_lite.bench.gamma_sweep`'s table.
    """
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.errorbar(sweep["gamma"], sweep["measured_speedup"], yerr=sweep["measured_speedup_iqr"] / 2,
                marker="o", capsize=3, label="measured (median, IQR)")
    ax.plot(sweep["gamma"], sweep["predicted_speedup"], marker="s", linestyle="--",
            label="predicted: Leviathan et al., measured alpha and c")
    ax.plot(sweep["gamma"], sweep["predicted_speedup_verify"], marker="^", linestyle=":",
            label="predicted, verification at its measured cost")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set(xlabel="gamma (tokens drafted per step)", ylabel="speed-up over the target alone (x)",
           xticks=sorted(int(g) for g in sweep["gamma"].unique()))
    ax.legend(frameon=False, fontsize="small", loc="center left", bbox_to_anchor=(1.02, 0.5))  # beside, not on, the data
    fig.tight_layout()
    return fig


def memory_plot(rows: list[dict]):
    """Horizontal bars, in MiB on a log scale, of :func:`specdec_lite.memory.rows_to_dicts`'s table.

    Each bar is labelled with the item and, in brackets, how it was obtained (which also sets its colour).
    """
    frame = pd.DataFrame(rows)
    frame["row"] = frame["item"] + " [" + frame["how"] + "]"
    fig, ax = plt.subplots(figsize=(10, 0.35 * len(frame) + 1))
    sns.barplot(frame, y="row", x="mib", hue="how", dodge=False, legend=False, ax=ax)
    ax.set_xscale("log")
    ax.set(xlabel="MiB (log scale)", ylabel="")
    fig.tight_layout()
    return fig


def _domain_order(values) -> list[str]:
    return [d for d in DOMAINS if d in set(values)]


def depth_profile_plot(profile: pd.DataFrame):
    """Acceptance by depth per domain: all nodes (left) and nodes whose parent was accepted (right).

    ``profile`` is :func:`specdec_lite.study.depth_profile`'s table.
    """
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
    order = _domain_order(profile["domain"])
    for ax, column, title in ((axes[0], "acceptance_rate", "all drafted nodes"),
                              (axes[1], "conditional_rate", "nodes whose parent was accepted")):
        sns.lineplot(profile, x="depth", y=column, hue="domain", hue_order=order, marker="o", ax=ax)
        ax.set(title=title, xlabel="depth", ylabel="acceptance rate")
        ax.set_xticks(sorted(profile["depth"].unique()))
    fig.tight_layout()
    return fig


def entropy_acceptance_plot(nodes: pd.DataFrame, entropy: str = "q_entropy", bins: int = 10):
    """Acceptance rate against entropy per domain, nodes pooled into ``bins`` equal-count entropy bins."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for domain in _domain_order(nodes["domain"]):
        of_domain = nodes[nodes["domain"] == domain]
        bin_of = pd.qcut(of_domain[entropy], q=bins, duplicates="drop")
        binned = of_domain.groupby(bin_of, observed=True).agg(entropy=(entropy, "mean"), rate=("accepted", "mean"))
        ax.plot(binned["entropy"], binned["rate"], marker="o", label=domain)
    ax.set(xlabel=f"{entropy} (nats, bin mean)", ylabel="acceptance rate")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def accepted_length_plot(summary: pd.DataFrame):
    """Expected accepted length per step per domain with its bootstrap CI; published chat value as a cross.

    ``summary`` is :func:`specdec_lite.study.acceptance_by_domain`'s table.
    """
    fig, ax = plt.subplots(figsize=(5, 3.5))
    x = np.arange(len(summary))
    value = summary["expected_accepted_length"].to_numpy()
    error = np.vstack([value - summary["accepted_length_ci_low"], summary["accepted_length_ci_high"] - value])
    ax.bar(x, value, yerr=np.nan_to_num(error), capsize=4, color=sns.color_palette()[: len(summary)])
    published = [PUBLISHED_ACCEPTED_LENGTH.get(d, np.nan) for d in summary["domain"]]
    ax.scatter(x, published, marker="x", color="black", zorder=3, label="published (arXiv 2604.14682)")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xticks(x, summary["domain"])
    ax.set(ylabel="accepted drafted tokens per step")
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(0, -0.1))
    fig.tight_layout()
    return fig


def tree_step_plot(result, step: int, tokenizer=None):
    """The tree drafted at ``step`` of a :class:`~specdec_lite.results.GenerationResult`, accepted path highlighted.

    Nodes are labelled with their decoded text when a ``tokenizer`` is given, else with token ids.
    """
    from .tree import TokenTree, plot_tree

    nodes = [n for n in result.nodes if n.step == step]
    if not nodes:
        raise ValueError(f"step {step} drafted no nodes; pick one of the {len(result.steps)} steps that did.")
    labels = [repr(tokenizer.decode([n.token])) if tokenizer is not None else str(n.token) for n in nodes]
    tree = TokenTree(torch.tensor([n.parent for n in nodes]))
    ax = plot_tree(tree, labels, [i for i, n in enumerate(nodes) if n.on_path])
    ax.set_title(f"step {step}: {sum(n.on_path for n in nodes)} of {len(nodes)} drafted nodes accepted")
    ax.figure.tight_layout()
    return ax.figure
