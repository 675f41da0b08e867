"""Every figure the chapters draw, measured as a reader at 1280 px sees it (issue 15 item 2).

Each figure function of ``shb_lib.plotting`` that a chapter calls is drawn here with small synthetic inputs (the
functions only draw, so any input of the right shape will do) and measured:

* it fits the book's column (688 CSS px at a 1280 px screen, less the 8 px padding the dark theme puts around output
  images), so it is shown at its natural size, and every text is then at least 9 pt at the displayed size;
* at most two panels sit side by side;
* its lines use the book's one palette (or black / white ink), each with a contrast of at least 3:1 against the
  figure's background, which is opaque white (so dark mode shows it on white: ``book/_static/shb.css``);
* it has a title (its question or takeaway).

The palette itself is checked for 3:1 contrast against white and against the dark theme's page, and for colour-blind
safety (every pair apart under simulated protanopia, deuteranopia and tritanopia, Machado et al. 2009).
"""

from __future__ import annotations

import inspect
import io
import itertools
import json
import pathlib
from types import SimpleNamespace as NS

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex, to_rgb, to_rgba  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from shb_lib import plotting  # noqa: E402
from shb_lib.plotting import estimators as pe  # noqa: E402
from shb_lib.plotting import mnist as pm  # noqa: E402
from shb_lib.plotting import nqm as pn  # noqa: E402
from shb_lib.plotting import online as po  # noqa: E402
from shb_lib.plotting import phase as pp  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
#: The dark theme's page backgrounds (pydata-sphinx-theme's --pst-color-background, and the body colour Chromium
#: computes under sphinx-book-theme): lines must keep 3:1 against the lighter of them.
DARK_BACKGROUNDS = ("#14181e", "#121212")
#: Room the dark theme takes around an output image (0.5 rem padding on each side).
DARK_PADDING_PX = 16
#: Colour maps a figure may use: perceptually uniform and colour-blind safe, or grey.
COLOR_MAPS = {"viridis", "cividis", "Greys", "Greys_r"}
#: Ink that is not a data colour: black references, white markers on colour maps.
NEUTRAL = {"#000000", "#ffffff"}
#: The smallest difference (CIE76 delta E) between two palette colours, with normal vision and each simulated
#: dichromacy. 10 is well above "just noticeable" (about 2.3) for lines side by side.
MIN_DELTA_E = 10.0


# --- colour science: WCAG contrast, Machado 2009 dichromacy, CIELAB ----------------------------------------------

def _linear(color) -> np.ndarray:
    """sRGB (0-1) to linear RGB (IEC 61966-2-1)."""
    c = np.asarray(to_rgb(color), dtype=float)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _luminance(color) -> float:
    """WCAG 2 relative luminance."""
    return float(_linear(color) @ [0.2126, 0.7152, 0.0722])


def contrast(a, b) -> float:
    """WCAG 2 contrast ratio of two colours, (L_light + 0.05) / (L_dark + 0.05), from 1 to 21."""
    la, lb = sorted((_luminance(a), _luminance(b)))
    return (lb + 0.05) / (la + 0.05)


def _over_white(rgba) -> tuple:
    """A colour with transparency, composited over the white figure background."""
    r, g, b, a = to_rgba(rgba)
    return tuple(a * x + (1 - a) for x in (r, g, b))


#: Machado, Oliveira & Fernandes (2009), severity 1.0, on linear RGB.
DICHROMACY = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
    "normal vision": np.eye(3).tolist(),
}


def _lab(linear_rgb) -> np.ndarray:
    """Linear RGB to CIELAB (D65)."""
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ np.clip(
        linear_rgb, 0, 1)
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(a, b, vision: str) -> float:
    """CIE76 colour difference of two colours as seen with ``vision`` (a key of DICHROMACY)."""
    m = np.asarray(DICHROMACY[vision])
    return float(np.linalg.norm(_lab(m @ _linear(a)) - _lab(m @ _linear(b))))


def test_colour_science_against_known_values():
    """The measures above reproduce published numbers: black on white 21:1, #767676 on white 4.54:1 (the WCAG
    grey), and red and green, far apart for normal vision, close for a deuteranope."""
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert delta_e("#ff0000", "#00ff00", "normal vision") > 100
    assert delta_e("#d62728", "#2ca02c", "deuteranopia") < delta_e("#d62728", "#2ca02c", "normal vision") / 3


# --- the palette ---------------------------------------------------------------------------------------------------

def test_palette_contrast_on_white_and_on_the_dark_page():
    """Every palette colour has 3:1 contrast against white (the figures) and against the dark theme's page."""
    for name, c in plotting.PALETTE.items():
        assert contrast(c, "#ffffff") >= 3.0, f"{name} {c}: {contrast(c, '#ffffff'):.2f}:1 on white"
        for bg in DARK_BACKGROUNDS:
            assert contrast(c, bg) >= 3.0, f"{name} {c}: {contrast(c, bg):.2f}:1 on {bg}"


def test_palette_is_colour_blind_safe():
    """Every pair of palette colours stays apart (delta E >= MIN_DELTA_E) with each simulated dichromacy."""
    worst = min((delta_e(a, b, v), v, a, b) for v in DICHROMACY
                for a, b in itertools.combinations(plotting.PALETTE.values(), 2))
    assert worst[0] >= MIN_DELTA_E, f"{worst[2]} and {worst[3]} are {worst[0]:.1f} apart with {worst[1]}"


