"""The book's command line: listing the chapters, regenerating a notebook, drawing the README's picture."""

from __future__ import annotations

import json

import nbformat

from shb_lib import book


def test_list_prints_toc_notebooks_in_order(capsys):
    assert book.main(["list"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(p.relative_to(book.ROOT)) for p in book.toc_notebooks()]
    assert printed[0].startswith("book/01")


def test_run_executes_top_to_bottom_and_adds_the_colab_cell(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), nbformat.v4.new_code_cell("x = 6 * 7"),
                nbformat.v4.new_code_cell("print(x)")]
    path = tmp_path / "demo.ipynb"
    nbformat.write(nb, path)
    book.main(["run", str(path)])
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in cells] == [1, 2, 3]
    assert book.LAUNCH_CELL_TAG in cells[0]["metadata"]["tags"] and cells[0]["outputs"] == []
    assert "".join(cells[2]["outputs"][0]["text"]) == "42\n"
    assert all("execution" not in c["metadata"] for c in cells), "no timing metadata is stored"


def test_readme_figure_is_drawn(tmp_path):
    path = book.readme_figure(tmp_path / "fig.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
