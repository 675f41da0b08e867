"""Figures of the noisy-quadratic chapters (ICLR section 2 and Figs. 2-3; short version section 2 and Fig. 1).

Each function computes nothing the library does not already provide and returns a matplotlib figure (or
``(fig, axes)``); losses are drawn on log scales, as in the paper.
"""

from __future__ import annotations

import functools

import matplotlib.pyplot as plt
import numpy as np

from . import INK, SCHEDULE_COLORS, grid_figure, horizon_color, horizon_colors, new_figure, suptitle

__all__ = [
    "monte_carlo_figure", "one_step_loss_figure", "schedules_panels", "fit_curves_figure", "meta_objective_figure",
    "schedules_figure", "SLIDER_GRID", "aggressive_vs_conservative_figure",
]


def monte_carlo_figure(exact, mc_mean, mc_se, z, *, n_runs: int, title: str):
    """Left, top: exact excess loss (dashed) and the Monte-Carlo mean (log scale). Left, bottom: both relative to
    the exact loss, in percent, with the Monte-Carlo mean's +-2 standard-error band: on a log scale the band (a few
    tenths of a percent wide) is thinner than a line, so it is shown where it can be seen, around the exact curve
    at 0. Right: the per-step z-score with the +-3 band. Returns ``(fig, (ax, ar, az))``: loss, relative
    difference, z-score."""
    exact, mc_mean, mc_se = (np.asarray(x, float) for x in (exact, mc_mean, mc_se))
    t = np.arange(len(exact))
    fig, _ = new_figure(1, 1, height=4.2)
    fig.clear()
    axd = fig.subplot_mosaic([["loss", "z"], ["rel", "z"]], height_ratios=[1.6, 1.0], sharex=True)
    ax, ar, az = axd["loss"], axd["rel"], axd["z"]
    mc = SCHEDULE_COLORS["monte carlo"]
    exact_kw = dict(color=INK, lw=1.2, ls=(0, (4, 3)), zorder=3)  # on top: the band and the mean stay visible
    mean_line, = ax.plot(t, mc_mean, color=mc, lw=2.2, zorder=2)
    exact_line, = ax.plot(t, exact, **exact_kw)
    ax.set(yscale="log", ylabel="excess loss\n$\\frac{1}{2}\\sum_i h_i E[\\theta_i^2]$")
    scale = np.where(exact > 0, 100.0 / np.where(exact > 0, exact, 1.0), 0.0)
    band = ar.fill_between(t, (mc_mean - 2 * mc_se - exact) * scale, (mc_mean + 2 * mc_se - exact) * scale,
                           color=mc, alpha=0.45, lw=0, zorder=1)
    ar.plot(t, (mc_mean - exact) * scale, color=mc, lw=1.2, zorder=2)
    ar.axhline(0.0, **exact_kw)
    ar.set(xlabel="step $t$", ylabel="difference\nfrom exact (%)")
    suptitle(fig, title)
    fig.legend([(band, mean_line), exact_line],
               [f"Monte Carlo mean of {n_runs} runs $\\pm$ 2 s.e. (band: lower left)", "exact recursion (ICLR Thm. 1)"],
               ncol=2, loc="outside lower center")
    az.axhspan(-3, 3, color="0.85", lw=0)
    az.plot(t, z, color=mc, lw=1.0, marker=".", ms=3)
    az.set(xlabel="step $t$", ylabel="z-score of the Monte-Carlo mean", ylim=(-5, 5))
    return fig, (ax, ar, az)


def _log_floor(positive) -> float:
    """The lower limit of a log axis for positive values ``positive``: a third of a decade below the smallest."""
    return float(np.min(positive)) / 10 ** (1 / 3)


