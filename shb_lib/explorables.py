"""Live explorables of the noisy quadratic: figures that recompute in the reader's browser, with no kernel.

A chapter shows one with one call, as the last line of a cell::

    from shb_lib.explorables import horizon_explorer

    horizon_explorer()

Each function returns an :class:`IPython.display.HTML` object holding everything the explorable needs, inline: the
controls (``<input type=range>``), a static figure drawn here by matplotlib from :mod:`shb_lib.nqm` for the initial
settings (what a reader without JavaScript sees), a JSON configuration, and the whole of ``nqm-explorer.js`` -- the
browser's copy of :mod:`shb_lib.nqm`, read at call time from its single file, package data of ``shb_lib``
(``shb_lib/_static/``), so the output needs no file beside the page. No CDN, no module loading, no
``fetch``: it works in the built book opened from ``file://``, in JupyterLab, the classic notebook and Colab (wherever
the output is trusted to run scripts). Every slider move recomputes the moments in float64 in the browser.

The output is deterministic: the same library, arguments and JavaScript give the same HTML, byte for byte, apart from
the static figure's PNG bytes (which nbval's sanitizer hides, like every figure); numbers written into the HTML are
either inputs (exact literals) or rounded to 4 significant digits.

The three explorables:

* :func:`moments_explorer` (chapter 1): the reader's constant learning rate and momentum against the greedy schedule
  through the moment recursion (ICLR Theorem 1), with the 50-highest and 50-lowest curvature band losses.
* :func:`greedy_explorer` (chapter 2): the greedy learning rate and momentum (ICLR Theorem 2) as noise, batch size,
  condition number and dimension change (the family :func:`family_problem`).
* :func:`horizon_explorer` (chapter 3): the inverse-time-decay schedule chosen for a horizon T, run to 1000 steps,
  against the 1000-step choice (:func:`decay_grid_losses`, :func:`horizon_choice`).

Stable hooks for tests (``tests/test_explorables_browser.py``): the container is
``div.shb-explorable[data-explorable-id][data-explorable=KIND]`` with ``data-shb-ready="1"`` once live; each control
is ``input[type=range][data-control=NAME]`` whose value is the index into that control's ``values`` (in the JSON of
``script.shb-explorable-config``) and ``output[data-control=NAME]`` shows the label with the exact value in
``data-value``; the readout's numbers are ``span[data-quantity=NAME]`` with the full-precision value in
``data-value``; ``data-redraw-ms`` holds the duration of the last recompute and redraw.
"""

from __future__ import annotations

import base64
import hashlib
import html as _html
import importlib.resources
import io
import json
import math
import pathlib

import numpy as np

__all__ = [
    "JS_NAME", "JS_PACKAGE_DIR", "js_resource", "js_path", "explorer_js",
    "HORIZONS", "NOISE_SCALES", "BATCH_SIZES", "CONDITION_NUMBERS", "DIMENSIONS",
    "LEARNING_RATES", "MOMENTA", "DECAY_GRID", "family_problem", "inverse_time_decay", "decay_grid_losses",
    "horizon_choice", "moments_explorer", "greedy_explorer", "horizon_explorer",
]

#: File name of the JavaScript (one file: numerics and figures), shipped inside the package (``shb_lib/_static/``,
#: package data in pyproject.toml), so that a pip-installed library (Colab) finds it too.
JS_NAME = "nqm-explorer.js"
#: The package folder that holds it.
JS_PACKAGE_DIR = "_static"

# --- the controls' values (exact literals: the JSON, the labels and the tests all use these numbers) ----------------

