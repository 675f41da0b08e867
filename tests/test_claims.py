"""The book's qualitative claims, one test each.

Every test quotes the sentence and names the chapter, asserts the claim on the library (the exact float64 noisy
quadratic; for the network, the committed units of every seed, through :mod:`shb_lib.mnist.findings`, with its margin),
and has a twin that breaks the claim's premise (the noise removed, the horizons swapped, ...) and asserts that the
same check then fails: a claims test that cannot fail is a defect. When a sentence in a chapter changes, change its
quote here; when a claim stops holding, the chapter must stop making it.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import shb_lib.nqm as nqm
from shb_lib.mnist import experiments as ex
from shb_lib.mnist import findings as fd
from shb_lib.book import ROOT

T = nqm.PAPER_T
LRS = np.geomspace(1e-3, 1.0, 80)  # chapter 3's grid of fixed learning rates
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
    """Chapter 3: "the greedy (1-step horizon) schedule decays the learning rate far too fast and ends
    {glue:text}`ch3_greedy_ratio` times worse than a schedule optimized for the real horizon" (margin: more than 10
    times)."""
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
    """Chapter 3 (ICLR Fig. 2): "Each horizon's meta-objective favours a rate several times smaller than the dashed
    curves pick (ICLR: "it favors small learning rates")" (margin: the choice without decay is more than 2 times
    smaller for every k)."""
    assert fixed_rate_favours_small(noisy=True)


def test_fixed_rate_objective_favours_small_rates_can_fail():
    assert not fixed_rate_favours_small(noisy=False)


def longer_fixed_horizon_smaller_rate(noisy: bool) -> bool:
    without, _ = fixed_rate_choices(noisy)
    return all(without[a] > without[b] for a, b in zip(KS, KS[1:]))


def test_fixed_rate_choice_shrinks_as_the_horizon_grows():
    """Chapter 3: "So with a fixed rate, the longer the horizon, the smaller the rate it picks, and the shortest horizon
    here picks the *largest* fixed rate: it is the missing decay, not the short horizon, that favours small fixed
    rates"."""
    assert longer_fixed_horizon_smaller_rate(noisy=True)


def test_fixed_rate_choice_shrinks_as_the_horizon_grows_can_fail():
    assert not longer_fixed_horizon_smaller_rate(noisy=False)


# Chapter 3's "with the decay appended, every horizon favours a rate beyond 2/h_max" is tested in
# tests/test_nqm_claims.py (test_with_decay_every_horizon_picks_a_rate_beyond_two_over_hmax).


# --- chapter 4: the network, over the committed seeds ---------------------------------------------------------------

RESULTS = ROOT / "results"


@functools.cache
def book_seeds():
    return fd.book_runs(RESULTS / "book", range(10))


def _swap_horizons(run):
    """The same run with the shortest and longest horizons' roles exchanged (the claim's premise reversed)."""
    T = sorted(run["choice"])
    choice = dict(run["choice"])
    choice[T[0]], choice[T[-1]] = run["choice"][T[-1]], run["choice"][T[0]]
    long = ex.sort_long(run["long"])
    loss = np.asarray(long["train_loss"])[::-1]
    return dict(run, choice=choice, long=dict(long, train_loss=loss))


def test_book_scale_shortest_horizon_decays_faster():
    """Chapter 4: "Over 10 seeds, the 50-step horizon chooses a beta a median ... times the 1000-step horizon's
    (lower quartile ...)": the lower quartile of the ratio is above findings.MARGINS["beta_ratio"]."""
    assert fd.shortest_decays_faster(fd.over_seeds(book_seeds()))


def test_book_scale_shortest_horizon_decays_faster_can_fail():
    swapped = {s: _swap_horizons(r) for s, r in book_seeds().items()}
    assert not fd.shortest_decays_faster(fd.over_seeds(swapped))


def test_book_scale_shortest_horizon_trains_worse():
    """Chapter 4: "its long run ends with a median ... times the training loss ...; its choice ends worst of the
    three horizons in ... of the 10 seeds" (lower quartile above MARGINS["loss_ratio"], worst on 80 % of seeds)."""
    assert fd.shortest_trains_worse(fd.over_seeds(book_seeds()))


def test_book_scale_shortest_horizon_trains_worse_can_fail():
    swapped = {s: _swap_horizons(r) for s, r in book_seeds().items()}
    assert not fd.shortest_trains_worse(fd.over_seeds(swapped))


def test_less_noise_and_longer_horizons_choose_slower_decay():
    """Chapter 4's slider: "In the median over the ten seeds, the best beta falls as the horizon grows, at every batch
    size, and never rises as the batch grows (at the 50-step horizon, batches 100 and 300 pick the same beta)"."""
    assert fd.best_decay_falls(fd.median_sweep(book_seeds()))


