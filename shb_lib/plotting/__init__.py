"""One figure style for the whole book, and its tables.

Every figure in the book is drawn by a function of this package (``shb_lib.plotting.nqm`` for the noisy quadratic,
``shb_lib.plotting.mnist`` for the network) after :func:`use_style` has been applied. A figure answers one question,
stated in its title; losses are drawn on log scales where the paper uses them.

Colours are fixed per *meaning*, so that "greedy" or "the shortest horizon" has the same colour in every chapter.

Figures are designed for the book's column (issue 15): the column is 688 CSS px wide at a 1280 px screen
(sphinx-book-theme 1.x, measured in Chromium), so every figure is :data:`FIG_WIDTH` inches wide at
:data:`DPI` = 96 px per inch (one CSS px per matplotlib pixel) and is shown at its natural size: a font of ``n`` pt
in matplotlib is ``n`` pt on the screen, and the smallest text of the style is 9 pt. In a notebook the inline backend
stores a PNG at twice that resolution (``retina``) with its display size in the output's metadata (high DPI).
At most two panels sit side by side; larger sets are laid out in two columns. The figure's background is opaque
white, so that lines keep their contrast in the theme's dark mode too (``book/_static/shb.css`` shows figures
unfiltered on white there).

Every table and every number in one is written by :mod:`shb_lib.plotting.tables` (:class:`MarkdownTable`,
:func:`number`, :func:`plus_minus`, available here too).
"""

from __future__ import annotations

import textwrap as _textwrap

import matplotlib as mpl
import matplotlib.pyplot as plt

from .tables import MarkdownTable, number, plus_minus  # noqa: F401  (the tables of the book: shb_lib.plotting.tables)

#: Width of the book's text column in CSS px at a 1280 px screen (measured: ``div.cell_output`` in Chromium).
COLUMN_PX = 688
#: Pixels per inch of a figure on the page: 96, the CSS px per inch, so that figure points are screen points.
DPI = 96
#: Width of every figure (inches): 648 px, which fits the column with the 8 px padding that the theme's dark mode
#: puts around output images, and some room for a ``bbox_inches="tight"`` crop that grows the figure.
FIG_WIDTH = 6.75
#: The smallest font of the style (points at the displayed size).
MIN_FONT_PT = 9.0
#: Most panels in one row of a figure.
MAX_PANELS_PER_ROW = 2

#: The one palette of the book: Okabe & Ito's colour-blind-safe colours, with the orange and the sky blue replaced
#: (too light for 3:1 contrast) by a crimson and a grey. Every colour has a contrast ratio of at least 3:1 both
#: against white (the figures' background) and against the dark theme's page (#14181e), and every pair stays apart
#: under simulated protanopia, deuteranopia and tritanopia (``tests/test_figures.py`` checks both).
PALETTE = {
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
    "bluish green": "#009E73",
    "blue": "#0072B2",
    "crimson": "#D81B60",
    "grey": "#767676",
}
#: Ink for references and annotations (exact curves, paper values, zero lines): not data colours.
INK = "#000000"

#: Colour of each meta-optimization horizon in increasing order: short is warm, long is cool. The shortest horizon
#: drawn is always vermillion (also "greedy", the 1-step horizon) and the longest always blue (also "optimized",
#: the full horizon); see :func:`horizon_colors`.
HORIZON_COLORS = [PALETTE["vermillion"], PALETTE["reddish purple"], PALETTE["bluish green"], PALETTE["blue"],
                  PALETTE["crimson"], PALETTE["grey"]]

#: Colour of each schedule kind (noisy quadratic chapters).
SCHEDULE_COLORS = {
    "greedy": HORIZON_COLORS[0],
    "fixed": PALETTE["grey"],
    "optimized": HORIZON_COLORS[3],
    "monte carlo": PALETTE["bluish green"],
}

#: Colour of each experiment scale (chapter 4): the book's small runs and the paper's.
SCALE_COLORS = {"book scale": PALETTE["crimson"], "paper scale": PALETTE["blue"]}

STYLE = {
    "figure.figsize": (FIG_WIDTH, 3.6),
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    "figure.constrained_layout.use": True,
    "axes.prop_cycle": mpl.cycler(color=HORIZON_COLORS),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9,
    "legend.frameon": False,
    "figure.titlesize": 11.5,
    "figure.titleweight": "bold",
    "lines.linewidth": 1.8,
    "font.family": "DejaVu Sans",
    # Reproducible image bytes: no timestamps, fixed SVG ids.
    "svg.hashsalt": "shb",
    "path.simplify": True,
}