#: Horizons 1..1000 on a log scale (every integer up to 43, then about 2.3% apart), with the paper's T = 250.
HORIZONS = tuple(sorted({round(10 ** (p / 100)) for p in range(301)} | {250}))
#: Noise scales: exactly 0, then 0.01..10 on a log scale (3 significant digits); 1 is the paper's sigma2 = 1/h.
NOISE_SCALES = (0.0,) + tuple(float(f"{10 ** (-2 + q / 20):.3g}") for q in range(61))
#: Batch sizes 1..1000 on a log scale: the noise variance is divided by the batch size.
BATCH_SIZES = tuple(sorted({round(10 ** (p / 100)) for p in range(301)}))
#: Condition numbers h_max / h_min from 1 to 10^4 (3 significant digits; 200 is the paper's).
CONDITION_NUMBERS = tuple(float(f"{10 ** (p / 40):.3g}") for p in range(161))
#: Dimensions 1..1000 on a log scale (1000 is the paper's).
DIMENSIONS = tuple(sorted({round(10 ** (p / 100)) for p in range(301)}))
#: Learning rates 1e-4..1 on a log scale (3 significant digits).
LEARNING_RATES = tuple(float(f"{10 ** (-4 + p / 40):.3g}") for p in range(161))
#: Momenta 0..0.99.
MOMENTA = tuple(round(0.01 * i, 2) for i in range(100))

#: Chapter 3's family: plain SGD (momentum 0, as in ICLR Fig. 2 and chapter 3's slider) with inverse-time decay
#: alpha_t = alpha0 / (1 + t/K)^beta (ICLR section 3.2), alpha0 <= 2/h_max; each horizon picks the grid point
#: (alpha0-major order; the first one on ties) with the smallest expected excess loss at its horizon.
DECAY_GRID = {
    "alpha0": [0.2, 0.16, 0.13, 0.1, 0.08, 0.06, 0.04, 0.03, 0.02, 0.01],
    "beta": [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 50.0],
    "K": 50.0,
    "momentum": 0.0,
    "longHorizon": 1000,
}
#: The spectrum of every explorable's problem: h_max = 10 and theta_0 = sqrt(10) as in the paper.
_H_MAX = 10.0


def js_resource():
    """The JavaScript as an :mod:`importlib.resources` traversable inside the installed ``shb_lib`` package."""
    return importlib.resources.files("shb_lib").joinpath(JS_PACKAGE_DIR, JS_NAME)


def js_path() -> pathlib.Path:
    """The path of ``nqm-explorer.js`` inside the package (``shb_lib/_static/``); a ``FileNotFoundError`` names
    where it was looked for when the installation lacks it."""
    res = js_resource()
    if not res.is_file():
        raise FileNotFoundError(f"{JS_NAME} not found in the installed shb_lib package (looked for {res}): the "
                                "package data [tool.setuptools.package-data] of pyproject.toml ships it")
    return pathlib.Path(str(res))


def explorer_js() -> str:
    """The JavaScript, read from its file now; it must be safe to inline in a ``<script>`` element."""
    text = js_resource().read_text(encoding="utf-8")
    low = text.lower()
    if "</script" in low or "<!--" in low:
        raise ValueError(f"{JS_NAME} contains '</script' or '<!--' and cannot be inlined")
    return text


# --- the Python reference of what the JavaScript computes beyond shb_lib.nqm ----------------------------------------

def family_problem(n: int = 1000, kappa: float = 200.0, noise: float = 1.0, batch_size: int = 1):
    """The explorables' problem: ``n`` curvatures on :func:`shb_lib.nqm.chebyshev_spectrum` ``(n, 10/kappa, 10)``,
    noise ``sigma2 = (noise / batch_size) / h`` (the Fisher assumption of ICLR section 2.3, the variance shrinking
    with the batch size), ``theta_0 = sqrt(10)`` exactly. ``family_problem()`` is :func:`shb_lib.nqm.paper_problem`.

    Args: ``n`` integer >= 1; ``kappa`` = h_max / h_min >= 1; ``noise`` >= 0; ``batch_size`` > 0.
    Returns: a :class:`shb_lib.nqm.NoisyQuadratic`."""
    from shb_lib import nqm

    if not (float(kappa) >= 1 and math.isfinite(float(kappa))):
        raise ValueError(f"kappa must be >= 1 and finite (allowed range: 1 <= kappa < inf), got {kappa!r}")
    if not (float(batch_size) > 0 and math.isfinite(float(batch_size))):
        raise ValueError(f"batch_size must be > 0 (allowed range: 0 < batch_size < inf), got {batch_size!r}")
    h = nqm.chebyshev_spectrum(n, _H_MAX / kappa, _H_MAX)
    base = nqm.NoisyQuadratic(h=h, sigma2=1.0 / h, theta0_mean=math.sqrt(10.0), theta0_var=0.0)
    return base.with_noise_scale(noise / batch_size)