def test_less_noise_and_longer_horizons_choose_slower_decay_can_fail():
    sweep = fd.median_sweep(book_seeds())
    assert not fd.best_decay_falls(dict(sweep, loss=np.asarray(sweep["loss"])[::-1]))  # horizons reversed
    assert not fd.best_decay_falls(dict(sweep, loss=np.asarray(sweep["loss"])[:, ::-1]))  # batch sizes reversed


def test_the_50_step_horizon_ties_at_batches_100_and_300():
    """The same sentence's parenthesis: the tie it names is there (and the other frames do fall)."""
    sweep = fd.median_sweep(book_seeds())
    best = np.asarray(sweep["betas"])[np.argmin(np.asarray(sweep["loss"]), axis=-1)]
    assert list(sweep["horizons"]) == [50, 200, 1000] and list(sweep["batch_sizes"]) == [30, 100, 300]
    assert best[0, 1] == best[0, 2]
    assert np.all(np.diff(best[1:], axis=1) < 0) and np.all(np.diff(best, axis=0) <= 0)


@functools.cache
def paper_long_seeds():
    units = ex.load_results(RESULTS / "paper-seeds", scale="paper")
    return {i["seed"]: (a, i) for a, i in units.values()}


def test_paper_scale_long_run_gap_over_seeds():
    """Chapter 4: "Over 10 seeds of the 20k-step runs, the 100-step choice ends with a median ... times the 20k-step
    choice's training loss at the last step (lower quartile ...; ICLR: "over three orders of magnitude")"."""
    seeds = paper_long_seeds()
    assert len(seeds) >= 10
    spread = fd.long_ratio_spread(seeds, ex.SCALES["paper"]["record_every"])
    assert fd.paper_gap_holds(spread["final"])


def test_paper_scale_horizons_rank_in_order():
    """Chapter 4 (the short version's numbers): "an order the book never shows (its horizons rank in order in every
    seed at paper scale)"."""
    assert fd.horizons_rank_in_order(paper_long_seeds())


def test_paper_scale_horizons_rank_in_order_can_fail():
    seeds = paper_long_seeds()
    a, i = seeds[min(seeds)]
    a = ex.sort_long(a)
    loss = np.asarray(a["train_loss"]).copy()
    loss[[0, 1]] = loss[[1, 0]]  # one seed's 100- and 1000-step runs exchanged, as the short version's order
    assert not fd.horizons_rank_in_order({**seeds, min(seeds): (dict(a, train_loss=loss), i)})


def test_paper_scale_long_run_gap_can_fail():
    flipped = {s: (dict(a, train_loss=np.asarray(ex.sort_long(a)["train_loss"])[::-1],
                        horizons=np.asarray(ex.sort_long(a)["horizons"])), i)
               for s, (a, i) in paper_long_seeds().items()}
    spread = fd.long_ratio_spread(flipped, ex.SCALES["paper"]["record_every"])
    assert not fd.paper_gap_holds(spread["final"])


def slider_fixed_rates(noise: float):
    from shb_lib.plotting.nqm import SLIDER_GRID, _slider_data

    rows = [(h, *_slider_data(h, noise)[1:3]) for h in SLIDER_GRID["horizon"] if h >= 10]
    return [(h, best, float(curve[-1])) for h, best, curve in rows]


def longer_horizon_smaller_fixed_rate_and_lower_end(noise: float) -> bool:
    rows = slider_fixed_rates(noise)
    return all(a[1] > b[1] and a[2] > b[2] for a, b in zip(rows, rows[1:]))


@pytest.mark.parametrize("noise", [0.25, 1.0, 4.0])
def test_slider_with_noise_longer_horizons_pick_smaller_fixed_rates(noise):
    """Chapter 3's slider: "With noise, from 10 steps on, the longer the horizon, the smaller the fixed rate it picks,
    and the shorter horizons' choices end far higher at step 250"."""
    assert longer_horizon_smaller_fixed_rate_and_lower_end(noise)


def test_slider_without_noise_every_horizon_picks_the_same_rate():
    """Chapter 3's slider: "With noise 0, every horizon from 10 steps on picks the same rate", and the claim with
    noise fails there."""
    rows = slider_fixed_rates(0.0)
    assert len({best for _, best, _ in rows}) == 1
    assert not longer_horizon_smaller_fixed_rate_and_lower_end(0.0)


# --- chapter 5: online SMD, over the committed seeds ---------------------------------------------------------------


@functools.cache
def online_seeds():
    return {int(i["seed"]): a for a, i in ex.load_results(RESULTS / "online-seeds").values()}


