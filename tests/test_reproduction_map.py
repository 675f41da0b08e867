"""The reproduction map (``book/reproduction-map.md``): every value in it is a chapter's stored output (myst-nb's
cross-document glue, ``{glue:text}`NN-name.ipynb::key:s```), every row has one of four verdicts and the counts it
states are its rows', every figure, theorem and algorithm of both paper versions has a row, and every link points at
a section of a chapter of the book."""

from __future__ import annotations

import html
import pathlib
import re

import pytest

from shb_lib.book import ROOT, toc_notebooks
from shb_lib.glue import MissingGlue, glued_values, read_glued

MAP = ROOT / "book" / "reproduction-map.md"
#: The papers' texts, beside the repository (the design card's ``../shared/paper``); the tests that read them skip
#: where they are absent.
PAPERS = {"short": ROOT.parent / "shared" / "paper" / "short-horizon-bias.txt",
          "ICLR": ROOT.parent / "shared" / "paper" / "short-horizon-bias-iclr2018-full.txt"}
GLUE_REF = re.compile(r"\{glue:text\}`([^`:]+\.ipynb)::([A-Za-z0-9_]+):s`")
SECTION_LINK = re.compile(r'<a href="(\d\d-[a-z0-9-]+)\.html#([a-z0-9-]+)">')
VERDICTS = ("reproduced", "partly", "differs", "not reproduced")
COLUMNS = ["item", "where, scale", "paper", "ours", "verdict"]
COUNTS = re.compile(r"\*\*Counts\.\*\* reproduced (\d+) · partly (\d+) · differs (\d+) · not reproduced (\d+) "
                    r"\((\d+) items\)")

#: Every figure, theorem and algorithm of both versions, as the map names them ("short Fig. 1", "ICLR Theorem 2").
#: Read off the papers: the captions "Figure N:", and "Theorem N" and "Algorithm N" wherever the text states one
#: (the short version: 2 figures and 1 theorem; the ICLR version: 8 figures, 4 theorems, 1 algorithm, Theorem 4 in
#: its appendix). test_item_list_is_the_papers checks the list against the texts.
PAPER_ITEMS = {
    "short": ["Fig. 1", "Fig. 2", "Theorem 1"],
    "ICLR": [f"Fig. {n}" for n in range(1, 9)] + [f"Theorem {n}" for n in range(1, 5)] + ["Algorithm 1"],
}


def map_text() -> str:
    return MAP.read_text(encoding="utf-8")


def table_rows(text: str) -> list[list[str]]:
    """The body rows of every table of the map, each as its five cells (stripped)."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == len(COLUMNS), f"a table row without {len(COLUMNS)} cells: {line[:100]!r}"
        if cells == COLUMNS or set("".join(cells)) <= set("-: "):
            continue  # the header and the separator
        rows.append(cells)
    return rows


def glue_refs(text: str) -> list[tuple[str, str]]:
    """The (notebook, key) of every value the text pastes, in the order it shows them."""
    return GLUE_REF.findall(text)


def chapter(notebook: str) -> pathlib.Path:
    return (MAP.parent / notebook).resolve()


def test_map_is_in_the_toc_and_linked_from_the_introduction():
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part.get("chapters", [])]
    assert "book/reproduction-map" in files
    # after the chapters it quotes (its values are theirs), so a reader meets it once they are read
    assert files.index("book/reproduction-map") > max(files.index(f"book/{p.stem}") for p in toc_notebooks())
    assert "{doc}`reproduction map <reproduction-map>`" in " ".join((ROOT / "book" / "intro.md").read_text().split())


def test_every_value_is_a_chapters_stored_output():
    """Every pasted value names a chapter of the toc and a key that chapter's stored outputs glue."""
    refs = glue_refs(map_text())
    assert len(refs) >= 50, f"only {len(refs)} glued values found: is GLUE_REF still the map's syntax?"
    chapters = set(toc_notebooks())
    missing = []
    for notebook, key in refs:
        assert chapter(notebook) in chapters, f"the map pastes from {notebook}, which is not a chapter of the toc"
        try:
            read_glued(chapter(notebook), key)
        except MissingGlue as e:
            missing.append(str(e).split(";")[0])
    assert not missing, "values the map pastes that no chapter glues:\n" + "\n".join(missing)


def test_no_value_is_pasted_in_a_form_myst_nb_does_not_resolve():
    """myst-nb 1.4 splits the format off the last colon, so a cross-document paste without ``:s`` loses its key:
    every ``{glue...}`` role of the map must be one GLUE_REF reads."""
    roles = re.findall(r"\{glue(?::\w+)?\}`[^`]*`", map_text())
    assert roles and all(GLUE_REF.fullmatch(r) for r in roles), [r for r in roles if not GLUE_REF.fullmatch(r)]


def test_teaching_page_pastes_only_chapters_stored_outputs():
    """The teaching page pastes chapter values the same way (cross-document glue): each in the form myst-nb resolves,
    each a key that a chapter of the toc glues."""
    text = (ROOT / "book" / "teaching.md").read_text(encoding="utf-8")
    roles = re.findall(r"\{glue(?::\w+)?\}`[^`]*`", text)
    assert roles, "the teaching page pastes no value: is GLUE_REF still its syntax?"
    assert all(GLUE_REF.fullmatch(r) for r in roles), [r for r in roles if not GLUE_REF.fullmatch(r)]
    chapters = set(toc_notebooks())
    missing = []
    for notebook, key in glue_refs(text):
        assert chapter(notebook) in chapters, f"teaching.md pastes from {notebook}, which is not a chapter of the toc"
        try:
            read_glued(chapter(notebook), key)
        except MissingGlue as e:
            missing.append(str(e).split(";")[0])
    assert not missing, "values the teaching page pastes that no chapter glues:\n" + "\n".join(missing)


