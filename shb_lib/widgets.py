"""Sliders that work everywhere: in the static book opened from disk, and live in a running JupyterLab kernel.

A chapter shows how a figure depends on a few settings with one call, as the last line of a cell::

    from shb_lib.widgets import slider_figure

    slider_figure(render, {"horizon": [10, 30, 100, 250], "noise": [0.0, 0.5, 1.0, 2.0]},
                  title="Short horizons anneal too fast")

``render(**params)`` draws one :class:`matplotlib.figure.Figure` (pure: same parameters, same picture). It is called
once per point of the grid's cartesian product, ahead of time, and the frames are shipped with the output.

One set of controls, precomputed or live
----------------------------------------
* **Static slider (the stored output).** One ``text/html`` output holding the controls
  (``<input type=range>``, one per parameter), the current frame (``<img>``) and every precomputed frame as a base64
  PNG data URI in a JSON blob, plus a small inline script that swaps the image when a slider moves. No CDN, no module
  loading, no ``fetch``, no kernel: it works in the built book opened from ``file://``, on a web server, in JupyterLab,
  the classic notebook and VS Code wherever the output is trusted to run scripts (in JupyterLab: once the cell has
  run, or after "Trust Notebook"); where it is not, the first frame is shown with a one-line note instead of dead
  controls. The range inputs carry ``data-lm-suppress-shortcuts`` (Lumino skips key bindings for an element
  that has it) so that JupyterLab's command-mode shortcuts leave the arrow keys to a focused slider. The HTML is byte-for-byte deterministic for a given machine: the element
  id is a hash of title and grid, frames are written without PNG metadata, nothing depends on time, randomness or
  global counters.
* **Live controls (instead of it, with a person at the kernel).** When the cell runs in a kernel that
  :func:`live_frontend` recognises (JupyterLab started with :mod:`shb_lib.lab`'s save hook: ``python -m
  shb_lib.book lab``; Colab) and the call gives a ``live_grid`` (finer values, or continuous ranges), one box of
  ipywidgets replaces the static slider: its sliders call ``render`` again in the kernel on every change, the status
  line says how long the figure took, and the figure is drawn at twice its dpi and shown at its CSS size (crisp,
  never stretched). No frame is precomputed then. The output is marked with :data:`LIVE_METADATA_KEY` (the static
  slider's id), and the save hook writes the notebook with the stored static slider of that id in its place: a
  saved chapter reopens without "Error displaying widget: model not found" and keeps its committed output. Batch
  executions -- ``python -m shb_lib.book run``, nbval, jupyter-book, nbclient, a plain ``python`` or ``ipython`` --
  and a ``jupyter lab`` without the hook create no widget at all. Override the detection with
  ``live=True/False`` or the environment variable ``SHB_LIVE=1`` / ``SHB_LIVE=0``.

nbval compares the static slider's ``text/html`` byte for byte, frames included, so a chapter whose figures change
fails as it should.

Stable hooks for tests (``tests/test_browser.py``): the container is ``div.shb-slider[data-slider-id]``; each
parameter has ``input[type=range][data-param=NAME]`` whose value is the *index* into that parameter's values and an
``output[data-param=NAME]`` showing the label; the image is ``img.shb-slider-frame`` with ``data-frame-key``
(``"horizon=100|noise=1.0"``); ``script.shb-slider-data`` holds the JSON ``{"frames": {key: index}, "images": [data
URI, ...], "params": [...], ...}``, so ``img.src == images[frames[key]]`` for the key shown.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import html as _html
import io
import itertools
import json
import numbers
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "LIVE_METADATA_KEY",
    "LIVE_PIXEL_RATIO",
    "MAX_BYTES",
    "SAVE_HOOK_ENV",
    "LiveControls",
    "StaticSlider",
    "frame_key",
    "live_frontend",
    "live_controls",
    "slider_figure",
    "static_slider",
]

#: Size budget of one static slider's HTML (bytes): frames, controls and script together.
MAX_BYTES = 2_000_000

_FORMATS = ("png", "png8")


# --------------------------------------------------------------------------------------------------------------------
# grid handling
# --------------------------------------------------------------------------------------------------------------------


def _value_str(value: Any) -> str:
    """The text of a grid value inside frame keys: ``10``, ``0.5``, ``1.0`` (Python's shortest float repr)."""
    if isinstance(value, bool):
        raise TypeError(f"grid values must be numbers or strings, not bool ({value!r})")
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    if isinstance(value, str):
        return value
    raise TypeError(f"grid values must be numbers or strings, got {type(value).__name__} ({value!r})")


@dataclass(frozen=True)
class _Param:
    name: str  # keyword of render()
    display: str  # name shown to the reader
    values: tuple  # as given (passed to render)
    keys: tuple[str, ...]  # value texts used in frame keys
    labels: tuple[str, ...]  # value texts shown to the reader


def _params(
    grid: Mapping[str, Sequence[Any]],
    labels: Mapping[str, Sequence[str] | Callable[[Any], str]] | None,
    names: Mapping[str, str] | None,
) -> list[_Param]:
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError("grid must be a non-empty dict {parameter: [values, ...]}")
    labels = dict(labels or {})
    names = dict(names or {})
    unknown = (set(labels) | set(names)) - set(grid)
    if unknown:
        raise ValueError(f"labels/names given for parameters not in the grid: {sorted(unknown)}")
    out = []
    for name, values in grid.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"grid parameter names must be Python identifiers (keywords of render), got {name!r}")
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) and not hasattr(values, "__len__"):
            raise ValueError(f"grid[{name!r}] must be a list of values")
        values = tuple(v.item() if hasattr(v, "item") and not isinstance(v, (str, bytes)) else v for v in values)
        if not values:
            raise ValueError(f"grid[{name!r}] is empty")
        keys = tuple(_value_str(v) for v in values)
        if len(set(keys)) != len(keys) or len(set(values)) != len(values):
            raise ValueError(f"grid[{name!r}] has repeated values: {list(keys)}")
        lab = labels.get(name)
        if lab is None:
            shown = keys
        elif callable(lab):
            shown = tuple(str(lab(v)) for v in values)
        else:
            shown = tuple(str(x) for x in lab)
            if len(shown) != len(values):
                raise ValueError(f"labels[{name!r}] has {len(shown)} entries for {len(values)} values")
        out.append(_Param(name, str(names.get(name, name)), values, keys, shown))
    return out


