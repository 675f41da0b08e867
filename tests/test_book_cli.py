"""The book's command line: listing the chapters, regenerating a notebook, drawing the README's picture."""

from __future__ import annotations

import json
import pathlib

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


# --------------------------------------------------------------------------------------------------------------------
# solutions folded in JupyterLab, and the student edition
# --------------------------------------------------------------------------------------------------------------------


def _exercise_notebook():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        md("# Chapter"), code("x = 1", metadata={"tags": ["remove-input"]}), code("print(x)"),
        md("## Exercises\n\n1. Add one.\n2. Double it."),
        md("**Solution**"), code("SOLUTION_ONE = x + 1\nprint(SOLUTION_ONE)", metadata={"tags": ["hide-cell"]}),
        md("**Solution 2**\n\nSOLUTION_PROSE: doubling is adding x to itself."),
        code("print(2 * x)  # SOLUTION_TWO", metadata={"tags": ["hide-cell"]}),
        md("SOLUTION_AFTER: the output above is 2."),
        md("## Summary\n\nNot a solution."), code("y = 3", metadata={"tags": ["hide-input"]}),
    ]
    nb.cells[5].outputs = [nbformat.v4.new_output("stream", name="stdout", text="SOLUTION_OUT 2\n")]
    return nb


def test_solution_cells_span_from_the_heading_to_the_next_exercise_or_section():
    assert book.solution_cells(_exercise_notebook()) == [4, 5, 6, 7, 8]


def test_fold_sets_jupyterlab_metadata_on_folded_cells_and_solution_prose():
    nb = _exercise_notebook()
    assert book.unfolded_cells(nb) == [5, 6, 7, 8, 10]
    assert book.fold_cells(nb) == 5 and book.fold_cells(nb) == 0  # idempotent
    meta = [c.metadata for c in nb.cells]
    assert meta[5]["jupyter"] == {"source_hidden": True, "outputs_hidden": True} and meta[5]["collapsed"] is True
    assert meta[6]["jupyter"] == {"source_hidden": True} == meta[8]["jupyter"]  # prose of a solution
    assert "jupyter" not in meta[4]  # the heading stays visible: it says where the fold is
    assert meta[10]["jupyter"] == {"source_hidden": True} and "collapsed" not in meta[10]  # hide-input
    assert "jupyter" not in meta[2] and "jupyter" not in meta[9]
    assert meta[5]["tags"] == ["hide-cell"]  # the book's tags stay beside


def test_fold_command_checks_then_writes(tmp_path, capsys):
    path = tmp_path / "ex.ipynb"
    nbformat.write(_exercise_notebook(), path)
    assert book.main(["fold", "--check", str(path)]) == 1
    assert "cells [5, 6, 7, 8, 10]" in capsys.readouterr().err
    before = nbformat.read(path, as_version=4)
    assert book.main(["fold", str(path)]) == 0
    after = nbformat.read(path, as_version=4)
    assert [c.source for c in after.cells] == [c.source for c in before.cells]  # only metadata changed
    assert [c.get("outputs") for c in after.cells] == [c.get("outputs") for c in before.cells]
    assert book.main(["fold", "--check", str(path)]) == 0


def test_run_folds_what_it_writes(tmp_path):
    path = tmp_path / "ex.ipynb"
    nbformat.write(_exercise_notebook(), path)
    assert book.main(["run", str(path)]) == 0
    assert book.unfolded_cells(nbformat.read(path, as_version=4)) == []


def _strings(nb) -> str:
    return json.dumps([(c.source, c.get("outputs", [])) for c in nb.cells])


def test_student_edition_empties_solutions_and_keeps_everything_else():
    nb = _exercise_notebook()
    book.fold_cells(nb)
    student = book.student_edition(nb)
    assert "SOLUTION" not in _strings(student)
    assert [student.cells[i].source for i in (4, 5, 6, 7, 8)] == ["**Solution**", "", "**Solution 2**", "", ""]
    for i in (5, 7):  # an empty, unfolded cell to write in
        c = student.cells[i]
        assert c.outputs == [] and c.execution_count is None and "tags" not in c.metadata
        assert "jupyter" not in c.metadata and "collapsed" not in c.metadata
    others = [i for i in range(len(nb.cells)) if i not in book.solution_cells(nb)]
    assert [student.cells[i] for i in others] == [nb.cells[i] for i in others]
    assert student.metadata == nb.metadata and len(student.cells) == len(nb.cells)
    assert "SOLUTION_ONE" in _strings(nb)  # the original is untouched


