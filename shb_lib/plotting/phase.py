"""Figures of chapter 7: the phase diagram of short-horizon meta-optimization and its mechanism.

The diagram uses ``cividis``, a colour map readable with every common colour-vision deficiency and in grey scale;
lines use the book's schedule colours (:data:`shb_lib.plotting.SCHEDULE_COLORS`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FormatStrFormatter, ScalarFormatter

from . import INK, SCHEDULE_COLORS, grid_figure, new_figure, suptitle

#: Colour map of the diagram (colour-blind safe, monotone in lightness).
CMAP = "cividis"


def _noise_label(s: float) -> str:
    return "0" if s == 0 else f"{s:g}"


def phase_diagram_figure(diagram, paper_point: dict, *, tolerance: float = 0.1, title: str):
    """One panel per preconditioning power: $\\log_{10}$ of greedy's loss at ``T`` over the best loss, against the
    noise scale (columns) and the condition number (rows); the contour where the ratio is ``1 + tolerance``
    (short horizons work on its light side) and the paper's problem (a star). Two panels a row; a spare slot holds
    the colour bar. Returns ``(fig, axes)``."""
    ratio = np.log10(diagram.greedy_ratio)
    vmax = max(1.0, float(np.ceil(np.nanmax(ratio))))
    n = len(diagram.ps)
    fig, axes, spare = grid_figure(n, row_height=2.5, sharey=True)
    axes = np.asarray(axes)
    ks, ss = np.arange(len(diagram.kappas)), np.arange(len(diagram.noise_scales))
    for i, (ax, r, p) in enumerate(zip(axes, ratio, diagram.ps)):
        im = ax.imshow(r, origin="lower", cmap=CMAP, vmin=0.0, vmax=vmax, aspect="auto")
        ax.contour(ss, ks, r, levels=[np.log10(1 + tolerance)], colors="white", linewidths=1.5)
        ax.set_title(f"p = {p:g}" + (" (none)" if p == 0 else " (exact)" if p == 1 else ""))
        ax.set_xticks(ss[::3], [_noise_label(s) for s in diagram.noise_scales[::3]])
        if i >= n - 2:
            ax.set_xlabel("noise scale $s$ (1 = paper)")
        if i % 2 == 0:
            ax.set_yticks(ks, [f"{k:g}" for k in diagram.kappas])
            ax.set_ylabel("condition number")
        ax.grid(False)
        if p == paper_point["p"]:
            i_p, i_k, i_s = diagram.index(paper_point["kappa"], paper_point["noise_scale"], p)
            ax.plot(i_s, i_k, marker="*", ms=14, mfc=SCHEDULE_COLORS["greedy"], mec="black", ls="none",
                    label="paper's problem")
    # the key to the star and the white line sits outside the panels, where it cannot cover the boundary
    star = plt.Line2D([], [], marker="*", ms=14, mfc=SCHEDULE_COLORS["greedy"], mec="black", ls="none",
                      label="the paper's problem")
    line = plt.Line2D([], [], color="white", lw=1.5, label=f"greedy within {tolerance:.0%} of the best")
    if spare:
        spare[0].set_facecolor("white")
        bar = fig.colorbar(im, cax=spare[0].inset_axes([0.05, 0.72, 0.9, 0.12]), orientation="horizontal")
        spare[0].legend(handles=[star, line], loc="lower center", bbox_to_anchor=(0.5, 0.0), frameon=True,
                              facecolor=plt.matplotlib.colors.to_hex(plt.get_cmap(CMAP)(0.0)),
                              labelcolor="white", edgecolor="none")
        spare[0].text(0.5, 0.36, "condition number: $h_{max}/h_{min}$", ha="center", va="center",
                      transform=spare[0].transAxes)
    else:
        bar = fig.colorbar(im, ax=list(axes), shrink=0.9)
        fig.legend(handles=[star, line], ncol=2, loc="outside lower center", frameon=True,
                   facecolor=plt.matplotlib.colors.to_hex(plt.get_cmap(CMAP)(0.0)), labelcolor="white",
                   edgecolor="none")
    bar.set_label("log10(greedy loss / best loss) at T")
    bar.ax.grid(False)
    suptitle(fig, title)
    return fig, axes


def mechanism_figure(points: dict, *, title: str):
    """For each labelled point (``{label: shb_lib.nqm.phase.point_schedules(...)}``): the learning rates of the
    greedy and the optimized schedules (top) and their excess loss on the highest (solid) and lowest (dashed)
    original curvatures (right), over the steps: one row per point, two panels a row. Returns ``(fig, axes)``
    with ``axes[0, j]`` the learning rates and ``axes[1, j]`` the band losses of the ``j``-th point."""
    n = len(points)
    fig, grid = new_figure(2, n, height=2.1 * n + 0.5, sharex=True, squeeze=False)
    axes = np.asarray(grid).T  # axes[0, j]: learning rates of point j; axes[1, j]: its band losses
    for j, (label, pt) in enumerate(points.items()):
        for kind in ("greedy", "optimized"):
            s, c = pt[kind], SCHEDULE_COLORS[kind]
            axes[0, j].plot(np.arange(len(s["lrs"])), s["lrs"], color=c, label=kind)
            t = np.arange(len(s["high"]))
            axes[1, j].plot(t, s["high"], color=c, label=f"{kind}, steepest")
            axes[1, j].plot(t, s["low"], color=c, ls="--", label=f"{kind}, flattest")
        axes[0, j].set(title=f"{label}: learning rate", yscale="log", ylabel="$\\alpha_t$")
        axes[1, j].set(title="excess loss on a band", yscale="log")
    for ax in axes[:, -1]:
        ax.set_xlabel("step $t$")
    axes[0, 0].legend(loc="lower left")
    handles = [plt.Line2D([], [], color=INK, label="steepest band"),
               plt.Line2D([], [], color=INK, ls="--", label="flattest band")]
    axes[1, 0].legend(handles=handles, loc="lower left")
    suptitle(fig, title)
    return fig, axes


def remedies_figure(summary: dict, *, title: str):
    """Long-run loss ratio (shortest horizon's choice over the longest's) per base optimizer and batch size:
    median with quartiles (bars) and every seed (dots); 1 means short horizons lose nothing. ``summary``:
    :func:`shb_lib.remedies.summary`. Returns ``(fig, ax)``."""
    fig, ax = new_figure(1, 1, height=3.6)
    colors = {"sgd": SCHEDULE_COLORS["greedy"], "adam": SCHEDULE_COLORS["optimized"]}
    for i, ((name, B), m) in enumerate(summary.items()):
        s = m["loss_ratio"]
        ax.errorbar(i, s.median, yerr=[[s.median - s.q25], [s.q75 - s.median]], fmt="o", color=colors[name],
                    capsize=4, ms=7)
        ax.plot(np.full(s.n, i) + np.linspace(-0.12, 0.12, s.n), s.values, ".", color=colors[name], ms=4)
    ax.axhline(1.0, color=INK, lw=1, ls=":")
    ax.set_xticks(range(len(summary)), [f"{'SGD+mom.' if n == 'sgd' else 'Adam'}\nB = {B}" for n, B in summary])
    ax.set(ylabel="loss ratio, short / long horizon", yscale="log")
    suptitle(fig, title)
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    return fig, ax