def test_meanings_use_the_palette():
    """Horizons, schedules, scales, estimators and online runs all take their colours from the one palette, and the
    shortest and longest horizon keep their colours whatever the number of horizons."""
    allowed = set(plotting.PALETTE.values()) | {plotting.INK}
    for table in (plotting.HORIZON_COLORS, plotting.SCHEDULE_COLORS.values(), plotting.SCALE_COLORS.values(),
                  pe.ESTIMATOR_COLORS.values(), po.ONLINE_COLORS.values(), [pm.SMD_COLOR, pm.DIVERGED_COLOR]):
        assert set(table) <= allowed, set(table) - allowed
    assert len(set(plotting.HORIZON_COLORS)) == len(plotting.HORIZON_COLORS)
    for n in (2, 3, 4):
        cs = plotting.horizon_colors(n)
        assert (cs[0], cs[-1]) == (plotting.horizon_color(0), plotting.horizon_color(3)) and len(set(cs)) == n
    assert plotting.SCHEDULE_COLORS["greedy"] == plotting.horizon_color(0)  # greedy is the 1-step horizon
    assert plotting.SCHEDULE_COLORS["optimized"] == plotting.horizon_color(3)  # optimized: the full horizon
    with pytest.raises(ValueError, match="n must be"):
        plotting.horizon_colors(0)


def test_style_maps_the_figure_width_onto_the_column():
    """A figure of the style's width at its dpi is no wider than the column less the dark theme's padding, the
    smallest font of the style is 9 pt, and the background is opaque."""
    plotting.use_style()
    rc = matplotlib.rcParams
    assert rc["figure.dpi"] == plotting.DPI == 96  # one figure pixel per CSS px: points are screen points
    assert plotting.FIG_WIDTH * plotting.DPI <= plotting.COLUMN_PX - DARK_PADDING_PX
    sizes = [rc[k] for k in ("font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize", "ytick.labelsize",
                             "legend.fontsize", "legend.title_fontsize", "figure.titlesize")]
    assert min(sizes) >= plotting.MIN_FONT_PT >= 9
    assert to_rgba(rc["figure.facecolor"])[3] == 1.0 and not rc["savefig.transparent"]


def test_new_figure_rejects_impossible_layouts():
    with pytest.raises(ValueError, match="ncols must be a positive integer"):
        plotting.new_figure(0)
    with pytest.raises(ValueError, match="width must be a positive number"):
        plotting.new_figure(1, width=0.0)
    with pytest.raises(ValueError, match="n must be a positive number of panels"):
        plotting.grid_figure(0, row_height=2.0)


# --- every figure of the chapters, from synthetic inputs --------------------------------------------------------

_rng = np.random.default_rng(0)


def _schedule(T, a, m, f):
    t = np.arange(T + 1)
    loss = 100 * np.exp(-t / 40) + f
    return NS(T=T, lrs=a * np.exp(-np.arange(T) / 100), momenta=np.full(T, m), losses=loss, final_loss=loss[-1],
              high_curvature_losses=loss / 10, low_curvature_losses=loss / 3)


def _stats(n, b):
    return [NS(bias_norm=b / (k + 1), bias_norm_se=0.01, total_std=0.1 * (k + 1), n=50) for k in range(n)]


def _online(stochastic, n):
    step = np.arange(0, 200, 2)
    alpha = np.geomspace(0.001, 0.1, n)
    return NS(config=NS(stochastic=stochastic, adapt_steps=100, steps=200), alpha=alpha, mu=np.full(n, 0.9),
              step=step, train_loss=np.exp(-step / 80)[None] * (1 + np.arange(n))[:, None], lr_step=step,
              alpha_eff=np.outer(alpha * 10, np.ones(len(step))), diverged=np.array([False] * (n - 1) + [True]))


def _surface():
    a, b = np.exp(_rng.uniform(-4, 0, 60)), np.exp(_rng.uniform(-3, 5, 60))
    loss = (np.log(a) + 2) ** 2 + (np.log(b) - 1) ** 2 + 0.1
    loss[:3] = np.inf
    return {"alpha_0": a, "beta": b, "loss": loss}


def _aggressive():
    t = np.linspace(0, 1, 201)[:, None]
    path = np.hstack([3 * (1 - t), np.sin(40 * t) * (1 - t)])
    return {"problem": NS(h=np.array([0.01, 1.0])), "switch": 100, "paths": {"conservative": path, "aggressive": path},
            "mean_paths": {"conservative": path, "aggressive": path * 0.5},
            "losses": {"conservative": np.exp(-t[:, 0]), "aggressive": np.exp(-2 * t[:, 0])}}


def _slider_frame(monkeypatch):
    lrs = pn._SLIDER_LRS
    curve = np.geomspace(100, 1, pn._SLIDER_LONG + 1)
    fake = {10: ((np.log(lrs) + 2) ** 2, 0.1, curve * 2, NS(losses=curve * 3)),
            pn._SLIDER_LONG: ((np.log(lrs) + 4) ** 2, 0.02, curve, NS(losses=curve * 3))}
    monkeypatch.setattr(pn, "_slider_data", lambda h, s: fake[h])
    return pn.schedules_figure(10, 1.0)