def inverse_time_decay(alpha0: float, beta: float, T: int, K: float = DECAY_GRID["K"]) -> np.ndarray:
    """Inverse time decay (ICLR section 3.2): $\\alpha_t = \\alpha_0 / (1 + t/K)^\\beta$ for ``t = 0..T-1``.

    Returns: float64 array of shape ``(T,)``."""
    t = np.arange(int(T), dtype=np.float64)
    return alpha0 / (1 + t / K) ** beta


def _grid_schedules(grid):
    a0 = np.repeat(np.asarray(grid["alpha0"], np.float64), len(grid["beta"]))
    beta = np.tile(np.asarray(grid["beta"], np.float64), len(grid["alpha0"]))
    lrs = np.stack([inverse_time_decay(a, b, grid["longHorizon"], grid["K"]) for a, b in zip(a0, beta)])
    return a0, beta, lrs


def decay_grid_losses(problem, grid: dict | None = None) -> np.ndarray:
    """Excess loss at ``t = 0..grid["longHorizon"]`` of every inverse-time-decay schedule of the grid (alpha0-major
    order), each by :func:`shb_lib.nqm.rollout` (ICLR Theorem 1), vmapped. Returns ``(G, longHorizon + 1)``."""
    import jax
    import jax.numpy as jnp

    from shb_lib import nqm

    grid = DECAY_GRID if grid is None else grid
    _, _, lrs = _grid_schedules(grid)
    momenta = jnp.full(lrs.shape[1], float(grid.get("momentum", 0.0)))
    run = jax.jit(jax.vmap(lambda p, l: nqm.rollout(p, l, momenta), (None, 0)))
    return np.asarray(run(problem, jnp.asarray(lrs)))


def horizon_choice(losses: np.ndarray, horizon: int) -> int:
    """Index of the grid schedule with the smallest excess loss at step ``horizon`` (the first one on ties, as
    ``np.argmin``); ``losses`` is :func:`decay_grid_losses`'s array."""
    return int(np.argmin(losses[:, int(horizon)]))


# --- HTML ------------------------------------------------------------------------------------------------------------

_CSS = """\
.shb-explorable{margin:.5em 0 1em;max-width:100%;font-family:inherit}
.shb-explorable [hidden]{display:none!important}
.shb-explorable-title{font-weight:bold;margin-bottom:.25em}
.shb-explorable-controls{display:flex;flex-wrap:wrap;gap:.25em 1.5em;margin:.25em 0 .5em}
.shb-explorable-control{display:flex;align-items:center;gap:.5em;margin:0;font-weight:normal}
.shb-explorable-control input[type=range]{width:10em;margin:0}
.shb-explorable-value{display:inline-block;min-width:3.5em;font-variant-numeric:tabular-nums;font-weight:bold}
.shb-explorable-figure{width:100%;overflow:hidden}
.shb-explorable-figure svg{display:block;max-width:100%;height:auto}
.shb-explorable-fallback{display:block;max-width:100%;height:auto}
.shb-explorable-legend{display:flex;flex-wrap:wrap;gap:.2em 1.2em;font-size:.85em;margin:.25em 0}
.shb-explorable-legend svg{vertical-align:middle;margin-right:.3em}
.shb-explorable-readout{font-variant-numeric:tabular-nums;margin:.4em 0}
.shb-explorable-number{font-weight:bold}
.shb-explorable-note,.shb-explorable-status{font-size:.85em;opacity:.75;margin:.25em 0 0}"""


def _label(value) -> str:
    if isinstance(value, int):
        return str(value)
    return f"{value:g}"


