"""Figures and tables of the chapter "Beyond the paper: can the bias be removed?" (:mod:`shb_lib.estimators`).

- :func:`plot_bias_variance` -- how biased and how noisy is each estimator as the truncation window ``K`` grows?
- :func:`plot_meta_optimization` -- where does meta-optimization with each estimator end?
- :func:`bias_variance_table`, :func:`endpoint_table` -- the measurements as a
  :class:`shb_lib.plotting.tables.MarkdownTable`, which renders as an HTML table in the book and prints as markdown
  text (which nbval compares); numbers by :func:`shb_lib.plotting.tables.number`.
- On MNIST, with a Monte-Carlo reference instead of an exact gradient: :func:`plot_reference_bias` and
  :func:`reference_table` (which way does each estimator push the schedule?), :func:`plot_meta_paths` and
  :func:`sampled_endpoint_table` (where does meta-optimization go?).
"""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter

from .. import decay
from . import INK, PALETTE, grid_figure, horizon_color, new_figure, suptitle
from .tables import MarkdownTable, number, plus_minus

#: Colour of each estimator family (truncated backprop uses the horizon colours when several K are drawn): the
#: truncated ones in the short horizon's vermillion and the reddish purple, the unbiased ones in crimson and grey.
ESTIMATOR_COLORS = {
    "truncated backprop": PALETTE["vermillion"],
    "truncated ES": PALETTE["reddish purple"],
    "persistent ES": PALETTE["crimson"],
    "ES": PALETTE["grey"],
    "exact": INK,
}


def bias_variance_table(Ks, stats, exact_bias, runs) -> MarkdownTable:
    """One row per (estimator, K): runs per estimate, measured bias +- its noise level, exact bias, std.

    stats: ``{name: [EstimatorStats per K]}``; exact_bias: ``{name: (len(Ks),) exact |E g - grad J|}``;
    runs: ``{name: training runs per estimate}`` (a string, e.g. ``"1 + backward"``).
    """
    headers = ["estimator", "K", "runs / estimate", "bias (measured)", "bias (exact)", "std of one estimate"]
    rows = []
    for name, per_K in stats.items():
        for K, s, b in zip(Ks, per_K, exact_bias[name]):
            measured = plus_minus(s.bias_norm, s.bias_norm_se)
            exact = number(float(b), 3) if b > 1e-12 else "0"  # rounding error of an exact zero
            rows.append([name, int(K), runs[name], measured, exact, number(s.total_std, 3)])
    return MarkdownTable(headers, rows)


def endpoint_table(endpoints, predicted, objective, optimum_value) -> MarkdownTable:
    """One row per meta-optimization run: learned ``alpha_0, beta``, predicted end point, ``J / J*``.

    endpoints, predicted: ``{label: (log alpha_0, log beta)}`` (measured, and the exact root of the estimator's
    mean); objective: ``phi -> J(phi)``; optimum_value: ``J*``.
    """
    headers = ["estimator", "learned α₀", "learned β", "predicted α₀", "predicted β", "J / J*"]
    rows = []
    for label, p in endpoints.items():
        q = predicted[label]
        ratio = float(objective(p)) / optimum_value
        rows.append([label, *(number(np.exp(x), 3) for x in (p[0], p[1], q[0], q[1])), number(ratio, 4)])
    return MarkdownTable(headers, rows)


def plot_bias_variance(Ks, stats, exact_curve, T):
    """Two panels against the window length ``K``: the bias ``|E g - grad J|`` (measured, with twice its noise level
    as an error bar; the exact bias of the truncated estimators as a dashed curve) and the standard deviation of one
    estimate.

    stats: ``{name: [EstimatorStats per K]}``; exact_curve: ``(K values, exact |E g_K - grad J|)``.
    """
    fig, (ax_b, ax_s) = new_figure(2, height=4.0)
    Ks = np.asarray(Ks, dtype=float)
    shifts = np.linspace(0.85, 1.15, len(stats))  # side by side on the log axis
    for (name, per_K), shift in zip(stats.items(), shifts):
        c = ESTIMATOR_COLORS[name]
        bias = [s.bias_norm for s in per_K]
        err = [2 * s.bias_norm_se for s in per_K]
        ax_b.errorbar(Ks * shift, bias, yerr=err, fmt="o", color=c, capsize=3, label=name)
        ax_s.plot(Ks, [s.total_std for s in per_K], "o-", color=c, label=name)
    ax_b.plot(*exact_curve, "--", color=INK, lw=1.2, label="truncated, exact")
    ax_b.axhline(0.0, color=INK, lw=0.8)
    for ax in (ax_b, ax_s):
        ax.set_xscale("log")
        ax.set_xlabel(f"window K (T = {T})")
    ax_s.set_yscale("log")
    ax_b.set_ylabel(r"bias $|E[g] - \nabla J|$")
    ax_s.set_ylabel(r"std of one estimate $\sqrt{\mathrm{tr\,Cov}[g]}$")
    ax_b.set_title("Truncation is biased\nuntil K = T; PES is not")
    ax_s.set_title("The price of PES:\na noisier estimate")
    ax_b.legend(loc="center left")
    suptitle(fig, "How biased and how noisy is each estimator as the window K grows?")
    return fig