def _phase(n_ps: int = 5):
    ps, kap = np.array([0.0, 0.25, 0.5, 0.75, 1.0])[:n_ps], np.array([1.0, 10, 100, 200, 1e3, 1e4])
    ns = np.array([0.0, 1e-6, 1e-2, 0.3, 1.0, 10.0])
    ratio = 1 + np.einsum("p,k,s->pks", 1 - ps, np.log10(kap), np.arange(len(ns))) * 3
    ratio[0, :2, -2:] = 1.0  # the boundary reaches the lower right corner, where a legend used to sit
    index = lambda k, s, p: (int(np.flatnonzero(ps == p)[0]), int(np.flatnonzero(kap == k)[0]),  # noqa: E731
                             int(np.flatnonzero(ns == s)[0]))
    return pp.phase_diagram_figure(NS(greedy_ratio=ratio, ps=ps, kappas=kap, noise_scales=ns, index=index),
                                   {"kappa": 200.0, "noise_scale": 1.0, "p": 0.0},
                                   title="Where does a 1-step horizon lose nothing? Without noise, or preconditioned")


def _meta_optimization():
    labels = ["backprop K = 1", "backprop K = 10", "backprop K = 100", "backprop, whole run", "PES K = 10", "ES"]
    colors = dict(zip(labels, [*(plotting.horizon_color(i) for i in range(4)), pe.ESTIMATOR_COLORS["persistent ES"],
                               pe.ESTIMATOR_COLORS["ES"]]))
    paths = {lab: np.log(np.column_stack([np.geomspace(0.1, 0.05 + 0.01 * i, 30), np.geomspace(1, 2 + i, 30)]))
             for i, lab in enumerate(labels)}
    la, lb = np.linspace(np.log(0.03), np.log(0.19), 12), np.linspace(np.log(0.3), np.log(20), 12)
    grid = (la, lb, np.exp(np.add.outer(lb, la) ** 2 / 10 + 1))
    lrs = lambda phi: np.exp(phi[0]) / (1 + np.arange(100) / 10) ** np.exp(phi[1])  # noqa: E731
    return pe.plot_meta_optimization(paths, {k: p[-1] for k, p in paths.items()}, colors, np.log([0.08, 3.0]), grid,
                                     lrs, 100)


def _broken_online():
    """Chapter 5's deterministic runs: one breaks down just before adaptation stops, its loss jumping to log 10 in the
    upper right of the loss panel, where the legend used to sit."""
    r = _online(False, 3)
    loss = r.train_loss.copy()
    loss[1, r.step >= 90] = np.log(10)
    return NS(**{**vars(r), "train_loss": loss, "diverged": np.array([False, False, False])})


def _diverging_meta():
    """Chapter 3's fixed-rate meta-objectives: above 2/h_max the loss grows like (1 - alpha h)^(2k), up to 1e194."""
    lrs = np.geomspace(1e-3, 1.0, 80)
    base = {k: 2e4 * np.exp(-lrs * k * 50) + 10 * lrs * 1e3 / k for k in (10, 30, 100)}
    solid = {k: b * np.where(lrs > 0.2, (10 * lrs - 1) ** (2 * k), 1.0) for k, b in base.items()}
    dashed = {k: 0.8 * v for k, v in solid.items()}
    return lrs, solid, dashed


_SCHEDULES_OFF = {k: NS(**{**vars(v), "lrs": np.where(np.arange(250) >= 233, 0.0, v.lrs) if k == "optimized"
                           else v.lrs}) for k, v in {"greedy": _schedule(250, 0.1, 0.0, 60),
                                                      "fixed": _schedule(250, 0.02, 0.9, 42),
                                                      "optimized": _schedule(250, 0.2, 0.5, 4)}.items()}


def _mc_paper():
    """Chapter 1's check: a loss over three decades, a Monte-Carlo band of a few tenths of a percent."""
    t = np.arange(101)
    exact = 2.5e4 * np.exp(-t / 15) + 50 * np.exp(-t / 150)
    se = 0.0015 * exact
    mean = exact + se * _rng.normal(size=101)
    mean[0], se[0] = exact[0], 0.0
    z = np.where(se > 0, (mean - exact) / np.where(se > 0, se, 1), 0.0)
    return exact, mean, se, z


_H = np.array([50, 200, 1000])
_STEP = np.arange(0, 400, 10)
_LONG = {"step": _STEP, "horizons": _H, "alpha_0": [0.3, 0.2, 0.1], "beta": [100, 10, 1],
         "train_loss": np.exp(-np.outer([1, 2, 3], _STEP) / 300),
         "test_error": 0.05 * np.exp(-np.outer([1, 2, 3], _STEP) / 300),
         "lr": np.exp(-np.outer([3, 2, 1], _STEP) / 300)}
_PAPER_H = [100, 1000, 5000, 20000]
_LRS = np.geomspace(1e-3, 1, 40)
_SOLID = {k: (np.log(_LRS) + 3 - np.log(k)) ** 2 + 1 for k in (10, 30, 100)}
_SCHEDULES = {"greedy": _schedule(250, 0.1, 0.0, 60), "fixed": _schedule(250, 0.02, 0.9, 42),
              "optimized": _schedule(250, 0.2, 0.5, 4)}
_mc = np.exp(-np.arange(61) / 20)
_q = lambda m: NS(median=m, q25=m * 0.8, q75=m * 1.3, n=5, values=m * np.linspace(0.7, 1.4, 5))  # noqa: E731
_band = lambda f: {"lrs": np.geomspace(1, 0.01 * f, 100), "high": np.geomspace(1, 1e-3, 101),  # noqa: E731
                   "low": np.geomspace(1, 0.1 * f, 101)}

