"""The JavaScript port of the noisy quadratic (shb_lib/_static/nqm-explorer.js) against shb_lib.nqm, in float64.

One Node process (Debian's ``nodejs``) runs every case; each test compares one kind of quantity with the library:
the spectrum and the explorables' family, the five moments of ICLR Theorem 1 step by step, the excess loss and its
band losses (divergence reported as inf at the same steps), the one-step sums and the greedy step of ICLR Theorem 2
(at t = 0 and later), whole greedy schedules (the paper's 63.86 included), the fixed-rate k-step meta-objective of
ICLR Fig. 2, the constant schedule's final loss by repeated squaring, and chapter 3's inverse-time-decay choice for a
horizon (which the browser computes by splitting the loss into a noise-free part and a part proportional to the
noise) with its loss at the long horizon.

Cases: the paper's problem (with and without noise), 24 random problems (random spectra, noise -- a quarter of them
none --, initial distributions and schedules, negative momenta, a diverging schedule) and a conditioned family
(condition numbers 1 to 10^4, dimensions 1 to 1000). Agreement is relative, elementwise: ``|js - py| <= RTOL *
max(|py|, 1e-13 * max|py over the array|)`` (the floor only matters where a quantity crosses zero, such as E[theta v]
or a momentum; for the per-coordinate moments under random schedules it is 1e-9 of the largest, because a random
momentum can cancel a second moment by six orders of magnitude in one step; momenta are compared relative to
max(|momentum|, 1e-3)). The worst relative difference per quantity is printed at the end (``-s`` shows it).
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import pathlib
import shutil
import subprocess
import time

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
RTOL = 1e-10
WORST: dict[str, float] = {}
COUNTS: dict[str, int] = {}
CONDITION: dict[str, float] = {}

DRIVER = r"""
const m = require(process.argv[2]);
const cases = JSON.parse(require("fs").readFileSync(process.argv[3], "utf8"));
const enc = (a) => Array.from(a, (x) => (Number.isFinite(x) ? x : String(x)));
function problem(c) {
  if (c.family) { return m.familyProblem(c.family); }
  if (c.paper !== undefined) { return m.paperProblem(c.paper); }
  return m.makeProblem(c.h, c.sigma2, c.theta0_mean, c.theta0_var);
}
function momentsAfter(p, lrs, mus, k) { let s = m.initMoments(p); for (let t = 0; t < k; t++) { s = m.step(p, s, lrs[t], mus[t]); } return s; }
const out = [];
const t0 = Date.now();
for (const c of cases) {
  const p = problem(c.problem);
  const r = {};
  if (c.kind === "problem") {
    r.h = enc(p.h); r.sigma2 = enc(p.sigma2); r.theta0_mean = enc(p.theta0Mean);
  } else if (c.kind === "dynamics") {
    const traj = m.trajectory(p, c.lrs, c.momenta);
    for (const f of ["meanTheta", "meanV", "theta2", "v2", "thetaV"]) { r[f] = traj.map((s) => enc(s[f])); }
    const rb = m.rolloutBands(p, c.lrs, c.momenta, c.k, true);
    r.loss = enc(rb.loss); r.high = enc(rb.high); r.low = enc(rb.low);
    r.rollout = enc(m.rollout(p, c.lrs, c.momenta));
    r.greedy = c.greedy_at.map((k) => {
      const s = momentsAfter(p, c.lrs, c.momenta, k);
      const q = m.oneStepQuadratic(p, s);
      return {q: [q.P, q.Q, q.R, q.S, q.U, q.const], step: m.greedyStep(p, s, true), plain: m.greedyStep(p, s, false)};
    });
  } else if (c.kind === "greedy") {
    const g = m.greedySchedule(p, c.T, c.with_momentum);
    r.lrs = enc(g.lrs); r.momenta = enc(g.momenta); r.loss = enc(g.loss); r.high = enc(g.high); r.low = enc(g.low);
  } else if (c.kind === "meta") {
    r.fixed = enc(m.fixedLrMetaObjective(p, c.lrs, c.horizon, {decaySteps: c.decay_steps, decay: c.decay, momentum: c.momentum}));
    r.constant = c.constant.map((x) => m.constantScheduleFinalLoss(p, x[0], x[1], x[2]));
  } else if (c.kind === "horizon") {
    const t1 = Date.now();
    const curves = m.decayCurves(p, c.grid);
    r.ms = Date.now() - t1;
    r.choices = c.queries.map((q) => {
      const g = m.horizonChoice(curves, q.T, q.scale), gl = m.horizonChoice(curves, c.grid.longHorizon, q.scale);
      return {g: g, gl: gl, atT: m.decayLoss(curves, g, q.T, q.scale),
              curve: enc(m.decayCurve(curves, g, q.scale)), long: enc(m.decayCurve(curves, gl, q.scale))};
    });
  }
  out.push(r);
}
process.stdout.write(JSON.stringify({results: out, ms: Date.now() - t0}));
"""


def _dec(x):
    return np.asarray([float(v) for v in x], dtype=np.float64) if isinstance(x, list) else float(x)


def _check(name: str, js, py, *, rtol: float = RTOL, floor: float = 0.0, cancel: float = 1e-13) -> float:
    """Assert elementwise agreement (inf at the same places); record and return the worst relative difference.
    ``floor`` is the smallest denominator, for dimensionless quantities of order 1 whose exact value can be 0: the
    greedy momentum of a spherical problem is 0 in exact arithmetic and rounding noise (+-1e-16) in floating point,
    so momenta are compared relative to max(|momentum|, 1e-3)."""
    js = np.asarray(js, dtype=np.float64)
    py = np.asarray(py, dtype=np.float64)
    assert js.shape == py.shape, f"{name}: shape {js.shape} != {py.shape}"
    fin = np.isfinite(py)
    assert np.array_equal(np.isfinite(js), fin), f"{name}: non-finite at different places"
    assert np.array_equal(js[~fin], py[~fin]), f"{name}: different non-finite values"
    if not fin.any():
        worst = 0.0
    else:
        a, b = js[fin], py[fin]
        denom = np.maximum(np.abs(b), max(cancel * float(np.max(np.abs(b))), floor, 1e-300))
        rel = np.abs(a - b) / denom
        worst = float(rel.max())
        assert worst <= rtol, f"{name}: relative difference {worst:.3g} > {rtol:g} at {np.argmax(rel)}"
    kind = name.split("[")[0]
    WORST[kind] = max(WORST.get(kind, 0.0), worst)
    COUNTS[kind] = COUNTS.get(kind, 0) + 1
    return worst


# --------------------------------------------------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------------------------------------------------

# Few distinct shapes, so that the library compiles few programs (each (n, T) is one jit compilation).
_SIZES = (1, 6, 40)
_STEPS = (1, 13, 60)


def _random_problem(rng, i):
    n = _SIZES[i % 3]
    h = np.exp(rng.uniform(np.log(0.01), np.log(10.0), n))
    sigma2 = np.zeros(n) if i % 4 == 0 else rng.uniform(0.0, 2.0, n)
    var = np.zeros(n) if i % 3 == 0 else rng.uniform(0.0, 0.5, n)
    return {"h": h.tolist(), "sigma2": sigma2.tolist(), "theta0_mean": rng.normal(0, 2, n).tolist(),
            "theta0_var": var.tolist()}


def _cases():
    rng = np.random.default_rng(20180215)
    cases = []
    randoms = [_random_problem(rng, i) for i in range(24)]
    for i, pr in enumerate(randoms):
        hmax = max(pr["h"])
        T = _STEPS[(i // 3) % 3]
        lrs = rng.uniform(0.0, 1.5 / hmax, T).tolist()
        momenta = rng.uniform(-0.9, 0.95, T).tolist()
        if i == 23:  # a diverging schedule: inf from the step where the moments overflow on
            T, lrs, momenta = 60, [1000.0 / hmax] * 60, [0.0] * 60
        n = len(pr["h"])
        cases.append({"kind": "dynamics", "problem": pr, "lrs": lrs, "momenta": momenta, "k": max(1, n // 4),
                      "greedy_at": sorted({0, 1, min(T, 3), T})})
        cases.append({"kind": "greedy", "problem": pr, "T": _STEPS[i % 3], "with_momentum": bool(i % 2)})
        cases.append({"kind": "meta", "problem": pr, "lrs": rng.uniform(0.0, 1.0 / hmax, 5).tolist(),
                      "horizon": (1, 12)[i % 2], "decay_steps": (0, 8)[(i // 2) % 2], "decay": 0.9,
                      "momentum": float(rng.uniform(0.0, 0.9)),
                      "constant": [[float(rng.uniform(0, 1.2 / hmax)), float(rng.uniform(-0.5, 0.95)),
                                    int(rng.integers(1, 201))] for _ in range(2)]})
    # the paper's problem
    paper = {"paper": True}
    T = 100
    cases.append({"kind": "dynamics", "problem": paper, "lrs": np.geomspace(0.15, 0.01, T).tolist(),
                  "momenta": [0.7] * T, "k": 50, "greedy_at": [0, 1, 3, 100]})
    for noise in (True, False):
        cases.append({"kind": "greedy", "problem": {"paper": noise}, "T": 250, "with_momentum": True})
    cases.append({"kind": "greedy", "problem": paper, "T": 250, "with_momentum": False})
    lrs = np.geomspace(1e-3, 0.2, 12).tolist()
    for k in (10, 30, 100):
        cases.append({"kind": "meta", "problem": paper, "lrs": lrs, "horizon": k, "decay_steps": 50, "decay": 0.9,
                      "momentum": 0.0, "constant": [[0.001199, 0.94, 250], [0.01, 0.9, k]]})
    # the conditioned family
    for n, kappa, noise, batch in ((1, 1.0, 1.0, 1), (7, 10.0, 0.3, 1), (100, 1000.0, 3.16, 10), (1000, 1e4, 10.0, 1000),
                                   (1000, 200.0, 1.0, 1), (50, 1.0, 0.5, 2)):
        fam = {"family": {"n": n, "kappa": kappa, "noise": noise, "batch": batch}}
        cases.append({"kind": "problem", "problem": fam})
        cases.append({"kind": "greedy", "problem": fam, "T": 150, "with_momentum": True})
    return cases


def _horizon_cases():
    from shb_lib.explorables import DECAY_GRID

    small = {"alpha0": [0.2, 0.1, 0.05, 0.02], "beta": [0.0, 0.5, 1.0, 2.0, 5.0, 20.0], "K": 20.0, "momentum": 0.0,
             "longHorizon": 300}
    return [
        # chapter 3's explorable: the paper's spectrum, the full grid, noise (s, B) from 0 to 10
        {"kind": "horizon", "problem": {"family": {"n": 1000, "kappa": 200.0, "noise": 1, "batch": 1}},
         "family": [1000, 200.0], "grid": DECAY_GRID,
         "queries": [{"T": T, "noise": s, "batch": B} for s, B in ((0.0, 1), (1.0, 1), (10.0, 3), (0.01, 1))
                     for T in (1, 2, 3, 10, 30, 100, 250, 1000)]},
        # a conditioned family, a smaller grid with momentum
        {"kind": "horizon", "problem": {"family": {"n": 50, "kappa": 1000.0, "noise": 1, "batch": 1}},
         "family": [50, 1000.0], "grid": dict(small, momentum=0.5),
         "queries": [{"T": T, "noise": s, "batch": B} for s, B in ((0.0, 1), (2.0, 1), (5.0, 50)) for T in (1, 5, 40, 300)]},
    ]


@pytest.fixture(scope="module")
def node_results(tmp_path_factory):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (Debian: apt-get install nodejs): the JavaScript port cannot be checked")
    from shb_lib.explorables import js_path

    cases = _cases() + _horizon_cases()
    for c in cases:
        for q in c.get("queries", ()):
            q["scale"] = q["noise"] / q["batch"]
    tmp = tmp_path_factory.mktemp("node")
    (tmp / "driver.js").write_text(DRIVER)
    (tmp / "cases.json").write_text(json.dumps(cases))
    t0 = time.perf_counter()
    proc = subprocess.run([node, str(tmp / "driver.js"), str(js_path()), str(tmp / "cases.json")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    print(f"\nnode ran {len(cases)} cases in {time.perf_counter() - t0:.1f} s ({out['ms']} ms of computing)")
    return cases, out["results"]


@functools.lru_cache(maxsize=None)
def _grid(n, kappa, noise, batch, grid_json):
    from shb_lib.explorables import decay_grid_losses, family_problem

    return decay_grid_losses(family_problem(n, kappa, noise, batch), json.loads(grid_json))


def _py_problem(spec):
    from shb_lib import nqm
    from shb_lib.explorables import family_problem

    if "family" in spec:
        f = spec["family"]
        return family_problem(f["n"], f["kappa"], f["noise"], f["batch"])
    if "paper" in spec:
        return nqm.paper_problem(noise=spec["paper"])
    return nqm.NoisyQuadratic(h=np.asarray(spec["h"]), sigma2=np.asarray(spec["sigma2"]),
                              theta0_mean=np.asarray(spec["theta0_mean"]), theta0_var=np.asarray(spec["theta0_var"]))


def _select(node_results, kind):
    cases, results = node_results
    return [(i, c, r) for i, (c, r) in enumerate(zip(cases, results)) if c["kind"] == kind]


# --------------------------------------------------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------------------------------------------------

def test_problem_and_family(node_results):
    """familyProblem is family_problem (Chebyshev spectrum, sigma2 = (s/B)/h); n = 1000, kappa = 200 is the paper's."""
    from shb_lib import nqm
    from shb_lib.explorables import family_problem

    for i, c, r in _select(node_results, "problem"):
        p = _py_problem(c["problem"])
        _check(f"spectrum[{i}]", _dec(r["h"]), p.h)
        _check(f"noise[{i}]", _dec(r["sigma2"]), p.sigma2)
        _check(f"theta0[{i}]", _dec(r["theta0_mean"]), p.theta0_mean)
    paper, fam = nqm.paper_problem(), family_problem()
    assert np.array_equal(paper.h, fam.h) and np.array_equal(paper.sigma2, fam.sigma2)