def _control(name: str, display: str, values, initial) -> dict:
    values = list(values)
    if initial not in values:
        raise ValueError(f"{name} must be one of the slider's values (for example {values[0]!r}, {values[len(values) // 2]!r}"
                         f" or {values[-1]!r}), got {initial!r}")
    return {"name": name, "display": display, "values": values, "labels": [_label(v) for v in values],
            "initial": values.index(initial)}


def _swatch(color: str, dash: str | None, width: float) -> str:
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<svg width="28" height="10" aria-hidden="true"><line x1="1" y1="5" x2="27" y2="5" stroke="{color}" '
            f'stroke-width="{width}"{dash_attr}/></svg>')


def _json_for_script(obj) -> str:
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=True, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _png(fig) -> tuple[str, int, int]:
    """Deterministic PNG data URI of a figure (no metadata), then close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)
    data = buf.getvalue()
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii"), width, height


def _colors() -> dict:
    from shb_lib.plotting import SCHEDULE_COLORS, horizon_color

    return {"greedy": SCHEDULE_COLORS["greedy"], "fixed": SCHEDULE_COLORS["fixed"],
            "short": horizon_color(0), "long": horizon_color(3)}


def _html_output(kind: str, title: str, controls: list[dict], config: dict, figure, alt: str, legend: list,
                 caption: str):
    from IPython.display import HTML

    js = explorer_js()
    config = dict(config, kind=kind, title=title, controls=controls, colors=_colors())
    blob = _json_for_script(config)
    eid = hashlib.sha256((blob + js).encode("utf-8")).hexdigest()[:12]
    esc = _html.escape
    uri, width, height = _png(figure)
    inputs = "\n".join(
        f'<label class="shb-explorable-control"><span class="shb-explorable-name">{esc(c["display"])}</span>'
        f'<input type="range" data-lm-suppress-shortcuts="true" min="0" max="{len(c["values"]) - 1}" '
        f'step="1" value="{c["initial"]}" '
        f'data-control="{c["name"]}" aria-label="{esc(c["display"])}" '
        f'aria-valuetext="{esc(c["labels"][c["initial"]])}">'
        f'<output class="shb-explorable-value" data-control="{c["name"]}" '
        f'data-value="{c["values"][c["initial"]]!r}">{esc(c["labels"][c["initial"]])}</output></label>'
        for c in controls
    )
    items = "\n".join(f'<span>{_swatch(color, dash, w)}{esc(text)}</span>' for text, color, dash, w in legend)
    shown = ", ".join(f'{c["display"]} = {c["labels"][c["initial"]]}' for c in controls)
    out = f"""<div class="shb-explorable" data-explorable-id="{eid}" data-explorable="{kind}">