def test_student_command_writes_the_chapters(tmp_path, capsys):
    import shutil

    import pytest

    (tmp_path / "book").mkdir()
    chapters = [pathlib.Path(shutil.copy(p, tmp_path / "book" / p.name)) for p in book.toc_notebooks()]
    out = tmp_path / "student"
    assert book.main(["student", "--out", str(out), *map(str, chapters)]) == 0
    assert capsys.readouterr().out.split() == [str(out / p.name) for p in chapters]
    for p in chapters:
        nb, st = nbformat.read(p, as_version=4), nbformat.read(out / p.name, as_version=4)
        sol = book.solution_cells(nb)
        assert sol, f"{p.name}: no solution found (exercises end with **Solution** cells)"
        hidden = [nb.cells[i].source for i in sol if nb.cells[i].cell_type == "code"]
        left = _strings(st)
        assert not [h for h in hidden if h.strip() and json.dumps(h)[1:-1] in left], p.name
        assert all(st.cells[i].source in ("", "**Solution**") or st.cells[i].source.startswith("**Solution ")
                   for i in sol)
        others = [i for i in range(len(nb.cells)) if i not in sol]
        assert [st.cells[i] for i in others] == [nb.cells[i] for i in others], p.name
    with pytest.raises(SystemExit):  # never over the chapters themselves
        book.main(["student", "--out", str(tmp_path / "book"), *map(str, chapters)])


def test_committed_chapters_fold_their_solutions_in_jupyterlab():
    """Fails until the notebooks are regenerated (python -m shb_lib.book run) or folded (python -m shb_lib.book
    fold): then every cell that the book folds is folded in JupyterLab too."""
    unfolded = {p.name: book.unfolded_cells(nbformat.read(p, as_version=4)) for p in book.toc_notebooks()}
    assert not {k: v for k, v in unfolded.items() if v}, f"run: python -m shb_lib.book fold ({unfolded})"


# --------------------------------------------------------------------------------------------------------------------
# timing a chapter, as a teacher runs it
# --------------------------------------------------------------------------------------------------------------------


def test_time_measures_run_all_without_writing(tmp_path, capsys):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os, time\ntime.sleep(0.3)"),
                nbformat.v4.new_code_cell("print(os.environ.get('SHB_LAB_SAVE_HOOK'), "
                                          "bool(os.environ.get('JPY_SESSION_NAME')))")]
    path = tmp_path / "t.ipynb"
    nbformat.write(nb, path)
    before = path.read_bytes()
    assert book.main(["time", str(path), "--json", str(tmp_path / "t.json")]) == 0
    assert path.read_bytes() == before
    (row,) = json.loads((tmp_path / "t.json").read_text())
    assert row["notebook"] == "t.ipynb" and row["live"] is True and row["cpus"] >= 1
    assert [c["index"] for c in row["cells"]] == [0, 1] and row["cells"][0]["seconds"] >= 0.3
    assert row["run_all_s"] >= row["cells"][0]["seconds"] and row["total_s"] >= row["run_all_s"]
    assert row["load_max"] >= row["load_mean"] >= 0
    assert "t.ipynb" in capsys.readouterr().out
    r = book.time_notebook(path, live=False)  # a batch kernel: no live environment
    assert r["live"] is False and r["cells"][1]["seconds"] >= 0
    import os

    assert "SHB_LAB_SAVE_HOOK" not in os.environ  # restored


def test_teaching_page_quotes_the_measured_times():
    """Every row of the teaching page's time table is a measurement in results/teaching/chapter-times.json (made by
    python -m shb_lib.book time --json): Run All to the second, the slowest cell and the load average."""
    import re

    rows = json.loads((book.ROOT / "results" / "teaching" / "chapter-times.json").read_text())["runs"]
    text = (book.ROOT / "book" / "teaching.md").read_text()
    table = re.findall(r"^\| (\d), [^|]+\| (\d+) s \| (\d+) s \([^|]+\) \| ([\d.]+) \|$", text, flags=re.M)
    assert len(table) >= 7 and {int(r[0]) for r in table} == set(range(1, 8)), table
    measured = {(r["notebook"][:2].lstrip("0"), str(round(r["run_all_s"])),
                 str(round(max(c["seconds"] for c in r["cells"]))), f"{r['load_mean']:.1f}") for r in rows}
    assert not [r for r in table if r not in measured], (table, measured)