def test_stochastic_lookahead_shrinks_the_learning_rate_over_seeds():
    """Chapter 5: "Whatever it starts from, every run ends the adaptation phase with a smaller effective learning
    rate than it started with ... the baseline ... ends with a lower loss than every SMD run", on every seed."""
    stats = fd.online_over_seeds(online_seeds())
    assert stats["n"] >= 5 and fd.stochastic_lookahead_shrinks(stats)


def test_stochastic_lookahead_shrinks_can_fail():
    up = {s: dict(a, stochastic_learned_alpha_eff=1 / a["stochastic_learned_alpha_eff"])
          for s, a in online_seeds().items()}  # the learned rates mirrored above 1
    assert not fd.stochastic_lookahead_shrinks(fd.online_over_seeds(up))
    worse = {s: dict(a, baseline_final_loss=10 * a["baseline_final_loss"]) for s, a in online_seeds().items()}
    assert not fd.stochastic_lookahead_shrinks(fd.online_over_seeds(worse))


def test_deterministic_lookahead_grows_the_learning_rate_over_seeds():
    """Chapter 5: "The deterministic lookahead raises it ... runs end above the hand-tuned value", in at least 80 % of
    the runs over the seeds and in every start's median."""
    stats = fd.online_over_seeds(online_seeds())
    assert stats["n"] >= 5 and fd.deterministic_lookahead_grows(stats)
    # "the one that does not starts at 0.01": every run that ends below 1 started at alpha_eff = 0.01
    below = [a["deterministic_start_alpha_eff"][a["deterministic_learned_alpha_eff"] <= 1.0]
             for a in online_seeds().values()]
    assert sum(b.size for b in below) == stats["det_runs"] - stats["det_above"] == 1
    assert all(np.allclose(b, 0.01) for b in below if b.size)


def test_deterministic_lookahead_grows_can_fail():
    down = {s: dict(a, deterministic_learned_alpha_eff=a["stochastic_learned_alpha_eff"][:3])
            for s, a in online_seeds().items()}  # the stochastic lookahead's rates in their place
    assert not fd.deterministic_lookahead_grows(fd.online_over_seeds(down))


def test_the_two_lookaheads_bracket_the_hand_tuned_rate():
    """Chapter 5: "The two lookaheads' objectives bracket the hand-tuned rate, on ... every seed, and their best
    alpha_eff differ by a factor ... of ten or more"."""
    stats = fd.online_over_seeds(online_seeds())
    assert stats["n"] >= 5 and fd.lookaheads_disagree(stats)


def test_the_two_lookaheads_bracket_can_fail():
    same = {s: dict(a, surface_deterministic=a["surface_stochastic"]) for s, a in online_seeds().items()}
    assert not fd.lookaheads_disagree(fd.online_over_seeds(same))


# --- chapter 6: meta-gradient estimators on MNIST, over the committed seeds ----------------------------------------


@functools.cache
def estimator_seeds():
    return {int(i["seed"]): a for a, i in ex.load_results(RESULTS / "estimator-seeds").values()}


def test_truncation_points_towards_smaller_faster_decaying_rates_over_seeds():
    """Chapter 6: "Truncated backpropagation with K = 1 and K = 10 says the opposite on both parameters, lower
    alpha_0 and decay faster", by more than two standard errors on every seed."""
    stats = fd.estimators_over_seeds(estimator_seeds())
    assert stats["n"] >= 5 and fd.truncation_points_the_papers_way(stats)


def test_truncation_points_the_papers_way_can_fail():
    flipped = {s: dict(a, bias=-a["bias"]) for s, a in estimator_seeds().items()}
    assert not fd.truncation_points_the_papers_way(fd.estimators_over_seeds(flipped))
    noisy = {s: dict(a, bias_se=10 * a["bias_se"]) for s, a in estimator_seeds().items()}  # not resolved
    assert not fd.truncation_points_the_papers_way(fd.estimators_over_seeds(noisy))


def test_truncated_meta_optimization_hurts_over_seeds():
    """Chapter 6: "With K = 1, alpha_0 falls ... and the training loss over the run gets measurably worse than at
    the start", on every seed, while the whole-run estimator does not make it worse."""
    stats = fd.estimators_over_seeds(estimator_seeds())
    assert stats["n"] >= 5 and fd.truncated_meta_optimization_hurts(stats)


def test_truncated_meta_optimization_hurts_can_fail():
    swapped = {s: dict(a, dJ=a["dJ"][::-1], dJ_se=a["dJ_se"][::-1]) for s, a in estimator_seeds().items()}
    assert not fd.truncated_meta_optimization_hurts(fd.estimators_over_seeds(swapped))