def frame_key(params: Mapping[str, Any]) -> str:
    """The key of the frame for ``params``, in the order given (the grid's order).

    ``frame_key({"horizon": 100, "noise": 1.0}) == "horizon=100|noise=1.0"``."""
    return "|".join(f"{name}={_value_str(value)}" for name, value in params.items())


def _initial_index(params: list[_Param], initial: Mapping[str, Any] | None) -> dict[str, int]:
    initial = dict(initial or {})
    unknown = set(initial) - {p.name for p in params}
    if unknown:
        raise ValueError(f"initial values given for parameters not in the grid: {sorted(unknown)}")
    index = {}
    for p in params:
        if p.name in initial:
            k = _value_str(initial[p.name])
            if k not in p.keys:
                raise ValueError(
                    f"initial[{p.name!r}] = {initial[p.name]!r} is not one of the grid values {list(p.keys)}"
                )
            index[p.name] = p.keys.index(k)
        else:
            index[p.name] = 0
    return index


# --------------------------------------------------------------------------------------------------------------------
# frames
# --------------------------------------------------------------------------------------------------------------------


def _figure_bytes(fig, fmt: str = "png", dpi: float | None = None) -> bytes:
    """Deterministic image bytes of ``fig`` (no timestamp or software tag), then close it.

    The figure is closed so that pyplot's inline backend does not also show every precomputed frame under the cell."""
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    if not isinstance(fig, Figure):
        raise TypeError(f"render(**params) must return a matplotlib Figure, got {type(fig).__name__}")
    if fmt not in _FORMATS:
        raise ValueError(f"fmt must be one of {_FORMATS}, got {fmt!r}")
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi or "figure", metadata={"Software": None})
    finally:
        plt.close(fig)
    data = buf.getvalue()
    if fmt == "png8":  # 256-colour palette: about 3x smaller, exact for line plots with few colours
        from PIL import Image

        img = Image.open(io.BytesIO(data)).convert("RGB")
        img = img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        out = io.BytesIO()
        img.save(out, format="PNG", optimize=True)
        data = out.getvalue()
    return data