def test_moment_recursion_and_band_losses(node_results):
    """ICLR Theorem 1: all five moments at every step, the excess loss (inf once diverged) and the band losses."""
    from shb_lib import nqm

    fields = {"meanTheta": "mean_theta", "meanV": "mean_v", "theta2": "theta2", "v2": "v2", "thetaV": "theta_v"}
    diverged = 0
    for i, c, r in _select(node_results, "dynamics"):
        p = _py_problem(c["problem"])
        traj = nqm.trajectory(p, c["lrs"], c["momenta"])
        loss = np.asarray(nqm.rollout(p, c["lrs"], c["momenta"]))
        finite_steps = int(np.sum(np.isfinite(loss)))
        for js_name, py_name in fields.items():
            js = np.asarray([_dec(row) for row in r[js_name]])[:finite_steps]
            _check(f"moments[{i}.{js_name}]", js, np.asarray(getattr(traj, py_name))[:finite_steps], cancel=1e-9)
        _check(f"loss[{i}]", _dec(r["loss"]), loss)
        _check(f"loss[{i} rollout]", _dec(r["rollout"]), loss)
        high, low = (np.asarray(x) for x in nqm.band_losses(p, traj.theta2, c["k"]))
        _check(f"bands[{i} high]", _dec(r["high"])[:finite_steps], high[:finite_steps])
        _check(f"bands[{i} low]", _dec(r["low"])[:finite_steps], low[:finite_steps])
        diverged += finite_steps < len(loss)
    assert diverged >= 1, "no diverging case: the inf semantics went untested"


