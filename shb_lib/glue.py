"""Numbers in the prose, taken from the computation: myst-nb's ``glue``, rounded to what is reproducible.

A chapter computes a value, calls :func:`glue` with a name and the number of significant digits that the value is
reproducible to (over machines and seeds), and its markdown writes ``{glue:text}`name``` where the number belongs:
the built book then shows the computed value, and the stored output that nbval compares is the rounded one. With
no myst-nb (a plain Jupyter or Colab kernel) the value is shown in the cell's output and nothing else happens.

Another page shows a chapter's value with myst-nb's cross-document form, ``{glue:text}`03-name.ipynb::key:s```
(the path relative to the page, the key, and the format ``s``, which myst-nb 1.4 needs to split the path from
the key); the built page then carries the chapter's stored output. :func:`read_glued` reads the same stored output
back, for the tests that compare a page with the chapters it quotes.
"""

from __future__ import annotations

import json
import math
import pathlib


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


class MissingGlue(LookupError):
    """A notebook's stored outputs hold no glued value under the key asked for (or the notebook is missing)."""


def glued_values(notebook_path: str | pathlib.Path) -> dict[str, str]:
    """Every value glued in the notebook's *stored* outputs, as the text the prose shows: ``{key: text}``.

    Reads the outputs that :func:`glue` left in the committed ``.ipynb`` (myst-nb stores each as a display output
    whose ``metadata.scrapbook`` names the key); nothing is executed.

    Raises:
        MissingGlue: the notebook does not exist.
        ValueError: the file is not a notebook (invalid JSON, or no cells), naming it.
    """
    path = pathlib.Path(notebook_path)
    if not path.is_file():
        raise MissingGlue(f"{path}: no such notebook, so no glued values to read")
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = nb["cells"]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a notebook ({type(e).__name__}: {e})") from None
    values: dict[str, str] = {}
    for cell in cells:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook")
            if not record:
                continue
            data = output.get("data", {})
            shown = data.get(record.get("mime_prefix", "") + "text/plain")
            if shown is not None:
                values[record["name"]] = "".join(shown) if isinstance(shown, list) else str(shown)
    return values


def read_glued(notebook_path: str | pathlib.Path, key: str) -> str:
    """The text glued under ``key`` in the notebook's stored outputs (what its prose, and any page quoting it with
    ``{glue:text}`notebook::key:s```, shows).

    Raises:
        MissingGlue: naming the notebook and the key, and the keys the notebook does glue, when ``key`` is not
            among them (the chapter was not regenerated since the key was added, or the key was renamed).
    """
    values = glued_values(notebook_path)
    if key not in values:
        known = ", ".join(sorted(values)) or "none"
        raise MissingGlue(f"{notebook_path}: no glued value {key!r} in its stored outputs "
                          f"(regenerate it with `python -m shb_lib.book run`?); it glues: {known}")
    return values[key]


__all__ = ["MissingGlue", "glue", "glued_values", "read_glued", "significant", "text"]
