"""Findings over seeds: what one horizon sweep says, measured on every seed, summarized with its spread.

One float32 run of the network is an anecdote: another seed (initialization, pretraining, batches, surface samples)
or another CPU's rounding moves its numbers, sometimes across a claim. A *finding* is a statement about the
distribution over seeds, with a margin. This module turns the units of :mod:`shb_lib.mnist.experiments` into per-seed
measurements, summarizes them (median, quartiles, range), and states the book's claims as predicates with their
margins, so that the chapters print them and ``tests/test_claims.py`` asserts them (and shows that each can fail).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import experiments as ex


@dataclass(frozen=True)
class Spread:
    """Median, quartiles and range of one measurement over ``n`` seeds (``values`` in seed order)."""

    values: tuple
    median: float
    q25: float
    q75: float
    low: float
    high: float

    @property
    def n(self) -> int:
        return len(self.values)

    def ratio_text(self, digits: int = 2) -> str:
        """``x74 (quartiles x40 to x120, range x20 to x300, 5 seeds)``, for a ratio."""
        f = lambda x: f"x{x:.{digits}g}"  # noqa: E731
        return (f"{f(self.median)} (quartiles {f(self.q25)} to {f(self.q75)}, range {f(self.low)} to "
                f"{f(self.high)}, {self.n} seeds)")


def spread(values) -> Spread:
    """The :class:`Spread` of ``values`` (at least one finite value; quartiles by linear interpolation)."""
    v = np.asarray(values, np.float64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"values must be a non-empty 1-d sequence, got shape {v.shape}")
    q25, med, q75 = np.percentile(v, [25, 50, 75])
    return Spread(tuple(float(x) for x in v), float(med), float(q25), float(q75), float(v.min()), float(v.max()))


def horizon_sweep(run: dict) -> dict:
    """What one seed's sweep (:func:`experiments.run_mnist`'s result) measures, shortest against longest horizon:
    ``beta_ratio`` and ``alpha_ratio`` of the choices, ``loss_ratio`` of the long runs' training losses at the last
    step and ``tail_ratio`` averaged over the last 1000 steps, and ``worst_is_shortest`` (the shortest horizon's
    choice ends with the highest training loss of all horizons)."""
    horizons = sorted(run["choice"])
    (a_s, b_s), (a_l, b_l) = run["choice"][horizons[0]], run["choice"][horizons[-1]]
    final, tail = ex.long_ratios(run["long"], run["config"]["record_every"])
    last = ex.sort_long(run["long"])["train_loss"][:, -1]
    return {"beta_ratio": b_s / b_l, "alpha_ratio": a_s / a_l, "loss_ratio": final, "tail_ratio": tail,
            "worst_is_shortest": bool(np.argmax(last) == 0)}


def over_seeds(runs: dict) -> dict:
    """:func:`horizon_sweep` of every seed (``runs``: ``{seed: run}``), as ``{measurement: Spread}`` plus
    ``worst_is_shortest``: the number of seeds where the shortest horizon's choice ends worst."""
    per_seed = [horizon_sweep(runs[s]) for s in sorted(runs)]
    out = {k: spread([m[k] for m in per_seed]) for k in ("beta_ratio", "alpha_ratio", "loss_ratio", "tail_ratio")}
    out["worst_is_shortest"] = sum(m["worst_is_shortest"] for m in per_seed)
    out["seeds"] = tuple(sorted(runs))
    return out


def book_runs(folder, seeds, scale: str = "book") -> dict:
    """``{seed: run}``: :func:`experiments.run_mnist` of ``scale`` for every seed, read from the result files in
    ``folder`` (a missing unit is computed and written there, with its progress, as the command line would)."""
    return {int(s): ex.run_mnist(scale, out=folder, seed=int(s)) for s in seeds}


def median_sweep(runs: dict) -> dict:
    """The slider sweep (meta-objective against beta per horizon and batch size) with its loss the median over
    seeds: one seed's grid is a noisy draw (its optimum moves from seed to seed on the flat parts)."""
    sweeps = [runs[s]["sweep"] for s in sorted(runs)]
    first = sweeps[0]
    for sw in sweeps[1:]:
        for k in ("horizons", "batch_sizes", "betas"):
            if not np.array_equal(sw[k], first[k]):
                raise ValueError(f"the seeds' sweeps differ in {k}: {sw[k]} vs {first[k]}")
    loss = np.median(np.stack([np.asarray(sw["loss"]) for sw in sweeps]), axis=0)
    return dict(first, loss=loss, n_seeds=len(sweeps))