def test_greedy_step_including_t0(node_results):
    """ICLR Theorem 2: the sums P, Q, R, S, U (and the constant) and the greedy step, at t = 0 (singular system: mu = 0
    and Schaul's S / P) and later, with and without momentum."""
    from shb_lib import nqm

    at_zero = 0
    for i, c, r in _select(node_results, "dynamics"):
        p = _py_problem(c["problem"])
        for k, g in zip(c["greedy_at"], r["greedy"]):
            m = nqm.init_moments(p)
            for t in range(k):
                m = nqm.step(p, m, c["lrs"][t], c["momenta"][t])
            if not np.all(np.isfinite(np.asarray(m.theta2))):
                continue
            q = nqm.one_step_quadratic(p, m)
            _check(f"one_step_sums[{i}@{k}]", g["q"], [float(x) for x in q])
            # Cramer's rule loses digits as the 2x2 system's condition PR / (PR - Q^2) grows (random schedules reach
            # states with 1e5): the tolerance grows with it, 1e-14 times the condition, never below RTOL
            P, Q, R = float(q.P), float(q.Q), float(q.R)
            det = P * R - Q * Q
            cond = P * R / det if det > 1e-12 * P * R > 0 else 1.0
            _check(f"greedy_step[{i}@{k}]", g["step"], [float(x) for x in nqm.greedy_step(p, m)], floor=1e-3,
                   rtol=max(RTOL, 1e-14 * cond))
            CONDITION["greedy_step"] = max(CONDITION.get("greedy_step", 1.0), cond)
            _check(f"greedy_step_plain[{i}@{k}]", g["plain"],
                   [float(x) for x in nqm.greedy_step(p, m, with_momentum=False)])
            if k == 0:
                at_zero += 1
                assert g["step"][1] == 0.0
    assert at_zero >= 20