def test_glued_values_reader_names_notebook_and_key(tmp_path):
    nb = ROOT / "book" / "03-short-horizon-bias.ipynb"
    assert read_glued(nb, "ch3_greedy") == glued_values(nb)["ch3_greedy"]
    with pytest.raises(MissingGlue, match=r"03-short-horizon-bias\.ipynb.*'no_such_key'"):
        read_glued(nb, "no_such_key")
    with pytest.raises(MissingGlue, match="no such notebook"):
        read_glued(tmp_path / "absent.ipynb", "ch3_greedy")
    (tmp_path / "bad.ipynb").write_text("not json")
    with pytest.raises(ValueError, match="bad.ipynb: not a notebook"):
        read_glued(tmp_path / "bad.ipynb", "ch3_greedy")


def test_every_row_has_a_verdict_and_the_counts_are_the_rows():
    text = map_text()
    rows = table_rows(text)
    verdicts = [r[4] for r in rows]
    assert set(verdicts) <= set(VERDICTS), f"verdicts outside {VERDICTS}: {set(verdicts) - set(VERDICTS)}"
    stated = COUNTS.search(text)
    assert stated, "the map no longer states its counts as '**Counts.** reproduced N · partly N · ...'"
    counted = [verdicts.count(v) for v in VERDICTS] + [len(rows)]
    assert [int(n) for n in stated.groups()] == counted, (
        f"the map states {stated.group(0)!r}, its rows give {dict(zip([*VERDICTS, 'items'], counted))}")


def test_every_ours_cell_is_glued_or_points_to_its_chapter():
    """"Ours" shows pasted values only: a cell pastes at least one, or says "see chapter N" for the chapter it
    links to; outside the pasted values it holds no decimal number, exponent or percentage typed by hand."""
    typed = re.compile(r"\d\.\d|\d[eE][-+]?\d|\d\s*%|\d\s*×\s*10")
    for item, where, _, ours, _ in table_rows(map_text()):
        pointer = re.search(r"see chapter (\d)", ours)
        assert glue_refs(ours) or pointer, f"{item!r}: 'ours' neither pastes a value nor points to a chapter"
        if pointer:
            n = pointer.group(1)
            assert f"](0{n}-" in where, f"{item!r}: says 'see chapter {n}' but links to another chapter"
        bare = GLUE_REF.sub("", ours)
        assert not typed.search(bare), f"{item!r}: a number typed by hand in 'ours': {bare!r}"


def test_every_figure_theorem_and_algorithm_of_both_versions_has_a_row():
    items = " ".join(r[0] for r in table_rows(map_text()))
    missing = [f"{version} {name}" for version, names in PAPER_ITEMS.items() for name in names
               if not re.search(rf"\b{version} {re.escape(name)}(?![0-9])", items)]
    assert not missing, f"paper items with no row in the map: {missing}"


def paper_text(version: str) -> str:
    path = PAPERS[version]
    if not path.is_file():
        pytest.skip(f"the paper's text is not at {path}")
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("version", sorted(PAPER_ITEMS))
def test_item_list_is_the_papers(version):
    text = paper_text(version)
    found = ({f"Fig. {n}" for n in re.findall(r"^Figure\s(\d+):", text, re.M)}
             | {f"Theorem {n}" for n in re.findall(r"\bTheorem\s(\d+)", text)}
             | {f"Algorithm {n}" for n in re.findall(r"\bAlgorithm\s(\d+)", text)})
    assert found == set(PAPER_ITEMS[version]), f"{version}: the text names {sorted(found)}"


def test_paper_column_quotes_the_papers():
    """Every decimal number in the "paper" column is printed by one of the two texts (no paper value invented)."""
    texts = paper_text("short") + paper_text("ICLR")
    for item, _, paper, _, _ in table_rows(map_text()):
        for number in re.findall(r"\d+\.\d+", GLUE_REF.sub("", paper)):
            assert number in texts, f"{item!r}: the paper column says {number}, which neither version prints"


def chapter_section_ids(notebook: pathlib.Path) -> set[str]:
    """The HTML ids of the chapter's sections: docutils' make_id of each markdown heading's text (math as its TeX
    source, which is the title's text in the document tree)."""
    import json

    from docutils.nodes import make_id

    ids = set()
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                heading = re.match(r"#{1,6}\s+(.*)", line)
                if heading:
                    ids.add(make_id(heading.group(1).replace("$", "")))
    return ids


def test_every_link_points_at_a_section_of_a_chapter():
    links = SECTION_LINK.findall(map_text())
    assert len(links) >= len(table_rows(map_text())), "a row without a link to its section"
    chapters = {p.stem: p for p in toc_notebooks()}
    for stem, anchor in links:
        assert stem in chapters, f"a link to {stem}.html, which is not a chapter of the toc"
        assert anchor in chapter_section_ids(chapters[stem]), f"{stem} has no section {anchor!r}"


def test_rendered_map_shows_the_chapters_stored_values(built_book):
    """In the built page, the pasted values are, in order, exactly the texts the chapters' stored outputs hold."""
    page = (built_book / "book" / "reproduction-map.html").read_text(encoding="utf-8")
    shown = [html.unescape(s) for s in re.findall(r'<span class="pasted-text">([^<]*)</span>', page)]
    refs = glue_refs(map_text())
    assert len(shown) == len(refs), f"the page shows {len(shown)} pasted values, the map pastes {len(refs)}"
    for (notebook, key), text in zip(refs, shown):
        stored = read_glued(chapter(notebook), key)
        assert text == stored, f"the page shows {text!r} for {notebook}::{key}, whose stored output is {stored!r}"
