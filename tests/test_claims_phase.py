"""Chapter 7's qualitative claims, one test each (see tests/test_claims.py for the rules): every test quotes the
sentence, asserts it on the library (the exact float64 phase diagram; for the network, the committed units of every
seed with a margin), and has a twin that breaks the claim's premise and shows that the same check then fails."""

from __future__ import annotations

import functools

import numpy as np

from shb_lib.mnist import remedies
from shb_lib.book import ROOT
from shb_lib.nqm import phase as ph


@functools.cache
def diagram():
    return ph.phase_diagram()


def column(noise_scale):
    d = diagram()
    return d.greedy_ratio[..., list(d.noise_scales).index(noise_scale)]


def family(p):
    d = diagram()
    return d.greedy_ratio[list(d.ps).index(p)]


def at(kappa, noise_scale, p, field="greedy_ratio"):
    d = diagram()
    return getattr(d, field)[d.index(kappa, noise_scale, p)]


# --- the diagram -----------------------------------------------------------------------------------------------

def test_without_noise_greedy_is_optimal():
    """Chapter 7: "Without noise, greedy is optimal at every condition number and preconditioning"."""
    assert np.all(ph.works(column(0.0)))


def test_without_noise_greedy_is_optimal_can_fail():
    assert not np.all(ph.works(column(1.0)))  # the paper's noise


def test_perfect_preconditioner_works_at_any_noise():
    """Chapter 7: "With a perfect preconditioner short horizons work at any noise"."""
    assert np.all(ph.works(family(1.0)))


def test_perfect_preconditioner_works_at_any_noise_can_fail():
    assert not np.all(ph.works(family(0.0)))  # no preconditioner


def deep_in_bad_region(p, margin=10.0):
    return at(200.0, 1.0, p) > margin


def test_papers_problem_is_deep_in_the_bad_region():
    """Chapter 7: "The paper's problem is deep in the bad region: greedy ends {paper_ratio} times worse" (margin:
    more than 10 times; 16 measured)."""
    assert deep_in_bad_region(0.0)


def test_papers_problem_is_deep_in_the_bad_region_can_fail():
    assert not deep_in_bad_region(1.0)  # the same problem, perfectly preconditioned


def larger_batch_is_worse(p):
    return at(200.0, 1e-2, p) > 2 * at(200.0, 1.0, p)


def test_larger_batches_make_the_ratio_worse():
    """Chapter 7: "In ratio terms a larger batch makes greedy *worse*: a hundred times less noise than the paper's
    ($s = 0.01$) gives a ratio of {ratio_s001}" (margin: more than twice the paper's ratio)."""
    assert larger_batch_is_worse(0.0)


def test_larger_batches_make_the_ratio_worse_can_fail():
    assert not larger_batch_is_worse(1.0)


def flat_directions_starved(p, margin=10.0):
    g, o = at(200.0, 1.0, p, "greedy_bands"), at(200.0, 1.0, p, "optimized_bands")
    return g[1] > margin * o[1]


def test_greedy_starves_the_flat_directions():
    """Chapter 7: "The flat directions then hardly move: their loss at $T$ is {flat_ratio_p0} times the optimized
    schedule's" (margin: more than 10 times)."""
    assert flat_directions_starved(0.0)


def test_greedy_starves_the_flat_directions_can_fail():
    assert not flat_directions_starved(1.0)


# --- the predictor ---------------------------------------------------------------------------------------------

def test_predictor_classifies_held_out_problems():
    """Chapter 7: "The fitted rule classifies {pred_test} % of the held-out problems correctly. The raw condition
    number alone, ignoring the preconditioner, gets only {pred_kappa} %" (margins: at least 95 %; at most 85 %)."""
    pred = ph.evaluate_predictor(diagram())
    assert pred["test_accuracy"] >= 0.95
    assert pred["kappa_only"] <= 0.85


def test_predictor_can_fail():
    """Its premise is that the preconditioner sets the effective conditioning: a rule in the raw condition number
    (the same check on the baseline) misses the 95 % margin."""
    assert not ph.evaluate_predictor(diagram())["kappa_only"] >= 0.95


# --- the network (committed units, 5 seeds; chapter 4's sweeps, 10 seeds) --------------------------------------

@functools.cache
def network():
    records = [r for r in remedies.load_units(ROOT / "results" / "remedies") if r["config"]["seed"] in range(5)]
    return remedies.summary(records)


def short_horizon_trains_worse(name, margin=3.0):
    return min(network()[(name, 100)]["loss_ratio"].values) > margin


def test_sgd_short_horizon_still_chooses_badly():
    """Chapter 7: "With SGD the short horizon still chooses badly: the 50-step choice's training loss after 4000
    steps is {sgd_loss_ratio} times the 1000-step choice's (median; above 3 on every seed)"."""
    assert short_horizon_trains_worse("sgd")


def test_sgd_short_horizon_still_chooses_badly_can_fail():
    assert not short_horizon_trains_worse("adam")


def short_horizon_chooses_as_well(name, tolerance=0.1):
    values = np.asarray(network()[(name, 100)]["loss_ratio"].values)
    return np.sum(np.abs(values - 1) <= tolerance) >= 4 and np.median(values) <= 1 + tolerance


def test_adam_short_horizon_chooses_as_well():
    """Chapter 7: "With Adam the short horizon chooses about as well as the long one: the long-run loss ratio is
    {adam_loss_ratio} (median), within 10 % of 1 on four seeds of five"."""
    assert short_horizon_chooses_as_well("adam")


def test_adam_short_horizon_chooses_as_well_can_fail():
    assert not short_horizon_chooses_as_well("sgd")


def test_chapter4_sweeps_keep_the_bias_at_batch_300():
    """Chapter 7: "Chapter 4's sweeps, on the other hand, still give the shortest horizon a $\\beta$
    {batch300_beta} times the longest's with batches of 300" (margin: median at least 3)."""
    assert remedies.book_beta_ratios(ROOT / "results" / "book", range(10))[300].median >= 3


def test_chapter4_sweeps_keep_the_bias_at_batch_300_can_fail():
    # the same check on the remedy that does remove it (Adam's beta ratio, 5 seeds)
    assert not network()[("adam", 100)]["beta_ratio"].median >= 3


def batch_300_chooses_as_well(B=300, tolerance=0.1):
    return np.median(network()[("sgd", B)]["loss_ratio"].values) <= 1 + tolerance


def test_batch_300_lets_sgd_choose_as_well():
    """Chapter 7: "In the setting above, batches of 300 let SGD's 50-step horizon choose as well as the 1000-step
    one, or better: the long-run loss ratio is {sgd300_loss_ratio} (median over 5 seeds ...)" (margin: median within 10 % of
    1 or below)."""
    assert len(network()[("sgd", 300)]["loss_ratio"].values) == 5
    assert batch_300_chooses_as_well()


def test_batch_300_lets_sgd_choose_as_well_can_fail():
    # the same check at batches of 100, where the bias is there
    assert not batch_300_chooses_as_well(B=100)
