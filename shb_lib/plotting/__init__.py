"""One figure style for the whole book.

Every figure in the book is drawn by a function of this package (``shb_lib.plotting.nqm`` for the noisy quadratic,
``shb_lib.plotting.mnist`` for the network) after :func:`use_style` has been applied. A figure answers one question,
stated in its title; losses are drawn on log scales where the paper uses them.

Colours are fixed per *meaning*, so that "greedy" or "horizon 100" has the same colour in every chapter.
"""

from __future__ import annotations

import html as _html

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


class MarkdownTable:
    """A table of strings with three deterministic renderings of the same cells.

    - ``_repr_html_``: an accessible HTML ``<table>`` (column headers ``<th scope="col">`` in a ``<thead>``, the first
      cell of each row a ``<th scope="row">``, every cell escaped) -- what the book and Jupyter show;
    - ``_repr_markdown_``: the markdown pipe table (:meth:`markdown`), for front ends that prefer markdown;
    - ``repr``: the same markdown text, which is what ``print`` shows and nbval compares as ``text/plain``.

    headers: the column names; rows: one sequence per row, one entry per header (converted with ``str``).
    """

    #: Compact cells, so that the widest table (nine columns) fits the book's 688 px column at 1280 px; scoped to the
    #: wrapper of :meth:`html` (the same text for every table, so outputs stay deterministic).
    CSS = (".shb-table table { font-size: 0.8125em; width: auto; margin: 0; } "
           ".shb-table th, .shb-table td { padding: 0.25em 0.4em; vertical-align: top; } "
           ".shb-table td { font-variant-numeric: tabular-nums; }")

    def __init__(self, headers, rows):
        if any(len(r) != len(headers) for r in rows):
            raise ValueError("every row must have one entry per header")
        self.headers, self.rows = list(map(str, headers)), [list(map(str, r)) for r in rows]

    def markdown(self) -> str:
        lines = ["| " + " | ".join(self.headers) + " |", "|" + "|".join("---" for _ in self.headers) + "|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in self.rows])

    def html(self) -> str:
        """The table as HTML: a horizontally scrollable wrapper (wide tables never widen the page) around a
        ``<table>`` whose header cells carry ``scope``, so that screen readers announce each cell with its column and
        row."""
        esc = _html.escape
        head = "".join(f'<th scope="col">{esc(h)}</th>' for h in self.headers)
        body = "\n".join(
            "<tr>" + "".join(f'<th scope="row">{esc(c)}</th>' if j == 0 else f"<td>{esc(c)}</td>"
                             for j, c in enumerate(r)) + "</tr>"
            for r in self.rows
        )
        return (
            '<div class="shb-table" style="overflow-x: auto; max-width: 100%;">\n'
            f"<style>{self.CSS}</style>\n"
            '<table class="table">\n'
            f"<thead>\n<tr>{head}</tr>\n</thead>\n"
            f"<tbody>\n{body}\n</tbody>\n"
            "</table>\n</div>"
        )

    def _repr_html_(self) -> str:
        return self.html()

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def __repr__(self) -> str:
        return self.markdown()
