"""Numbers in the prose, taken from the computation: myst-nb's ``glue``, rounded to what is reproducible.

A chapter computes a value, calls :func:`glue` with a name and the number of significant digits that the value is
reproducible to (over machines and seeds), and its markdown writes ``{glue:text}`name``` where the number belongs:
the built book then shows the computed value, and the stored output that nbval compares is the rounded one. With
no myst-nb (a plain Jupyter or Colab kernel) the value is shown in the cell's output and nothing else happens.
"""

from __future__ import annotations

import math


def significant(value: float, digits: int) -> float:
    """``value`` rounded to ``digits`` significant digits (``0``, ``inf`` and ``nan`` unchanged)."""
    if not isinstance(digits, int) or isinstance(digits, bool) or not 1 <= digits <= 17:
        raise ValueError(f"digits must be an integer in [1, 17], got {digits!r}")
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def text(value: float, digits: int) -> str:
    """The text the prose shows: ``value`` rounded to ``digits`` significant digits, as ``%g`` writes it (``170``,
    not ``1.7e+02``)."""
    return f"{significant(value, digits):g}"


class _Shown:
    """What the cell shows and the prose inserts: the text itself (a plain ``str`` would be shown with quotes)."""

    def __init__(self, shown: str):
        self.shown = shown

    def __repr__(self) -> str:
        return self.shown


def glue(name: str, value, digits: int | None = None) -> None:
    """Glue ``value`` (a number rounded to ``digits`` significant digits, or a string) under ``name`` for the
    chapter's prose. Returns nothing, so that a call ending a cell displays nothing: the prose shows the value
    (use :func:`text` for the same string in code)."""
    shown = text(value, digits) if digits is not None else str(value)
    try:
        from myst_nb import glue as _glue
    except ImportError:  # a kernel without myst-nb (Colab): the prose's placeholders stay unfilled there anyway
        print(f"{name} = {shown}")
        return None
    _glue(name, _Shown(shown), display=False)
    return None


__all__ = ["glue", "significant", "text"]
