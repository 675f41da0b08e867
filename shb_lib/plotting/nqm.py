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
    """Left: exact excess loss (line) and the Monte-Carlo mean with a +-2 standard-error band (log scale).
    Right: the per-step z-score with the +-3 band. Returns ``(fig, axes)``."""
    t = np.arange(len(exact))
    fig, (ax, az) = new_figure(2, 1, height=3.6)
    mc = SCHEDULE_COLORS["monte carlo"]
    # the exact curve underneath, thin: the band and the mean are drawn over it and stay visible where they agree
    ax.plot(t, exact, color=INK, lw=1.0, ls=(0, (4, 4)), zorder=1.5, label="exact recursion\n(ICLR Thm. 1)")
    ax.fill_between(t, mc_mean - 2 * mc_se, mc_mean + 2 * mc_se, color=mc, alpha=0.45, lw=0, zorder=2,
                    label=f"Monte Carlo mean\n$\\pm$ 2 s.e. ({n_runs} runs)")
    ax.plot(t, mc_mean, color=mc, lw=1.0, zorder=2.1)
    ax.set(yscale="log", xlabel="step $t$", ylabel="excess loss $\\frac{1}{2}\\sum_i h_i E[\\theta_i^2]$")
    ax.legend(loc="upper right")
    az.axhspan(-3, 3, color="0.85", lw=0)
    az.plot(t, z, color=mc, lw=1.0, marker=".", ms=3)
    az.set(xlabel="step $t$", ylabel="z-score of the Monte-Carlo mean", ylim=(-5, 5))
    suptitle(fig, title)
    return fig, (ax, az)


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
    for kind, s in schedules.items():
        color = SCHEDULE_COLORS[kind]
        t = np.arange(s.T + 1)
        axes[0].plot(np.arange(s.T), s.lrs, color=color, label=kind)
        axes[1].plot(np.arange(s.T), s.momenta, color=color, label=kind)
        axes[2].plot(t, s.losses, color=color, label=f"{kind}: {s.final_loss:.4g}")
        if bands:
            axes[3].plot(t, s.high_curvature_losses, color=color, label=f"{kind}, 50 highest $h$")
            axes[3].plot(t, s.low_curvature_losses, color=color, ls="--", label=f"{kind}, 50 lowest $h$")
    axes[0].set(ylabel="learning rate $\\alpha_t$", yscale="log")
    axes[1].set(ylabel="momentum $\\mu_t$")
    axes[2].set(xlabel="step $t$", ylabel="excess loss", yscale="log")
    axes[2].legend(title="final loss")
    if bands:
        axes[3].set(xlabel="step $t$", ylabel="excess loss, 50 directions", yscale="log")
        handles = [plt.Line2D([], [], color=INK, label="50 highest $h$"),
                   plt.Line2D([], [], color=INK, ls="--", label="50 lowest $h$")]
        axes[3].legend(handles=handles, loc="lower left")
    else:
        axes[1].set(xlabel="step $t$")
        spare[0].legend(*axes[0].get_legend_handles_labels(), loc="center")
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
                          stability_lr: float | None = None):
    """ICLR Fig. 2: excess loss after ``k`` steps at a fixed learning rate (solid) and after the same ``k`` steps
    followed by ``decay_steps`` exponentially decayed steps (dashed), against the learning rate; the minimiser of
    each curve is marked. ``solid``/``dashed`` map the horizon ``k`` to an array over ``lrs``; ``stability_lr``, if
    given, is drawn as a dotted vertical line (``2/h_max``, where plain SGD at a fixed rate starts to diverge).
    Returns ``(fig, ax)``."""
    fig, ax = new_figure(1, 1, height=4.4)
    if stability_lr is not None:
        ax.axvline(stability_lr, color=INK, ls=":", lw=1.0, label="$2/h_{max}$")
    for c, k in zip(horizon_colors(len(solid)), solid):
        ax.plot(lrs, solid[k], color=c, label=f"{k} steps")
        ax.plot(lrs, dashed[k], color=c, ls="--", label=f"{k} steps + {decay_steps} decayed")
        for y, marker in ((solid[k], "o"), (dashed[k], "s")):
            j = int(np.argmin(y))
            ax.plot(lrs[j], y[j], marker, color=c, ms=6, mfc="none" if marker == "s" else c)
    ax.set(xscale="log", yscale="log", xlabel="fixed learning rate $\\alpha$", ylabel="excess loss (meta-objective)")
    suptitle(fig, title)
    ax.legend(ncol=2)
    return fig, ax


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
