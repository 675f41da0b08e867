"""The numeric comparison that nbval applies to cells declaring ``metadata.shb.rtol`` (tests/nbval_numeric.py)."""

from __future__ import annotations

import pytest

import nbval_numeric as nn


def stream(text, name="stdout"):
    return {"output_type": "stream", "name": name, "text": text}


def test_split_numbers_finds_signs_exponents_and_ratios():
    pieces, numbers = nn.split_numbers("dJ = +9.36e-04 at T=1000, beta x74, 2.34 %")
    assert numbers == [9.36e-4, 1000, 74, 2.34]
    assert pieces == ["dJ = ", " at T=", ", beta x", ", ", " %"]


@pytest.mark.parametrize("ref, test, rtol, ok", [
    ("final loss 0.0229", "final loss 0.0231", 0.02, True),
    ("final loss 0.0229", "final loss 0.0241", 0.02, False),   # a number outside the tolerance
    ("pushes beta up (-1.2e-3)", "pushes beta down (-1.2e-3)", 0.5, False),  # a word that changed
    ("dJ = -9.36e-04", "dJ = +9.36e-04", 0.5, False),           # a sign flip is a 200 % difference
    ("horizon 50: 0.149\nhorizon 200: 0.0229", "horizon 50: 0.149", 0.5, False),  # a line lost
    ("0.023", "0.0229", 0.01, True),                            # %.3g drops a trailing zero
    ("a   0.036  no\nb", "a  0.0366  no\nb", 0.05, True),        # a table's padding follows its numbers' width
    ("a 0.036\nb", "a 0.036 b", 0.05, False),                   # but a line break is not padding
])
def test_within(ref, test, rtol, ok):
    assert nn.within(ref, test, rtol) is ok


def test_align_reference_replaces_only_matching_texts():
    ref = [stream("loss 0.100\n"), stream("ratio x6.3\n"), {"output_type": "execute_result",
                                                            "data": {"text/plain": "up 1.00"}}]
    test = [stream("loss 0.101\nratio x6.2\n"), {"output_type": "execute_result", "data": {"text/plain": "down 1.00"}}]
    out = nn.align_reference(ref, test, rtol=0.05)
    assert "".join(o["text"] for o in out if o["output_type"] == "stream") == "loss 0.101\nratio x6.2\n"
    assert out[2]["data"]["text/plain"] == "up 1.00"  # different words: left for nbval to report
    assert ref[0]["text"] == "loss 0.100\n"  # the stored outputs are not modified


def test_cell_rtol_requires_a_reason_and_a_sane_range():
    assert nn.cell_rtol({"metadata": {}}) is None
    assert nn.cell_rtol({"metadata": {"shb": {"rtol": 0.05, "why": "float32"}}}) == 0.05
    for bad in ({"rtol": 0.05}, {"rtol": 0, "why": "x"}, {"rtol": 1.5, "why": "x"}):
        with pytest.raises(ValueError, match="rtol"):
            nn.cell_rtol({"metadata": {"shb": bad}})


def test_installed_in_nbval():
    from nbval.plugin import IPyNbCell

    assert getattr(IPyNbCell.compare_outputs, "_shb_numeric", False)


def test_reproducibility_compare_reports_each_code_cell():
    import reproducibility as rp

    def nb(*texts):
        return {"cells": [{"cell_type": "markdown", "source": "x"}] +
                [{"cell_type": "code", "outputs": [stream(t)]} for t in texts]}

    rows = rp.compare(nb("loss 0.100", "up", "same"), nb("loss 0.101", "down", "same"))
    assert rows == [(1, "max rel diff 9.90e-03"), (2, "text differs"), (3, "identical")]