def plot_meta_optimization(paths, endpoints, colors, optimum, grid, schedule_values, T):
    """Left: meta-optimization paths in the ``(alpha_0, beta)`` plane over contours of ``log10 J``; right: the
    learned schedules against the long-horizon optimum.

    paths: ``{label: (M+1, 2)}`` in ``(log alpha_0, log beta)``; endpoints: ``{label: (2,)}`` where each run ended
    (e.g. the average of its last iterates); colors: ``{label: colour}``; optimum: ``phi*``;
    grid: ``(log alpha_0 values, log beta values, J on the grid (n_beta, n_alpha))``;
    schedule_values: ``phi -> (alpha_0 .. alpha_{T-1})``.
    """
    fig, (ax_p, ax_s) = new_figure(2, height=4.0)
    la, lb, J = grid
    cs = ax_p.contourf(np.exp(la), np.exp(lb), np.log10(J), levels=15, cmap="Greys_r", alpha=0.6)
    fig.colorbar(cs, ax=ax_p, label=r"$\log_{10} J$")
    t = np.arange(1, T + 1)
    for label, path in paths.items():
        ax_p.plot(np.exp(path[:, 0]), np.exp(path[:, 1]), "-", color=colors[label], lw=1.0)
        end = endpoints[label]
        ax_p.plot(np.exp(end[0]), np.exp(end[1]), "o", color=colors[label], ms=6, mec="k", mew=0.6)
        ax_s.plot(t, schedule_values(end), color=colors[label], label=label)
    ax_p.plot(np.exp(optimum[0]), np.exp(optimum[1]), "*", color=INK, ms=14, mfc="w", label="long-horizon optimum")
    ax_s.plot(t, schedule_values(optimum), "--", color=INK, lw=2.2, label="long-horizon optimum")
    ax_p.set_xscale("log")
    ax_p.set_yscale("log")
    for axis, ticks in ((ax_p.xaxis, [0.03, 0.05, 0.1, 0.15]), (ax_p.yaxis, [0.5, 1, 2, 5, 10, 20])):
        axis.set_major_locator(FixedLocator(ticks))
        axis.set_major_formatter(FixedFormatter([number(x) for x in ticks]))
        axis.set_minor_formatter(NullFormatter())
    ax_p.set_xlabel(r"$\alpha_0$")
    ax_p.set_ylabel(r"$\beta$")
    ax_p.set_title("Paths of Adam on (α₀, β)")
    ax_s.set_xscale("log")
    ax_s.set_yscale("log")
    ax_s.set_xlabel("step t")
    ax_s.set_ylabel(r"learning rate $\alpha_t$")
    ax_s.set_title("Learned schedules")
    fig.legend(*ax_s.get_legend_handles_labels(), loc="outside lower center", ncols=3)
    suptitle(fig, "Where does meta-optimization with each estimator end?")
    return fig


def reference_table(windows, stats, runs, reference) -> MarkdownTable:
    """One row per (estimator, K): runs per estimate, number of estimates, mean gradient, bias against the
    Monte-Carlo reference (each ``± 1`` standard error) and the std of one estimate.

    windows: ``{name: K values}``; stats: ``{name: [EstimatorStats per K]}`` from
    :func:`shb_lib.estimators.reference_statistics`; runs: ``{name: runs per estimate}``; reference: ``(name, K)``
    of the reference estimator, whose bias columns read "reference".
    """
    headers = ["estimator", "K", "runs / estimate", "estimates", "mean ∂J/∂log α₀", "mean ∂J/∂log β",
               "bias ∂/∂log α₀", "bias ∂/∂log β", "std of one estimate"]
    rows = []
    for name, per_K in stats.items():
        for K, s in zip(windows[name], per_K):
            is_ref = (name, int(K)) == (reference[0], int(reference[1]))
            bias = ["reference"] * 2 if is_ref else [plus_minus(b, e, signed=True) for b, e in zip(s.bias, s.bias_se)]
            rows.append([name, int(K), runs[name], s.n, number(s.mean[0], 3), number(s.mean[1], 3), *bias,
                         number(s.total_std, 3)])
    return MarkdownTable(headers, rows)