def _png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG from its IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


# --------------------------------------------------------------------------------------------------------------------
# static slider
# --------------------------------------------------------------------------------------------------------------------

_CSS = """\
.shb-slider{margin:.5em 0 1em;max-width:100%;font-family:inherit}
.shb-slider [hidden]{display:none!important}
.shb-slider-title{font-weight:bold;margin-bottom:.25em}
.shb-slider-controls{display:flex;flex-wrap:wrap;gap:.25em 1.5em;margin:.25em 0 .5em}
.shb-slider-control{display:flex;align-items:center;gap:.5em;margin:0;font-weight:normal}
.shb-slider-control input[type=range]{width:12em;margin:0}
.shb-slider-value{display:inline-block;min-width:4em;font-variant-numeric:tabular-nums;font-weight:bold}
.shb-slider-frame{display:block;max-width:100%;height:auto}
.shb-slider-note{font-size:.85em;opacity:.75;margin:.25em 0 0}"""

# One classic inline script per slider (no modules, no fetch: it runs from file://). It initialises every container
# with its id that is not initialised yet (the same slider may be shown twice in one document, e.g. two views of a
# notebook), and retries briefly when it found none (the classic notebook evaluates an output's scripts before
# attaching the output to the document). Errors throw, so that the browser test sees them.
_JS = """\
(function () {
  "use strict";
  var SLIDER_ID = "%(id)s";
  function setup(root) {
    if (root.getAttribute("data-shb-ready") === "1") { return false; }
    var blob = root.querySelector("script.shb-slider-data");
    var img = root.querySelector("img.shb-slider-frame");
    if (!blob || !img) { return false; }
    var data = JSON.parse(blob.textContent);
    var inputs = [];
    data.params.forEach(function (p) {
      var input = root.querySelector('input[data-param="' + p.name + '"]');
      var out = root.querySelector('output[data-param="' + p.name + '"]');
      inputs.push({p: p, input: input, out: out});
    });
    function update() {
      var parts = [], shown = [];
      inputs.forEach(function (c) {
        var i = Math.max(0, Math.min(c.p.keys.length - 1, parseInt(c.input.value, 10) || 0));
        parts.push(c.p.name + "=" + c.p.keys[i]);
        shown.push(c.p.display + " = " + c.p.labels[i]);
        c.out.textContent = c.p.labels[i];
        c.input.setAttribute("aria-valuetext", c.p.labels[i]);
      });
      var key = parts.join("|");
      var idx = data.frames[key];
      if (idx === undefined) { throw new Error("shb-slider " + SLIDER_ID + ": no frame for " + key); }
      if (img.getAttribute("data-frame-key") !== key) {
        img.src = data.images[idx];
        img.setAttribute("data-frame-key", key);
        img.alt = data.title + " (" + shown.join(", ") + ")";
      }
    }
    inputs.forEach(function (c) {
      c.input.addEventListener("input", update);
      c.input.addEventListener("change", update);
    });
    root.querySelectorAll(".shb-slider-controls").forEach(function (el) { el.hidden = false; });
    root.querySelectorAll(".shb-slider-nojs").forEach(function (el) { el.hidden = true; });
    update();
    root.setAttribute("data-shb-ready", "1");
    return true;
  }
  // Each copy of this script belongs to one container. If no container was waiting for it, its own is not in the
  // document yet: look again a little later (for up to 10 s).
  function boot(tries) {
    var roots = document.querySelectorAll('div.shb-slider[data-slider-id="' + SLIDER_ID + '"]');
    var started = 0;
    for (var i = 0; i < roots.length; i++) { if (setup(roots[i])) { started++; } }
    if (started === 0 && tries < 200) { setTimeout(function () { boot(tries + 1); }, 50); }
  }
  boot(0);
})();"""