#: ``name -> (function, draw(monkeypatch) -> figure or (figure, axes))``: every figure function a chapter calls,
#: with the chapter's keyword arguments (titles as long as the chapters').
FIGURES = {
    "monte_carlo_figure": (pn.monte_carlo_figure, lambda mp: pn.monte_carlo_figure(
        _mc, _mc * 1.01, 0.02 * _mc, _rng.normal(size=61), n_runs=1000,
        title="Does the exact recursion match noisy SGD? Yes, within the sampling error")),
    "one_step_loss_figure": (pn.one_step_loss_figure, lambda mp: pn.one_step_loss_figure(
        np.geomspace(5e-4, 0.05, 20), np.linspace(0, 0.98, 15),
        np.add.outer(np.linspace(0, 0.98, 15), np.log(np.geomspace(5e-4, 0.05, 20))) ** 2, (0.01, 0.5), (0.011, 0.52),
        title="Where is the one-step loss smallest? At the closed form")),
    "aggressive_vs_conservative_figure": (pn.aggressive_vs_conservative_figure,
                                          lambda mp: pn.aggressive_vs_conservative_figure(
                                              _aggressive(),
                                              title="Which schedule wins? The one that looks worse until its decay")),
    "schedules_panels": (pn.schedules_panels, lambda mp: pn.schedules_panels(
        _SCHEDULES, title="Noisy problem: why does greedy end 15x worse? It starves the flat directions")),
    "schedules_panels(bands=False)": (pn.schedules_panels, lambda mp: pn.schedules_panels(
        _SCHEDULES, title="Deterministic problem: can a schedule beat greedy? No, greedy ends lowest", bands=False)),
    "fit_curves_figure": (pn.fit_curves_figure, lambda mp: pn.fit_curves_figure(
        {"paper's protocol (500 x 0.003, clipped)": np.exp(-np.arange(500) / 200) + 4,
         "projected Adam, 2000 x 0.01": np.exp(-np.arange(2000) / 300) + 3.9}, paper_value=4.25,
        title="Has the optimized schedule converged? Not quite")),
    "meta_objective_figure": (pn.meta_objective_figure, lambda mp: pn.meta_objective_figure(
        _LRS, _SOLID, {k: v * 0.8 for k, v in _SOLID.items()}, decay_steps=50, stability_lr=0.2,
        title="Which fixed rate does a k-step objective pick? Smaller than a decay wants")),
    "schedules_figure": (pn.schedules_figure, _slider_frame),
    "plot_unrolled_sgd": (pm.plot_unrolled_sgd, lambda mp: pm.plot_unrolled_sgd(
        title="How does the meta-objective depend on the hyperparameters?")),
    "plot_surfaces": (pm.plot_surfaces, lambda mp: pm.plot_surfaces(
        {T: _surface() for T in _H}, {50: [{"beta": np.geomspace(0.1, 10, 10), "alpha_0": np.geomspace(0.1, 0.3, 10)}]},
        {50: (0.3, 2.0)}, title="Book scale: where is each horizon's best schedule?")),
    "plot_surfaces(paper scale)": (pm.plot_surfaces, lambda mp: pm.plot_surfaces(
        {T: _surface() for T in _PAPER_H}, None, {100: (0.3, 2.0)},
        title="Paper scale (2500/96 samples): where is each horizon's optimum?")),
    "plot_long_runs": (pm.plot_long_runs, lambda mp: pm.plot_long_runs(
        _LONG, K=500, title="Book scale: which horizon's schedule trains best in the long run?")),
    "plot_final_losses": (pm.plot_final_losses, lambda mp: pm.plot_final_losses(
        [("book scale (this run)", _H, [0.15, 0.02, 0.03]),
         ("paper scale, surface top 3 of 2500 samples", _PAPER_H, [0.17, 0.03, 7e-4, 5e-5]),
         ("paper scale, surface top 3 of 96 samples", _PAPER_H, [0.16, 0.05, 4e-4, 5e-5]),
         ("paper scale, SMD from beta = 0.1 and 10", _PAPER_H, [0.16, 0.04, 2e-4, 9e-4])],
        title="Does a longer horizon give a lower final loss?")),
    "render_sweep": (pm.render_sweep, lambda mp: pm.render_sweep(
        {"horizons": _H, "batch_sizes": np.array([10, 100, 300]), "betas": np.geomspace(0.01, 100, 9),
         "loss": _rng.uniform(0.1, 1, (3, 3, 9)), "alpha_0": 0.1}, 200, 100, K=500)),
    "plot_online": (po.plot_online, lambda mp: po.plot_online(
        _online(True, 3), _online(False, 1), "Does SMD with a stochastic 5-step lookahead keep the learning rate up?")),
    "plot_lookahead_surface": (po.plot_lookahead_surface, lambda mp: po.plot_lookahead_surface(
        {"stochastic": {"alpha_eff": _LRS, "mean": (np.log(_LRS) + 2) ** 2 + 1},
         "deterministic": {"alpha_eff": _LRS, "mean": np.log(_LRS) ** 2 + 1}}, 1.0,
        "Which learning rate does a 5-step lookahead prefer?")),
    "plot_bias_variance": (pe.plot_bias_variance, lambda mp: pe.plot_bias_variance(
        [1, 10, 100, 1000], {"truncated backprop": _stats(4, 1.0), "truncated ES": _stats(4, 0.8),
                             "persistent ES": _stats(4, 0.05)},
        (np.array([1, 10, 100, 1000]), 1 / np.arange(1, 5)), 1000)),
    "plot_meta_optimization": (pe.plot_meta_optimization, lambda mp: _meta_optimization()),
    "plot_reference_bias": (pe.plot_reference_bias, lambda mp: pe.plot_reference_bias(
        {"truncated backprop": [1, 10, 100], "persistent ES": [10, 100]},
        {"truncated backprop": _rng.normal(size=(3, 20, 2)), "persistent ES": _rng.normal(size=(2, 20, 2))},
        _rng.normal(size=(30, 2)), 1000)),
    "plot_meta_paths": (pe.plot_meta_paths, lambda mp: pe.plot_meta_paths(
        {"backprop K = 1": np.log(np.geomspace([0.1, 1], [0.05, 5], 30)),
         "backprop, whole run": np.log(np.geomspace([0.1, 1], [0.08, 2], 30))},
        {"backprop K = 1": plotting.horizon_color(0), "backprop, whole run": plotting.horizon_color(3)})),
    "phase_diagram_figure": (pp.phase_diagram_figure, lambda mp: _phase()),
    "phase_diagram_figure(4 panels)": (pp.phase_diagram_figure, lambda mp: _phase(n_ps=4)),
    "plot_online(a run breaks down)": (po.plot_online, lambda mp: po.plot_online(
        _broken_online(), _online(False, 1), "Does a deterministic lookahead fix it?")),
    "meta_objective_figure(diverging)": (pn.meta_objective_figure, lambda mp: pn.meta_objective_figure(
        *_diverging_meta(), decay_steps=50, stability_lr=0.2,
        title="Which fixed rate does a k-step objective pick? Smaller than a decay wants")),
    "schedules_panels(rate switched off)": (pn.schedules_panels, lambda mp: pn.schedules_panels(
        _SCHEDULES_OFF, title="Noisy problem: why does greedy end 15x worse? It starves the flat directions")),
    "monte_carlo_figure(paper's band)": (pn.monte_carlo_figure, lambda mp: pn.monte_carlo_figure(
        *_mc_paper(), n_runs=1000, title="Does the exact recursion match noisy SGD? Yes, within the sampling error")),
    "mechanism_figure": (pp.mechanism_figure, lambda mp: pp.mechanism_figure(
        {f"p = {p}": {"greedy": _band(1), "optimized": _band(0.5)} for p in ("0 (paper)", "0.25", "0.5", "1")},
        title="What does greedy give away? The flat directions, until preconditioned")),
    "remedies_figure": (pp.remedies_figure, lambda mp: pp.remedies_figure(
        {("sgd", 10): {"loss_ratio": _q(3)}, ("adam", 10): {"loss_ratio": _q(1.1)},
         ("sgd", 100): {"loss_ratio": _q(2)}, ("adam", 100): {"loss_ratio": _q(1.0)}},
        title="Does Adam let a 50-step horizon choose well?")),
}


