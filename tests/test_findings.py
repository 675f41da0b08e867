"""Findings over seeds (shb_lib.findings), the prose's numbers (shb_lib.glue) and the authors' surface optimum
(shb_lib.surface)."""

from __future__ import annotations

import numpy as np
import pytest

from shb_lib import findings as fd
from shb_lib import glue, surface


def test_spread_quartiles_and_text():
    s = fd.spread([1.0, 2.0, 3.0, 4.0, 100.0])
    assert (s.median, s.q25, s.q75, s.low, s.high, s.n) == (3.0, 2.0, 4.0, 1.0, 100.0, 5)
    assert s.ratio_text() == "x3 (quartiles x2 to x4, range x1 to x1e+02, 5 seeds)"
    with pytest.raises(ValueError, match="non-empty"):
        fd.spread([])


def _run(betas, losses):
    """A fake sweep of three horizons with the given chosen betas and final long-run losses."""
    horizons = [50, 200, 1000]
    loss = np.tile(np.asarray(losses, float)[:, None], (1, 8))
    return {"choice": {T: (0.1, b) for T, b in zip(horizons, betas)}, "config": {"record_every": 250},
            "long": {"horizons": np.asarray(horizons), "train_loss": loss, "step": np.arange(8) * 250}}


def test_claims_hold_and_fail():
    biased = {s: _run([30.0, 3.0, 0.3 + 0.01 * s], [0.2, 0.03, 0.02]) for s in range(5)}
    stats = fd.over_seeds(biased)
    assert stats["beta_ratio"].median == pytest.approx(30 / 0.32)
    assert fd.shortest_decays_faster(stats) and fd.shortest_trains_worse(stats)
    swapped = {s: _run([0.3, 3.0, 30.0], [0.02, 0.03, 0.2]) for s in range(5)}  # the horizons' roles swapped
    stats = fd.over_seeds(swapped)
    assert not fd.shortest_decays_faster(stats) and not fd.shortest_trains_worse(stats)


def test_median_sweep_and_agreement():
    a = {"horizons": np.array([50]), "batch_sizes": np.array([100]), "betas": np.array([0.1, 1.0]),
         "loss": np.array([[[1.0, 2.0]]])}
    runs = {s: {"sweep": dict(a, loss=a["loss"] * (1 + s))} for s in range(3)}
    assert fd.median_sweep(runs)["loss"].tolist() == [[[2.0, 4.0]]]
    run = _run([30.0, 3.0, 0.3], [0.2, 0.03, 0.02])
    assert fd.agrees(run, run)
    assert not fd.agrees(run, _run([30.0, 3.0, 0.6], [0.2, 0.03, 0.02]))   # a choice moved
    assert not fd.agrees(run, _run([30.0, 3.0, 0.3], [0.2, 0.03, 0.04]))   # a long run doubled


@pytest.mark.parametrize("value, digits, shown", [(74.147, 2, "74"), (0.0229123, 3, "0.0229"), (2.21e7, 3,
                                                                                              "2.21e+07"),
                                                   (0.0, 2, "0"), (165.6, 2, "170")])
def test_glue_text(value, digits, shown):
    assert glue.text(value, digits) == shown


def test_glue_rejects_bad_digits():
    with pytest.raises(ValueError, match="digits"):
        glue.significant(1.0, 0)


def test_surface_optimum_finds_the_valley_and_ignores_diverged_samples():
    rng = np.random.default_rng(0)
    a, b = 10 ** rng.uniform(-3, np.log10(0.5), 600), 10 ** rng.uniform(-2, np.log10(200), 600)
    loss = 0.1 * np.exp((np.log10(a) - np.log10(0.1)) ** 2 + (np.log10(b) - 1.0) ** 2)
    loss[:50] = np.inf
    a0, beta = surface.optimum({"alpha_0": a, "beta": b, "loss": loss})
    assert abs(np.log10(a0) + 1) < 0.15 and abs(np.log10(beta) - 1) < 0.15
    s = surface.interpolate({"alpha_0": a, "beta": b, "loss": loss})
    assert s.value.shape == (50, 50) and np.isfinite(s.value).all()
    with pytest.raises(ValueError, match="diverged"):
        surface.interpolate({"alpha_0": a, "beta": b, "loss": np.full(600, np.inf)})