def retina_png(fig) -> tuple[bytes, dict]:
    """The PNG a notebook stores for ``fig``: drawn at twice :data:`DPI` (``bbox_inches="tight"``), reduced to a
    256-colour palette (about a third of the bytes; the book's figures have few colours), with its display size in
    CSS px as metadata, which the book's ``<img width height>`` uses: high DPI, shown at the figure's size in points.
    Deterministic bytes (no software tag, no dithering). Returns ``(png bytes, {"width": w, "height": h})``."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=2 * DPI, bbox_inches="tight", metadata={"Software": None})
    img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    img = img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue(), {"width": img.width // 2, "height": img.height // 2}


def _inline_retina() -> None:
    """In a Jupyter kernel, make the inline backend store every figure as :func:`retina_png` (idempotent; called
    again by :func:`new_figure`, since the inline backend registers its own formatter when pyplot first loads it)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return
    from matplotlib.figure import Figure

    shell.display_formatter.formatters["image/png"].for_type(Figure, retina_png)


def use_style() -> None:
    """Apply the book's matplotlib style (idempotent). Chapters call this once, at the top."""
    mpl.rcParams.update(STYLE)
    _inline_retina()


def horizon_color(i: int) -> str:
    """Colour of the ``i``-th horizon in increasing order, of four (``0``: shortest, vermillion; ``3``: longest,
    blue); ``4`` and ``5`` are the palette's two other colours, and it cycles after six."""
    return HORIZON_COLORS[i % len(HORIZON_COLORS)]


def horizon_colors(n: int) -> list[str]:
    """Colours of ``n`` horizons in increasing order: the shortest vermillion and the longest blue for any
    ``n <= 4`` (``n = 3``: vermillion, bluish green, blue), then the palette's other colours."""
    if n < 1:
        raise ValueError(f"n must be a positive number of horizons, got {n}")
    if n == 1:
        return [HORIZON_COLORS[0]]
    if n <= 4:
        return [HORIZON_COLORS[round(3 * k / (n - 1))] for k in range(n)]
    return [horizon_color(i) for i in range(n)]


def wrap_title(title: str, width_in: float = FIG_WIDTH, fontsize: float | None = None) -> str:
    """``title`` broken into lines that fit ``width_in`` inches at ``fontsize`` points (default: the figure title's
    size; a bold DejaVu Sans letter is about 0.62 em wide on average)."""
    size = float(fontsize or STYLE["figure.titlesize"])
    per_line = max(10, int(width_in * 72 / (0.62 * size)))
    return _textwrap.fill(str(title), per_line, break_long_words=False)


def suptitle(fig, title: str):
    """The figure's title (its question or takeaway), wrapped to the figure's width."""
    return fig.suptitle(wrap_title(title, fig.get_figwidth()))


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float = FIG_WIDTH, height: float = 3.6, **kwargs):
    """A figure with ``nrows x ncols`` axes in the book style; returns ``(fig, axes)`` like ``plt.subplots``.

    A figure for the book's pages keeps ``ncols <= MAX_PANELS_PER_ROW`` (lay more panels out in rows, e.g. with
    :func:`grid_figure`) and ``width <= FIG_WIDTH`` (the column): anything wider is shrunk on the page, and its
    text with it (``tests/test_figures.py`` measures every chapter's figure). Live widgets in JupyterLab may be
    wider. Raises ValueError for ``ncols`` or ``nrows`` below 1 or a width or height that is not positive."""
    for name, v in (("ncols", ncols), ("nrows", nrows)):
        if int(v) != v or v < 1:
            raise ValueError(f"{name} must be a positive integer (panels), got {v!r}")
    for name, v in (("width", width), ("height", height)):
        if not v > 0:
            raise ValueError(f"{name} must be a positive number of inches, got {v!r}")
    mpl.rcParams.update(STYLE)
    out = plt.subplots(nrows, ncols, figsize=(width, height), **kwargs)
    _inline_retina()  # after pyplot has loaded the inline backend, which registers its own PNG formatter
    return out


def grid_figure(n: int, *, row_height: float, width: float = FIG_WIDTH, **kwargs):
    """``n`` panels in rows of two (the last row's spare axes switched off and returned separately, e.g. for a
    legend). Returns ``(fig, axes, spare)``: ``axes`` the ``n`` panels in reading order, ``spare`` the unused."""
    import numpy as np

    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive number of panels, got {n!r}")
    ncols = 1 if n == 1 else MAX_PANELS_PER_ROW
    nrows = -(-n // ncols)
    fig, axes = new_figure(ncols, nrows, width=width, height=row_height * nrows, squeeze=False, **kwargs)
    flat = list(np.asarray(axes).ravel())
    for ax in flat[n:]:
        ax.axis("off")
    return fig, flat[:n], flat[n:]