def _plot_rates(ax, t, y, floor: float, **kw):
    """Plot ``y`` on a log axis whose lower limit is ``floor``: its positive values as a line, its zeros (a rate
    the schedule switched off, which a log axis cannot show) as a dotted line on the floor (just above the
    spine), in the same colour."""
    y = np.asarray(y, float)
    ax.plot(t, np.where(y > 0, y, np.nan), **kw)
    if np.any(y <= 0):
        zero = np.where(y <= 0, floor * 10 ** (1 / 15), np.nan)  # just above the spine, which would hide it
        # join the dotted floor to the last positive value, so the drop to 0 is seen
        first = int(np.flatnonzero(y <= 0)[0])
        if first > 0 and y[first - 1] > 0:
            zero[first - 1] = y[first - 1]
        style = {k: v for k, v in kw.items() if k != "label"}
        ax.plot(t, zero, ls=":", lw=2.0, **style)


def one_step_loss_figure(lr_grid, mu_grid, losses, greedy, brute, *, title: str):
    """Contours of the one-step expected loss over ``(alpha, mu)`` with the closed-form minimiser (dot) and the
    brute-force one (cross). ``losses`` has shape ``(len(mu_grid), len(lr_grid))``. Returns ``(fig, ax)``."""
    fig, ax = new_figure(1, 1, height=4.4)
    levels = np.quantile(losses, np.linspace(0, 1, 25) ** 2)
    cs = ax.contourf(lr_grid, mu_grid, losses, levels=np.unique(levels), cmap="viridis")
    fig.colorbar(cs, ax=ax, label="expected loss after one step")
    ax.plot(*greedy, "o", color=SCHEDULE_COLORS["greedy"], ms=9, label="closed form (ICLR Thm. 2)")
    ax.plot(*brute, "x", color="w", ms=10, mew=2, label="brute-force minimiser")
    ax.set(xlabel="learning rate $\\alpha$", ylabel="momentum $\\mu$")
    suptitle(fig, title)
    ax.legend(loc="upper right", framealpha=0.8, frameon=True)
    return fig, ax


def schedules_panels(schedules: dict, *, title: str, bands: bool = True):
    """Learning rate, momentum, total excess loss and (``bands=True``) the 50 highest / lowest curvature losses of
    each schedule (short version Fig. 1, ICLR Fig. 3). ``schedules`` maps a kind ("greedy", "fixed", "optimized")
    to a :class:`shb_lib.nqm.Schedule`. Two panels a row (2 x 2; with ``bands=False`` the fourth slot holds the
    legend). Returns ``(fig, axes)``."""
    fig, axes, spare = grid_figure(4 if bands else 3, row_height=2.9, sharex=True)
    lrs = {kind: np.asarray(s.lrs, float) for kind, s in schedules.items()}
    positive = np.concatenate([a[a > 0] for a in lrs.values()] or [np.ones(1)])
    floor = _log_floor(positive)
    for kind, s in schedules.items():
        color = SCHEDULE_COLORS[kind]
        t = np.arange(s.T + 1)
        _plot_rates(axes[0], np.arange(s.T), lrs[kind], floor, color=color, label=kind)
        axes[1].plot(np.arange(s.T), s.momenta, color=color, label=kind)
        axes[2].plot(t, s.losses, color=color, label=f"{kind}, final loss {s.final_loss:.4g}")
        if bands:
            axes[3].plot(t, s.high_curvature_losses, color=color, label=f"{kind}, 50 highest $h$")
            axes[3].plot(t, s.low_curvature_losses, color=color, ls="--", label=f"{kind}, 50 lowest $h$")
    axes[0].set(ylabel="learning rate $\\alpha_t$", yscale="log")
    if any(np.any(a <= 0) for a in lrs.values()):
        axes[0].set_ylim(bottom=floor)
        axes[0].annotate("dotted on the floor: $\\alpha_t = 0$", (0.0, floor), xycoords=("axes fraction", "data"),
                         xytext=(4, 3), textcoords="offset points", ha="left", va="bottom", fontsize=9,
                         color=INK)
    axes[1].set(ylabel="momentum $\\mu_t$")
    axes[2].set(xlabel="step $t$", ylabel="excess loss", yscale="log")
    kinds = axes[2].get_legend_handles_labels()
    # the keys sit outside the panels (below them, or in the spare slot), clear of every curve
    if bands:
        axes[3].set(xlabel="step $t$", ylabel="excess loss, 50 directions", yscale="log")
        styles = [plt.Line2D([], [], color=INK, label="lower right, solid: 50 highest $h$"),
                  plt.Line2D([], [], color=INK, ls="--", label="lower right, dashed: 50 lowest $h$")]
        fig.legend([*kinds[0], *styles], [*kinds[1], *(h.get_label() for h in styles)], ncol=2,
                   loc="outside lower center")
    else:
        axes[1].set(xlabel="step $t$")
        spare[0].legend(*kinds, loc="center")
    suptitle(fig, title)
    return fig, axes


