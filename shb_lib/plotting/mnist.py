"""Figures of chapter 4 (MNIST): meta-objective surfaces with SMD trajectories, long runs, the slider frame.

Each function takes results computed ahead (:mod:`shb_lib.experiments`) and only draws; each figure answers one
question, stated in its title. Losses are on log scales, as in the paper (ICLR Figs. 5-6).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.tri as mtri
import numpy as np

from . import INK, PALETTE, SCALE_COLORS, grid_figure, horizon_color, horizon_colors, new_figure, suptitle

#: SMD trajectories on the surfaces: the colour of short horizons (they are what SMD meta-optimizes).
SMD_COLOR = PALETTE["vermillion"]
#: Diverged samples on the surfaces.
DIVERGED_COLOR = PALETTE["crimson"]


def _label(T) -> str:
    T = int(T)
    return f"{T // 1000}k steps" if T >= 1000 and T % 1000 == 0 else f"{T} steps"


def plot_surfaces(surfaces: dict, smd: dict | None = None, choices: dict | None = None, *, title: str,
                  alpha_eff: bool = False, mu: float = 0.9, interpolation: str = "linear"):
    """One panel per horizon: log10 meta-objective over (beta, alpha_0) from random search, SMD trajectories on
    top (red, start o, end *), the chosen point (white star), diverged samples (x). Short version Fig. 2 / ICLR
    Fig. 5.

    ``interpolation``: ``"linear"`` (a Delaunay triangulation of the samples: shows exactly what was sampled) or
    ``"kernel"`` (the authors' kernel average on a 50 x 50 grid, :func:`shb_lib.surface.interpolate`: what the
    papers call "Gaussian interpolation"). ``alpha_eff``: draw the initial effective learning rate
    ``alpha_0 / (1 - mu)`` (the papers' axis) instead of ``alpha_0``. Two panels a row (three or four horizons:
    2 x 2; a spare slot holds the legend)."""
    if interpolation not in ("linear", "kernel"):
        raise ValueError(f"interpolation must be 'linear' or 'kernel', got {interpolation!r}")
    from ..mnist import surface as surface_lib

    Ts = sorted(surfaces)
    fig, axes, spare = grid_figure(len(Ts), row_height=2.9, sharex=True, sharey=True)
    scale = 1.0 / (1.0 - mu) if alpha_eff else 1.0
    for ax, T in zip(axes, Ts):
        s = surfaces[T]
        a, b, loss = np.asarray(s["alpha_0"]) * scale, np.asarray(s["beta"]), np.asarray(s["loss"])
        ok = np.isfinite(loss)
        x, y, z = np.log10(b[ok]), np.log10(a[ok]), np.log10(loss[ok])
        if interpolation == "kernel" and ok.sum() >= 1:
            si = surface_lib.interpolate(s)
            cs = ax.contourf(si.log10_beta, si.log10_alpha_0 + np.log10(scale), si.value, levels=12,
                             cmap="Greys_r")
            fig.colorbar(cs, ax=ax, shrink=0.9, label="log10 loss")
        elif ok.sum() >= 4:
            tri = mtri.Triangulation(x, y)
            cs = ax.tricontourf(tri, z, levels=12, cmap="Greys_r")
            fig.colorbar(cs, ax=ax, shrink=0.9, label="log10 loss")
        ax.scatter(x, y, s=4, c="k", alpha=0.25, linewidths=0)
        if (~ok).any():
            ax.scatter(np.log10(b[~ok]), np.log10(a[~ok]), marker="x", s=16, c=DIVERGED_COLOR,
                       label=f"diverged ({int((~ok).sum())})")
        for i, tr in enumerate((smd or {}).get(T, [])):
            tx, ty = np.log10(np.asarray(tr["beta"])), np.log10(np.asarray(tr["alpha_0"]) * scale)
            ax.plot(tx, ty, color=SMD_COLOR, lw=1.4, label="SMD" if i == 0 else None)
            ax.plot(tx[0], ty[0], "o", color=SMD_COLOR, ms=4)
            ax.plot(tx[-1], ty[-1], "*", color=SMD_COLOR, ms=9)
        if choices and T in choices:
            ca, cb = choices[T]
            ax.plot(np.log10(cb), np.log10(ca * scale), "*", color="white", mec="k", ms=13, label="chosen")
        ax.set_title(_label(T))
    n = len(axes)
    for i, ax in enumerate(axes):
        if i >= n - 2:
            ax.set_xlabel("log10 decay exponent beta")
            ax.xaxis.set_tick_params(labelbottom=True)
        if i % 2 == 0:
            ax.set_ylabel("log10 " + ("alpha_eff" if alpha_eff else "alpha_0"))
    handles = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab.split(" (")[0], h)
    if spare:
        spare[0].legend(handles.values(), handles.keys(), loc="center")
    else:
        axes[0].legend(handles.values(), handles.keys(), loc="lower left")
    suptitle(fig, title)
    return fig


def plot_long_runs(long: dict, *, title: str, K: float):
    """Training loss (log), test error and learning rate against steps for each horizon's chosen schedule
    (ICLR Fig. 6), two panels a row: the fourth slot holds the legend. Diverged runs end where their loss stops
    being finite."""
    fig, axes, spare = grid_figure(3, row_height=2.8, sharex=True)
    step = np.asarray(long["step"])
    horizons = np.asarray(long["horizons"])
    for i, (T, c) in enumerate(zip(horizons, horizon_colors(len(horizons)))):
        lab = f"{_label(T)}: alpha_0 = {long['alpha_0'][i]:.3g}, beta = {long['beta'][i]:.3g}"
        loss = np.asarray(long["train_loss"][i])
        axes[0].plot(step, np.where(np.isfinite(loss), loss, np.nan), color=c, label=lab)
        axes[1].plot(step, 100 * np.asarray(long["test_error"][i]), color=c)
        axes[2].plot(step, np.asarray(long["lr"][i]), color=c)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("training loss")
    axes[1].set_ylabel("test error (%)")
    axes[2].set_yscale("log")
    axes[2].set_ylabel(f"learning rate alpha_t (K={K:g})")
    for ax in axes[1:]:
        ax.set_xlabel("step")
    axes[1].xaxis.set_tick_params(labelbottom=True)
    spare[0].legend(*axes[0].get_legend_handles_labels(), loc="center", title="meta-optimized on horizon")
    suptitle(fig, title)
    return fig


def plot_final_losses(rows: list[tuple[str, np.ndarray, np.ndarray]], *, title: str):
    """Final training loss of the long run against the meta-optimization horizon, one line per
    ``(label, horizons, final losses)`` (e.g. one per scale). The colour is the scale's (:data:`SCALE_COLORS`, read
    from the label: "book scale ..." or "paper scale ..."); several rows of one scale differ by marker and line
    style, and only the first row of a scale names its horizons."""
    fig, ax = new_figure(1, 1, height=4.0)
    seen: dict[str, int] = {}
    for label, Ts, losses in rows:
        scale = "paper scale" if str(label).startswith("paper") else "book scale"
        j = seen[scale] = seen.get(scale, -1) + 1
        Ts = np.asarray(Ts, float)
        x = Ts / Ts.max()
        ax.plot(x, losses, label=label, color=SCALE_COLORS[scale], marker="osD^v"[j % 5],
                ls=["-", "--", "-.", ":"][j % 4])
        for xi, Ti, li in zip(x, Ts, losses) if j == 0 else ():  # one set of horizon labels per scale
            ax.annotate(_label(Ti), (xi, li), textcoords="offset points", xytext=(4, 4), fontsize=9)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("horizon / longest horizon")
    ax.set_ylabel("training loss at the end of the long run")
    ax.legend()
    suptitle(fig, title)
    return fig


def render_sweep(sweep: dict, horizon: int, batch_size: int, *, K: float):
    """Slider frame: meta-objective against beta for one horizon and batch size (left) and the schedule that the
    best beta implies (right)."""
    H = list(np.asarray(sweep["horizons"]))
    Bs = list(np.asarray(sweep["batch_sizes"]))
    i, j = H.index(horizon), Bs.index(batch_size)
    betas = np.asarray(sweep["betas"])
    fig, axes = new_figure(2, 1, height=3.4)
    for jj, B in enumerate(Bs):
        loss = np.asarray(sweep["loss"][i, jj])
        axes[0].plot(betas, loss, "o-" if jj == j else ":", color=horizon_color(jj), lw=2.2 if jj == j else 1.2,
                     label=f"batch {B}")
    loss = np.asarray(sweep["loss"][i, j])
    k = int(np.nanargmin(np.where(np.isfinite(loss), loss, np.nan))) if np.isfinite(loss).any() else 0
    axes[0].plot(betas[k], loss[k], "*", color=INK, ms=12)
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("decay exponent beta")
    axes[0].set_ylabel(f"loss after {int(horizon)} steps")
    axes[0].legend()
    t = np.linspace(0, max(H), 200)
    a0 = float(sweep["alpha_0"]) if "alpha_0" in sweep else 0.1
    axes[1].plot(t, a0 / (1 + t / K) ** betas[k], color=INK)
    axes[1].axvline(horizon, color=PALETTE["grey"], ls="--", lw=1)
    axes[1].set_yscale("log")
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("alpha_t of the best beta")
    suptitle(fig, f"Horizon {int(horizon)}, batch {int(batch_size)}: the best decay is beta = {betas[k]:g}")
    return fig


def close(fig) -> None:
    """Close a figure after it has been shown (keeps memory flat when many frames are rendered)."""
    plt.close(fig)


def plot_unrolled_sgd(*, title: str):
    """ICLR Fig. 4 redrawn: SGD unrolled as a computation graph. Each step ``F_t`` takes the state
    ``(w_t, v_t)``, a batch ``B_t`` and the hyperparameters ``h`` (shared by every step) to ``(w_{t+1}, v_{t+1})``;
    the meta-objective ``J`` is the loss of the last state on the evaluation batches ``E``. Forward mode carries the
    tangent ``u_t = d(w_t, v_t)/dh`` along the same arrows (ICLR Eqs. 8-9), so nothing is stored per step."""
    fig, ax = new_figure(1, 1, height=2.7)
    ax.set_xlim(0, 10.4)
    ax.set_ylim(0, 3.2)
    ax.axis("off")
    box = dict(boxstyle="round,pad=0.3", fc="white", ec="black", lw=1.2)
    step_box = dict(boxstyle="round,pad=0.3", fc="#e8eef7", ec="#1f4e8c", lw=1.2)
    hyper_box = dict(boxstyle="round,pad=0.3", fc="#fdecd2", ec="#a0522d", lw=1.2)
    arrow = dict(arrowstyle="-|>", color="black", lw=1.1, shrinkA=12, shrinkB=12)
    states = [(0.5, r"$w_0, v_0$"), (3.1, r"$w_1, v_1$"), (5.7, r"$w_2, v_2$"), (8.3, r"$w_T, v_T$")]
    steps = [(1.8, r"$F_0$", r"$B_0$"), (4.4, r"$F_1$", r"$B_1$"), (7.0, r"$\cdots$", r"$B_t$")]
    y = 1.3
    for x, label in states:
        ax.text(x, y, label, ha="center", va="center", fontsize=10, bbox=box)
    for (x, label, batch), (x0, _), (x1, _) in zip(steps, states[:-1], states[1:]):
        ax.text(x, y, label, ha="center", va="center", fontsize=10, bbox=step_box)
        ax.annotate("", xy=(x, y), xytext=(x0, y), arrowprops=dict(arrow, shrinkA=28, shrinkB=12))
        ax.annotate("", xy=(x1, y), xytext=(x, y), arrowprops=dict(arrow, shrinkA=12, shrinkB=28))
        ax.text(x, 0.25, batch, ha="center", va="center", fontsize=10)
        ax.annotate("", xy=(x, y), xytext=(x, 0.25), arrowprops=arrow)
        ax.annotate("", xy=(x, y), xytext=(5.0, 2.75), arrowprops=dict(arrow, color="#a0522d"))
    ax.text(5.0, 2.75, r"hyperparameters $h = (\log\alpha_\mathrm{eff}, \log\beta)$", ha="center",
            va="center", fontsize=10, bbox=hyper_box)
    ax.text(9.8, y, r"$J$", ha="center", va="center", fontsize=11, bbox=box)
    ax.annotate("", xy=(9.8, y), xytext=(8.3, y), arrowprops=dict(arrow, shrinkA=28, shrinkB=10))
    ax.text(9.8, 0.25, r"$E$", ha="center", va="center", fontsize=10)
    ax.annotate("", xy=(9.8, y), xytext=(9.8, 0.25), arrowprops=arrow)
    suptitle(fig, title)
    return fig
