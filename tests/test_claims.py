"""The book's qualitative claims, one test each.

Every test quotes the sentence and names the chapter, asserts the claim on the library (the exact float64 noisy
quadratic; for the network, the committed units of every seed, through :mod:`shb_lib.findings`, with its margin),
and has a twin that breaks the claim's premise (the noise removed, the horizons swapped, ...) and asserts that the
same check then fails: a claims test that cannot fail is a defect. When a sentence in a chapter changes, change its
quote here; when a claim stops holding, the chapter must stop making it.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import shb_lib.nqm as nqm
from shb_lib import experiments as ex
from shb_lib import findings as fd
from shb_lib.book import ROOT

T = nqm.PAPER_T
LRS = np.geomspace(1e-3, 0.2, 60)  # chapter 3's grid of fixed learning rates
KS = (10, 30, 100)


@functools.cache
def problem(noisy: bool):
    return nqm.paper_problem(noise=noisy)


@functools.cache
def schedules(noisy: bool):
    p = problem(noisy)
    return {"greedy": nqm.greedy_schedule(p, T), "optimized": nqm.optimized_schedule(p, T, objective="loss" if noisy else "log_loss")}


@functools.cache
def fixed_rate_choices(noisy: bool):
    """Chapter 3's best fixed learning rate per horizon k: without and with the 50 decayed steps appended."""
    p = problem(noisy)
    best = lambda **kw: {k: float(LRS[int(np.argmin(nqm.fixed_lr_meta_objective(p, LRS, k, **kw)))]) for k in KS}
    return best(), best(decay_steps=50, decay=0.9)


# --- chapter 3: the noisy quadratic -------------------------------------------------------------------------------

def greedy_far_worse(noisy: bool, margin: float = 10.0) -> bool:
    s = schedules(noisy)
    return s["greedy"].final_loss > margin * s["optimized"].final_loss


def test_greedy_ends_many_times_worse_with_noise():
    """Chapter 3: "the greedy (1-step horizon) schedule decays the learning rate far too fast and ends 15 times
    worse than a schedule optimized for the real horizon" (margin: more than 10 times)."""
    assert greedy_far_worse(noisy=True)


def test_greedy_ends_many_times_worse_can_fail():
    assert not greedy_far_worse(noisy=False)  # no noise: greedy is not worse at all


def greedy_is_best(noisy: bool) -> bool:
    s = schedules(noisy)
    return s["greedy"].final_loss <= s["optimized"].final_loss


def test_without_noise_greedy_is_optimal():
    """Chapter 3: "while without noise, greedy is as good as it gets" (greedy's final loss is no higher than the
    schedule optimized for the horizon)."""
    assert greedy_is_best(noisy=False)


def test_without_noise_greedy_is_optimal_can_fail():
    assert not greedy_is_best(noisy=True)


def fixed_rate_favours_small(noisy: bool, margin: float = 2.0) -> bool:
    without, with_decay = fixed_rate_choices(noisy)
    return all(without[k] * margin < with_decay[k] for k in KS)


def test_fixed_rate_objective_favours_small_rates():
    """Chapter 3 (ICLR Fig. 2): the loss after k steps at a fixed learning rate, "if this is used as the
    meta-objective, it favors small learning rates"; with the decayed steps appended the curves favour higher rates
    (margin: the choice without decay is more than 2 times smaller for every k)."""
    assert fixed_rate_favours_small(noisy=True)


def test_fixed_rate_objective_favours_small_rates_can_fail():
    assert not fixed_rate_favours_small(noisy=False)


def longer_fixed_horizon_smaller_rate(noisy: bool) -> bool:
    without, _ = fixed_rate_choices(noisy)
    return all(without[a] > without[b] for a, b in zip(KS, KS[1:]))


def test_fixed_rate_choice_shrinks_as_the_horizon_grows():
    """Chapter 3: "with a fixed rate, the longer the horizon, the smaller the rate it picks": it is the missing
    decay, not the short horizon, that favours small fixed rates."""
    assert longer_fixed_horizon_smaller_rate(noisy=True)


def test_fixed_rate_choice_shrinks_as_the_horizon_grows_can_fail():
    assert not longer_fixed_horizon_smaller_rate(noisy=False)


def decayed_objective_picks_largest(noisy: bool, decay: bool = True) -> bool:
    without, with_decay = fixed_rate_choices(noisy)
    chosen = with_decay if decay else without
    return all(chosen[k] == LRS[-1] for k in KS)


def test_with_decay_every_horizon_favours_the_largest_rate():
    """Chapter 3: "With the decay appended, that floor is removed and every horizon favours the largest rate in the
    range"."""
    assert decayed_objective_picks_largest(noisy=True)


def test_with_decay_every_horizon_favours_the_largest_rate_can_fail():
    assert not decayed_objective_picks_largest(noisy=True, decay=False)