def _called_by_chapters() -> set[str]:
    """Names of the plotting functions that the chapters' code cells call (``name(`` after an import from
    ``shb_lib.plotting``, or ``alias.name(`` for a module imported from it)."""
    import re

    public = {name for mod in (pn, pm, po, pp, pe) for name, f in vars(mod).items()
              if inspect.isfunction(f) and f.__module__ == mod.__name__ and not name.startswith("_")}
    called = set()
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        src = "\n".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")
        called |= {name for name in public if re.search(rf"\b{name}\b", src)}
    return called


def test_every_figure_function_the_chapters_call_is_measured():
    """The list below covers every figure function a chapter names (tables and helpers such as ``close`` aside)."""
    figure_functions = {name for name in _called_by_chapters()
                        if name.endswith("_figure") or name.startswith(("plot_", "render_", "schedules_"))}
    measured = {f.__name__ for f, _ in FIGURES.values()}
    assert figure_functions, "no chapter calls a figure function: the chapters or this test changed"
    assert figure_functions <= measured, f"not measured here: {sorted(figure_functions - measured)}"


_DRAWN: dict = {}


@pytest.fixture(scope="module", autouse=True)
def _close_figures():
    yield
    for fig in _DRAWN.values():
        plt.close(fig)
    _DRAWN.clear()


@pytest.fixture(params=sorted(FIGURES), ids=lambda s: s)
def drawn(request):
    """``(name, figure)`` drawn once per module in the book's style and rendered (tick labels exist)."""
    name = request.param
    if name not in _DRAWN:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        plotting.use_style()
        matplotlib.rcParams["figure.max_open_warning"] = 0  # the drawn figures are kept for the module, on purpose
        with pytest.MonkeyPatch.context() as mp:
            out = FIGURES[name][1](mp)
        fig = out[0] if isinstance(out, tuple) else out
        if not hasattr(fig.canvas, "get_renderer"):  # a slider frame is closed before it is returned
            FigureCanvasAgg(fig)
        fig.canvas.draw()
        _DRAWN[name] = fig
    return name, _DRAWN[name]