def test_greedy_schedules(node_results):
    """Whole greedy schedules: learning rates, momenta, losses and band losses; the paper's 63.86."""
    from shb_lib import nqm

    paper_final = None
    for i, c, r in _select(node_results, "greedy"):
        p = _py_problem(c["problem"])
        s = nqm.greedy_schedule(p, c["T"], with_momentum=c["with_momentum"])
        _check(f"greedy_lrs[{i}]", _dec(r["lrs"]), s.lrs)
        _check(f"greedy_momenta[{i}]", _dec(r["momenta"]), s.momenta, floor=1e-3)
        _check(f"greedy_loss[{i}]", _dec(r["loss"]), s.losses)
        _check(f"greedy_bands[{i} high]", _dec(r["high"]), s.high_curvature_losses)
        _check(f"greedy_bands[{i} low]", _dec(r["low"]), s.low_curvature_losses)
        if c["problem"] == {"paper": True} and c["with_momentum"]:
            paper_final = float(_dec(r["loss"])[-1])
    assert paper_final is not None and round(paper_final, 2) == 63.86


def test_fixed_rate_meta_objective_and_constant_schedule(node_results):
    """ICLR Fig. 2's k-step objective (with and without the decayed tail) and the constant schedule's final loss."""
    from shb_lib import nqm

    for i, c, r in _select(node_results, "meta"):
        p = _py_problem(c["problem"])
        py = nqm.fixed_lr_meta_objective(p, np.asarray(c["lrs"]), c["horizon"], decay_steps=c["decay_steps"],
                                         decay=c["decay"], momentum=c["momentum"])
        _check(f"fixed_lr_objective[{i}]", _dec(r["fixed"]), np.asarray(py))
        for (lr, mu, T), js in zip(c["constant"], r["constant"]):
            _check(f"constant_final_loss[{i}]", js, float(nqm.constant_schedule_final_loss(p, lr, mu, T)))