@dataclass
class StaticSlider:
    """A precomputed slider: self-contained HTML plus what went into it (for tests and size reports)."""

    slider_id: str
    title: str
    html: str
    #: frame key -> data URI, in grid order (cartesian product, last parameter fastest).
    frames: dict[str, str] = field(repr=False)
    initial_key: str = ""

    @property
    def nbytes(self) -> int:
        """Size of the HTML output in bytes (what the page and the notebook carry)."""
        return len(self.html.encode("utf-8"))

    @property
    def keys(self) -> list[str]:
        return list(self.frames)

    @property
    def n_unique(self) -> int:
        return len(set(self.frames.values()))

    def summary(self) -> str:
        return (
            f"{self.title!r}: {len(self.frames)} frames ({self.n_unique} distinct), {self.nbytes / 1e3:.0f} kB "
            f"(budget {MAX_BYTES / 1e3:.0f} kB)"
        )

    def _text(self) -> str:
        return f"<shb slider {self.title!r}: {len(self.frames)} precomputed frames>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self.html, "text/plain": self._text()}

    def __repr__(self) -> str:
        return self._text()


def _slider_id(title: str, params: list[_Param], index: Mapping[str, int], fmt: str, dpi) -> str:
    spec = {
        "title": title,
        "params": [[p.name, p.display, list(p.keys), list(p.labels)] for p in params],
        "initial": [index[p.name] for p in params],
        "fmt": fmt,
        "dpi": dpi,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode("utf-8")).hexdigest()[:12]


def _json_for_script(obj) -> str:
    """JSON safe inside ``<script>``: no ``<`` (so no ``</script>`` or ``<!--``) and no raw line separators."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def static_slider(
    render: Callable[..., Any],
    grid: Mapping[str, Sequence[Any]],
    *,
    title: str,
    labels: Mapping[str, Sequence[str] | Callable[[Any], str]] | None = None,
    names: Mapping[str, str] | None = None,
    initial: Mapping[str, Any] | None = None,
    fmt: str = "png",
    dpi: float | None = None,
    max_bytes: int | None = MAX_BYTES,
) -> StaticSlider:
    """Render every frame of ``grid`` and build the self-contained slider (nothing is displayed).

    Raises ``ValueError`` when the HTML exceeds ``max_bytes`` (``None``: no budget), naming the size per frame."""
    from shb_lib.plotting import use_style

    if fmt not in _FORMATS:
        raise ValueError(f"fmt must be one of {_FORMATS}, got {fmt!r}")
    params = _params(grid, labels, names)
    index = _initial_index(params, initial)
    sid = _slider_id(str(title), params, index, fmt, dpi)
    use_style()

    frames: dict[str, str] = {}
    uris: list[str] = []  # distinct images, in order of first appearance
    where: dict[str, int] = {}
    for combo in itertools.product(*(range(len(p.values)) for p in params)):
        kwargs = {p.name: p.values[i] for p, i in zip(params, combo)}
        key = "|".join(f"{p.name}={p.keys[i]}" for p, i in zip(params, combo))
        uri = _data_uri(_figure_bytes(render(**kwargs), fmt, dpi))
        if uri not in where:
            where[uri] = len(uris)
            uris.append(uri)
        frames[key] = uri

    init_key = "|".join(f"{p.name}={p.keys[index[p.name]]}" for p in params)
    init_uri = frames[init_key]
    width, height = _png_size(base64.b64decode(init_uri.split(",", 1)[1]))
    data = {
        "id": sid,
        "title": str(title),
        "params": [
            {"name": p.name, "display": p.display, "keys": list(p.keys), "labels": list(p.labels)} for p in params
        ],
        "initial": init_key,
        "frames": {k: where[u] for k, u in frames.items()},
        "images": uris,
    }
    esc = _html.escape
    shown = ", ".join(f"{p.display} = {p.labels[index[p.name]]}" for p in params)
    controls = "\n".join(
        f'<label class="shb-slider-control"><span class="shb-slider-name">{esc(p.display)}</span>'
        f'<input type="range" min="0" max="{len(p.values) - 1}" step="1" value="{index[p.name]}" '
        f'data-lm-suppress-shortcuts="true" '
        f'data-param="{p.name}" aria-label="{esc(p.display)}" aria-valuetext="{esc(p.labels[index[p.name]])}">'
        f'<output class="shb-slider-value" data-param="{p.name}">{esc(p.labels[index[p.name]])}</output></label>'
        for p in params
    )
    n = len(frames)
    dims = " \u00d7 ".join(f"{len(p.values)} {esc(p.display)}" for p in params)
    html = f"""<div class="shb-slider" data-slider-id="{sid}" data-frames="{n}">