def _displayed_width_px(fig) -> float:
    """Width of the PNG the inline backend stores (``bbox_inches="tight"``, 0.1 in padding), in CSS px."""
    bbox = fig.get_tightbbox(fig.canvas.get_renderer())
    return (bbox.width + 2 * matplotlib.rcParams["savefig.pad_inches"]) * plotting.DPI


def test_the_stored_png_is_high_dpi_and_sized_for_the_column():
    """What a notebook stores for a figure (:func:`shb_lib.plotting.retina_png`): twice the pixels of its display
    size, that size (the ``<img>`` width) within the column, 256 colours, no transparency, the same bytes for the same
    figure drawn again."""
    from PIL import Image

    plotting.use_style()
    fig, _ = FIGURES["schedules_panels"][1](None)
    data, meta = plotting.retina_png(fig)
    img = Image.open(io.BytesIO(data))
    assert 0 <= img.width - 2 * meta["width"] <= 1 and 0 <= img.height - 2 * meta["height"] <= 1
    assert meta["width"] == pytest.approx(_displayed_width_px(fig), abs=1)
    assert meta["width"] <= plotting.COLUMN_PX - DARK_PADDING_PX
    assert img.mode == "P" and len(img.getcolors(256)) <= 256 and "transparency" not in img.info
    again, _ = FIGURES["schedules_panels"][1](None)
    assert plotting.retina_png(again)[0] == data
    plt.close(fig)
    plt.close(again)


def _scale(fig) -> float:
    """How much the page shrinks the figure at 1280 px: 1 when it fits the column (dark mode's padding included)."""
    return min(1.0, (plotting.COLUMN_PX - DARK_PADDING_PX) / _displayed_width_px(fig))


def _panels(fig) -> list:
    """The figure's panels: its axes that are switched on or draw something (a diagram), without colour bars
    and without spare slots that hold only a legend."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and (ax.axison or ax.lines or ax.texts)]


def test_figure_fits_the_column(drawn):
    name, fig = drawn
    width = _displayed_width_px(fig)
    assert width <= plotting.COLUMN_PX - DARK_PADDING_PX, f"{name}: {width:.0f} px wide, shrunk on the page"


def test_text_is_at_least_9_pt_displayed(drawn):
    name, fig = drawn
    scale = _scale(fig)
    small = sorted({(round(t.get_fontsize() * scale, 2), t.get_text()[:30]) for t in fig.findobj(Text)
                    if t.get_visible() and t.get_text().strip() and t.get_fontsize() * scale < plotting.MIN_FONT_PT})
    assert not small, f"{name}: text under {plotting.MIN_FONT_PT} pt at the displayed size: {small[:5]}"


def test_at_most_two_panels_side_by_side(drawn):
    name, fig = drawn
    boxes = [ax.get_position() for ax in _panels(fig)]
    assert boxes, f"{name}: no panel"
    for b in boxes:
        # panels whose vertical extents overlap by more than half the shorter one sit in one row; of those, the
        # ones side by side are horizontally apart (a panel stacked on another beside a tall one is one column)
        row = sorted((o for o in boxes if min(b.y1, o.y1) - max(b.y0, o.y0) > 0.5 * min(b.height, o.height)),
                     key=lambda o: o.x0)
        columns, right = 0, -np.inf
        for o in row:
            if o.x0 >= right:
                columns, right = columns + 1, o.x1
        assert columns <= plotting.MAX_PANELS_PER_ROW, f"{name}: {columns} panels side by side"


def _data_lines(fig):
    return [ln for ax in _panels(fig) for ln in ax.get_lines() if ln.get_visible() and len(ln.get_xdata())]


def test_colours_come_from_the_palette(drawn):
    """Lines and markers use the palette or black/white ink; filled contours and images a colour-blind-safe map."""
    name, fig = drawn
    allowed = {c.lower() for c in plotting.PALETTE.values()} | NEUTRAL
    used = {to_hex(ln.get_color()) for ln in _data_lines(fig)}
    for ax in _panels(fig):
        for coll in ax.collections:
            if isinstance(coll, ContourSet) or not len(coll.get_facecolors()):
                continue
            if coll.get_array() is None:  # a scatter or a band in a fixed colour
                used |= {to_hex(c) for c in coll.get_facecolors()}
    assert used <= allowed, f"{name}: colours outside the palette: {sorted(used - allowed)}"
    # contour *lines* in one fixed colour (guides: loss contours, the phase boundary) carry no colour map
    maps = {m.get_cmap().name for ax in _panels(fig) for m in [*ax.collections, *ax.images]
            if m.get_array() is not None and not (isinstance(m, ContourSet) and not m.filled)}
    assert maps <= COLOR_MAPS, f"{name}: colour maps {sorted(maps - COLOR_MAPS)}"


def test_lines_have_3_to_1_contrast_on_the_figure(drawn):
    """Every drawn line (not a marker-only series, not white ink on a colour map) has at least 3:1 against the
    figure's white background, its transparency included."""
    name, fig = drawn
    bg = to_rgba(fig.get_facecolor())
    low = []
    for ln in _data_lines(fig):
        if ln.get_linestyle() in ("None", "", " ") or to_hex(ln.get_color()) == "#ffffff":
            continue
        rgba = to_rgba(ln.get_color(), ln.get_alpha())
        c = contrast(_over_white(rgba), bg[:3])
        if c < 3.0:
            low.append((ln.get_label(), to_hex(rgba, keep_alpha=True), round(c, 2)))
    assert not low, f"{name}: lines under 3:1 on the figure background: {low[:5]}"