def test_horizon_choice(node_results):
    """Chapter 3: the grid schedule each horizon picks, its loss at the horizon and its whole curve to the long
    horizon, and the long horizon's choice; the library computes each noise level directly (no splitting)."""
    from shb_lib.explorables import horizon_choice

    for i, c, r in _select(node_results, "horizon"):
        n, kappa = c["family"]
        TL = c["grid"]["longHorizon"]
        by_noise = {}
        for q, js in zip(c["queries"], r["choices"]):
            key = (q["noise"], q["batch"])
            if key not in by_noise:
                by_noise[key] = _grid(n, kappa, q["noise"], q["batch"], json.dumps(c["grid"], sort_keys=True))
            losses = by_noise[key]
            g, gl = horizon_choice(losses, q["T"]), horizon_choice(losses, TL)
            where = f"{i} T={q['T']} s={q['noise']} B={q['batch']}"
            if js["g"] != g:  # allowed only for a tie at the horizon
                _check(f"horizon_tie[{where}]", losses[js["g"], q["T"]], losses[g, q["T"]])
            _check(f"horizon_loss_at_T[{where}]", js["atT"], losses[g, q["T"]])
            _check(f"horizon_curve[{where}]", _dec(js["curve"]), losses[js["g"]])
            _check(f"horizon_long_choice[{where}]", _dec(js["long"]), losses[js["gl"]])
            assert js["gl"] == gl or math.isclose(losses[js["gl"], TL], losses[gl, TL], rel_tol=RTOL)
        print(f"\nhorizon case {i}: node computed the {len(c['grid']['alpha0']) * len(c['grid']['beta'])} grid "
              f"curves in {r['ms']} ms")


