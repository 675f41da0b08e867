"""Findings over seeds (shb_lib.mnist.findings), the prose's numbers (shb_lib.glue) and the authors' surface optimum
(shb_lib.mnist.surface)."""

from __future__ import annotations

import numpy as np
import pytest

from shb_lib.mnist import findings as fd
from shb_lib import glue
from shb_lib.mnist import surface


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


def test_glue_returns_nothing_so_a_cell_ending_in_it_displays_nothing():
    # A chapter cell that ends in glue(...) once showed a stray '10' under its table (chapter 4).
    assert glue.glue("test_glue_returns_nothing", 165.6, 2) is None


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


def _online(shrink=0.1, det=2.0, base_loss=0.05):
    return {"stochastic_start_alpha_eff": np.array([0.01, 1.0]),
            "stochastic_learned_alpha_eff": np.array([0.01, 1.0]) * shrink,
            "stochastic_final_loss": np.array([0.3, 0.08]), "baseline_final_loss": np.array([base_loss]),
            "deterministic_learned_alpha_eff": np.array([det, det]),
            "deterministic_final_loss": np.array([0.07, 2.3]), "deterministic_diverged": np.array([False, False]),
            "surface_alpha_eff": np.array([0.01, 0.1, 1.0, 10.0]),
            "surface_stochastic": np.array([1.0, 0.5, 0.7, 2.0]), "surface_deterministic": np.array([3, 2, 1, 0.5])}


def test_online_over_seeds_counts_what_chapter_5_states():
    runs = {s: _online() for s in range(5)}
    st = fd.online_over_seeds(runs)
    assert st["n"] == 5 and st["all_shrink"] == 5 and st["baseline_best"] == 5 and st["det_broke"] == 5
    assert st["shrink_1"].median == 10 and st["surface_gap"].median == 100 and st["bracket"] == 5
    assert fd.stochastic_lookahead_shrinks(st) and fd.deterministic_lookahead_grows(st) and fd.lookaheads_disagree(st)
    st = fd.online_over_seeds({**runs, 9: _online(shrink=2.0)})  # one seed the other way
    assert not fd.stochastic_lookahead_shrinks(st)
    st = fd.online_over_seeds({**runs, **{s: _online(det=0.5) for s in range(5, 10)}})  # half of them
    assert not fd.deterministic_lookahead_grows(st)


def test_online_agrees_within_tolerance_and_on_the_deterministic_side():
    a = _online()
    assert fd.online_agrees(a, dict(a, stochastic_final_loss=a["stochastic_final_loss"] * 1.02))
    assert not fd.online_agrees(a, dict(a, stochastic_final_loss=a["stochastic_final_loss"] * 1.2))
    assert not fd.online_agrees(a, dict(a, deterministic_learned_alpha_eff=np.array([0.5, 2.0])))


def test_final_losses_and_the_short_version_table():
    arrays = {"horizons": np.array([20000, 100]), "train_loss": np.array([[1.0, 4e-5], [1.0, 0.2]])}
    runs = {0: (arrays, {}), 1: (dict(arrays, train_loss=arrays["train_loss"] * 2), {})}
    losses = fd.final_losses_over_seeds(runs)
    assert sorted(losses) == [100, 20000] and losses[100].median == pytest.approx(0.3)
    table = fd.short_version_table(runs).markdown()
    assert "| 100 | 0.048 | 0.3 |" in table and "100 / 20,000" in table


def test_best_decay_table_lists_each_frames_best_beta():
    sweep = {"horizons": np.array([50, 1000]), "batch_sizes": np.array([30, 300]), "betas": np.array([0.1, 10.0]),
             "loss": np.array([[[2.0, 1.0], [2.0, 1.0]], [[1.0, 2.0], [1.0, 2.0]]])}
    md = fd.best_decay_table(sweep).markdown()
    assert "| horizon 50 | 10 | 10 |" in md and "| horizon 1000 | 0.1 | 0.1 |" in md


def test_seed_units_compute_a_missing_seed_once_then_read_it(tmp_path):
    calls = []

    def compute(seed, dataset):
        calls.append(seed)
        return {"x": np.array([seed, 2.0 * seed])}

    cfg = lambda seed: {"seed": seed, "what": "test"}  # noqa: E731
    first = fd.seed_units(tmp_path, "unit", [1, 2], cfg, compute, dataset=object())
    again = fd.seed_units(tmp_path, "unit", [1, 2], cfg, compute, dataset=object())
    assert calls == [1, 2] and again[2]["x"].tolist() == first[2]["x"].tolist() == [2.0, 4.0]
    assert len(list(tmp_path.glob("unit-seed*-*.json"))) == 2