def fit_curves_figure(curves: dict, *, paper_value: float | None = None, title: str):
    """The meta-objective against the Adam step for each fit (``curves``: label -> array), log scale, with the
    paper's reported value as a dotted line. Returns ``(fig, ax)``."""
    fig, ax = new_figure(1, 1, height=3.6)
    for c, (label, y) in zip(horizon_colors(len(curves)), curves.items()):
        ax.plot(np.arange(len(y)), y, color=c, label=label)
    if paper_value is not None:
        ax.axhline(paper_value, color=INK, ls=":", lw=1.2, label=f"paper: {paper_value}")
    ax.set(xlabel="Adam step", ylabel="excess loss at $T$", yscale="log")
    suptitle(fig, title)
    ax.legend()
    return fig, ax


def meta_objective_figure(lrs, solid: dict, dashed: dict, *, decay_steps: int, title: str,
                          stability_lr: float | None = None, initial_loss: float | None = None):
    """ICLR Fig. 2: excess loss after ``k`` steps at a fixed learning rate (solid) and after the same ``k`` steps
    followed by ``decay_steps`` exponentially decayed steps (dashed), against the learning rate; the minimiser of
    each curve is marked. ``solid``/``dashed`` map the horizon ``k`` to an array over ``lrs``; ``stability_lr``, if
    given, is drawn as a dotted vertical line (``2/h_max``, where plain SGD at a fixed rate starts to diverge).

    The loss axis ends at :data:`shb_lib.divergence.DIVERGENCE_FACTOR` times the initial loss (``initial_loss``;
    by default the largest loss at the smallest rate, which has hardly moved from the start): a rate whose loss rises
    above that has diverged (the network runs' rule), and its curve ends in a triangle on the axis's upper edge
    instead of climbing hundreds of decades. Returns ``(fig, ax)``."""
    from shb_lib.divergence import DIVERGENCE_FACTOR

    lrs = np.asarray(lrs, float)
    curves = [np.asarray(c, float) for c in (*solid.values(), *dashed.values())]
    start = float(initial_loss) if initial_loss is not None else max(float(c[0]) for c in curves)
    if not (np.isfinite(start) and start > 0):
        raise ValueError(f"initial_loss must be a positive finite loss, got {start!r}")
    cap = DIVERGENCE_FACTOR * start
    fig, ax = new_figure(1, 1, height=4.4)
    if stability_lr is not None:
        ax.axvline(stability_lr, color=INK, ls=":", lw=1.0, label="$2/h_{max}$")
    diverged = False
    for c, k in zip(horizon_colors(len(solid)), solid):
        for y, ls, marker, label in ((np.asarray(solid[k], float), "-", "o", f"{k} steps"),
                                     (np.asarray(dashed[k], float), "--", "s",
                                      f"{k} steps + {decay_steps} decayed")):
            xs, ys, edge = _clip_diverged(lrs, y, cap)
            ax.plot(xs, ys, color=c, ls=ls, label=label)
            if edge is not None:
                diverged = True
                ax.plot(edge, cap, "^", color=c, ms=7, clip_on=False)
            j = int(np.nanargmin(np.where(np.isfinite(y), y, np.nan)))
            ax.plot(lrs[j], y[j], marker, color=c, ms=6, mfc="none" if marker == "s" else c)
    finite = np.concatenate([c[np.isfinite(c) & (c > 0)] for c in curves])
    ax.set(xscale="log", yscale="log", xlabel="fixed learning rate $\\alpha$", ylabel="excess loss (meta-objective)")
    ax.set_ylim(float(finite.min()) / 2, cap)
    handles, labels = ax.get_legend_handles_labels()
    if diverged:
        handles.append(plt.Line2D([], [], color=INK, marker="^", ls="none", ms=7))
        labels.append(f"diverged: above {DIVERGENCE_FACTOR:g}x the initial loss")
    suptitle(fig, title)
    fig.legend(handles, labels, ncol=2, loc="outside lower center")
    return fig, ax


