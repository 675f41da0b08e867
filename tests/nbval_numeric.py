"""Numeric comparison for nbval, for the cells whose printed numbers come from one float32 run.

nbval compares a re-executed cell's text with the stored one exactly. That is right for the noisy quadratic (float64,
reproducible to every printed digit) and for numbers read from committed result files. A float32 network trained for
thousands of steps is different: XLA vectorizes reductions differently on each instruction set, the last bits differ,
and training amplifies them, so the same seed gives numbers that agree to a percent or so from one CPU to the next.

Such a cell states its tolerance in its own metadata, with the reason, where every reader of the notebook sees it::

    "metadata": {"shb": {"rtol": 0.05, "why": "one float32 run of 4000 steps: ..."}}

Then, and only then, the comparison is: the text with every number taken out must be identical (words, signs'
places, the order of lines: a claim that flips from "up" to "down" still fails), and each pair of numbers must agree
within ``rtol`` relative to the larger of the two (a sign flip is a 200 % difference and fails). Cells without the
metadata are compared exactly, as nbval does.
"""

from __future__ import annotations

import re

#: A printed number: optional sign, digits with an optional fraction, optional exponent (``+9.36e-04``, ``x74``'s 74).
NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def split_numbers(text: str) -> tuple[list[str], list[float]]:
    """``text`` cut at its numbers: ``(the pieces between them, the numbers)``; ``len(pieces) == len(numbers) + 1``."""
    pieces, numbers, last = [], [], 0
    for m in NUMBER.finditer(text):
        pieces.append(text[last:m.start()])
        numbers.append(float(m.group()))
        last = m.end()
    pieces.append(text[last:])
    return pieces, numbers


def close(a: float, b: float, rtol: float) -> bool:
    """``|a - b| <= rtol * max(|a|, |b|)`` (so equal signs are needed unless both are zero)."""
    return abs(a - b) <= rtol * max(abs(a), abs(b))


def _same_words(a: list[str], b: list[str]) -> bool:
    """The pieces between the numbers agree up to the width of runs of spaces (a table's padding follows the width
    of its numbers: ``0.036`` and ``0.0366`` pad differently); line breaks and every other character must agree."""
    norm = lambda pieces: [re.sub(r"[ \t]+", " ", p) for p in pieces]  # noqa: E731
    return norm(a) == norm(b)


def within(ref: str, test: str, rtol: float) -> bool:
    """Whether ``test`` says what ``ref`` says: the same text around the numbers, each number within ``rtol``."""
    ref_pieces, ref_numbers = split_numbers(ref)
    test_pieces, test_numbers = split_numbers(test)
    return _same_words(ref_pieces, test_pieces) and all(close(a, b, rtol) for a, b in zip(ref_numbers, test_numbers))


def max_relative_difference(ref: str, test: str) -> float | None:
    """The largest relative difference between corresponding numbers, or ``None`` if the texts differ elsewhere."""
    ref_pieces, ref_numbers = split_numbers(ref)
    test_pieces, test_numbers = split_numbers(test)
    if not _same_words(ref_pieces, test_pieces):
        return None
    diffs = [abs(a - b) / max(abs(a), abs(b)) for a, b in zip(ref_numbers, test_numbers) if a != b]
    return max(diffs, default=0.0)


def _text_values(output: dict):
    """``(container, key)`` of every text value of one nbformat output (stream text and text-like MIME data)."""
    if output.get("output_type") == "stream":
        yield output, "text"
    for mime in output.get("data", {}):  # including myst-nb glue's "application/papermill.record/text/plain"
        if mime.endswith(("text/plain", "text/markdown", "text/html")):
            yield output["data"], mime


def _join(value) -> str:
    return "".join(value) if isinstance(value, list) else value


def align_reference(ref_outputs: list, test_outputs: list, rtol: float) -> list:
    """A copy of ``ref_outputs`` in which each text that ``test_outputs`` matches within ``rtol`` is replaced by the
    test's text (so nbval's exact comparison then passes); a text that does not match is left as stored, and nbval
    reports the difference in its usual way. Streams are compared concatenated, as nbval does."""
    import copy

    ref_outputs = copy.deepcopy(ref_outputs)
    ref_streams = [o for o in ref_outputs if o.get("output_type") == "stream"]
    test_streams = [o for o in test_outputs if o.get("output_type") == "stream"]
    for name in {o.get("name") for o in ref_streams}:
        refs = [o for o in ref_streams if o.get("name") == name]
        tests = [o for o in test_streams if o.get("name") == name]
        ref_text = "".join(_join(o["text"]) for o in refs)
        test_text = "".join(_join(o["text"]) for o in tests)
        if ref_text != test_text and within(ref_text, test_text, rtol):
            refs[0]["text"] = test_text
            for o in refs[1:]:
                o["text"] = ""
    others_ref = [o for o in ref_outputs if o.get("output_type") != "stream"]
    others_test = [o for o in test_outputs if o.get("output_type") != "stream"]
    for r, t in zip(others_ref, others_test):
        test_values = dict((k, _join(c[k])) for c, k in _text_values(t))
        for container, key in _text_values(r):
            ref_text, test_text = _join(container[key]), test_values.get(key)
            if test_text is not None and ref_text != test_text and within(ref_text, test_text, rtol):
                container[key] = test_text
    return ref_outputs


def cell_rtol(cell) -> float | None:
    """The relative tolerance a cell declares in ``metadata.shb.rtol`` (with its reason in ``why``), or ``None``."""
    spec = (cell.get("metadata") or {}).get("shb") or {}
    if "rtol" not in spec:
        return None
    rtol = float(spec["rtol"])
    if not 0 < rtol < 1 or not spec.get("why"):
        raise ValueError(f"metadata.shb of a cell must give 0 < rtol < 1 and a reason in 'why', got {spec}")
    return rtol


def install() -> None:
    """Make nbval honour ``metadata.shb.rtol`` (called from the root conftest)."""
    from nbval.plugin import IPyNbCell

    if getattr(IPyNbCell.compare_outputs, "_shb_numeric", False):
        return
    exact = IPyNbCell.compare_outputs

    def compare_outputs(self, test, ref, skip_compare=None):
        rtol = cell_rtol(self.cell)
        if rtol is not None:
            ref = align_reference(ref, test, rtol)
        return exact(self, test, ref, skip_compare)

    compare_outputs._shb_numeric = True
    IPyNbCell.compare_outputs = compare_outputs