<style>{_CSS}</style>
<div class="shb-slider-title">{esc(str(title))}</div>
<div class="shb-slider-controls" data-lm-suppress-shortcuts="true" hidden="hidden">
{controls}
</div>
<img class="shb-slider-frame" data-frame-key="{esc(init_key)}" width="{width}" height="{height}"
 alt="{esc(str(title))} ({esc(shown)})" src="{init_uri}">
<p class="shb-slider-note shb-slider-nojs">Showing one frame ({esc(shown)}): moving the sliders needs JavaScript
(in JupyterLab: run the cell, or trust the notebook from the command palette).</p>
<p class="shb-slider-note">{n} precomputed frames ({dims}); the sliders work without a Python kernel.</p>
<script type="application/json" class="shb-slider-data">{_json_for_script(data)}</script>
<script>
{_JS % {"id": sid}}
</script>
</div>"""
    slider = StaticSlider(slider_id=sid, title=str(title), html=html, frames=frames, initial_key=init_key)
    if max_bytes is not None and slider.nbytes > max_bytes:
        raise ValueError(
            f"slider {title!r} is {slider.nbytes / 1e6:.2f} MB, over its budget of {max_bytes / 1e6:.2f} MB "
            f"({n} frames, {slider.nbytes / n / 1e3:.0f} kB each): use fmt='png8', a lower dpi, or fewer grid values"
        )
    return slider


# --------------------------------------------------------------------------------------------------------------------
# live controls
# --------------------------------------------------------------------------------------------------------------------

#: Pixel density of the live figure: it is drawn at this many device pixels per CSS pixel and shown at its CSS size
#: (the figure's inches x the style's dpi), so it is crisp on a 2x (HiDPI) screen and never stretched.
LIVE_PIXEL_RATIO = 2

#: Output metadata key that marks a live output; :mod:`shb_lib.lab`'s save hook replaces such outputs by the stored
#: static slider with the same id before JupyterLab writes the notebook.
LIVE_METADATA_KEY = "shb_live"

#: Set in the environment of a Jupyter server that runs :mod:`shb_lib.lab`'s save hook (its kernels inherit it).
SAVE_HOOK_ENV = "SHB_LAB_SAVE_HOOK"


@dataclass(frozen=True)
class _LiveParam:
    name: str
    display: str
    kind: str  # "select" (a list of values), "int" or "float" (a range)
    values: tuple = ()  # select: the values; int/float: (low, high, step)
    labels: tuple = ()  # select: the labels


def _live_params(grid: Mapping[str, Any], labels, names) -> list[_LiveParam]:
    """The live controls' parameters: a list of values gives a selection slider, a range ``(low, high)`` or
    ``(low, high, step)`` a continuous one (integers: step 1; reals: 200 steps by default)."""
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError("live_grid must be a non-empty dict {parameter: [values, ...] or (low, high[, step])}")
    names = dict(names or {})
    out = []
    listed = {k: v for k, v in grid.items() if not isinstance(v, tuple)}
    plist = {p.name: p for p in _params(listed, {k: v for k, v in (labels or {}).items() if k in listed},
                                         {k: v for k, v in names.items() if k in listed})} if listed else {}
    for name, spec in grid.items():
        if name in plist:
            p = plist[name]
            out.append(_LiveParam(name, p.display, "select", p.values, p.labels))
            continue
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"live_grid parameter names must be Python identifiers, got {name!r}")
        if len(spec) not in (2, 3) or any(isinstance(v, bool) or not isinstance(v, numbers.Real) for v in spec):
            raise ValueError(f"live_grid[{name!r}] = {spec!r}: a range must be (low, high) or (low, high, step) numbers")
        low, high = spec[0], spec[1]
        if not low < high:
            raise ValueError(f"live_grid[{name!r}] = {spec!r}: low must be < high")
        integer = all(isinstance(v, numbers.Integral) for v in spec)
        step = spec[2] if len(spec) == 3 else (1 if integer else (high - low) / 200)
        if not step > 0:
            raise ValueError(f"live_grid[{name!r}] = {spec!r}: step must be > 0")
        vals = (int(low), int(high), int(step)) if integer else (float(low), float(high), float(step))
        out.append(_LiveParam(name, str(names.get(name, name)), "int" if integer else "float", vals))
    return out


def _live_value(p: _LiveParam, wanted: Any) -> Any:
    """The control's starting value: ``wanted`` if the control can show it (clipped into a range), else its first."""
    if p.kind == "select":
        keys = [_value_str(v) for v in p.values]
        if wanted is not None and _value_str(wanted) in keys:
            return p.values[keys.index(_value_str(wanted))]
        return p.values[0]
    low, high, _ = p.values
    if wanted is None or isinstance(wanted, bool) or not isinstance(wanted, numbers.Real):
        return low
    value = min(max(wanted, low), high)
    return int(round(value)) if p.kind == "int" else float(value)


