"""One figure style for the whole book.

Every figure in the book is drawn by a function of this package (``shb_lib.plotting.nqm`` for the noisy quadratic,
``shb_lib.plotting.mnist`` for the network) after :func:`use_style` has been applied. A figure answers one question,
stated in its title; losses are drawn on log scales where the paper uses them.

Colours are fixed per *meaning*, so that "greedy" or "horizon 100" has the same colour in every chapter.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt

#: Colour of each schedule kind (noisy quadratic chapters).
SCHEDULE_COLORS = {
    "greedy": "#d62728",
    "fixed": "#7f7f7f",
    "optimized": "#1f77b4",
    "monte carlo": "#2ca02c",
}

#: Colour of each meta-optimization horizon (MNIST chapter), short = warm, long = cool.
HORIZON_COLORS = ["#d62728", "#ff7f0e", "#2ca02c", "#1f77b4", "#9467bd", "#8c564b"]

STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 80,
    "savefig.dpi": 80,
    "figure.constrained_layout.use": True,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "font.family": "DejaVu Sans",
    # Reproducible image bytes: no timestamps, fixed SVG ids.
    "svg.hashsalt": "shb",
    "path.simplify": True,
}


def use_style() -> None:
    """Apply the book's matplotlib style (idempotent). Chapters call this once, at the top."""
    mpl.rcParams.update(STYLE)


def horizon_color(i: int) -> str:
    """Colour of the ``i``-th horizon in increasing order (cycles after six)."""
    return HORIZON_COLORS[i % len(HORIZON_COLORS)]


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float = 6.4, height: float = 4.0, **kwargs):
    """A figure with ``nrows x ncols`` axes in the book style; returns ``(fig, axes)`` like ``plt.subplots``."""
    use_style()
    return plt.subplots(nrows, ncols, figsize=(width, height), **kwargs)
