"""The suite's own layout on two worker processes (the root conftest.py): what must share a process does."""

from __future__ import annotations

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(root)


def test_a_notebooks_cells_are_one_work_unit():
    units = {root.work_unit(f"book/03-short-horizon-bias.ipynb::Cell {i}") for i in range(12)}
    assert units == {"book/03-short-horizon-bias.ipynb"}


def test_everything_that_reads_the_built_book_is_one_unit():
    nodeids = [f"tests/{name}.py::test_x" for name in root.BOOK_FILES]
    assert {root.work_unit(n) for n in nodeids} == {"book build + browser"}


def test_each_portability_chapter_is_its_own_unit_and_a_test_file_is_one():
    ids = [f"tests/test_portability.py::test_chapter[{c}]" for c in ("04-a.ipynb", "05-b.ipynb")]
    assert len({root.work_unit(n) for n in ids}) == 2
    assert root.work_unit("tests/test_nqm.py::test_a") == root.work_unit("tests/test_nqm.py::test_b[1]")


def test_every_slowest_first_entry_names_an_existing_unit():
    """A renamed chapter or test file must not leave a stale entry (it would silently stop being scheduled first)."""
    chapters = [p.name for p in (ROOT / "book").glob("*.ipynb")]
    for prefix in root.SLOWEST_FIRST:
        if prefix.startswith("book/"):
            assert any(name.startswith(prefix.removeprefix("book/")) for name in chapters), prefix
        elif prefix.startswith("portability "):
            import test_portability

            assert any(c.startswith(prefix.removeprefix("portability ")) for c in test_portability.CHAPTERS)


def test_slowest_units_sort_first_and_others_keep_their_order():
    ids = ["tests/test_a.py::t", "book/01-x.ipynb::Cell 0", "book/04-y.ipynb::Cell 0",
           "tests/test_browser.py::t", "tests/test_b.py::t"]
    ranked = sorted(ids, key=root._rank)
    assert ranked[:2] == ["tests/test_browser.py::t", "book/04-y.ipynb::Cell 0"]
    assert ranked[2:] == ["tests/test_a.py::t", "book/01-x.ipynb::Cell 0", "tests/test_b.py::t"]