def test_horizon_claims():
    """Chapter 3, "Explore live: the schedule a horizon chooses", on the library (the page computes the same, above):

    - "With noise, short horizons choose a fast decay (a large beta) [...] so the choice ends far above the
      long-horizon one."
    - "The more noise, the larger the decay exponent that every horizon picks and, for horizons of tens to hundreds
      of steps, the larger the gap at step 1000."
    - "Without noise (s = 0, the dashed curve) every horizon beyond a few dozen steps chooses a schedule that has
      converged by step 1000 [...]; only the shortest horizons are misled even then."
    """
    from shb_lib.explorables import DECAY_GRID, HORIZONS, horizon_choice

    grid, TL, nb = json.dumps(DECAY_GRID, sort_keys=True), DECAY_GRID["longHorizon"], len(DECAY_GRID["beta"])
    losses = {s: _grid(1000, 200.0, s, 1, grid) for s in (0.0, 0.1, 1.0, 10.0)}

    def beta(s, T):
        return DECAY_GRID["beta"][horizon_choice(losses[s], T) % nb]

    def end(s, T):  # excess loss at step TL of horizon T's choice
        return losses[s][horizon_choice(losses[s], T), TL]

    def gap(s, T):
        return end(s, T) - end(s, TL)

    for s in (0.1, 1.0, 10.0):
        assert beta(s, 10) > beta(s, 100) > beta(s, TL), f"noise {s}: short horizons do not choose a faster decay"
    assert end(1.0, 30) > 3 * end(1.0, TL), "at the paper's noise, horizon 30's choice does not end far above"
    for T in (10, 30, 100, 300):
        assert beta(0.1, T) <= beta(1.0, T) <= beta(10.0, T) and beta(0.1, T) < beta(10.0, T), f"T = {T}"
    for T in (30, 100, 300):
        assert gap(0.0, T) < gap(0.1, T) < gap(1.0, T) < gap(10.0, T), f"T = {T}: the gap does not grow with noise"
    assert all(end(0.0, T) < 1e-4 for T in HORIZONS if T >= 60), "without noise, a long-enough horizon's choice " \
        "has not converged"
    assert all(end(0.0, T) > 1.0 for T in range(2, 11)), "without noise, the shortest horizons are not misled"