def test_background_is_opaque(drawn):
    """The stored image has no transparent pixel, so the dark theme cannot show through it."""
    from PIL import Image

    name, fig = drawn
    assert to_rgba(fig.get_facecolor())[3] == 1.0
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=plotting.DPI, bbox_inches="tight")  # RGBA, as matplotlib draws it
    alpha = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGBA"))[..., 3]
    assert alpha.min() == 255, f"{name}: {int((alpha < 255).sum())} transparent pixels"


def test_figure_has_a_title(drawn):
    name, fig = drawn
    title = fig.get_suptitle().strip()
    assert len(title) >= 10, f"{name}: no title stating the figure's question or takeaway"


# --- what a legend or an axis limit must not hide --------------------------------------------------------------

def _display_points(ax, xy: np.ndarray, step_px: float = 2.0) -> np.ndarray:
    """The points of a polyline ``xy`` (data coordinates) in display pixels, with points added every ``step_px``
    along each segment, so that a segment crossing a box is seen even where no vertex lies in it."""
    with np.errstate(all="ignore"):
        pts = ax.transData.transform(np.asarray(xy, float))
    out = []
    for a, b in zip(pts[:-1], pts[1:]):
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            continue
        n = max(2, int(np.hypot(*(b - a)) / step_px) + 1)
        out.append(a + np.linspace(0, 1, n)[:, None] * (b - a))
    if not out:
        return pts[np.all(np.isfinite(pts), axis=1)]
    return np.concatenate(out)


def _data_paths(ax):
    """``(label, points in display px)`` of what an axes draws as data: its lines (not the legend's) and contour
    lines, clipped to the axes (what is outside the axes is not shown)."""
    box = ax.get_window_extent()
    out = []
    for ln in ax.get_lines():
        if ln.get_visible() and len(ln.get_xdata()):
            out.append((ln.get_label(), _display_points(ax, ln.get_xydata())))
    for coll in ax.collections:
        if isinstance(coll, ContourSet) and not coll.filled:
            for path in coll.get_paths():
                if len(path.vertices):
                    out.append(("contour", _display_points(ax, path.vertices)))
    clipped = []
    for label, pts in out:
        inside = ((pts[:, 0] >= box.x0) & (pts[:, 0] <= box.x1) & (pts[:, 1] >= box.y0) & (pts[:, 1] <= box.y1))
        clipped.append((label, pts[inside]))
    return clipped


def legend_overlaps(fig) -> list[str]:
    """Every legend of ``fig`` (of an axes or of the figure) that lies over a line or contour a panel draws:
    ``"legend 'first label' covers 'line label'"`` for each, empty when every legend is clear of the data."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = [(None, lg) for lg in fig.legends] + [(ax, ax.get_legend()) for ax in fig.axes if ax.get_legend()]
    found = []
    for owner, lg in legends:
        box = lg.get_window_extent(renderer).shrunk(0.98, 0.96)
        first = lg.get_texts()[0].get_text() if lg.get_texts() else "?"
        for ax in (fig.axes if owner is None else [owner]):
            for label, pts in _data_paths(ax):
                if len(pts) and np.any((pts[:, 0] > box.x0) & (pts[:, 0] < box.x1)
                                       & (pts[:, 1] > box.y0) & (pts[:, 1] < box.y1)):
                    found.append(f"legend {first!r} covers {label!r}")
    return sorted(set(found))


#: Figures whose legends the review found over their data (issue 15), and the cases drawn like the chapters' data.
LEGEND_CLEAR = ("plot_online", "plot_online(a run breaks down)", "phase_diagram_figure",
                "phase_diagram_figure(4 panels)", "meta_objective_figure", "meta_objective_figure(diverging)",
                "schedules_panels", "schedules_panels(rate switched off)", "monte_carlo_figure",
                "monte_carlo_figure(paper's band)")


@pytest.mark.parametrize("name", LEGEND_CLEAR)
def test_legend_is_clear_of_the_data(name):
    """No legend lies over a line or contour of the data (chapter 5's broken run, chapter 7's 10 % contour)."""
    plotting.use_style()
    out = FIGURES[name][1](None)
    fig = out[0] if isinstance(out, tuple) else out
    try:
        assert not legend_overlaps(fig), f"{name}: {legend_overlaps(fig)}"
    finally:
        plt.close(fig)


def test_legend_check_can_fail():
    """``legend_overlaps`` sees a legend put over a line, and a line that only crosses the legend's box."""
    plotting.use_style()
    fig, ax = plotting.new_figure()
    ax.plot([0, 1], [0, 1], label="diagonal")
    ax.plot([0, 1], [0.9, 0.9], label="flat")
    ax.legend(loc="upper left")
    assert "legend 'diagonal' covers 'flat'" in legend_overlaps(fig)
    plt.close(fig)