def _clip_diverged(x, y, cap: float):
    """The part of the curve ``(x, y)`` up to where it first rises above ``cap`` (or stops being finite), ending
    exactly on ``cap`` at the crossing (log-log interpolation). Returns ``(xs, ys, edge)``: ``edge`` the crossing's
    ``x``, None when the curve stays below ``cap``."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    over = ~(np.isfinite(y) & (y <= cap))
    if not over.any():
        return x, y, None
    i = int(np.flatnonzero(over)[0])
    if i == 0:
        return x[:0], y[:0], float(x[0])
    f = 1.0
    if np.isfinite(y[i]):
        f = (np.log(cap) - np.log(y[i - 1])) / (np.log(y[i]) - np.log(y[i - 1]))
    edge = float(np.exp(np.log(x[i - 1]) + f * (np.log(x[i]) - np.log(x[i - 1]))))
    return np.append(x[:i], edge), np.append(y[:i], cap), edge


def aggressive_vs_conservative_figure(result: dict, *, title: str):
    """ICLR Fig. 1 from :func:`shb_lib.nqm.aggressive_vs_conservative`'s ``result``. Left: contours of the loss
    $\\tfrac12(h_x x^2 + h_y y^2)$ with one sampled path of each schedule (thin) and its mean path (thick); the
    aggressive path changes colour where its decay starts. Right: the exact excess loss of both, the decay's start
    marked. Returns ``(fig, axes)``."""
    colors = {"conservative": SCHEDULE_COLORS["optimized"], "aggressive": SCHEDULE_COLORS["greedy"],
              "decay": horizon_color(1)}
    h = np.asarray(result["problem"].h)
    k = result["switch"]
    fig, (ax, bx) = new_figure(2, 1, height=3.9)
    paths = np.concatenate([result["paths"][n] for n in result["paths"]])
    lim = np.abs(paths).max(axis=0) * 1.05
    xs, ys = np.meshgrid(np.linspace(-lim[0], lim[0], 200), np.linspace(-lim[1], lim[1], 200))
    ax.contour(xs, ys, 0.5 * (h[0] * xs**2 + h[1] * ys**2), levels=12, colors="0.75", linewidths=0.6)
    c, a = result["paths"]["conservative"], result["paths"]["aggressive"]
    ax.plot(c[:, 0], c[:, 1], color=colors["conservative"], lw=0.6)
    ax.plot(a[: k + 1, 0], a[: k + 1, 1], color=colors["aggressive"], lw=0.6)
    ax.plot(a[k:, 0], a[k:, 1], color=colors["decay"], lw=0.9)
    for name, label in (("conservative", "conservative, fixed"), ("aggressive", "aggressive, then decay")):
        m = result["mean_paths"][name]
        ax.plot(m[:, 0], m[:, 1], color=colors[name], lw=2.4, label=f"{label}\n(mean path)")
    ax.plot(*result["mean_paths"]["aggressive"][k], "o", color=colors["decay"], ms=6, label="decay starts")
    ax.plot(0, 0, "+", color=INK, ms=10)
    ax.set(xlabel="x (low curvature)", ylabel="y (high curvature)", title="Paths on the loss contours")
    ax.legend(loc="lower left")
    t = np.arange(len(result["losses"]["conservative"]))
    bx.plot(t, result["losses"]["conservative"], color=colors["conservative"], label="conservative, fixed")
    bx.plot(t[: k + 1], result["losses"]["aggressive"][: k + 1], color=colors["aggressive"],
            label="aggressive")
    bx.plot(t[k:], result["losses"]["aggressive"][k:], color=colors["decay"], label="then decayed")
    bx.axvline(k, color=INK, ls=":", lw=1)
    bx.set(yscale="log", xlabel="step t", ylabel="expected excess loss", title="Exact expected loss")
    bx.legend()
    suptitle(fig, title)
    return fig, (ax, bx)


# --- chapter 3's slider ---------------------------------------------------------------------------------------------

#: The grid of the static slider: horizons of the short-horizon meta-objective and noise scales (x sigma2 = 1/h).
SLIDER_GRID = {"horizon": [1, 10, 30, 100, 250], "noise": [0.0, 0.25, 1.0, 4.0]}
_SLIDER_LONG = 250
_SLIDER_LRS = np.geomspace(1e-3, 0.2, 40)


@functools.lru_cache(maxsize=64)
def _slider_data(horizon: int, noise: float):
    from shb_lib import nqm

    problem = nqm.paper_problem().with_noise_scale(noise)
    meta = np.asarray(nqm.fixed_lr_meta_objective(problem, _SLIDER_LRS, horizon))
    best = float(_SLIDER_LRS[int(np.argmin(meta))])
    curve = np.asarray(nqm.rollout(problem, np.full(_SLIDER_LONG, best), np.zeros(_SLIDER_LONG)))
    greedy = nqm.greedy_schedule(problem, _SLIDER_LONG, with_momentum=False)
    return meta, best, curve, greedy


def schedules_figure(horizon: int, noise: float):
    """One frame of chapter 3's slider (plain SGD, paper's problem with ``sigma2 = noise / h``). Left: the
    meta-objective "excess loss after ``horizon`` steps" against a fixed learning rate, its minimiser marked (and the
    ``250``-step one for reference). Right: training for 250 steps with the learning rate that the ``horizon``-step
    meta-objective picked, beside the 250-step choice and the greedy (1-step) schedule. Pure: same arguments, same
    picture; about 0.1-0.5 s per frame once compiled."""
    meta, best, curve, greedy = _slider_data(int(horizon), float(noise))
    meta_long, best_long, curve_long, _ = _slider_data(_SLIDER_LONG, float(noise))
    fig, (ax, ax2) = new_figure(2, 1, height=3.9)
    ax.plot(_SLIDER_LRS, meta, color=horizon_color(0), label=f"after {horizon} steps")
    ax.plot(_SLIDER_LRS, meta_long, color=horizon_color(3), label=f"after {_SLIDER_LONG} steps")
    ax.axvline(best, color=horizon_color(0), ls=":", lw=1)
    ax.axvline(best_long, color=horizon_color(3), ls=":", lw=1)
    ax.set(xscale="log", yscale="log", xlabel="fixed learning rate $\\alpha$", ylabel="excess loss",
           title="Meta-objective of a fixed rate")
    ax.legend(loc="upper left")
    t = np.arange(_SLIDER_LONG + 1)
    ax2.plot(t, curve, color=horizon_color(0), label=f"$\\alpha$ = {best:.3g}, chosen at {horizon}")
    ax2.plot(t, curve_long, color=horizon_color(3), label=f"$\\alpha$ = {best_long:.3g}, chosen at {_SLIDER_LONG}")
    ax2.plot(t, greedy.losses, color=SCHEDULE_COLORS["greedy"], ls="--", lw=1.2, label="greedy (1-step)")
    ax2.set(yscale="log", xlabel="step $t$", ylabel="excess loss", title=f"Training for {_SLIDER_LONG} steps")
    ax2.legend(loc="upper right")
    ratio = float(curve[-1] / curve_long[-1])
    suptitle(fig, f"Horizon {horizon}, noise x{noise:g}: its choice ends {ratio:.3g}x worse at step {_SLIDER_LONG}")
    plt.close(fig)
    return fig
