"""Numbers and tables as the book prints them, written once: one number formatter and one table.

- :func:`number` -- a number with a given count of significant digits, as Python's ``%g`` writes it (``0.0506``,
  ``1e-04``, ``20000``, ``inf``, ``nan``); :func:`plus_minus` -- ``x ± se``.
- :class:`MarkdownTable` -- a table of strings with its renderings: an accessible HTML table (what the book and
  Jupyter show), the markdown pipe table (what ``print`` and nbval see) and an aligned plain-text table
  (:meth:`MarkdownTable.text`, for ``print`` in a terminal).

Every table of the library (:mod:`shb_lib.plotting.estimators`, :mod:`shb_lib.mnist.settings`,
:func:`shb_lib.mnist.online.summary_table`, :mod:`shb_lib.mnist.findings`) is a :class:`MarkdownTable`. The prose's
numbers are :func:`shb_lib.glue.text`, which rounds first and then writes ``%g`` (``170``, never ``1.7e+02``).
"""

from __future__ import annotations

import html as _html
import numbers as _numbers

__all__ = ["MarkdownTable", "number", "plus_minus"]


def _check_digits(name: str, digits) -> int:
    if not isinstance(digits, int) or isinstance(digits, bool) or not 1 <= digits <= 17:
        raise ValueError(f"{name} must be an integer in [1, 17] (significant digits), got {digits!r}")
    return digits


def number(x, digits: int = 6, *, signed: bool = False) -> str:
    """``x`` with ``digits`` significant digits in Python's ``%g`` form (``f"{x:.{digits}g}"``): trailing zeros
    dropped, an exponent below ``1e-4`` or from ``10^digits`` on; ``inf``, ``-inf`` and ``nan`` as Python writes
    them. ``digits = 6`` is plain ``f"{x:g}"``. ``signed``: a ``+`` before positive numbers (``+0.0075``).

    Args: ``x`` a real number (Python, numpy or a 0-d array); ``digits`` an integer in ``[1, 17]``.
    Returns: the text. Raises ``ValueError`` for another ``digits`` or a ``x`` that is not a real number.
    """
    _check_digits("digits", digits)
    if isinstance(x, (bool, str, bytes)) or not isinstance(x, _numbers.Real) and getattr(x, "ndim", None) != 0:
        raise ValueError(f"x must be a real number, got {x!r}")
    return f"{x:{'+' if signed else ''}.{digits}g}"


def plus_minus(x, se, digits: int = 3, se_digits: int = 2, *, signed: bool = False) -> str:
    """``"x ± se"``: ``x`` with ``digits`` significant digits (a ``+`` before positive ones if ``signed``), its
    standard error ``se`` with ``se_digits`` (:func:`number`)."""
    return f"{number(x, digits, signed=signed)} ± {number(se, se_digits)}"


class MarkdownTable:
    """A table of strings with deterministic renderings of the same cells.

    - ``_repr_html_``: an accessible HTML ``<table>`` (column headers ``<th scope="col">`` in a ``<thead>``, the first
      cell of each row a ``<th scope="row">``, every cell escaped) -- what the book and Jupyter show;
    - ``_repr_markdown_``: the markdown pipe table (:meth:`markdown`), for front ends that prefer markdown;
    - ``repr``: the same markdown text, which is what ``print`` shows and nbval compares as ``text/plain``;
    - :meth:`text`: the cells in aligned columns, for a plain-text report.

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

    def text(self, sep: str = "  ") -> str:
        """The table in aligned columns: the header, a rule of dashes under each column, one line per row; the
        first column (the row's name) left-aligned, the others right-aligned, columns ``sep`` apart."""
        rows = [self.headers] + self.rows
        widths = [max(len(row[j]) for row in rows) for j in range(len(self.headers))]

        def line(row):
            return sep.join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths)))

        return "\n".join([line(self.headers), sep.join("-" * w for w in widths)] + [line(r) for r in self.rows])

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