class LiveControls:
    """ipywidgets controls that call ``render`` in the kernel whenever a value changes.

    ``widget`` is the box to display: a title, one slider per parameter (``sliders[name]``: a ``SelectionSlider``
    for a list of values, an ``IntSlider`` / ``FloatSlider`` for a range), a status line that says how long the
    figure took to draw, and an ``Image`` (``image.value`` holds the PNG of the current parameters, drawn at
    :data:`LIVE_PIXEL_RATIO` x the figure's dpi and shown at the figure's CSS size). Results are cached per key,
    so moving back to a value already seen does not recompute. ``calls`` lists the parameters of every render call,
    ``seconds`` the time of the last one."""

    def __init__(
        self,
        render: Callable[..., Any],
        grid: Mapping[str, Any],
        *,
        title: str,
        labels=None,
        names=None,
        initial: Mapping[str, Any] | None = None,
        dpi: float | None = None,
    ):
        import ipywidgets as W

        self.render = render
        self.title = str(title)
        self.dpi = dpi
        self.params = _live_params(grid, labels, names)
        initial = dict(initial or {})
        unknown = set(initial) - {p.name for p in self.params}
        if unknown:
            raise ValueError(f"initial values given for parameters not in the live grid: {sorted(unknown)}")
        self.calls: list[dict[str, Any]] = []
        self.seconds: float | None = None
        self._cache: dict[str, tuple[bytes, int, float]] = {}
        common = dict(description_width="initial")
        self.sliders = {}
        for p in self.params:
            value = _live_value(p, initial.get(p.name))
            kw = dict(value=value, description=p.display, continuous_update=False, style=common,
                      layout=W.Layout(width="28em"))
            if p.kind == "select":
                self.sliders[p.name] = W.SelectionSlider(options=list(zip(p.labels, p.values)), **kw)
            else:
                cls = W.IntSlider if p.kind == "int" else W.FloatSlider
                low, high, step = p.values
                extra = {} if p.kind == "int" else {"readout_format": ".3g"}
                self.sliders[p.name] = cls(min=low, max=high, step=step, **kw, **extra)
        self.header = W.HTML(f"<b>{_html.escape(self.title)}</b>")
        self.status = W.HTML()
        self.image = W.Image(format="png")
        controls = W.HBox(list(self.sliders.values()), layout=W.Layout(flex_flow="row wrap"))
        self.widget = W.VBox(
            [self.header, controls, self.status, self.image],
            layout=W.Layout(margin="0.5em 0", align_items="flex-start"),
        )
        self.widget.add_class("shb-live")
        for s in self.sliders.values():
            s.observe(self._on_change, names="value")
        self.update()

    def values(self) -> dict[str, Any]:
        """The parameters currently selected, in grid order."""
        return {name: s.value for name, s in self.sliders.items()}

    @property
    def key(self) -> str:
        return frame_key(self.values())

    def _on_change(self, change) -> None:
        self.update()

    def update(self) -> None:
        """Render the current parameters (or take them from the cache) and show the result with its drawing time."""
        import time

        import matplotlib.pyplot as plt

        params = self.values()
        key = frame_key(params)
        shown = _html.escape(", ".join(f"{p.display} = {params[p.name]:.3g}" if p.kind == "float"
                                       else f"{p.display} = {params[p.name]}" for p in self.params))
        if key not in self._cache:
            self.status.value = f"drawing {shown} &hellip;"
            t0 = time.perf_counter()
            try:
                self.calls.append(dict(params))
                fig = self.render(**params)
                from matplotlib.figure import Figure

                if not isinstance(fig, Figure):
                    raise TypeError(f"render(**params) must return a matplotlib Figure, got {type(fig).__name__}")
                data = _figure_bytes(fig, "png", (self.dpi or plt.rcParams["figure.dpi"]) * LIVE_PIXEL_RATIO)
                css_width = int(round(_png_size(data)[0] / LIVE_PIXEL_RATIO))  # what a frame at 1x would measure
            except Exception as exc:  # show the error where the figure would be; the controls stay usable
                plt.close("all")
                self.status.value = (
                    f'<span style="color:#b00">render({_html.escape(key)}) failed: '
                    f"{_html.escape(type(exc).__name__)}: {_html.escape(str(exc))}</span>"
                )
                return
            self._cache[key] = (data, css_width, time.perf_counter() - t0)
        data, css_width, seconds = self._cache[key]
        self.seconds = seconds
        self.image.layout.width = f"{css_width}px"
        self.image.layout.max_width = "100%"
        self.image.layout.height = "auto"
        self.image.value = data
        self.status.value = (f"{shown} &mdash; drawn in {seconds:.2f} s by <code>shb_lib</code> in your kernel"
                             + (" (cached)" if self.calls and self.calls[-1] != params else ""))

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def live_controls(render, grid, *, title, **options) -> LiveControls:
    """Build :class:`LiveControls` (nothing is displayed)."""
    return LiveControls(render, grid, title=title, **options)