def test_report(node_results):
    """Print the worst relative difference per quantity (the closing note quotes it)."""
    assert WORST, "no comparison ran"
    lines = [f"  {k:24s} {COUNTS[k]:5d} comparisons, worst relative difference {v:.2e}" for k, v in sorted(WORST.items())]
    lines += [f"  (largest condition number PR/(PR - Q^2) of a greedy step: {c:.3g})" for c in CONDITION.values()]
    print("\nJS vs shb_lib.nqm (float64 on both sides):\n" + "\n".join(lines) +
          f"\n  overall worst {max(WORST.values()):.2e} over {sum(COUNTS.values())} comparisons (tolerance {RTOL:g}; "
          "for a greedy step RTOL or 1e-14 times its condition number, whichever is larger)")


def test_html_output_is_self_contained_and_deterministic():
    """The notebook output: the JavaScript inline (at most 100 KB, nothing fetched), the same bytes on every call, a
    static figure with alt text, hidden controls until the script runs, and a clear error for a value off the slider."""
    from shb_lib import explorables as ex

    js = ex.explorer_js()
    assert len(js.encode("utf-8")) <= 100_000
    a, b = ex.greedy_explorer(n=10, horizon=10).data, ex.greedy_explorer(n=10, horizon=10).data
    assert a == b
    assert js in a and 'window.shbNqm.boot("' in a
    for banned in ("http://", "https://", "<script src", "import(", "fetch(", "shb-slider"):
        assert banned not in a.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
            '"http://www.w3.org/2000/svg"', ""), banned
    # controls hidden until the script runs, as hidden="hidden" (JupyterLab's sanitizer drops an empty attribute,
    # which left dead controls in an untrusted notebook), and Lumino's shortcuts kept off the range inputs
    assert 'class="shb-explorable-controls" role="group"' in a and 'hidden="hidden">' in a
    assert a.count('type="range" data-lm-suppress-shortcuts="true"') >= 1
    assert 'class="shb-explorable-fallback"' in a and 'alt="Greedy schedule over 10 steps' in a
    with pytest.raises(ValueError, match="horizon must be one of"):
        ex.greedy_explorer(horizon=11111)
    with pytest.raises(ValueError, match="kappa must be >= 1"):
        ex.family_problem(10, 0.5)


def test_javascript_ships_inside_the_package():
    """The JavaScript is package data of shb_lib (a pip install, as on Colab, has it): found through
    importlib.resources inside the package folder, matched by pyproject.toml's [tool.setuptools.package-data], and
    no longer looked for in the book's folder; the JavaScript's lines are at most 120 characters."""
    import fnmatch
    import tomllib

    import shb_lib
    from shb_lib import explorables as ex

    pkg = pathlib.Path(shb_lib.__file__).resolve().parent
    path = ex.js_path().resolve()
    assert path.is_file() and path.parent.parent == pkg, f"{path} is not inside the package {pkg}"
    rel = path.relative_to(pkg).as_posix()
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["shb_lib"]
    assert any(fnmatch.fnmatch(rel, pattern) for pattern in data), f"{rel} is not in the package data {data}"
    assert ex.js_resource().read_text(encoding="utf-8") == path.read_text(encoding="utf-8")
    assert "book" not in inspect.getsource(ex.js_path), "js_path still looks in the book's folder"
    long = [i + 1 for i, line in enumerate(ex.explorer_js().splitlines()) if len(line) > 120]
    assert not long, f"{ex.JS_NAME}: lines longer than 120 characters: {long[:10]}"
