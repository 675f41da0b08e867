"""Figures and tables of the chapter "Beyond the paper: can the bias be removed?" (:mod:`shb_lib.estimators`).

- :func:`plot_bias_variance` -- how biased and how noisy is each estimator as the window ``K`` grows?
- :func:`plot_meta_optimization` -- where does meta-optimization with each estimator end?
- :class:`MarkdownTable`, :func:`bias_variance_table`, :func:`endpoint_table` -- the measurements as a table that
  renders as markdown in the book and prints the same text (which nbval compares).
"""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter

from . import horizon_color, new_figure

#: Colour of each estimator family (truncated backprop uses the horizon colours when several K are drawn).
ESTIMATOR_COLORS = {
    "truncated backprop": "#d62728",
    "truncated ES": "#e377c2",
    "persistent ES": "#9467bd",
    "ES": "#8c564b",
    "exact": "#000000",
}


def _sig(x: float, digits: int = 3) -> str:
    """``x`` with ``digits`` significant digits (``inf`` stays ``inf``)."""
    return f"{x:.{digits}g}" if np.isfinite(x) else "inf"


class MarkdownTable:
    """A table that the notebook renders as markdown and prints (``repr``) as the same markdown text."""

    def __init__(self, headers, rows):
        if any(len(r) != len(headers) for r in rows):
            raise ValueError("every row must have one entry per header")
        self.headers, self.rows = list(headers), [list(map(str, r)) for r in rows]

    def markdown(self) -> str:
        lines = ["| " + " | ".join(self.headers) + " |", "|" + "|".join("---" for _ in self.headers) + "|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in self.rows])

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def __repr__(self) -> str:
        return self.markdown()


def bias_variance_table(Ks, stats, exact_bias, runs) -> MarkdownTable:
    """One row per (estimator, K): runs per estimate, measured bias +- its noise level, exact bias, std.

    stats: ``{name: [EstimatorStats per K]}``; exact_bias: ``{name: (len(Ks),) exact |E g - grad J|}``;
    runs: ``{name: training runs per estimate}`` (a string, e.g. ``"1 + backward"``).
    """
    headers = ["estimator", "K", "runs / estimate", "bias (measured)", "bias (exact)", "std of one estimate"]
    rows = []
    for name, per_K in stats.items():
        for K, s, b in zip(Ks, per_K, exact_bias[name]):
            measured = f"{_sig(s.bias_norm)} ± {_sig(s.bias_norm_se, 2)}"
            exact = _sig(float(b)) if b > 1e-12 else "0"  # rounding error of an exact zero
            rows.append([name, int(K), runs[name], measured, exact, _sig(s.total_std)])
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
        rows.append([label, _sig(np.exp(p[0])), _sig(np.exp(p[1])), _sig(np.exp(q[0])), _sig(np.exp(q[1])),
                     _sig(ratio, 4)])
    return MarkdownTable(headers, rows)


def plot_bias_variance(Ks, stats, exact_curve, T):
    """Two panels against the window length ``K``: the bias ``|E g - grad J|`` (measured, with twice its noise level
    as an error bar; the exact bias of the truncated estimators as a dashed curve) and the standard deviation of one
    estimate.

    stats: ``{name: [EstimatorStats per K]}``; exact_curve: ``(K values, exact |E g_K - grad J|)``.
    """
    fig, (ax_b, ax_s) = new_figure(2, width=10.0, height=4.0)
    Ks = np.asarray(Ks, dtype=float)
    shifts = np.linspace(0.85, 1.15, len(stats))  # side by side on the log axis
    for (name, per_K), shift in zip(stats.items(), shifts):
        c = ESTIMATOR_COLORS[name]
        bias = [s.bias_norm for s in per_K]
        err = [2 * s.bias_norm_se for s in per_K]
        ax_b.errorbar(Ks * shift, bias, yerr=err, fmt="o", color=c, capsize=3, label=name)
        ax_s.plot(Ks, [s.total_std for s in per_K], "o-", color=c, label=name)
    ax_b.plot(*exact_curve, "k--", lw=1.2, label="truncated, exact (moments)")
    ax_b.axhline(0.0, color="k", lw=0.8)
    for ax in (ax_b, ax_s):
        ax.set_xscale("log")
        ax.set_xlabel(f"window K (steps; T = {T})")
    ax_s.set_yscale("log")
    ax_b.set_ylabel(r"bias $|E[g] - \nabla J|$")
    ax_s.set_ylabel(r"std of one estimate $\sqrt{\mathrm{tr\,Cov}[g]}$")
    ax_b.set_title("Truncation is biased until K = T; PES is not")
    ax_s.set_title("The price of PES: a noisier estimate")
    ax_b.legend(loc="center left")
    ax_s.legend()
    fig.suptitle("How biased and how noisy is each estimator as the window K grows?", fontweight="bold")
    return fig


def plot_meta_optimization(paths, endpoints, colors, optimum, grid, schedule_values, T):
    """Left: meta-optimization paths in the ``(alpha_0, beta)`` plane over contours of ``log10 J``; right: the
    learned schedules against the long-horizon optimum.

    paths: ``{label: (M+1, 2)}`` in ``(log alpha_0, log beta)``; endpoints: ``{label: (2,)}`` where each run ended
    (e.g. the average of its last iterates); colors: ``{label: colour}``; optimum: ``phi*``;
    grid: ``(log alpha_0 values, log beta values, J on the grid (n_beta, n_alpha))``;
    schedule_values: ``phi -> (alpha_0 .. alpha_{T-1})``.
    """
    fig, (ax_p, ax_s) = new_figure(2, width=10.0, height=4.2)
    la, lb, J = grid
    cs = ax_p.contourf(np.exp(la), np.exp(lb), np.log10(J), levels=15, cmap="Greys_r", alpha=0.6)
    fig.colorbar(cs, ax=ax_p, label=r"$\log_{10} J$")
    t = np.arange(1, T + 1)
    for label, path in paths.items():
        ax_p.plot(np.exp(path[:, 0]), np.exp(path[:, 1]), "-", color=colors[label], lw=1.0, alpha=0.8)
        end = endpoints[label]
        ax_p.plot(np.exp(end[0]), np.exp(end[1]), "o", color=colors[label], ms=6, mec="k", mew=0.6)
        ax_s.plot(t, schedule_values(end), color=colors[label], label=label)
    ax_p.plot(np.exp(optimum[0]), np.exp(optimum[1]), "*", color="k", ms=14, mfc="w", label="long-horizon optimum")
    ax_s.plot(t, schedule_values(optimum), "k--", lw=2.2, label="long-horizon optimum")
    ax_p.set_xscale("log")
    ax_p.set_yscale("log")
    for axis, ticks in ((ax_p.xaxis, [0.03, 0.05, 0.1, 0.15]), (ax_p.yaxis, [0.5, 1, 2, 5, 10, 20])):
        axis.set_major_locator(FixedLocator(ticks))
        axis.set_major_formatter(FixedFormatter([f"{x:g}" for x in ticks]))
        axis.set_minor_formatter(NullFormatter())
    ax_p.set_xlabel(r"$\alpha_0$")
    ax_p.set_ylabel(r"$\beta$")
    ax_p.set_title("Paths of Adam on (α₀, β)")
    ax_p.legend(loc="lower left")
    ax_s.set_xscale("log")
    ax_s.set_yscale("log")
    ax_s.set_xlabel("step t")
    ax_s.set_ylabel(r"learning rate $\alpha_t$")
    ax_s.set_title("Learned schedules")
    ax_s.legend(fontsize=8)
    fig.suptitle("Where does meta-optimization with each estimator end?", fontweight="bold")
    return fig


__all__ = ["ESTIMATOR_COLORS", "MarkdownTable", "bias_variance_table", "endpoint_table", "plot_bias_variance",
           "plot_meta_optimization", "horizon_color"]