<style>{_CSS}</style>
<div class="shb-explorable-title">{esc(title)}</div>
<div class="shb-explorable-controls" role="group" aria-label="{esc(title)}: controls" data-lm-suppress-shortcuts="true"
     hidden="hidden">
{inputs}
</div>
<div class="shb-explorable-figure">
<img class="shb-explorable-fallback" width="{width}" height="{height}" alt="{esc(alt)}" src="{uri}">
</div>
<div class="shb-explorable-legend shb-explorable-controls" hidden="hidden">
{items}
</div>
<p class="shb-explorable-status" hidden="hidden"></p>
<p class="shb-explorable-readout" aria-live="polite"></p>
<p class="shb-explorable-note shb-explorable-nojs">Showing the static figure for {esc(shown)}: the sliders need
JavaScript (in Jupyter: trust the notebook, or run the cell).</p>
<p class="shb-explorable-note">{esc(caption)} Computed in your browser (float64, no kernel) by {JS_NAME}, the
browser's copy of <code>shb_lib.nqm</code>.</p>
<script type="application/json" class="shb-explorable-config">{blob}</script>
<script>
{js}
window.shbNqm.boot("{eid}");
</script>
</div>"""
    return HTML(out)


def _r(x: float) -> str:
    """4 significant digits, as the chapters print."""
    return f"{float(x):.4g}"


# --- chapter 1 ---------------------------------------------------------------------------------------------------------

def moments_explorer(*, lr: float = 0.01, momentum: float = 0.9, noise: float = 1.0, horizon: int = 250):
    """Chapter 1's explorable: the excess loss of SGD with a constant learning rate ``lr`` and momentum ``momentum``
    on the paper's problem with noise ``sigma2 = noise / h``, through ICLR Theorem 1, over ``horizon`` steps, against
    the greedy schedule (ICLR Theorem 2); right panel, the 50 highest and 50 lowest curvature band losses.

    Each initial value must be one of its slider's values (:data:`LEARNING_RATES`, :data:`MOMENTA`,
    :data:`NOISE_SCALES`, :data:`HORIZONS`). Returns an :class:`IPython.display.HTML`."""
    from shb_lib import nqm
    from shb_lib.plotting import new_figure

    controls = [_control("lr", "learning rate \u03b1", LEARNING_RATES, lr),
                _control("momentum", "momentum \u03bc", MOMENTA, momentum),
                _control("noise", "noise scale s", NOISE_SCALES, noise),
                _control("horizon", "steps T", HORIZONS, horizon)]
    problem = family_problem(noise=noise)
    lrs, momenta = np.full(horizon, lr), np.full(horizon, momentum)
    loss = np.asarray(nqm.rollout(problem, lrs, momenta))
    high, low = (np.asarray(x) for x in nqm.band_losses(problem, nqm.trajectory(problem, lrs, momenta).theta2))
    greedy = nqm.greedy_schedule(problem, horizon)
    c = _colors()
    fig, (ax, bx) = new_figure(2, 1, width=8.6, height=3.3)
    t = np.arange(horizon + 1)
    ax.plot(t, greedy.losses, color=c["greedy"], label=f"greedy: {_r(greedy.final_loss)}")
    ax.plot(t, loss, color=c["fixed"], lw=2.4, label=f"yours: {_r(loss[-1])}")
    ax.set(yscale="log", xlabel="step t", ylabel="excess loss", title="Excess loss")
    ax.legend(title="at step T")
    bx.plot(t, greedy.high_curvature_losses, color=c["greedy"], lw=1.2, label="greedy, 50 highest h")
    bx.plot(t, greedy.low_curvature_losses, color=c["greedy"], lw=1.2, ls="--", label="greedy, 50 lowest h")
    bx.plot(t, high, color=c["fixed"], lw=2, label="yours, 50 highest h")
    bx.plot(t, low, color=c["fixed"], lw=2, ls="--", label="yours, 50 lowest h")
    bx.set(yscale="log", xlabel="step t", ylabel="excess loss on 50 directions", title="Band losses")
    bx.legend(fontsize=7)
    alt = (f"Excess loss over {horizon} steps on the paper's problem at noise scale {noise:g}: SGD with learning rate "
           f"{lr:g} and momentum {momentum:g} ends at {_r(loss[-1])} (50 highest curvatures {_r(high[-1])}, 50 lowest "
           f"{_r(low[-1])}); the greedy schedule ends at {_r(greedy.final_loss)}.")
    legend = [("your constant (\u03b1, \u03bc)", c["fixed"], None, 2.4), ("greedy (ICLR Theorem 2)", c["greedy"], None, 1.8),
              ("50 highest h", "currentColor", None, 1.5), ("50 lowest h", "currentColor", "5 3", 1.5)]
    caption = ("Paper's problem (1000 Chebyshev curvatures in [0.05, 10], \u03c3\u00b2 = s/h, \u03b8\u2080 = \u221a10): "
               "the exact excess loss \u00bd\u03a3 h E[\u03b8\u00b2] of your constant schedule by the moment recursion, "
               "and of the greedy schedule recomputed for the same noise.")
    return _html_output("moments", "Explore: your own learning rate and momentum against the greedy schedule", controls,
                        {"problem": {"n": 1000, "kappa": 200.0, "h_max": _H_MAX}}, fig, alt, legend, caption)


# --- chapter 2 ---------------------------------------------------------------------------------------------------------

def greedy_explorer(*, noise: float = 1.0, batch_size: int = 1, kappa: float = 200.0, n: int = 1000,
                    horizon: int = 250):
    """Chapter 2's explorable: the greedy learning rate and momentum (ICLR Theorem 2) and the excess loss with its
    band losses, over ``horizon`` steps, on :func:`family_problem` ``(n, kappa, noise, batch_size)``, with the
    noise-free greedy schedule of the same spectrum (dotted) for comparison.

    Each initial value must be one of its slider's values (:data:`NOISE_SCALES`, :data:`BATCH_SIZES`,
    :data:`CONDITION_NUMBERS`, :data:`DIMENSIONS`, :data:`HORIZONS`). Returns an :class:`IPython.display.HTML`."""
    from shb_lib import nqm
    from shb_lib.plotting import new_figure

    controls = [_control("noise", "noise scale s", NOISE_SCALES, noise),
                _control("batch", "batch size B", BATCH_SIZES, batch_size),
                _control("kappa", "condition number \u03ba", CONDITION_NUMBERS, kappa),
                _control("n", "dimension n", DIMENSIONS, n),
                _control("horizon", "steps T", HORIZONS, horizon)]
    g = nqm.greedy_schedule(family_problem(n, kappa, noise, batch_size), horizon)
    det = nqm.greedy_schedule(family_problem(n, kappa, 0.0), horizon)
    c = _colors()["greedy"]
    fig, axes = new_figure(3, 1, width=8.6, height=3.0)
    t, tl = np.arange(horizon), np.arange(horizon + 1)
    for s, style in ((det, dict(ls=":", lw=1.4, label="without noise")), (g, dict(label="greedy"))):
        axes[0].plot(t, s.lrs, color=c, **style)
        axes[1].plot(t, s.momenta, color=c, **style)
    axes[2].plot(tl, det.losses, color=c, ls=":", lw=1.4)
    axes[2].plot(tl, g.high_curvature_losses, color=c, lw=1)
    axes[2].plot(tl, g.low_curvature_losses, color=c, lw=1.4, ls="--")
    axes[2].plot(tl, g.losses, color=c, lw=2.4)
    axes[0].set(yscale="log", xlabel="step t", ylabel="learning rate", title="Greedy learning rate")
    axes[0].legend(fontsize=7)
    axes[1].set(xlabel="step t", ylabel="momentum", title="Greedy momentum")
    axes[2].set(yscale="log", xlabel="step t", ylabel="excess loss", title="Excess loss")
    alt = (f"Greedy schedule over {horizon} steps for {n} curvatures with condition number {kappa:g} and noise "
           f"{noise:g}/{batch_size}: the excess loss ends at {_r(g.final_loss)} (without noise {_r(det.final_loss)}); "
           f"the last learning rate is {_r(g.lrs[-1])} and the last momentum {_r(g.momenta[-1])}.")
    legend = [("greedy (ICLR Theorem 2)", c, None, 2.4), ("greedy without noise", c, "1.5 3", 1.4),
              ("50 highest h", c, None, 1), ("50 lowest h", c, "5 3", 1.4)]
    caption = ("n Chebyshev curvatures in [10/\u03ba, 10], \u03c3\u00b2 = (s/B)/h, \u03b8\u2080 = \u221a10; "
               "n = 1000, \u03ba = 200, s = B = 1 is the paper's problem (greedy final loss 63.86 at T = 250).")
    return _html_output("greedy", "Explore: the greedy schedule as noise and conditioning change", controls, {}, fig,
                        alt, legend, caption)


# --- chapter 3 ---------------------------------------------------------------------------------------------------------

def horizon_explorer(*, horizon: int = 30, noise: float = 1.0, batch_size: int = 1):
    """Chapter 3's explorable: the inverse-time-decay schedule (:data:`DECAY_GRID`, plain SGD) that minimises the
    expected excess loss at step ``horizon``, run to 1000 steps, against the schedule chosen for 1000 steps, on the
    paper's spectrum with noise ``sigma2 = (noise / batch_size) / h``; third panel, the loss at step 1000 of every
    horizon's choice, with (solid) and without (dashed) noise.

    Each initial value must be one of its slider's values (:data:`HORIZONS`, :data:`NOISE_SCALES`,
    :data:`BATCH_SIZES`). Returns an :class:`IPython.display.HTML`."""
    from shb_lib.plotting import new_figure

    controls = [_control("horizon", "horizon T", HORIZONS, horizon),
                _control("noise", "noise scale s", NOISE_SCALES, noise),
                _control("batch", "batch size B", BATCH_SIZES, batch_size)]
    grid = DECAY_GRID
    TL = grid["longHorizon"]
    a0, beta, lrs = _grid_schedules(grid)
    losses = decay_grid_losses(family_problem(noise=noise, batch_size=batch_size), grid)
    losses0 = decay_grid_losses(family_problem(noise=0.0), grid)
    gT, gL = horizon_choice(losses, horizon), horizon_choice(losses, TL)
    hs = np.asarray(HORIZONS)
    gap = [losses[horizon_choice(losses, T), TL] for T in hs]
    gap0 = [losses0[horizon_choice(losses0, T), TL] for T in hs]
    c = _colors()
    fig, axes = new_figure(3, 1, width=8.6, height=3.0)
    t = np.arange(TL + 1)
    for ax in axes[:2]:
        ax.axvline(horizon, color=c["short"], ls=":", lw=1)
    axes[0].plot(t, losses[gL], color=c["long"], label=f"chosen at {TL}")
    axes[0].plot(t, losses[gT], color=c["short"], lw=2.2, label=f"chosen at {horizon}")
    axes[0].set(yscale="log", xlabel="step t", ylabel="excess loss", title=f"Excess loss over {TL} steps")
    axes[0].legend(fontsize=7)
    axes[1].plot(t[:-1], lrs[gL], color=c["long"])
    axes[1].plot(t[:-1], lrs[gT], color=c["short"], lw=2.2)
    axes[1].set(yscale="log", xlabel="step t", ylabel="learning rate", title="Learning rate")
    axes[2].plot(hs, gap0, color=c["fixed"], ls="--", lw=1.4, label="no noise")
    axes[2].plot(hs, gap, color=c["short"], label=f"noise {noise:g}/{batch_size}")
    axes[2].plot([horizon], [losses[gT, TL]], "o", color=c["short"])
    axes[2].set(xscale="log", yscale="log", xlabel="horizon T", ylabel=f"loss at step {TL}",
                title="Each horizon's choice")
    axes[2].legend(fontsize=7)
    alt = (f"At noise {noise:g}/{batch_size}, horizon {horizon} picks alpha0 = {a0[gT]:g} and beta = {beta[gT]:g}; "
           f"run to step {TL} it ends at excess loss {_r(losses[gT, TL])}, against {_r(losses[gL, TL])} for the "
           f"{TL}-step choice (alpha0 = {a0[gL]:g}, beta = {beta[gL]:g}).")
    legend = [(f"chosen for horizon T", c["short"], None, 2.2), (f"chosen for {TL} steps", c["long"], None, 1.8),
              ("each horizon's choice without noise", c["fixed"], "5 3", 1.4)]
    caption = (f"Plain SGD with \u03b1\u209c = \u03b1\u2080 / (1 + t/{grid['K']:g})^\u03b2 on the paper's spectrum, "
               f"\u03c3\u00b2 = (s/B)/h; each horizon picks the ({len(grid['alpha0'])} \u00d7 {len(grid['beta'])}) grid "
               f"point (\u03b1\u2080 \u2264 2/h_max = 0.2, \u03b2 from 0 to 50) with the smallest expected excess loss "
               f"at its horizon. The {len(a0)} schedules' loss curves are computed once when the page opens, split into "
               "a noise-free part and a part proportional to the noise, so that every slider move is a look-up.")
    return _html_output("horizon", "Explore: the schedule chosen for a short horizon, run to 1000 steps", controls,
                        {"problem": {"n": 1000, "kappa": 200.0, "h_max": _H_MAX}, "grid": grid}, fig, alt, legend,
                        caption)
