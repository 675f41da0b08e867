"""Figures of chapter 7: the phase diagram of short-horizon meta-optimization and its mechanism.

The diagram uses ``cividis``, a colour map readable with every common colour-vision deficiency and in grey scale;
lines use the book's schedule colours (:data:`shb_lib.plotting.SCHEDULE_COLORS`).
"""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import FormatStrFormatter, ScalarFormatter

from . import SCHEDULE_COLORS, new_figure

#: Colour map of the diagram (colour-blind safe, monotone in lightness).
CMAP = "cividis"


def _noise_label(s: float) -> str:
    return "0" if s == 0 else f"{s:g}"


def phase_diagram_figure(diagram, paper_point: dict, *, tolerance: float = 0.1, title: str):
    """One panel per preconditioning power: $\\log_{10}$ of greedy's loss at ``T`` over the best loss, against the
    noise scale (columns) and the condition number (rows); the contour where the ratio is ``1 + tolerance``
    (short horizons work on its light side) and the paper's problem (a star). Returns ``(fig, axes)``."""
    ratio = np.log10(diagram.greedy_ratio)
    vmax = max(1.0, float(np.ceil(np.nanmax(ratio))))
    fig, axes = new_figure(len(diagram.ps), 1, width=2.6 * len(diagram.ps) + 1.0, height=3.4, sharey=True)
    axes = np.atleast_1d(axes)
    ks, ss = np.arange(len(diagram.kappas)), np.arange(len(diagram.noise_scales))
    for ax, r, p in zip(axes, ratio, diagram.ps):
        im = ax.imshow(r, origin="lower", cmap=CMAP, vmin=0.0, vmax=vmax, aspect="auto")
        ax.contour(ss, ks, r, levels=[np.log10(1 + tolerance)], colors="white", linewidths=1.5)
        ax.set_title(f"p = {p:g}" + (" (none)" if p == 0 else " (exact)" if p == 1 else ""))
        ax.set_xticks(ss[::3], [_noise_label(s) for s in diagram.noise_scales[::3]])
        ax.set_xlabel("noise scale $s$ (1 = paper)")
        ax.grid(False)
        if p == paper_point["p"]:
            i_p, i_k, i_s = diagram.index(paper_point["kappa"], paper_point["noise_scale"], p)
            ax.plot(i_s, i_k, marker="*", ms=14, mfc=SCHEDULE_COLORS["greedy"], mec="black", ls="none",
                    label="paper's problem")
            ax.legend(loc="lower right", fontsize=7, frameon=True)
    axes[0].set_yticks(ks, [f"{k:g}" for k in diagram.kappas])
    axes[0].set_ylabel("condition number $h_{max}/h_{min}$")
    bar = fig.colorbar(im, ax=axes, shrink=0.9)
    bar.set_label("log10(greedy loss / best loss) at T")
    fig.suptitle(title, fontweight="bold")
    return fig, axes


def mechanism_figure(points: dict, *, title: str):
    """For each labelled point (``{label: shb_lib.nqm.phase.point_schedules(...)}``): the learning rates of the
    greedy and the optimized schedules (top) and their excess loss on the highest (solid) and lowest (dashed)
    original curvatures (bottom), over the steps. Returns ``(fig, axes)``."""
    fig, axes = new_figure(len(points), 2, width=2.9 * len(points), height=5.6, sharex=True)
    axes = np.asarray(axes).reshape(2, len(points))
    for j, (label, pt) in enumerate(points.items()):
        for kind in ("greedy", "optimized"):
            s, c = pt[kind], SCHEDULE_COLORS[kind]
            axes[0, j].plot(np.arange(len(s["lrs"])), s["lrs"], color=c, label=kind)
            t = np.arange(len(s["high"]))
            axes[1, j].plot(t, s["high"], color=c, label=f"{kind}, steepest")
            axes[1, j].plot(t, s["low"], color=c, ls="--", label=f"{kind}, flattest")
        axes[0, j].set(title=label, yscale="log")
        axes[1, j].set(yscale="log", xlabel="step $t$")
    axes[0, 0].set_ylabel("learning rate $\\alpha_t$")
    axes[1, 0].set_ylabel("excess loss on a band")
    axes[0, 0].legend(fontsize=7)
    axes[1, -1].legend(fontsize=7)
    fig.suptitle(title, fontweight="bold")
    return fig, axes


def remedies_figure(summary: dict, *, title: str):
    """Long-run loss ratio (shortest horizon's choice over the longest's) per base optimizer and batch size:
    median with quartiles (bars) and every seed (dots); 1 means short horizons lose nothing. ``summary``:
    :func:`shb_lib.remedies.summary`. Returns ``(fig, ax)``."""
    fig, ax = new_figure(1, 1, width=5.6, height=3.4)
    colors = {"sgd": SCHEDULE_COLORS["greedy"], "adam": SCHEDULE_COLORS["optimized"]}
    for i, ((name, B), m) in enumerate(summary.items()):
        s = m["loss_ratio"]
        ax.errorbar(i, s.median, yerr=[[s.median - s.q25], [s.q75 - s.median]], fmt="o", color=colors[name],
                    capsize=4, ms=7)
        ax.plot(np.full(s.n, i) + np.linspace(-0.12, 0.12, s.n), s.values, ".", color=colors[name], alpha=0.6)
    ax.axhline(1.0, color="k", lw=1, ls=":")
    ax.set_xticks(range(len(summary)), [f"{'SGD+mom.' if n == 'sgd' else 'Adam'}\nB = {B}" for n, B in summary])
    ax.set(ylabel="loss ratio, short / long horizon", title=title, yscale="log")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    return fig, ax
