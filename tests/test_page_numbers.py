"""Numbers that the README, the introduction and the teaching page quote from the chapters' results: each must be
printed by the chapter it comes from (its stored outputs, which nbval proves the library reproduces)."""

from __future__ import annotations

import json
import re

import pytest

from shb_lib.book import ROOT

#: (page, the text quoted there, chapter notebook, a regex its stored text outputs must match)
QUOTED = [
    ("README.md", "63.86 against 4.231", "03-short-horizon-bias.ipynb", r"greedy\s+final excess loss\s+63\.86"),
    ("README.md", "63.86 against 4.231", "03-short-horizon-bias.ipynb", r"optimized final excess loss\s+4\.231"),
    ("README.md", "the paper reports 4.25", "03-short-horizon-bias.ipynb", r"paper\s+4\.25"),
    ("book/intro.md", "63.86 against 4.231", "03-short-horizon-bias.ipynb", r"optimized final excess loss\s+4\.231"),
    ("book/teaching.md", "the long-horizon schedule at {glue:text}`03-short-horizon-bias.ipynb::ch3_optimized:s` "
     "(the paper: 4.25)", "03-short-horizon-bias.ipynb", r"paper\s+4\.25"),
    ("book/teaching.md", "at 50 steps 30, 10 and 10", "04-mnist-meta-optimization.ipynb",
     r"\| horizon 50 \| 30 \| 10 \| 10 \|"),
    ("book/teaching.md", "at 200 steps 10, 3 and 0.1", "04-mnist-meta-optimization.ipynb",
     r"\| horizon 200 \| 10 \| 3 \| 0\.1 \|"),
    ("book/teaching.md", "at 1000 steps 3, 1 and 0.03", "04-mnist-meta-optimization.ipynb",
     r"\| horizon 1000 \| 3 \| 1 \| 0\.03 \|"),
]


def outputs_text(chapter: str) -> str:
    nb = json.loads((ROOT / "book" / chapter).read_text())
    texts = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                texts.append("".join(o["text"]))
            texts.append("".join(o.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


@pytest.mark.parametrize("page, quote, chapter, pattern", QUOTED, ids=lambda x: str(x)[:40])
def test_quoted_number_is_the_chapters_output(page, quote, chapter, pattern):
    text = " ".join((ROOT / page).read_text().split())
    assert quote in text, f"{page} no longer says {quote!r}: update QUOTED with what it says now"
    assert re.search(pattern, outputs_text(chapter)), f"{chapter}'s outputs do not show {pattern!r} ({page})"