def live_frontend() -> bool:
    """Whether this code runs in a kernel that a person drives through JupyterLab whose saves keep the stored outputs.

    True in a kernel started by a Jupyter server (it sets ``JPY_SESSION_NAME``) that runs :mod:`shb_lib.lab`'s save
    hook (``python -m shb_lib.book lab``, or ``jupyter server extension enable --sys-prefix shb_lib.lab``: the
    server sets ``SHB_LAB_SAVE_HOOK=1``, which its kernels inherit), and in Colab. False outside a kernel, in batch
    executions started by nbclient (``python -m shb_lib.book run``, nbval, jupyter-book), in a plain ``jupyter lab``
    without the hook and in VS Code: there a save would store the live widget without its state, and the reopened
    notebook would say "Error displaying widget: model not found". ``SHB_LIVE=1`` / ``SHB_LIVE=0`` overrides."""
    env = os.environ.get("SHB_LIVE", "").strip().lower()
    if env in ("1", "true", "yes", "on"):
        return True
    if env in ("0", "false", "no", "off"):
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    ip = get_ipython()
    if ip is None or getattr(ip, "kernel", None) is None:
        return False
    if os.environ.get("JPY_SESSION_NAME") and os.environ.get(SAVE_HOOK_ENV) == "1":
        return True
    return "google.colab" in sys.modules


def _show(obj, metadata: Mapping[str, Any] | None = None) -> None:
    from IPython.display import display

    if metadata:
        display(obj, metadata=dict(metadata))
    else:
        display(obj)