def agrees(run: dict, reference: dict, choice_rtol: float = 0.01, loss_rtol: float = 0.3) -> bool:
    """Whether a recomputed run of one seed says what the committed one says: every horizon's ``(alpha_0, beta)``
    within ``choice_rtol`` and every long run's mean training loss over its last 1000 steps within ``loss_rtol``
    (one float32 run of thousands of steps moves by tens of percent from one CPU's rounding to another's)."""
    if sorted(run["choice"]) != sorted(reference["choice"]):
        return False
    close = lambda a, b, r: abs(a - b) <= r * max(abs(a), abs(b))  # noqa: E731
    for T in run["choice"]:
        if not all(close(a, b, choice_rtol) for a, b in zip(run["choice"][T], reference["choice"][T])):
            return False
    n = max(1, 1000 // int(run["config"]["record_every"]))
    tail = lambda r: ex.sort_long(r["long"])["train_loss"][:, -n:].mean(axis=1)  # noqa: E731
    return all(close(a, b, loss_rtol) for a, b in zip(tail(run), tail(reference)))


def long_ratio_spread(runs: dict, record_every: int, tail_steps=(1000, 5000)) -> dict:
    """Shortest against longest horizon's long-run training loss for each seed of :func:`experiments.long_over_seeds`
    (``{seed: (arrays, info)}``): ``{"final": Spread, tail_steps[i]: Spread, ...}``."""
    out = {"final": spread([ex.long_ratios(a, record_every)[0] for a, _ in runs.values()])}
    for n in tail_steps:
        out[n] = spread([ex.long_ratios(a, record_every, n)[1] for a, _ in runs.values()])
    return out


def paper_numbers(units: dict) -> dict:
    """The paper-scale figures that chapter 4's prose quotes, from :func:`experiments.organize`'s units: the beta
    and alpha_0 ratios (100 / 20k steps) of the surface optima per budget (``beta_2500``, ``alpha_2500``,
    ``beta_96``) and of the authors' interpolated optimum (``beta_authors_2500``), how far SMD's end points at
    horizons 100 and 1k are from the largest surface's beta (``smd_beta_factor``, >= 1), and the final-loss ratio of
    the SMD-chosen long run (``smd_long_ratio``)."""
    from . import surface

    out = {}
    budgets = ex.surface_choices(units["surface"], top=3)
    for n, best in budgets.items():
        lo, hi = min(best), max(best)
        out[f"beta_{n}"] = best[lo][1] / best[hi][1]
        out[f"alpha_{n}"] = best[lo][0] / best[hi][0]
    largest = {T: runs[0][0] for T, runs in units["surface"].items()}
    authors = {T: surface.optimum(a) for T, a in largest.items()}
    out[f"beta_authors_{max(budgets)}"] = authors[min(authors)][1] / authors[max(authors)][1]
    best = budgets[max(budgets)]
    factors = [max(a["beta"][-1] / best[T][1], best[T][1] / a["beta"][-1])
               for T in (100, 1000) if T in units["smd"] for a, _ in units["smd"][T]]
    if factors:
        out["smd_beta_factor"] = max(factors)
    for arrays, info, label in units["long"]:
        if label.startswith("SMD"):
            out["smd_long_ratio"] = ex.long_ratios(arrays, info["config"]["record_every"])[0]
    return out



#: The training losses at step 20k of the short (workshop) version's Fig. 2 caption, for the schedules chosen with
#: horizons 100, 1k, 5k and 20k. The ICLR version gives no numbers, only "over three orders of magnitude" (100 vs 20k).
SHORT_FIG2_LOSSES = {100: 4.8e-2, 1000: 1.3e-1, 5000: 1.3e-3, 20000: 4.0e-5}


def surface_report(units: dict, top: int = 3) -> str:
    """The lines chapter 4 prints for the paper-scale units (:func:`experiments.organize`): every budget's surface
    optimum per horizon (the geometric mean of its ``top`` best samples) with the shortest / longest ratios, and
    where each SMD run ended."""
    lines = []
    for n, best in ex.surface_choices(units["surface"], top=top).items():
        for T, (a0, beta) in best.items():
            lines.append(f"{n:>4} samples, horizon {T:>5}: surface best (top {top}) alpha_0 = {a0:.3g}, "
                         f"beta = {beta:.3g}")
        (a_s, b_s), (a_l, b_l) = best[min(best)], best[max(best)]
        lines.append(f"{n:>4} samples, horizon {min(best)} / {max(best)}: alpha_0 x{a_s / a_l:.3g}, "
                     f"beta x{b_s / b_l:.3g}")
    for T, runs in units["smd"].items():
        ends = "; ".join(f"from beta {i['config']['init_beta']:g}, {len(a['values'])} meta-steps: "
                         f"({a['alpha_0'][-1]:.3g}, {a['beta'][-1]:.3g})" for a, i in runs)
        lines.append(f"SMD, horizon {T:>5}: (alpha_0, beta) {ends}")
    return "\n".join(lines)


def long_run_report(arrays: dict, info: dict, how: str) -> str:
    """The lines chapter 4 prints for one paper-scale long unit (chosen ``how``): each horizon's final training
    loss and test error, then the shortest / longest ratios at the last step and over the last 1000 steps."""
    steps = info["config"]["steps"]
    last = zip(arrays["horizons"], arrays["train_loss"][:, -1], arrays["test_error"][:, -1])
    lines = [f"{how}, horizon {T:>5}: after {steps} steps training loss {loss:.3g}, test error {100 * err:.2f} %"
             for T, loss, err in last]
    final, tail = ex.long_ratios(arrays, info["config"]["record_every"])
    lines.append(f"  shortest / longest horizon: final loss x{final:.3g}, mean over the last 1000 steps x{tail:.3g}")
    return "\n".join(lines)


def final_losses_over_seeds(runs: dict) -> dict:
    """``{T: Spread}``: the training loss after the last step of each horizon's long run, over the seeds of
    :func:`experiments.long_over_seeds` (``{seed: (arrays, info)}``)."""
    per_T: dict = {}
    for arrays, _ in runs.values():
        a = ex.sort_long(arrays)
        for T, loss in zip(a["horizons"], a["train_loss"][:, -1]):
            per_T.setdefault(int(T), []).append(float(loss))
    return {T: spread(v) for T, v in sorted(per_T.items())}


def short_version_table(runs: dict):
    """Chapter 4's comparison with the short version's Fig. 2 numbers: per horizon, the short version's 20k-step
    training loss, this book's median and quartiles over the seeds of ``runs`` (as :func:`final_losses_over_seeds`)
    and the ratio of the two; a last row compares the 100-step / 20k-step ratios. A
    :class:`shb_lib.plotting.MarkdownTable`."""
    from ..plotting import MarkdownTable

    ours = final_losses_over_seeds(runs)
    g = lambda x: f"{x:.2g}"  # noqa: E731
    rows = [(f"{T:,}", g(SHORT_FIG2_LOSSES[T]), g(ours[T].median), f"{g(ours[T].q25)} to {g(ours[T].q75)}",
             g(ours[T].median / SHORT_FIG2_LOSSES[T])) for T in sorted(SHORT_FIG2_LOSSES) if T in ours]
    short_ratio = SHORT_FIG2_LOSSES[100] / SHORT_FIG2_LOSSES[20000]
    ours_ratio = ours[100].median / ours[20000].median
    rows.append(("100 / 20,000", g(short_ratio), g(ours_ratio), "", g(ours_ratio / short_ratio)))
    n = len(runs)
    return MarkdownTable(["horizon", "short version, Fig. 2", f"this book, median of {n} seeds", "quartiles",
                          "book / short"], rows)

# ----------------------------------------------------------------------------------------------------------------
# Chapter 5 (online SMD) over seeds.


def online_unit_config(seed: int, config=None) -> dict:
    """The configuration that names chapter 5's result unit for ``seed`` (the book-scale online settings)."""
    from .online import OnlineConfig

    config = OnlineConfig() if config is None else config
    return {"seed": int(seed), **config._asdict()}


def seed_units(folder, name: str, seeds, unit_config, compute, dataset=None) -> dict:
    """``{seed: arrays}``: the unit ``<name>-seed<seed>-<hash>`` of every seed, read from ``folder``; a missing one
    is ``compute(seed, dataset)`` (MNIST loaded once, only if needed), written there atomically with its
    configuration ``unit_config(seed)``, wall time and provenance (:func:`experiments.save_unit`)."""
    import time

    out = {}
    for seed in seeds:
        seed, ucfg = int(seed), unit_config(int(seed))
        found = ex.load_unit(folder, f"{name}-seed{seed}", ucfg)
        if found is None:
            if dataset is None:
                from .data import load_mnist

                dataset = load_mnist()
            t0 = time.perf_counter()
            arrays = compute(seed, dataset)
            ex.save_unit(folder, f"{name}-seed{seed}", ucfg, arrays, time.perf_counter() - t0, "book")
            found = ex.load_unit(folder, f"{name}-seed{seed}", ucfg)
        out[seed] = found[0]
    return out


def online_runs(folder, seeds, dataset=None, config=None) -> dict:
    """``{seed: arrays}`` of :func:`shb_lib.mnist.online.chapter_runs` with ``PRNGKey(seed)`` (:func:`seed_units`, units
    ``online-seed<seed>-<hash>``; a missing seed takes 3 to 12 minutes on 2 cores)."""
    import jax

    from . import online

    config = online.OnlineConfig() if config is None else config

    def compute(seed, d):
        return online.chapter_runs(jax.random.PRNGKey(seed), d.train_images, d.train_labels, d.test_images,
                                   d.test_labels, config)

    return seed_units(folder, "online", seeds, lambda seed: online_unit_config(seed, config), compute, dataset)


def online_over_seeds(runs: dict) -> dict:
    """What chapter 5 states, measured on every seed (``runs``: ``{seed: arrays}`` of :func:`online_runs`).

    Returns ``{"seeds": (...), "n": n}`` and, as :class:`Spread` over seeds: ``shrink_<i>`` (hand-tuned
    alpha_eff = 1 over the learned alpha_eff of stochastic run ``i``), ``loss_ratio_best`` (the best stochastic
    run's final loss over the baseline's), ``det_learned_min`` (the smallest learned alpha_eff of the
    deterministic runs), ``surface_gap`` (the deterministic lookahead's best alpha_eff over the stochastic one's),
    ``surface_best`` (``{kind: Spread}`` of each lookahead's best alpha_eff);
    and counts of seeds: ``all_shrink`` (every stochastic run ends below the hand-tuned alpha_eff = 1 and below
    its own start), ``baseline_best`` (the baseline ends below every stochastic run), ``all_grow`` (every
    deterministic run ends above alpha_eff = 1), ``det_runs`` and ``det_above`` (deterministic runs in all, and
    those that end above 1), ``det_learned`` (a Spread per deterministic start of its learned alpha_eff),
    ``det_broke`` (the deterministic run from alpha_eff = 1 broke down: final loss above 1 or flagged diverged),
    ``bracket`` (the stochastic lookahead's best alpha_eff is below
    the hand-tuned 1 and the deterministic one's above)."""
    seeds = tuple(sorted(runs))
    r = [runs[s] for s in seeds]
    n_stoch = r[0]["stochastic_learned_alpha_eff"].size
    out = {"seeds": seeds, "n": len(seeds)}
    for i in range(n_stoch):
        out[f"shrink_{i}"] = spread([1 / x["stochastic_learned_alpha_eff"][i] for x in r])
    out["loss_ratio_best"] = spread([x["stochastic_final_loss"].min() / x["baseline_final_loss"][0] for x in r])
    out["det_learned_min"] = spread([x["deterministic_learned_alpha_eff"].min() for x in r])
    grid = lambda x, kind: x["surface_alpha_eff"][np.argmin(x[f"surface_{kind}"])]  # noqa: E731
    out["surface_gap"] = spread([grid(x, "deterministic") / grid(x, "stochastic") for x in r])
    out["surface_best"] = {kind: spread([grid(x, kind) for x in r]) for kind in ("stochastic", "deterministic")}
    below = lambda x: np.minimum(1.0, x["stochastic_start_alpha_eff"])  # noqa: E731
    shrinks = lambda x: bool(np.all(x["stochastic_learned_alpha_eff"] < below(x)))  # noqa: E731
    out["all_shrink"] = sum(shrinks(x) for x in r)
    out["baseline_best"] = sum(bool(x["baseline_final_loss"][0] < x["stochastic_final_loss"].min()) for x in r)
    out["all_grow"] = sum(bool(np.all(x["deterministic_learned_alpha_eff"] > 1.0)) for x in r)
    out["det_runs"] = sum(x["deterministic_learned_alpha_eff"].size for x in r)
    out["det_above"] = sum(int((x["deterministic_learned_alpha_eff"] > 1.0).sum()) for x in r)
    n_det = r[0]["deterministic_learned_alpha_eff"].size
    out["det_learned"] = [spread([x["deterministic_learned_alpha_eff"][i] for x in r]) for i in range(n_det)]
    broke = lambda x: bool(x["deterministic_final_loss"][-1] > 1.0 or x["deterministic_diverged"][-1])  # noqa: E731
    out["det_broke"] = sum(broke(x) for x in r)
    out["bracket"] = sum(bool(grid(x, "stochastic") < 1.0 < grid(x, "deterministic")) for x in r)
    return out


def online_report(stats: dict) -> str:
    """The lines chapter 5 prints for :func:`online_over_seeds`' ``stats``: each stochastic start's shrink factor,
    the final-loss ratio, the counts of seeds behind each claim and the lookaheads' disagreement."""
    from .online import CHAPTER_STARTS

    n = stats["n"]
    lines = [f"stochastic, from alpha_eff {a / 0.1:.3g}: 1 / learned {stats[f'shrink_{i}'].ratio_text()}"
             for i, a in enumerate(CHAPTER_STARTS["stochastic"])]
    lines += [f"best stochastic run's final loss / the baseline's: {stats['loss_ratio_best'].ratio_text()}",
              f"every stochastic run ends below 1 and below its start: {stats['all_shrink']} of {n} seeds; "
              f"the baseline ends lowest: {stats['baseline_best']} of {n}",
              f"deterministic runs ending above 1: {stats['det_above']} of {stats['det_runs']}; the run from 1 "
              f"breaks down on {stats['det_broke']} of {n} seeds",
              f"best alpha_eff, deterministic / stochastic lookahead: {stats['surface_gap'].ratio_text()}",
              f"stochastic best < 1 < deterministic best: {stats['bracket']} of {n} seeds"]
    return "\n".join(lines)


def online_agrees(arrays: dict, reference: dict, rtol: float = 0.05) -> bool:
    """Whether one seed's recomputed chapter-5 runs say what the committed unit says: the baseline's and the
    stochastic runs' learned alpha_eff and final losses within ``rtol`` (they moved by 2 % or less under another
    CPU's rounding), and the deterministic runs (chaotic: tens of percent) on the same side of alpha_eff = 1."""
    keys = ("baseline_final_loss", "stochastic_learned_alpha_eff", "stochastic_final_loss")
    close = all(np.allclose(arrays[k], reference[k], rtol=rtol, atol=0) for k in keys)
    above = lambda a: a["deterministic_learned_alpha_eff"] > 1  # noqa: E731
    side = np.array_equal(above(arrays), above(reference))
    return bool(close and side)


# ----------------------------------------------------------------------------------------------------------------
# Chapter 6 (meta-gradient estimators on MNIST) over seeds.

#: Chapter 6's MNIST setting: horizon, the schedule where the bias is measured (alpha_0, beta), the windows of
#: truncated backpropagation, the number of paired runs, and the meta-optimization (steps, Adam learning rate,
#: iterates averaged, runs on which J is compared).
ESTIMATOR_SETTING = {"T": 150, "phi": (0.1, 3.0), "windows": (1, 10, 150), "repeats": 16, "meta_steps": 20,
                     "meta_lr": 0.1, "average": 5, "n_runs": 6}


def estimator_seed(seed: int, dataset, setting: dict = ESTIMATOR_SETTING) -> dict:
    """Chapter 6's network measurements for one seed, as arrays: the warm start is ``pretrain(PRNGKey(seed))``,
    the estimates use ``fold_in(key, 1)``, the meta-optimizations ``fold_in(key, 2)`` and the objective samples
    ``fold_in(key, 3)``.

    Returns ``bias`` and ``bias_se`` ((windows - 1, 2): truncated backpropagation's bias against the whole-run
    reference, paired, per window shorter than T, components d/dlog alpha_0 and d/dlog beta), ``reference``
    (2,), the whole-run mean, ``ends`` (3, 2): log (alpha_0, beta) at the start, after meta-optimization with
    K = 1 and with the whole run, and ``dJ`` / ``dJ_se`` (2,): J at each end minus J at the start on the same runs.
    """
    import jax
    import jax.numpy as jnp

    from .. import estimators as est
    from .training import pretrain

    key = jax.random.PRNGKey(int(seed))
    T = setting["T"]
    w0 = pretrain(key, dataset.train_images, dataset.train_labels)
    task = est.mnist_task(dataset.train_images, dataset.train_labels, w0, T, time_const=T, batch_size=100)
    phi = jnp.log(jnp.array(setting["phi"]))
    f = est.windowed_estimator("truncated backprop", task)
    per_K = est.sweep_windows(f, phi, jax.random.fold_in(key, 1), list(setting["windows"]), setting["repeats"],
                              vectorize=False)
    stats = [est.reference_statistics(e, per_K[-1], paired=True) for e in per_K[:-1]]
    paths = [np.asarray(est.meta_optimize(f, phi, jax.random.fold_in(key, 2), setting["meta_steps"],
                                          setting["meta_lr"], args=(K,), compile_loop=False)) for K in (1, T)]
    ends = [np.asarray(phi)] + [np.asarray(est.polyak_average(p, setting["average"])) for p in paths]
    J = est.objective_samples(task, ends, jax.random.fold_in(key, 3), n_runs=setting["n_runs"])
    d = J[1:] - J[0]
    return {"bias": np.array([s.bias for s in stats]), "bias_se": np.array([s.bias_se for s in stats]),
            "reference": np.asarray(per_K[-1]).mean(axis=0), "ends": np.array(ends),
            "dJ": d.mean(axis=1), "dJ_se": d.std(axis=1, ddof=1) / np.sqrt(d.shape[1])}


def estimator_runs(folder, seeds, dataset=None, setting: dict = ESTIMATOR_SETTING) -> dict:
    """``{seed: arrays}`` of :func:`estimator_seed` (:func:`seed_units`, units ``estimators-seed<seed>-<hash>``; a
    missing seed takes 6 to 9 minutes on 2 cores)."""
    plain = {k: list(v) if isinstance(v, tuple) else v for k, v in setting.items()}
    return seed_units(folder, "estimators", seeds, lambda seed: {"seed": seed, **plain},
                      lambda seed, d: estimator_seed(seed, d, setting), dataset)


def estimator_report(stats: dict) -> str:
    """The lines chapter 6 prints for :func:`estimators_over_seeds`' ``stats``."""
    n = stats["n"]
    lines = []
    for K in stats["windows"]:
        za, zb = stats["z_alpha"][K], stats["z_beta"][K]
        lines.append(f"K = {K:2d}: bias in standard errors, d/dlog alpha_0 {za.low:+.1f} to {za.high:+.1f}, "
                     f"d/dlog beta {zb.low:+.1f} to {zb.high:+.1f}; resolved, the paper's way: "
                     f"{stats['paper_direction'][K]} of {n} seeds")
    a = stats["alpha_ratio_k1"]
    lines.append(f"K = 1 meta-optimization: alpha_0 x{a.low:.2g} to x{a.high:.2g}; J worse by over 2 se: "
                 f"{stats['k1_worse']} of {n}")
    lines.append(f"whole-run meta-optimization: J within 2 se or better: {stats['whole_run_within']} of {n}")
    return "\n".join(lines)


def estimator_agrees(stats: dict, ends: dict, reference: dict, rtol: float = 0.3, log_atol: float = 0.1) -> bool:
    """Whether chapter 6's own run (its ``stats_m`` per estimator and ``ends_m``) says what the committed unit of
    the same seed says (``reference``, from :func:`estimator_runs`): truncated backpropagation's biases for K < T
    of the same sign and within ``rtol`` (float32 runs of a network move by a few percent from one CPU's rounding to
    another's), and the meta-optimizations' end points within ``log_atol`` in log space."""
    bias = np.array([s.bias for s in stats["truncated backprop"][:-1]])
    same = np.all(np.sign(bias) == np.sign(reference["bias"]))
    close = np.allclose(bias, reference["bias"], rtol=rtol, atol=0)
    ends_here = np.array([np.asarray(v, float) for v in ends.values()])
    return bool(same and close and np.allclose(ends_here, reference["ends"], rtol=0, atol=log_atol))


def estimators_over_seeds(runs: dict) -> dict:
    """What chapter 6 states about the network, on every seed of :func:`estimator_runs`.

    For each truncation window ``K`` < T of :data:`ESTIMATOR_SETTING` (``windows``: their list), ``z_alpha[K]`` and
    ``z_beta[K]`` (Spread over seeds of the bias in standard errors, per component) and ``paper_direction[K]`` (seeds
    on which the bias is more than two standard errors positive on d/dlog alpha_0 and negative on d/dlog beta: it
    pushes towards a smaller alpha_0 and a faster decay). Then ``alpha_ratio_k1`` (Spread of the K = 1
    meta-optimization's end alpha_0 over its start), ``alpha_falls`` (seeds on which it ends below its start),
    ``k1_worse`` (seeds on which J at its end is worse than at the start by more than two standard errors) and
    ``whole_run_within`` (seeds on which the whole-run end's J is within two standard errors of the start's, or
    better)."""
    seeds = tuple(sorted(runs))
    r = [runs[s] for s in seeds]
    windows = [int(K) for K in ESTIMATOR_SETTING["windows"][:-1]]
    z = [x["bias"] / x["bias_se"] for x in r]
    return {"seeds": seeds, "n": len(seeds), "windows": windows,
            "z_alpha": {K: spread([zz[i, 0] for zz in z]) for i, K in enumerate(windows)},
            "z_beta": {K: spread([zz[i, 1] for zz in z]) for i, K in enumerate(windows)},
            "paper_direction": {K: sum(bool(zz[i, 0] > 2 and zz[i, 1] < -2) for zz in z)
                                for i, K in enumerate(windows)},
            "alpha_falls": sum(bool(x["ends"][1, 0] < x["ends"][0, 0]) for x in r),
            "alpha_ratio_k1": spread([float(np.exp(x["ends"][1, 0] - x["ends"][0, 0])) for x in r]),
            "k1_worse": sum(bool(x["dJ"][0] > 2 * x["dJ_se"][0]) for x in r),
            "whole_run_within": sum(bool(x["dJ"][1] < 2 * x["dJ_se"][1]) for x in r)}


# ----------------------------------------------------------------------------------------------------------------
# The claims, with their margins. Each returns True when the claim holds; tests/test_claims.py asserts them on the
# committed seeds and shows each one failing on data where the claim is false.

#: Lower quartile over seeds that a ratio must exceed for the claim to be stated, and the share of seeds on which
#: the shortest horizon's choice must end worst. At book scale (10 seeds) the lower quartiles are about x8 (beta)
#: and x3 (loss): these margins are what holds there, below the x10 and x5 one would like; paper scale has more.
MARGINS = {"beta_ratio": 5.0, "loss_ratio": 2.0, "worst_share": 0.8}


def shortest_decays_faster(stats: dict, margin: float = MARGINS["beta_ratio"]) -> bool:
    """"The shortest horizon chooses a faster decay": the lower quartile of beta(shortest) / beta(longest) over
    seeds is above ``margin``."""
    return stats["beta_ratio"].q25 > margin


def shortest_trains_worse(stats: dict, margin: float = MARGINS["loss_ratio"],
                          share: float = MARGINS["worst_share"]) -> bool:
    """"The shortest horizon's choice ends the long run with a much higher training loss": the lower quartile of
    the final-loss ratio (shortest / longest) over seeds is above ``margin``, and on at least ``share`` of the seeds
    it ends worst of all horizons."""
    return stats["loss_ratio"].q25 > margin and stats["worst_is_shortest"] >= share * len(stats["seeds"])


def best_decay_falls(sweep: dict) -> bool:
    """"The best beta falls as the horizon grows, at every batch size, and never rises as the batch grows" (on a
    sweep such as :func:`median_sweep`'s; ties allowed)."""
    betas = np.asarray(sweep["betas"])
    best = betas[np.argmin(np.asarray(sweep["loss"]), axis=-1)]  # (horizons, batch sizes)
    return bool(np.all(np.diff(best, axis=0) <= 0) and np.all(np.diff(best, axis=1) <= 0))


def stochastic_lookahead_shrinks(stats: dict, margin: float = 3.0) -> bool:
    """"Whatever it starts from, every run ends the adaptation phase with a smaller effective learning rate than
    the hand-tuned one, and the baseline ends with a lower loss than every SMD run" (chapter 5): on every seed,
    and the run started at the hand-tuned alpha_eff = 1 ends at least ``margin`` times below it in the lower
    quartile over seeds."""
    n, last = stats["n"], max(int(k.split("_")[1]) for k in stats if k.startswith("shrink_"))
    return stats["all_shrink"] == n and stats["baseline_best"] == n and stats[f"shrink_{last}"].q25 > margin


def deterministic_lookahead_grows(stats: dict, share: float = 0.8) -> bool:
    """"On one repeated batch ... the learned effective learning rates climb above the hand-tuned one" (chapter 5):
    at least ``share`` of all deterministic runs over the seeds end above alpha_eff = 1, and every start's median
    over seeds does."""
    return stats["det_above"] >= share * stats["det_runs"] and all(s.median > 1.0 for s in stats["det_learned"])


def lookaheads_disagree(stats: dict, margin: float = 9.5) -> bool:
    """"The two lookaheads' objectives bracket the hand-tuned rate, on every seed, and their best alpha_eff differ
    by a factor of ten or more" (chapter 5): on every seed the stochastic lookahead's best alpha_eff is below 1 and
    the deterministic one's above, and their ratio is at least ``margin`` (ten, up to the grid's rounding: three
    grid points per decade) on every seed."""
    return stats["bracket"] == stats["n"] and stats["surface_gap"].low > margin


def truncation_points_the_papers_way(stats: dict, share: float = 0.8) -> bool:
    """"Truncated backpropagation says the opposite on both parameters, lower alpha_0 and decay faster: with
    K = 10 on every seed, with K = 1 on most" (chapter 6): the bias is resolved (over two standard errors) in the
    paper's direction for the longest truncated window on every seed and for every shorter one on at least
    ``share`` of the seeds."""
    counts = [stats["paper_direction"][K] for K in stats["windows"]]
    return counts[-1] == stats["n"] and all(c >= share * stats["n"] for c in counts)


def truncated_meta_optimization_hurts(stats: dict) -> bool:
    """"With K = 1, alpha_0 falls ... and the training loss over the run gets measurably worse than at the start
    ..., on every seed; with the whole-run estimator J stays within two standard errors of the start or improves"
    (chapter 6)."""
    n = stats["n"]
    return stats["alpha_falls"] == n and stats["k1_worse"] == n and stats["whole_run_within"] == n


def best_decay_table(sweep: dict):
    """The best beta of every frame of chapter 4's slider (rows: horizons; columns: batch sizes), from a sweep
    such as :func:`median_sweep`'s: a :class:`shb_lib.plotting.MarkdownTable`."""
    from ..plotting import MarkdownTable

    betas = np.asarray(sweep["betas"])
    best = betas[np.argmin(np.asarray(sweep["loss"]), axis=-1)]
    headers = ["best beta", *(f"batch {int(B)}" for B in sweep["batch_sizes"])]
    return MarkdownTable(headers, [(f"horizon {int(T)}", *(f"{b:.2g}" for b in row))
                                   for T, row in zip(sweep["horizons"], best)])


def horizons_rank_in_order(runs: dict) -> bool:
    """"Its horizons rank in order in every seed at paper scale" (chapter 4): on every seed of
    :func:`experiments.long_over_seeds` (``{seed: (arrays, info)}``) the final training loss falls strictly as the
    horizon that chose the schedule grows."""
    return all(bool(np.all(np.diff(ex.sort_long(a)["train_loss"][:, -1]) < 0)) for a, _ in runs.values())


def paper_gap_holds(spread_final: Spread, margin: float = 1000.0) -> bool:
    """"After 20k steps the 100-step horizon's choice has a training loss over three orders of magnitude above the
    20k-step choice's": the lower quartile over seeds of the final-loss ratio is above ``margin``."""
    return spread_final.q25 > margin


__all__ = ["seed_units", "agrees", "best_decay_falls", "best_decay_table", "book_runs", "deterministic_lookahead_grows",
           "estimator_agrees", "estimator_report", "estimator_runs", "estimator_seed", "ESTIMATOR_SETTING",
           "estimators_over_seeds", "final_losses_over_seeds", "horizon_sweep", "horizons_rank_in_order",
           "long_ratio_spread", "long_run_report", "lookaheads_disagree", "MARGINS", "median_sweep", "online_agrees",
           "online_over_seeds", "online_report", "online_runs", "online_unit_config", "over_seeds",
           "paper_gap_holds", "paper_numbers", "SHORT_FIG2_LOSSES", "short_version_table", "shortest_decays_faster",
           "shortest_trains_worse", "spread", "Spread", "stochastic_lookahead_shrinks", "surface_report",
           "truncated_meta_optimization_hurts", "truncation_points_the_papers_way"]