def test_meta_objective_axis_ends_where_the_loss_diverges():
    """Chapter 3's fixed-rate figure: the loss axis spans the meaningful range (up to DIVERGENCE_FACTOR times the
    initial loss, not 1e200), and every curve that leaves it ends in a marker on the upper edge, labelled."""
    from shb_lib.divergence import DIVERGENCE_FACTOR

    plotting.use_style()
    lrs, solid, dashed = _diverging_meta()
    fig, ax = pn.meta_objective_figure(lrs, solid, dashed, decay_steps=50, stability_lr=0.2, title="a title here")
    start = max(v[0] for v in (*solid.values(), *dashed.values()))
    lo, hi = ax.get_ylim()
    assert hi == pytest.approx(DIVERGENCE_FACTOR * start)
    assert lo <= min(np.min(v) for v in (*solid.values(), *dashed.values()))
    for line in ax.get_lines():
        y = np.asarray(line.get_ydata(), float)
        assert np.all(y[np.isfinite(y)] <= hi * (1 + 1e-9)), f"{line.get_label()} drawn above the axis"
    edge_markers = [ln for ln in ax.get_lines() if ln.get_marker() == "^"]
    assert len(edge_markers) == 6  # every curve of _diverging_meta diverges
    assert any("diverged" in t.get_text() for lg in fig.legends for t in lg.get_texts())
    with pytest.raises(ValueError, match="initial_loss"):
        pn.meta_objective_figure(lrs, solid, dashed, decay_steps=50, initial_loss=0.0, title="a title here")
    plt.close("all")


def test_a_rate_switched_off_stays_on_the_axis():
    """Chapter 3's schedules: a learning rate of exactly 0 (the optimized schedule's last steps) cannot sit on a
    log axis; it is drawn dotted on the axis's floor, which lies below every positive rate, and labelled."""
    plotting.use_style()
    fig, axes = pn.schedules_panels(_SCHEDULES_OFF, title="a title here")
    ax = axes[0]
    lo, hi = ax.get_ylim()
    positive = np.concatenate([s.lrs[s.lrs > 0] for s in _SCHEDULES_OFF.values()])
    assert 0 < lo < positive.min() and hi > positive.max()
    dotted = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert dotted, "the zero rates are not drawn"
    for ln in ax.get_lines():
        y = np.asarray(ln.get_ydata(), float)
        assert np.all(y[np.isfinite(y)] >= lo * (1 - 1e-9)), f"{ln.get_label()} drawn below the axis floor"
    assert any("= 0" in t.get_text() for t in ax.texts)
    plt.close(fig)


def test_monte_carlo_band_is_visible_and_the_exact_curve_on_top():
    """Chapter 1's check: the Monte-Carlo band (a few tenths of a percent of the loss) is drawn where it is at least a
    few pixels high, around the exact curve, which is drawn over it (not hidden under the band)."""
    plotting.use_style()
    exact, mean, se, z = _mc_paper()
    fig, (ax, ar, az) = pn.monte_carlo_figure(exact, mean, se, z, n_runs=1000, title="a title here")
    fig.canvas.draw()
    band = [c for c in ar.collections if len(c.get_paths())][0]
    heights = []
    for path in band.get_paths():
        v = ar.transData.transform(path.vertices)
        heights.append(np.ptp(v[:, 1]))
    assert max(heights) > 20, "the band is too thin to see"
    exact_lines = [ln for ln in (*ax.get_lines(), *ar.get_lines()) if ln.get_color() in ("#000000", "k", "black")]
    assert exact_lines and all(ln.get_zorder() > band.get_zorder() for ln in exact_lines)
    lo, hi = ar.get_ylim()
    rel = 100 * 2 * se[1:] / exact[1:]
    assert lo < -rel.max() / 2 and hi > rel.max() / 2  # the band fits the axis
    plt.close(fig)


# --- the book's CSS -----------------------------------------------------------------------------------------------

def test_the_books_css_is_loaded_and_shows_figures_unfiltered_in_dark_mode():
    """``_config.yml`` loads ``book/_static/shb.css``, whose dark-mode rule shows output images on white without the
    theme's dimming filter and outside its padding, and whose code rules fit an 88-character line in the column (0.75 rem = 12 px:
    88 x 0.6 em = 634 px, less than the 666 px of the narrowest code block)."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    static = [ROOT / p for p in config["html_static_path"]]
    assert "shb.css" in config["html_css_files"] and any((p / "shb.css").is_file() for p in static)
    css = (ROOT / "book" / "_static" / "shb.css").read_text()
    import re

    dark = re.search(r'html\[data-theme="?dark"?\][^{]*div\.cell_output img\s*\{([^}]*)\}', css)
    assert dark and "filter: none" in dark.group(1) and "#fff" in dark.group(1)
    assert "box-sizing: content-box" in dark.group(1)  # the card's padding does not shrink the figure
    code = re.search(r"div\.cell_input pre[^{]*\{([^}]*)\}", css)
    assert code and "font-size: 0.75rem" in code.group(1)
    assert 88 * 0.6 * 12 + 16 <= 666
    out = re.search(r"div\.cell_output pre\s*\{([^}]*)\}", css)
    assert out and "white-space: pre-wrap" in out.group(1)
    # a phone: figures never narrower than 35 rem (their 9 pt text at 7.6 pt), in a box that scrolls sideways
    box = re.search(r"div\.cell_output a\.image-reference\s*\{([^}]*)\}", css)
    assert box and "overflow-x: auto" in box.group(1) and "max-width: 100%" in box.group(1)
    img = re.search(r"div\.cell_output a\.image-reference img\s*\{([^}]*)\}", css)
    assert img and "max-width: max(100%, 35rem)" in img.group(1) and "height: auto" in img.group(1)
    assert plotting.MIN_FONT_PT * 35 * 16 / (plotting.FIG_WIDTH * plotting.DPI + 11) >= 7.5
