"""The chapters as committed: listed in the toc, executed top to bottom, free of errors, collected by nbval."""

from __future__ import annotations

import json
import pathlib

import pytest

from shb_lib.book import ROOT, toc_notebooks

BOOK = ROOT / "book"


def book_notebooks() -> list[pathlib.Path]:
    return sorted(p.resolve() for p in BOOK.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def test_toc_lists_every_notebook_in_book():
    missing = set(book_notebooks()) - set(toc_notebooks())
    assert not missing, f"notebooks in book/ missing from _toc.yml: {sorted(str(p) for p in missing)}"


def test_toc_entries_exist():
    import yaml

    def files(node):
        if isinstance(node, dict):
            if "file" in node:
                yield node["file"]
            for v in node.values():
                yield from files(v)
        elif isinstance(node, list):
            for v in node:
                yield from files(v)

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = [toc["root"], *files(toc)]
    for entry in entries:
        candidates = [ROOT / f"{entry}{ext}" for ext in ("", ".ipynb", ".md")]
        assert any(c.is_file() for c in candidates), f"_toc.yml names {entry!r}, which does not exist"


@pytest.mark.parametrize("path", toc_notebooks(), ids=lambda p: p.name)
def test_notebook_executed_top_to_bottom(path):
    nb = json.loads(path.read_text())
    cells = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert cells, f"{path.name} has no code"
    counts = [c["execution_count"] for c in cells]
    assert None not in counts, f"{path.name}: {counts.count(None)} code cell(s) never executed"
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: not one top-to-bottom run from a fresh kernel (execution counts {counts}); "
        "regenerate with `python -m shb_lib.book run`"
    )
    errors = [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: stored error output: {errors[0].get('ename')}: {errors[0].get('evalue')}"
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", toc_notebooks(), ids=lambda p: p.name)
def test_notebook_cells_stay_short(path):
    """Library computes, chapters narrate: a code cell longer than 15 lines belongs in shb_lib."""
    nb = json.loads(path.read_text())
    for i, c in enumerate(nb["cells"]):
        if c["cell_type"] == "code":
            lines = [l for l in "".join(c["source"]).splitlines() if l.strip() and not l.strip().startswith("#")]
            assert len(lines) <= 15, f"{path.name} cell {i} has {len(lines)} code lines; move the logic to shb_lib"


def test_every_toc_notebook_collected_by_nbval(nbval_collected, full_run):
    """In the full run (the README's test command), nbval must execute every notebook of the book."""
    if not full_run and not nbval_collected:
        pytest.skip("notebooks not part of this selection; the full run (`pytest` with no paths) checks this")
    missing = set(toc_notebooks()) - nbval_collected
    assert not missing, f"toc notebooks not collected by nbval: {sorted(p.name for p in missing)}"


@pytest.mark.parametrize("path", toc_notebooks(), ids=lambda p: p.name)
def test_notebook_opens_on_colab(path):
    """The first code cell installs the library on Colab (and is a no-op elsewhere, which nbval exercises)."""
    from shb_lib.book import LAUNCH_CELL_TAG, launch_cell_source, repository_url

    nb = json.loads(path.read_text())
    first = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert LAUNCH_CELL_TAG in first["metadata"].get("tags", []), f"{path.name}: no Colab install cell first"
    assert "".join(first["source"]) == launch_cell_source(repository_url())
    assert first.get("outputs") == [], "the install cell must print nothing outside Colab"


#: The longest code line a chapter may show: at the book's column width (688 px at 1280 px) and its code font, 88
#: characters fit without a horizontal scroll bar (issue 15, item 3).
MAX_CODE_LINE = 88


@pytest.mark.parametrize("path", book_notebooks(), ids=lambda p: p.name)
def test_code_lines_fit_the_column(path):
    nb = json.loads(path.read_text())
    long = [(i, line) for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "code"
            for line in "".join(cell["source"]).splitlines() if len(line) > MAX_CODE_LINE]
    assert not long, f"{path.name}: code lines over {MAX_CODE_LINE} characters (cell, line): {long[:5]}"


@pytest.mark.parametrize("path", book_notebooks(), ids=lambda p: p.name)
def test_every_figure_has_alt_text(path):
    """Every figure a chapter shows carries alt text that says what it shows (cell metadata ``mystnb.image.alt``,
    which myst-nb writes on the ``<img>``): not empty, not a file name, a sentence (issue 15, item 2)."""
    nb = json.loads(path.read_text())
    missing = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or not any("image/png" in o.get("data", {}) for o in cell.get("outputs", [])):
            continue
        alt = cell["metadata"].get("mystnb", {}).get("image", {}).get("alt", "")
        if len(alt.split()) < 8 or alt.endswith((".png", ".svg")):
            missing.append(i)
    assert not missing, f"{path.name}: figure cells without a descriptive alt text: {missing}"
