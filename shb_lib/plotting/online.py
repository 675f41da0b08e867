"""Figures of the online meta-optimization chapter (ICLR version, section 3.3, Figs. 7 and 8).

Colours by meaning, as in the rest of the book: the 5-step lookahead is a *short horizon*, drawn in the colour of the
shortest horizon (vermillion, also the book's "greedy"); the deterministic lookahead in crimson; the hand-tuned fixed
learning rate in the grey of "fixed" schedules. Several runs of one kind differ by line style (solid: the largest
initial rate), not by transparency, which would lower their contrast.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import FIG_WIDTH, INK, PALETTE, SCHEDULE_COLORS, horizon_color, new_figure, suptitle

#: Colour of each kind of online run.
ONLINE_COLORS = {
    "stochastic": horizon_color(0),
    "deterministic": PALETTE["crimson"],
    "hand-tuned": SCHEDULE_COLORS["fixed"],
}


def _label_adaptation_stop(ax, step):
    ax.axvline(step, color=INK, lw=0.8, ls=":")


#: Line styles of several runs of one kind, from the largest initial rate to the smallest.
RUN_STYLES = ["-", (0, (5, 1.5)), (0, (3, 1, 1, 1)), (0, (1, 1))]


def plot_online(smd, baseline, title: str, *, width: float = FIG_WIDTH, height: float = 3.6):
    """Training loss (left) and effective learning rate (right) against steps, log scales (ICLR Figs. 7-8).

    ``smd`` is an :class:`shb_lib.online.OnlineResult` with one or more SMD runs (one line per initial
    ``alpha_eff``, solid for the largest, then dashed, dash-dotted and dotted), ``baseline`` one with the
    hand-tuned run(s). A dotted line marks the step where adaptation stops and the exponential decay begins; a cross
    marks the last finite loss of a run that diverged. The legend sits below both panels, clear of every run.
    Returns ``(fig, axes)``.
    """
    fig, (ax_loss, ax_lr) = new_figure(2, 1, width=width, height=height)
    kind = "stochastic" if smd.config.stochastic else "deterministic"
    color = ONLINE_COLORS[kind]
    n = len(smd.alpha)
    order = np.argsort(smd.alpha / (1 - smd.mu))
    handles = []
    for rank, i in enumerate(order):
        a0 = smd.alpha[i] / (1 - smd.mu[i])
        kw = dict(color=color, lw=1.5, ls=RUN_STYLES[min(n - 1 - rank, len(RUN_STYLES) - 1)])
        line, = ax_loss.plot(smd.step, smd.train_loss[i], **kw)
        if rank == n - 1:
            line.set_label(f"SMD, {kind} lookahead (starts: right panel)" if n > 1 else f"SMD, {kind} lookahead")
            handles.append(line)
        ax_lr.plot(smd.lr_step, smd.alpha_eff[i], **kw)
        ax_lr.annotate(f"{a0:.3g}", (smd.lr_step[0], smd.alpha_eff[i, 0]), fontsize=9, color=color,
                       xytext=(-4, 0), textcoords="offset points", ha="right", va="center")
        if smd.diverged[i]:
            last = np.flatnonzero(np.isfinite(smd.train_loss[i]))[-1]
            ax_loss.plot(smd.step[last], smd.train_loss[i, last], "x", color=color, ms=8)
    for i in range(len(baseline.alpha)):
        kw = dict(color=ONLINE_COLORS["hand-tuned"], lw=2.2, ls="--")
        line, = ax_loss.plot(baseline.step, baseline.train_loss[i], **kw)
        if i == 0:
            line.set_label("hand-tuned")
            handles.append(line)
        ax_lr.plot(baseline.lr_step, baseline.alpha_eff[i], **kw)
    for ax in (ax_loss, ax_lr):
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        _label_adaptation_stop(ax, smd.config.adapt_steps)
    ax_loss.set_ylabel("training loss")
    ax_lr.set_ylabel(r"effective learning rate $\alpha_{\mathrm{eff}}$")
    ax_lr.set_xlim(-0.16 * smd.config.steps, None)
    handles.append(plt.Line2D([], [], color=INK, lw=0.8, ls=":", label="adaptation stops, decay begins"))
    if np.any(smd.diverged):
        handles.append(plt.Line2D([], [], color=color, marker="x", ms=8, ls="none",
                                  label="diverged (last finite loss)"))
    suptitle(fig, title)
    # below the panels, where no run can run into it (a run that breaks down climbs to the top of the loss panel)
    fig.legend(handles=handles, ncol=2, loc="outside lower center")
    return fig, (ax_loss, ax_lr)


def plot_lookahead_surface(surfaces: dict, hand_tuned: float, title: str, *, width: float = FIG_WIDTH,
                           height: float = 3.8):
    """Mean lookahead loss ``E[J(alpha_eff)]`` against ``alpha_eff`` (log-log), one curve per lookahead kind.

    ``surfaces`` maps ``"stochastic"``/``"deterministic"`` to the dicts of
    :func:`shb_lib.online.lookahead_surface`; a dot marks each minimum, a dashed line the hand-tuned
    ``alpha_eff``. Returns ``(fig, ax)``.
    """
    fig, ax = new_figure(width=width, height=height)
    for kind, s in surfaces.items():
        mean = np.where(np.isfinite(s["mean"]), s["mean"], np.nan)
        c = ONLINE_COLORS[kind]
        ax.plot(s["alpha_eff"], mean, "-", color=c, label=f"{kind} lookahead")
        best = int(np.nanargmin(mean))
        ax.plot(s["alpha_eff"][best], mean[best], "o", color=c, ms=8)
    ax.axvline(hand_tuned, color=ONLINE_COLORS["hand-tuned"], ls="--", lw=2, label="hand-tuned")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"effective learning rate $\alpha_{\mathrm{eff}}$ of the lookahead")
    ax.set_ylabel("mean loss after the lookahead")
    ax.legend(loc="lower left")
    suptitle(fig, title)
    return fig, ax