def plot_reference_bias(windows, estimates, reference, T):
    """Three panels against the window ``K``: the mean of each component of the estimates (error bars: twice the
    standard error of the mean, cut at the panel edge, which is set by the means), the reference mean as a band of
    ``± 2`` standard errors, and the std of one estimate.

    windows: ``{name: K values}``; estimates: ``{name: (len(K values), R, 2)}``; reference: ``(R', 2)`` estimates
    of the unbiased reference (backpropagation through the whole run). Two panels a row; the fourth slot holds
    the legend.
    """
    fig, axes, spare = grid_figure(3, row_height=3.0, sharex=True)
    mean_se = lambda e: (e.mean(axis=-2), e.std(axis=-2, ddof=1) / np.sqrt(e.shape[-2]))
    ref_mean, ref_se = mean_se(np.asarray(reference))
    shifts = np.linspace(0.85, 1.15, len(estimates))
    for (name, e), shift in zip(estimates.items(), shifts):
        Ks, c, (m, se) = np.asarray(windows[name], dtype=float), ESTIMATOR_COLORS[name], mean_se(np.asarray(e))
        for j, ax in enumerate(axes[:2]):
            ax.errorbar(Ks * shift, m[:, j], yerr=2 * se[:, j], fmt="o", color=c, capsize=3, label=name)
        axes[2].plot(Ks, np.linalg.norm(np.asarray(e).std(axis=1, ddof=1), axis=-1), "o-", color=c, label=name)
    titles = ["mean $\\partial J/\\partial \\log\\alpha_0$\n(> 0: descent lowers $\\alpha_0$)",
              "mean $\\partial J/\\partial \\log\\beta$\n(< 0: descent decays faster)"]
    for j, ax in enumerate(axes[:2]):
        band = (ref_mean[j] - 2 * ref_se[j], ref_mean[j] + 2 * ref_se[j])
        ax.axhspan(*band, color="k", alpha=0.15, label="whole run (reference) ± 2 se")
        ax.axhline(0.0, color=INK, lw=0.8)
        ax.set_title(titles[j])
        # the axis spans every mean and the band; the widest error bars (noisy estimators) may leave the panel
        means = np.concatenate([np.asarray(e).mean(axis=-2)[:, j] for e in estimates.values()] + [np.array(band)])
        pad = 0.25 * (means.max() - means.min())
        ax.set_ylim(means.min() - pad, means.max() + pad)
    axes[2].set_yscale("log")
    axes[2].set_ylabel(r"std of one estimate $\sqrt{\mathrm{tr\,Cov}[g]}$")
    axes[2].set_title("How noisy is one estimate?")
    for ax in axes:
        ax.set_xscale("log")
    for ax in axes[1:]:
        ax.set_xlabel(f"window K (T = {T})")
        ax.xaxis.set_tick_params(labelbottom=True)
    spare[0].legend(*axes[0].get_legend_handles_labels(), loc="center")
    suptitle(fig, "On MNIST, which way does each estimator push the schedule, and how noisy is it?")
    return fig


def plot_meta_paths(paths, colors):
    """``alpha_0`` and ``beta`` along meta-optimization paths ``{label: (M+1, 2)}`` in ``(log alpha_0, log beta)``."""
    fig, axes = new_figure(2, height=3.4)
    for label, path in paths.items():
        for j, ax in enumerate(axes):
            ax.plot(np.exp(np.asarray(path)[:, j]), "o-", ms=3, color=colors[label], label=label)
    for ax, name in zip(axes, [r"$\alpha_0$", r"$\beta$"]):
        ax.set_xlabel("meta-step")
        ax.set_ylabel(name)
    axes[0].legend()
    suptitle(fig, "On MNIST, where does meta-optimization go with a truncated and a whole-run estimator?")
    return fig


def sampled_endpoint_table(points, J_samples, baseline, horizon, time_const) -> MarkdownTable:
    """One row per point ``{label: (log alpha_0, log beta)}``: ``alpha_0``, ``beta``, the last learning rate
    ``alpha_T = alpha_0 / (1 + T / time_const)^beta`` (:func:`shb_lib.decay.inverse_time_decay` at ``T = horizon``),
    the sampled ``J`` (mean ± se over runs) and its difference from the row ``baseline`` ± the standard error of the
    paired difference (all rows of ``J_samples`` ``(n_points, n_runs)`` use the same runs).

    horizon: ``T``, the run's number of steps; time_const: the decay's time constant in steps (as given to
    :func:`shb_lib.estimators.mnist_task`)."""
    labels, J = list(points), np.asarray(J_samples, dtype=float)
    base, n = J[labels.index(baseline)], J.shape[1]
    headers = ["schedule", "α₀", "β", "α_T (last step)", "J (mean ± se)", f"J − J({baseline})"]
    rows = []
    for label, row in zip(labels, J):
        a0, beta = np.exp(np.asarray(points[label], dtype=float))
        d = row - base
        diff = "0" if label == baseline else plus_minus(d.mean(), d.std(ddof=1) / np.sqrt(n), signed=True)
        J_cell = plus_minus(row.mean(), row.std(ddof=1) / np.sqrt(n), 4)
        a_T = float(decay.inverse_time_decay(horizon, a0, beta, time_const))
        rows.append([label, number(a0, 3), number(beta, 3), number(a_T, 3), J_cell, diff])
    return MarkdownTable(headers, rows)


__all__ = ["ESTIMATOR_COLORS", "bias_variance_table", "endpoint_table", "plot_bias_variance",
           "plot_meta_optimization", "horizon_color", "plot_meta_paths", "plot_reference_bias", "reference_table",
           "sampled_endpoint_table"]