#: The keywords of :func:`static_slider` after ``title`` and their defaults: what :func:`slider_figure` passes on.
_FRAME_OPTIONS = {name: p.default for name, p in inspect.signature(static_slider).parameters.items()
                  if p.kind is inspect.Parameter.KEYWORD_ONLY and name != "title"}


def slider_figure(
    render: Callable[..., Any],
    grid: Mapping[str, Sequence[Any]],
    *,
    title: str,
    live: bool | str = "auto",
    live_grid: Mapping[str, Any] | None = None,
    **frames: Any,
) -> None:
    """Display a figure with one slider per parameter: one set of controls, precomputed or live.

    Without a person at a live kernel (the built book, ``python -m shb_lib.book run``, nbval, a plain
    ``jupyter lab``): the static slider, every frame of ``grid`` precomputed. With one (:func:`live_frontend`) and a
    ``live_grid``: *instead*, live controls over ``live_grid`` that redraw in the kernel (no frame is precomputed);
    the output is marked (:data:`LIVE_METADATA_KEY`) so that :mod:`shb_lib.lab`'s save hook puts the stored static
    slider back into the saved file. Without a ``live_grid`` the live controls would offer only the precomputed
    values, so the static slider is shown (its controls work once the cell has run or the notebook is trusted).

    Parameters
    ----------
    render:
        ``render(**params) -> Figure``, pure. Called once per point of the grid's cartesian product; the figure is
        saved and closed by this function.
    grid:
        ordered ``{parameter: [values, ...]}``; parameter names are keywords of ``render``; values are numbers (or
        strings), shown as given unless ``labels`` says otherwise.
    title:
        shown above the controls; with the grid it determines the slider's id.
    live:
        ``"auto"`` (default): live controls when :func:`live_frontend` says a person drives this kernel and a
        ``live_grid`` is given; ``True``: live controls (over ``live_grid``, default ``grid``); ``False``: never.
    live_grid:
        the live controls' parameters (same names as ``grid``): a list of values (a selection slider), or a range
        ``(low, high)`` / ``(low, high, step)`` for a continuous slider (integers: step 1; reals: 200 steps), e.g.
        ``{"horizon": (1, 250), "noise": (0.0, 4.0)}``.
    frames:
        what the frames show and cost, the keywords of :func:`static_slider` (documented there, with the same
        defaults): ``labels``, ``names``, ``initial``, ``fmt``, ``dpi``, ``max_bytes``. The live controls use
        ``labels``, ``names``, ``initial`` and ``dpi``. Another keyword raises ``TypeError``.

    Returns nothing (so that, as a cell's last line, it does not print a second representation).
    """
    unknown = sorted(set(frames) - set(_FRAME_OPTIONS))
    if unknown:
        raise TypeError(f"slider_figure() got unexpected keyword arguments {unknown}; the frames' keywords are "
                        f"{list(_FRAME_OPTIONS)}")
    o = {**_FRAME_OPTIONS, **frames}
    labels, names, initial, fmt, dpi = (o[k] for k in ("labels", "names", "initial", "fmt", "dpi"))
    if live not in (True, False, "auto"):
        raise ValueError(f"live must be True, False or 'auto', got {live!r}")
    if live_grid is not None and set(live_grid) != set(grid):
        raise ValueError(f"live_grid must name the grid's parameters {sorted(grid)}, got {sorted(live_grid)}")
    if live is True or (live == "auto" and live_grid is not None and live_frontend()):
        params = _params(grid, labels, names)
        index = _initial_index(params, initial)
        sid = _slider_id(str(title), params, index, fmt, dpi)
        start = {p.name: p.values[index[p.name]] for p in params}
        lgrid = live_grid if live_grid is not None else grid
        # labels given as lists belong to the precomputed grid's values; a finer live grid shows its values as given
        llabels = labels if live_grid is None else {k: v for k, v in (labels or {}).items() if callable(v)}
        controls = live_controls(render, lgrid, title=title, labels=llabels, names=names, initial=start, dpi=dpi)
        _show(controls.widget, {LIVE_METADATA_KEY: {"slider_id": sid}})
        return
    _show(static_slider(render, grid, title=title, **o))
