/*
 * nqm-explorer.js: the noisy quadratic model of Wu, Ren, Liao & Grosse (ICLR 2018) in the reader's browser.
 *
 * Two parts in one classic script (no modules, no fetch, nothing from a CDN: it runs from file://):
 *
 * 1. The numerics: the browser's copy of shb_lib.nqm, float64 like the library, written to follow the library's
 *    formulas operation by operation (same order of additions and multiplications wherever the order matters):
 *    the problem (Chebyshev spectrum, paper_problem, the conditioned family), ICLR Theorem 1 (the moment recursion),
 *    the excess loss and its 50-highest / 50-lowest curvature band losses, ICLR Theorem 2 (greedy lr and momentum,
 *    the t = 0 case included), the fixed-rate k-step meta-objective of ICLR Fig. 2, the constant schedule's final
 *    loss by repeated squaring, and the inverse-time-decay schedules alpha_0 / (1 + t/K)^beta chosen on a grid for a
 *    horizon T. The Python library stays the reference: tests/test_explorables.py runs this file under Node and
 *    compares every quantity with shb_lib.nqm.
 * 2. The explorables: SVG figures drawn by this file and range inputs, set up from the HTML and JSON that
 *    shb_lib.explorables writes into a notebook output. Every slider move recomputes in the browser.
 *
 * Under Node (`require`), module.exports is the numerics (and `boot` is absent); in a browser the whole thing is
 * window.shbNqm, and shbNqm.boot(id) sets up the explorable whose container has data-explorable-id = id.
 */
(function (global) {
  "use strict";

  var SINGULAR_RTOL = 1e-12; // shb_lib.nqm.greedy.SINGULAR_RTOL
  var BAND = 50; // shb_lib.nqm.BAND

  // ------------------------------------------------------------------------------------------------------------------
  // the problem (shb_lib/nqm/problem.py)
  // ------------------------------------------------------------------------------------------------------------------

  function filled(n, x) {
    var out = new Float64Array(n);
    if (typeof x === "number") { out.fill(x); } else { for (var i = 0; i < n; i++) { out[i] = x[i]; } }
    return out;
  }

  /** Curvatures at the zeros of the degree-n Chebyshev polynomial mapped to [lo, hi], ascending
   *  (chebyshev_spectrum). */
  function chebyshevSpectrum(n, lo, hi) {
    var h = new Float64Array(n);
    for (var k = 0; k < n; k++) {
      var x = Math.cos((2 * k + 1) * Math.PI / (2 * n));
      h[k] = 0.5 * (lo + hi) + 0.5 * (hi - lo) * x;
    }
    return h.sort(); // typed arrays sort numerically
  }

  /** A NoisyQuadratic: h > 0, sigma2 >= 0, theta0Mean, theta0Var >= 0 (scalars broadcast to the shape of h). */
  function makeProblem(h, sigma2, theta0Mean, theta0Var) {
    var n = h.length;
    if (!(n >= 1)) { throw new Error("h must be a non-empty array of curvatures"); }
    var p = {n: n, h: filled(n, h), sigma2: filled(n, sigma2), theta0Mean: filled(n, theta0Mean),
             theta0Var: filled(n, theta0Var)};
    for (var i = 0; i < n; i++) {
      if (!(p.h[i] > 0 && isFinite(p.h[i]))) {
        throw new Error("h must be > 0 and finite, got h[" + i + "] = " + p.h[i]);
      }
      if (!(p.sigma2[i] >= 0 && isFinite(p.sigma2[i]))) { throw new Error("sigma2 must be >= 0 and finite"); }
      if (!(p.theta0Var[i] >= 0 && isFinite(p.theta0Var[i]))) { throw new Error("theta0Var must be >= 0 and finite"); }
    }
    return p;
  }

  /** The same problem with the noise variance multiplied by scale (with_noise_scale). */
  function withNoiseScale(p, scale) {
    var s2 = new Float64Array(p.n);
    for (var i = 0; i < p.n; i++) { s2[i] = p.sigma2[i] * scale; }
    return {n: p.n, h: p.h, sigma2: s2, theta0Mean: p.theta0Mean, theta0Var: p.theta0Var};
  }

  /** The family of the explorables: n Chebyshev curvatures in [hMax / kappa, hMax], sigma2 = (noise / batch) / h,
   *  theta_0 = sqrt(10) exactly. n = 1000, kappa = 200, noise = batch = 1 is paper_problem() (ICLR section 2.3). */
  function familyProblem(opts) {
    var hMax = opts.hMax === undefined ? 10.0 : opts.hMax;
    var noise = opts.noise === undefined ? 1.0 : opts.noise;
    var batch = opts.batch === undefined ? 1 : opts.batch;
    var h = chebyshevSpectrum(opts.n, hMax / opts.kappa, hMax);
    var s2 = new Float64Array(h.length);
    for (var i = 0; i < h.length; i++) { s2[i] = 1.0 / h[i]; }
    return withNoiseScale(makeProblem(h, s2, Math.sqrt(10.0), 0.0), noise / batch);
  }

  /** paper_problem(noise): n = 1000 on chebyshevSpectrum(1000, 0.05, 10), sigma2 = 1/h (or 0), theta_0 = sqrt(10). */
  function paperProblem(noise) {
    var h = chebyshevSpectrum(1000, 0.05, 10.0);
    var s2 = new Float64Array(1000);
    if (noise !== false) { for (var i = 0; i < 1000; i++) { s2[i] = 1.0 / h[i]; } }
    return makeProblem(h, s2, Math.sqrt(10.0), 0.0);
  }

  // ------------------------------------------------------------------------------------------------------------------
  // ICLR Theorem 1 (shb_lib/nqm/dynamics.py): raw moments E[theta], E[v], E[theta^2], E[v^2], E[theta v]
  // ------------------------------------------------------------------------------------------------------------------

  function initMoments(p) {
    var n = p.n, m = {meanTheta: new Float64Array(n), meanV: new Float64Array(n), theta2: new Float64Array(n),
                      v2: new Float64Array(n), thetaV: new Float64Array(n)};
    for (var i = 0; i < n; i++) {
      m.meanTheta[i] = p.theta0Mean[i] + 0.0;
      m.theta2[i] = p.theta0Mean[i] * p.theta0Mean[i] + p.theta0Var[i];
    }
    return m;
  }

  /** One step of SGD with momentum v' = mu v - lr g, theta' = theta + v' on the moments (ICLR eqs. 10-14). */
  function step(p, m, lr, mu) {
    var n = p.n, out = {meanTheta: new Float64Array(n), meanV: new Float64Array(n), theta2: new Float64Array(n),
                        v2: new Float64Array(n), thetaV: new Float64Array(n)};
    for (var i = 0; i < n; i++) {
      var a = lr * p.h[i];
      var newMeanV = mu * m.meanV[i] - a * m.meanTheta[i]; // eq. 10
      var t2 = m.theta2[i], tv = m.thetaV[i];
      var newV2 = mu * mu * m.v2[i] + a * a * t2 - 2.0 * mu * a * tv + a * a * p.sigma2[i]; // eq. 12
      out.meanV[i] = newMeanV;
      out.meanTheta[i] = m.meanTheta[i] + newMeanV; // eq. 11
      out.theta2[i] = t2 + newV2 + 2.0 * (mu * tv - a * t2); // eq. 13
      out.v2[i] = newV2;
      out.thetaV[i] = mu * tv - a * t2 + newV2; // eq. 14
    }
    return out;
  }

  function excessLoss(p, theta2) {
    var s = 0.0;
    for (var i = 0; i < p.n; i++) { s += p.h[i] * theta2[i]; }
    return 0.5 * s;
  }

  /** Non-finite losses become inf, and so does every later loss of the run (diverged_to_inf), in place. */
  function divergedToInf(losses) {
    var bad = false;
    for (var t = 0; t < losses.length; t++) {
      if (!isFinite(losses[t])) { bad = true; }
      if (bad) { losses[t] = Infinity; }
    }
    return losses;
  }

  function checkSchedule(lrs, momenta) {
    if (!(lrs.length >= 1)) { throw new Error("lrs must have length T >= 1"); }
    if (momenta.length !== lrs.length) { throw new Error("momenta must have the length of lrs"); }
    for (var t = 0; t < lrs.length; t++) {
      if (!(lrs[t] >= 0 && isFinite(lrs[t]))) { throw new Error("lrs must be >= 0 and finite, got " + lrs[t]); }
      if (!(Math.abs(momenta[t]) < 1)) { throw new Error("momenta must satisfy |momentum| < 1, got " + momenta[t]); }
    }
  }

  /** Moments at t = 0..T (trajectory): an array of T + 1 moment objects. */
  function trajectory(p, lrs, momenta) {
    checkSchedule(lrs, momenta);
    var ms = [initMoments(p)];
    for (var t = 0; t < lrs.length; t++) { ms.push(step(p, ms[t], lrs[t], momenta[t])); }
    return ms;
  }

  /** Rank masks of the k highest and k lowest curvatures (stable argsort, as _band_masks). */
  function bandMasks(h, k) {
    var n = h.length, order = [];
    for (var i = 0; i < n; i++) { order.push(i); }
    order.sort(function (x, y) { return h[x] - h[y]; }); // stable
    var high = new Uint8Array(n), low = new Uint8Array(n);
    for (var r = 0; r < n; r++) { high[order[r]] = r >= n - k ? 1 : 0; low[order[r]] = r < k ? 1 : 0; }
    return {high: high, low: low};
  }

  /** The band of each coordinate as one code: 1 among the k highest curvatures, 2 among the k lowest, 3 both. */
  function bandCodes(h, k) {
    var masks = bandMasks(h, k), out = new Uint8Array(h.length);
    for (var i = 0; i < h.length; i++) { out[i] = masks.high[i] | (masks.low[i] << 1); }
    return out;
  }

  /** A run of the second-moment recursion (the means do not enter the loss) that can be extended: the state after
   *  `r.T` steps, coordinate by coordinate, and the raw sums of the losses so far (`sum` of h E[theta^2], `high`,
   *  `low` of h E[theta^2] / 2 over the bands; `band` = null skips the bands). */
  function secondMomentRun(p, band, cap) {
    var n = p.n, h = p.h, st = new Float64Array(3 * n), L = 0.0, LH = 0.0, LL = 0.0;
    var r = {p: p, band: band, T: 0, st: st, sum: new Float64Array(cap + 1), high: null, low: null};
    if (band !== null) { r.high = new Float64Array(cap + 1); r.low = new Float64Array(cap + 1); }
    for (var i = 0; i < n; i++) {
      var t2 = p.theta0Mean[i] * p.theta0Mean[i] + p.theta0Var[i];
      st[3 * i] = t2;
      L += h[i] * t2;
      if (band !== null && (band[i] & 1)) { LH += 0.5 * h[i] * t2; }
      if (band !== null && (band[i] & 2)) { LL += 0.5 * h[i] * t2; }
    }
    r.sum[0] = L;
    if (band !== null) { r.high[0] = LH; r.low[0] = LL; }
    return r;
  }

  function growRun(r, cap) {
    function g(a) { if (a === null) { return null; } var b = new Float64Array(cap + 1); b.set(a); return b; }
    r.sum = g(r.sum); r.high = g(r.high); r.low = g(r.low);
  }

  /** Steps r.T..T1-1 of SGD with momentum (lrs[t], momenta[t]) on the run's state, ICLR eqs. 12-14 per coordinate,
   *  each loss summed over the coordinates in index order (as the library's sum). Coordinates outside the bands go
   *  four at a time through the steps (independent recursions that the CPU overlaps; each sum still adds them in
   *  index order: s + a + b + c + d is ((s + a) + b + c) + d). */
  function extendSecondMoments(r, lrs, momenta, T1) {
    var p = r.p, n = p.n, h = p.h, s2 = p.sigma2, st = r.st, band = r.band, T0 = r.T;
    if (T1 <= T0) { return r; }
    if (T1 + 1 > r.sum.length) { growRun(r, Math.max(T1, 2 * (r.sum.length - 1))); }
    var L = r.sum, H = r.high, W = r.low, t, i = 0;
    while (i < n) {
      if (i + 3 < n && (band === null || (band[i] | band[i + 1] | band[i + 2] | band[i + 3]) === 0)) {
        var j = 3 * i, h0 = h[i], h1 = h[i + 1], h2 = h[i + 2], h3 = h[i + 3];
        var q0 = s2[i], q1 = s2[i + 1], q2 = s2[i + 2], q3 = s2[i + 3];
        var x0 = st[j], v0 = st[j + 1], y0 = st[j + 2], x1 = st[j + 3], v1 = st[j + 4], y1 = st[j + 5];
        var x2 = st[j + 6], v2 = st[j + 7], y2 = st[j + 8], x3 = st[j + 9], v3 = st[j + 10], y3 = st[j + 11];
        for (t = T0; t < T1; t++) {
          var lr = lrs[t], mu = momenta[t], mm = mu * mu, tm = 2.0 * mu;
          var a0 = lr * h0, a1 = lr * h1, a2 = lr * h2, a3 = lr * h3;
          var b0 = a0 * a0, b1 = a1 * a1, b2 = a2 * a2, b3 = a3 * a3;
          var n0 = mm * v0 + b0 * x0 - tm * a0 * y0 + b0 * q0, w0 = mu * y0 - a0 * x0;
          var n1 = mm * v1 + b1 * x1 - tm * a1 * y1 + b1 * q1, w1 = mu * y1 - a1 * x1;
          var n2 = mm * v2 + b2 * x2 - tm * a2 * y2 + b2 * q2, w2 = mu * y2 - a2 * x2;
          var n3 = mm * v3 + b3 * x3 - tm * a3 * y3 + b3 * q3, w3 = mu * y3 - a3 * x3;
          x0 = x0 + n0 + 2.0 * w0; y0 = w0 + n0; v0 = n0;
          x1 = x1 + n1 + 2.0 * w1; y1 = w1 + n1; v1 = n1;
          x2 = x2 + n2 + 2.0 * w2; y2 = w2 + n2; v2 = n2;
          x3 = x3 + n3 + 2.0 * w3; y3 = w3 + n3; v3 = n3;
          L[t + 1] = L[t + 1] + h0 * x0 + h1 * x1 + h2 * x2 + h3 * x3;
        }
        st[j] = x0; st[j + 1] = v0; st[j + 2] = y0; st[j + 3] = x1; st[j + 4] = v1; st[j + 5] = y1;
        st[j + 6] = x2; st[j + 7] = v2; st[j + 8] = y2; st[j + 9] = x3; st[j + 10] = v3; st[j + 11] = y3;
        i += 4;
        continue;
      }
      var k = 3 * i, hi = h[i], si = s2[i], x = st[k], v = st[k + 1], y = st[k + 2];
      var isHigh = band !== null && (band[i] & 1) !== 0, isLow = band !== null && (band[i] & 2) !== 0;
      for (t = T0; t < T1; t++) {
        var a = lrs[t] * hi, m = momenta[t];
        var nv = m * m * v + a * a * x - 2.0 * m * a * y + a * a * si, w = m * y - a * x;
        x = x + nv + 2.0 * w; y = w + nv; v = nv;
        L[t + 1] += hi * x;
        if (isHigh) { H[t + 1] += 0.5 * hi * x; }
        if (isLow) { W[t + 1] += 0.5 * hi * x; }
      }
      st[k] = x; st[k + 1] = v; st[k + 2] = y;
      i += 1;
    }
    r.T = T1;
    return r;
  }

  /** The losses of a run at t = 0..T (T <= r.T): {loss, high, low}, inf once diverged (fresh arrays). */
  function secondMomentLosses(r, T) {
    var loss = new Float64Array(T + 1);
    for (var s = 0; s <= T; s++) { loss[s] = 0.5 * r.sum[s]; }
    var out = {loss: divergedToInf(loss)};
    if (r.band !== null) {
      out.high = divergedToInf(r.high.slice(0, T + 1));
      out.low = divergedToInf(r.low.slice(0, T + 1));
    }
    return out;
  }

  /** Excess loss and its band losses at t = 0..T under (lrs, momenta), by the second-moment recursion (the means do
   *  not enter the loss), coordinate by coordinate: {loss, high, low}, each of length T + 1, inf once diverged.
   *  withBands = false skips the bands (rollout). */
  function rolloutBands(p, lrs, momenta, k, withBands) {
    checkSchedule(lrs, momenta);
    var band = withBands === false ? null : bandCodes(p.h, Math.min(k === undefined ? BAND : k, p.n));
    var r = extendSecondMoments(secondMomentRun(p, band, lrs.length), lrs, momenta, lrs.length);
    return secondMomentLosses(r, lrs.length);
  }

  /** Exact excess loss 1/2 sum_i h_i E[theta_i^(t)2] at t = 0..T (rollout); inf once diverged. */
  function rollout(p, lrs, momenta) { return rolloutBands(p, lrs, momenta, BAND, false).loss; }

  /** The constant schedule (lr, momentum) as a run that can be extended: run.result(T) is rolloutBands of T steps
   *  at that (lr, momentum), bit for bit (the first T steps of a longer constant run are the T-step run), computed
   *  only for the steps not computed before; run.extend(T) computes ahead. */
  function constantRun(p, lr, momentum, k) {
    if (!(lr >= 0 && isFinite(lr))) { throw new Error("lr must be >= 0 and finite, got " + lr); }
    if (!(Math.abs(momentum) < 1)) { throw new Error("momentum must satisfy |momentum| < 1, got " + momentum); }
    var r = secondMomentRun(p, bandCodes(p.h, Math.min(k === undefined ? BAND : k, p.n)), 16);
    var lrs = new Float64Array(0), mus = lrs;
    var run = {};
    run.extend = function (T) {
      if (T <= r.T) { return run; }
      if (T > lrs.length) {
        var cap = Math.max(T, 2 * lrs.length);
        lrs = new Float64Array(cap).fill(lr); mus = new Float64Array(cap).fill(momentum);
      }
      extendSecondMoments(r, lrs, mus, T);
      return run;
    };
    run.result = function (T) { run.extend(T); return secondMomentLosses(r, T); };
    Object.defineProperty(run, "T", {get: function () { return r.T; }});
    return run;
  }

  // ------------------------------------------------------------------------------------------------------------------
  // ICLR Theorem 2 (shb_lib/nqm/greedy.py)
  // ------------------------------------------------------------------------------------------------------------------

  /** The sums P, Q, R, S, U of ICLR Appendix A.2.2 and the constant sum_i h_i (A(theta_i) + sigma_i^2). */
  function oneStepQuadratic(p, m) {
    var P = 0, Q = 0, R = 0, S = 0, U = 0, c = 0;
    for (var i = 0; i < p.n; i++) {
      var h = p.h[i], h2 = h * h, t2s = m.theta2[i] + p.sigma2[i];
      P += h2 * h * t2s;
      Q += h2 * m.thetaV[i];
      R += h * m.v2[i];
      S += h2 * m.theta2[i];
      U += h * m.thetaV[i];
      c += h * t2s;
    }
    return {P: P, Q: Q, R: R, S: S, U: U, const: c};
  }

  /** ICLR eq. 15 summed over coordinates: the expected loss after one step with (lr, momentum). */
  function oneStepLoss(q, lr, mu) {
    return 0.5 * (q.P * lr * lr + q.R * mu * mu - 2 * q.Q * lr * mu - 2 * q.S * lr + 2 * q.U * mu + q.const);
  }

  /** Schaul et al.'s greedy rate for plain SGD (ICLR eq. 7 for one coordinate): S / P, 0 if P = 0. */
  function greedyLrWithoutMomentum(q) { return q.P > 0 ? q.S / q.P : 0.0; }

  /** ICLR Theorem 2 by Cramer's rule; a singular system (always at t = 0, where E[v^2] = 0) gives mu = 0 and S / P. */
  function greedyFromQuadratic(q) {
    var det = q.P * q.R - q.Q * q.Q;
    var regular = q.R > 0 && det > SINGULAR_RTOL * q.P * q.R;
    if (regular) { return [(q.S * q.R - q.Q * q.U) / det, (q.Q * q.S - q.P * q.U) / det]; }
    return [greedyLrWithoutMomentum(q), 0.0];
  }

  /** [lr, momentum] minimising the expected loss one step ahead (greedy_step). */
  function greedyStep(p, m, withMomentum) {
    var q = oneStepQuadratic(p, m);
    return withMomentum === false ? [greedyLrWithoutMomentum(q), 0.0] : greedyFromQuadratic(q);
  }

  /** A greedy run that can be extended: run.extend(T) computes the greedy schedule (greedy_schedule) up to step T,
   *  run.result(T) returns {lrs, momenta, loss, high, low} for the first T steps (losses at t = 0..T). A greedy
   *  step depends only on the past, so the first T steps of a longer run are the run of length T, bit for bit.
   *  The same arithmetic as oneStepQuadratic, greedyStep and step, fused into one pass over the coordinates per
   *  step (the state is updated in place, the sums for the next step accumulated as each coordinate moves, in the
   *  same order; the means and the constant term of the one-step loss are not needed). Per coordinate the
   *  constants (h, h^2, h^3, sigma2) and the state (E[theta^2], E[v^2], E[theta v]) lie side by side. */
  function greedyRun(p, withMomentum, k) {
    k = Math.min(k === undefined ? BAND : k, p.n);
    var band = bandCodes(p.h, k), n = p.n, cst = new Float64Array(4 * n), st = new Float64Array(3 * n);
    var run = {T: 0, cap: 0, lrs: null, momenta: null, loss: null, high: null, low: null};
    var P = 0, Q = 0, R = 0, S = 0, U = 0, L = 0, LH = 0, LL = 0, i;
    for (i = 0; i < n; i++) { // t = 0: the loss and the sums of the first step
      var hi = p.h[i], h2 = hi * hi, h3 = h2 * hi, x2 = p.theta0Mean[i] * p.theta0Mean[i] + p.theta0Var[i];
      cst[4 * i] = hi; cst[4 * i + 1] = h2; cst[4 * i + 2] = h3; cst[4 * i + 3] = p.sigma2[i]; st[3 * i] = x2;
      var t2s = x2 + p.sigma2[i];
      L += hi * x2;
      if (band[i] & 1) { LH += 0.5 * hi * x2; }
      if (band[i] & 2) { LL += 0.5 * hi * x2; }
      P += h3 * t2s; S += h2 * x2; // Q, R, U: sums of h^2 E[theta v], h E[v^2], h E[theta v], all 0 at t = 0
    }
    var sums = new Float64Array([P, Q, R, S, U]);
    function grow(T) {
      var cap = Math.max(T, 2 * run.cap, 16);
      function g(a, len) { var b = new Float64Array(len); if (a) { b.set(a); } return b; }
      run.lrs = g(run.lrs, cap); run.momenta = g(run.momenta, cap);
      run.loss = g(run.loss, cap + 1); run.high = g(run.high, cap + 1); run.low = g(run.low, cap + 1);
      if (run.cap === 0) { run.loss[0] = 0.5 * L; run.high[0] = LH; run.low[0] = LL; }
      run.cap = cap;
    }
    run.extend = function (T) {
      if (T > run.cap) { grow(T); }
      greedySteps(cst, st, band, sums, withMomentum !== false, run, T);
      run.T = Math.max(run.T, T);
      return run;
    };
    run.result = function (T) {
      if (T > run.T) { run.extend(T); }
      function cut(a, len) { return divergedToInf(a.slice(0, len)); }
      return {lrs: run.lrs.slice(0, T), momenta: run.momenta.slice(0, T), loss: cut(run.loss, T + 1),
              high: cut(run.high, T + 1), low: cut(run.low, T + 1)};
    };
    return run;
  }

  /** Steps run.T..T-1 of a greedy run (a top-level function with its state in locals: V8 keeps them in registers). */
  function greedySteps(cst, st, band, sums, withMomentum, run, T) {
    var P = sums[0], Q = sums[1], R = sums[2], S = sums[3], U = sums[4], n = band.length;
    var lrs = run.lrs, momenta = run.momenta, loss = run.loss, high = run.high, low = run.low;
    var q = {P: 0, Q: 0, R: 0, S: 0, U: 0, const: 0};
    for (var t = run.T; t < T; t++) {
      q.P = P; q.Q = Q; q.R = R; q.S = S; q.U = U;
      var g = withMomentum ? greedyFromQuadratic(q) : [greedyLrWithoutMomentum(q), 0.0];
      var lr = g[0], mu = g[1], mu2 = mu * mu, tmu = 2.0 * mu;
      lrs[t] = lr; momenta[t] = mu;
      P = 0; Q = 0; R = 0; S = 0; U = 0;
      var L = 0, LH = 0, LL = 0;
      for (var i = 0, c = 0, j = 0; i < n; i++, c += 4, j += 3) {
        var hi = cst[c], a = lr * hi, aa = a * a, x2 = st[j], xv = st[j + 2], si = cst[c + 3];
        var newV2 = mu2 * st[j + 1] + aa * x2 - tmu * a * xv + aa * si, w = mu * xv - a * x2;
        var nt2 = x2 + newV2 + 2.0 * w, ntv = w + newV2;
        st[j] = nt2; st[j + 1] = newV2; st[j + 2] = ntv;
        var h2 = cst[c + 1];
        L += hi * nt2;
        var b = band[i];
        if (b !== 0) {
          if (b & 1) { LH += 0.5 * hi * nt2; }
          if (b & 2) { LL += 0.5 * hi * nt2; }
        }
        P += cst[c + 2] * (nt2 + si); Q += h2 * ntv; R += hi * newV2; S += h2 * nt2; U += hi * ntv;
      }
      loss[t + 1] = 0.5 * L; high[t + 1] = LH; low[t + 1] = LL;
    }
    sums[0] = P; sums[1] = Q; sums[2] = R; sums[3] = S; sums[4] = U;
  }

  /** The greedy schedule of length T (greedy_schedule): {lrs, momenta, loss, high, low} (losses at t = 0..T). */
  function greedySchedule(p, T, withMomentum, k) { return greedyRun(p, withMomentum, k).result(T); }

  // ------------------------------------------------------------------------------------------------------------------
  // meta-objectives (shb_lib/nqm/schedules.py)
  // ------------------------------------------------------------------------------------------------------------------

  /** ICLR Fig. 2 (fixed_lr_meta_objective): excess loss after `horizon` steps at each fixed learning rate in lrs,
   *  optionally followed by decaySteps steps at lr * decay^k, k = 1..decaySteps; constant momentum. */
  function fixedLrMetaObjective(p, lrs, horizon, opts) {
    opts = opts || {};
    var decaySteps = opts.decaySteps || 0, decay = opts.decay === undefined ? 0.9 : opts.decay;
    var mu = opts.momentum || 0.0, T = horizon + decaySteps, out = new Float64Array(lrs.length);
    var momenta = new Float64Array(T).fill(mu);
    for (var j = 0; j < lrs.length; j++) {
      var sched = new Float64Array(T);
      for (var t = 0; t < horizon; t++) { sched[t] = lrs[j]; }
      for (var d = 1; d <= decaySteps; d++) { sched[horizon + d - 1] = lrs[j] * Math.pow(decay, d); }
      var losses = rollout(p, sched, momenta);
      out[j] = losses[T];
    }
    return out;
  }

  // The affine one-step map s -> A s + b on s = (E[theta^2], E[v^2], E[theta v]) of a constant (lr, mu), per
  // coordinate (_one_step_affine), and the composition outer o inner (_compose).
  function oneStepAffine(p, lr, mu) {
    var n = p.n, A = [[], [], []], b = [];
    for (var r = 0; r < 3; r++) { for (var c = 0; c < 3; c++) { A[r].push(new Float64Array(n)); } }
    var f = new Float64Array(n);
    for (var i = 0; i < n; i++) {
      var a = lr * p.h[i], mu2 = mu * mu + 0.0;
      A[0][0][i] = (1 - a) * (1 - a); A[0][1][i] = mu2; A[0][2][i] = 2 * mu * (1 - a);
      A[1][0][i] = a * a; A[1][1][i] = mu2; A[1][2][i] = -2 * mu * a;
      A[2][0][i] = a * a - a; A[2][1][i] = mu2; A[2][2][i] = mu * (1 - 2 * a);
      f[i] = a * a * p.sigma2[i];
    }
    b.push(f, f, f);
    return {A: A, b: b};
  }

  function compose(outer, inner, n) {
    var A = [[], [], []], b = [];
    for (var r = 0; r < 3; r++) {
      for (var c = 0; c < 3; c++) {
        var x = new Float64Array(n);
        for (var i = 0; i < n; i++) {
          x[i] = outer.A[r][0][i] * inner.A[0][c][i] + outer.A[r][1][i] * inner.A[1][c][i] +
                 outer.A[r][2][i] * inner.A[2][c][i];
        }
        A[r].push(x);
      }
      var y = new Float64Array(n);
      for (var j = 0; j < n; j++) {
        y[j] = outer.A[r][0][j] * inner.b[0][j] + outer.A[r][1][j] * inner.b[1][j] + outer.A[r][2][j] * inner.b[2][j] +
               outer.b[r][j];
      }
      b.push(y);
    }
    return {A: A, b: b};
  }

  /** Excess loss after T steps of the constant schedule (lr, mu): the one-step affine map raised to the power T by
   *  repeated squaring (constant_schedule_final_loss). */
  function constantScheduleFinalLoss(p, lr, mu, T) {
    var map = oneStepAffine(p, lr, mu), result = null, k = T;
    while (k) {
      if (k & 1) { result = result === null ? map : compose(map, result, p.n); }
      k >>= 1;
      if (k) { map = compose(map, map, p.n); }
    }
    var m0 = initMoments(p), s = 0.0;
    for (var i = 0; i < p.n; i++) {
      var t2 = result.A[0][0][i] * m0.theta2[i] + result.A[0][1][i] * m0.v2[i] + result.A[0][2][i] * m0.thetaV[i] +
               result.b[0][i];
      s += p.h[i] * t2;
    }
    return 0.5 * s;
  }

  // ------------------------------------------------------------------------------------------------------------------
  // inverse-time decay chosen for a horizon (the Python reference is shb_lib/explorables.py)
  // ------------------------------------------------------------------------------------------------------------------

  /** alpha_t = alpha0 / (1 + t/K)^beta for t = 0..T-1 (ICLR section 3.2's inverse time decay). */
  function inverseTimeDecay(alpha0, beta, K, T) {
    var lrs = new Float64Array(T);
    for (var t = 0; t < T; t++) { lrs[t] = alpha0 / Math.pow(1 + t / K, beta); }
    return lrs;
  }

  /** For every (alpha0, beta) of the grid (alpha0-major) and constant momentum, the excess-loss curves at
   *  t = 0..longHorizon split by linearity into a noise-free part D (the problem's theta_0, no noise) and a part N
   *  per unit noise scale (theta_0 = 0, sigma2 = the problem's): the loss at noise scale s is D + s N. The problem's
   *  own sigma2 is the unit. Returns {D, N, alpha0, beta}
   *  (arrays of Float64Array). Iterate with a generator-like `next` so that a page can compute it in slices. */
  /** Plain SGD (momentum 0): the noise-free part D and the part per unit noise N of the excess loss at t = 0..T,
   *  both in one pass per coordinate. Bit for bit rolloutBands at momentum 0 (whose momentum terms are exact zeros):
   *  E[v'^2] = a^2 E[theta^2] + a^2 sigma^2, E[theta'^2] = E[theta^2] + E[v'^2] - 2 a E[theta^2]. */
  function plainSgdSplit(p, lrs) {
    var T = lrs.length, n = p.n, h = p.h, s2 = p.sigma2, D = new Float64Array(T + 1), N = new Float64Array(T + 1);
    var i = 0, t, a, b, c, e;
    function d0(j) { return p.theta0Mean[j] * p.theta0Mean[j] + p.theta0Var[j]; }
    // four coordinates at a time: independent recursions that the CPU overlaps; each sum still adds the
    // coordinates in index order, as the one-at-a-time loop below (and rolloutBands) does
    for (; i + 3 < n; i += 4) {
      var h0 = h[i], h1 = h[i + 1], h2 = h[i + 2], h3 = h[i + 3];
      var s0 = s2[i], s1 = s2[i + 1], s2_ = s2[i + 2], s3 = s2[i + 3];
      var x0 = d0(i), x1 = d0(i + 1), x2 = d0(i + 2), x3 = d0(i + 3), y0 = 0.0, y1 = 0.0, y2 = 0.0, y3 = 0.0;
      D[0] = D[0] + h0 * x0 + h1 * x1 + h2 * x2 + h3 * x3;
      for (t = 0; t < T; t++) {
        var lr = lrs[t];
        a = lr * h0; b = lr * h1; c = lr * h2; e = lr * h3;
        var aa = a * a, bb = b * b, cc = c * c, ee = e * e;
        x0 = x0 + aa * x0 - 2.0 * (a * x0); y0 = y0 + (aa * y0 + aa * s0) - 2.0 * (a * y0);
        x1 = x1 + bb * x1 - 2.0 * (b * x1); y1 = y1 + (bb * y1 + bb * s1) - 2.0 * (b * y1);
        x2 = x2 + cc * x2 - 2.0 * (c * x2); y2 = y2 + (cc * y2 + cc * s2_) - 2.0 * (c * y2);
        x3 = x3 + ee * x3 - 2.0 * (e * x3); y3 = y3 + (ee * y3 + ee * s3) - 2.0 * (e * y3);
        D[t + 1] = D[t + 1] + h0 * x0 + h1 * x1 + h2 * x2 + h3 * x3;
        N[t + 1] = N[t + 1] + h0 * y0 + h1 * y1 + h2 * y2 + h3 * y3;
      }
    }
    for (; i < n; i++) {
      var hi = h[i], si = s2[i], x = d0(i), y = 0.0;
      D[0] += hi * x;
      for (t = 0; t < T; t++) {
        a = lrs[t] * hi; aa = a * a;
        x = x + aa * x - 2.0 * (a * x);
        y = y + (aa * y + aa * si) - 2.0 * (a * y);
        D[t + 1] += hi * x;
        N[t + 1] += hi * y;
      }
    }
    for (t = 0; t <= T; t++) { D[t] = 0.5 * D[t]; N[t] = 0.5 * N[t]; }
    return [divergedToInf(D), divergedToInf(N)];
  }

  function decayCurvesJob(p, grid) {
    var G = grid.alpha0.length * grid.beta.length, TL = grid.longHorizon, K = grid.K, mu = grid.momentum || 0.0;
    var job = {total: G, done: 0, D: [], N: [], alpha0: [], beta: []};
    var momenta = new Float64Array(TL).fill(mu);
    var dProblem = {n: p.n, h: p.h, sigma2: new Float64Array(p.n), theta0Mean: p.theta0Mean, theta0Var: p.theta0Var};
    var nProblem = {n: p.n, h: p.h, sigma2: p.sigma2, theta0Mean: new Float64Array(p.n),
                    theta0Var: new Float64Array(p.n)};
    job.next = function () {
      if (job.done >= G) { return false; }
      var g = job.done, a0 = grid.alpha0[Math.floor(g / grid.beta.length)], b = grid.beta[g % grid.beta.length];
      var lrs = inverseTimeDecay(a0, b, K, TL);
      if (mu === 0) {
        var dn = plainSgdSplit(p, lrs);
        job.D.push(dn[0]); job.N.push(dn[1]);
      } else {
        job.D.push(rollout(dProblem, lrs, momenta));
        job.N.push(rollout(nProblem, lrs, momenta));
      }
      job.alpha0.push(a0); job.beta.push(b);
      job.done++;
      return job.done < G;
    };
    return job;
  }

  function decayCurves(p, grid) {
    var job = decayCurvesJob(p, grid);
    while (job.next()) { /* all at once */ }
    return job;
  }

  function combined(curves, g, t, scale) {
    var d = curves.D[g][t];
    if (scale === 0) { return d; }
    var x = d + scale * curves.N[g][t];
    return isFinite(x) ? x : Infinity;
  }

  /** Index of the grid schedule with the smallest loss at step T for the noise scale (the first one on ties). */
  function horizonChoice(curves, T, scale) {
    var best = -1, bestVal = Infinity;
    for (var g = 0; g < curves.D.length; g++) {
      var x = combined(curves, g, T, scale);
      if (x < bestVal || best < 0) { best = g; bestVal = x; }
    }
    return best;
  }

  function curve(curves, g, scale) {
    var TL = curves.D[g].length, out = new Float64Array(TL);
    for (var t = 0; t < TL; t++) { out[t] = combined(curves, g, t, scale); }
    return divergedToInf(out);
  }

  var numerics = {
    SINGULAR_RTOL: SINGULAR_RTOL, BAND: BAND,
    chebyshevSpectrum: chebyshevSpectrum, makeProblem: makeProblem, withNoiseScale: withNoiseScale,
    familyProblem: familyProblem, paperProblem: paperProblem,
    initMoments: initMoments, step: step, trajectory: trajectory, excessLoss: excessLoss, bandMasks: bandMasks,
    rollout: rollout, rolloutBands: rolloutBands, divergedToInf: divergedToInf, constantRun: constantRun,
    oneStepQuadratic: oneStepQuadratic, oneStepLoss: oneStepLoss, greedyStep: greedyStep,
    greedySchedule: greedySchedule, greedyRun: greedyRun,
    fixedLrMetaObjective: fixedLrMetaObjective, constantScheduleFinalLoss: constantScheduleFinalLoss,
    inverseTimeDecay: inverseTimeDecay, decayCurves: decayCurves, decayCurvesJob: decayCurvesJob,
    horizonChoice: horizonChoice, decayCurve: curve, decayLoss: combined
  };

  if (typeof module === "object" && module.exports) { module.exports = numerics; }
  if (typeof document === "undefined") { return; }

  // ==================================================================================================================
  // the explorables (browser only)
  // ==================================================================================================================

  var SVGNS = "http://www.w3.org/2000/svg";
  var SUP = {"0": "\u2070", "1": "\u00b9", "2": "\u00b2", "3": "\u00b3", "4": "\u2074", "5": "\u2075", "6": "\u2076",
             "7": "\u2077", "8": "\u2078", "9": "\u2079", "-": "\u207b"};

  function el(tag, attrs, parent) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) { if (attrs[k] !== undefined && attrs[k] !== null) { e.setAttribute(k, attrs[k]); } }
    if (parent) { parent.appendChild(e); }
    return e;
  }

  function text(parent, x, y, s, attrs) {
    var t = el("text", attrs || {}, parent);
    t.setAttribute("x", x.toFixed(1));
    t.setAttribute("y", y.toFixed(1));
    t.textContent = s;
    return t;
  }

  /** 4 significant digits, like the chapters' printed numbers; inf stays inf. */
  function fmt(x, digits) {
    digits = digits || 4;
    if (x === Infinity) { return "\u221e"; }
    if (x === 0) { return "0"; }
    if (!isFinite(x)) { return String(x); }
    var a = Math.abs(x);
    if (a >= 1e-3 && a < 1e5) { return String(Number(x.toPrecision(digits))); }
    var s = x.toExponential(digits - 1).replace(/\.?0+e/, "e").replace("e+", "e");
    return s;
  }

  function powLabel(k) {
    if (k === 0) { return "1"; }
    if (k === 1) { return "10"; }
    return "10" + String(k).split("").map(function (c) { return SUP[c]; }).join("");
  }

  function niceStep(span, count) {
    var raw = span / Math.max(1, count), mag = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10)), r = raw / mag;
    return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
  }

  /** Data range of the finite (and, for log scales, positive) values of several series. */
  function extent(series, log) {
    var lo = Infinity, hi = -Infinity;
    series.forEach(function (ys) {
      for (var i = 0; i < ys.length; i++) {
        var y = ys[i];
        if (isFinite(y) && (!log || y > 0)) { if (y < lo) { lo = y; } if (y > hi) { hi = y; } }
      }
    });
    return lo <= hi ? [lo, hi] : null;
  }

  /** Set the attributes that differ from what this function last wrote on e (null or undefined: absent), so that
   *  an element whose look did not change is not touched (no style recalculation, no repaint for it). */
  function setAttrs(e, attrs) {
    var seen = e.shbAttrs || (e.shbAttrs = {});
    for (var k in attrs) {
      var v = attrs[k];
      if (v === undefined || v === null) {
        if (seen[k] !== undefined) { e.removeAttribute(k); seen[k] = undefined; }
        continue;
      }
      v = String(v);
      if (seen[k] !== v) { e.setAttribute(k, v); seen[k] = v; }
    }
    return e;
  }

  /** The path of a series: at most 4 vertices per pixel column (its first, lowest, highest and last point, in
   *  order): the same picture as every point, a path a few hundred vertices long whatever the number of steps.
   *  Points where ok(x, y) fails break the line. Coordinates are integers in tenths of a pixel (the series are
   *  drawn in a group scaled by 1/10: an integer is written four times faster than a decimal). */
  function pathData(xs, ys, fx, fy, ok) {
    var d = "", pen = false, col = NaN, cnt = 0;
    var fX = 0, fY = 0, fI = 0, loX = 0, loY = 0, loI = 0, hiX = 0, hiY = 0, hiI = 0, lX = 0, lY = 0, lI = 0;
    function emit(x, y) { d += (pen ? "L" : "M") + Math.round(10 * x) + " " + Math.round(10 * y); pen = true; }
    function flush() {
      if (!cnt) { return; }
      emit(fX, fY);
      var early = loI < hiI, aI = early ? loI : hiI, bI = early ? hiI : loI;
      if (aI !== fI) { if (early) { emit(loX, loY); } else { emit(hiX, hiY); } }
      if (bI !== aI && bI !== fI) { if (early) { emit(hiX, hiY); } else { emit(loX, loY); } }
      if (lI !== fI && lI !== aI && lI !== bI) { emit(lX, lY); }
      cnt = 0;
    }
    for (var i = 0; i < ys.length; i++) {
      var xv = xs[i], yv = ys[i];
      if (!ok(xv, yv)) { flush(); pen = false; col = NaN; continue; }
      var px = fx(xv), py = fy(yv), c = Math.round(px);
      if (c !== col) { flush(); col = c; }
      if (cnt === 0) { fX = loX = hiX = px; fY = loY = hiY = py; fI = loI = hiI = i; }
      else {
        if (py < loY) { loX = px; loY = py; loI = i; }
        if (py > hiY) { hiX = px; hiY = py; hiI = i; }
      }
      lX = px; lY = py; lI = i; cnt++;
    }
    flush();
    return d || "M0 0";
  }

  /** One panel, retained between redraws in `state` (one object per panel slot): axes, ticks, grid and titles are
   *  rebuilt only when the panel's frame (box, domains, scales, texts) changes; the series (line, marker, vline,
   *  in drawing order) are elements updated in place. Returns x(), y() mappings and the drawers; panelDone(state)
   *  removes the series a redraw no longer draws. */
  function Panel(svg, state, box, o) {
    var m = {l: 56, r: 18, t: 22, b: 38};
    var x0 = box.x + m.l, x1 = box.x + box.w - m.r, y0 = box.y + box.h - m.b, y1 = box.y + m.t;
    var xd = o.xdomain.slice(), yd = o.ydomain ? o.ydomain.slice() : [1e-3, 1e3];
    var xl = !!o.xlog, yl = !!o.ylog;
    if (yl) {
      var a = Math.floor(Math.log(yd[0]) / Math.LN10 + 1e-9), b = Math.ceil(Math.log(yd[1]) / Math.LN10 - 1e-9);
      a = Math.max(-320, a); b = Math.min(308, b); // 10^309 would be inf (a diverging run nears the largest double)
      if (b <= a) { a = b - 1; }
      yd = [Math.pow(10, a), Math.pow(10, b)];
    } else if (yd[1] <= yd[0]) { yd = [yd[0] - 1, yd[0] + 1]; }
    var lx0 = Math.log(xd[0]), lxs = Math.log(xd[1]) - lx0, ly0 = Math.log(yd[0]), lys = Math.log(yd[1]) - ly0;
    function fx(v) {
      var u = xl ? (Math.log(v) - lx0) / lxs : (v - xd[0]) / (xd[1] - xd[0]);
      return x0 + u * (x1 - x0);
    }
    function fy(v) {
      var u = yl ? (Math.log(v) - ly0) / lys : (v - yd[0]) / (yd[1] - yd[0]);
      return y0 - u * (y0 - y1);
    }
    if (!state.g) {
      state.g = el("g", {"class": "shb-explorable-panel", "data-panel": o.name}, svg);
      state.frame = el("g", {}, state.g);
      state.clip = el("clipPath", {id: o.clipId}, state.g);
      state.clipRect = el("rect", {}, state.clip);
      state.lines = el("g", {transform: "scale(0.1)"}, el("g", {"clip-path": "url(#" + o.clipId + ")"}, state.g));
      state.items = [];
    }
    setAttrs(state.g, {"data-panel": o.name});
    var key = [box.x, box.y, box.w, box.h, o.name, o.title, o.xlabel, o.ylabel, xd[0], xd[1], yd[0], yd[1], xl, yl,
               !!o.xIntTicks].join("|");
    if (state.key !== key) { state.key = key; frame(); }
    state.used = 0;

    function frame() {
      var g = state.frame;
      while (g.firstChild) { g.removeChild(g.firstChild); }
      setAttrs(state.clipRect, {x: x0, y: y1 - 2, width: x1 - x0, height: y0 - y1 + 4});
      var grid = el("g", {"class": "shb-explorable-grid", stroke: "currentColor", "stroke-opacity": "0.15"}, g);
      var ticks = el("g", {"class": "shb-explorable-ticks", fill: "currentColor", "font-size": "11"}, g);
      function vline(px) { el("line", {x1: px.toFixed(1), x2: px.toFixed(1), y1: y0, y2: y1}, grid); }
      function hline(py) { el("line", {x1: x0, x2: x1, y1: py.toFixed(1), y2: py.toFixed(1)}, grid); }
      // x ticks
      var maxXTicks = Math.max(2, Math.floor((x1 - x0) / 55));
      if (xl) {
        var ea = Math.ceil(Math.log(xd[0]) / Math.LN10 - 1e-9), eb = Math.floor(Math.log(xd[1]) / Math.LN10 + 1e-9);
        for (var e = ea; e <= eb; e++) {
          var px = fx(Math.pow(10, e)); vline(px);
          var lab = o.xIntTicks ? String(Math.round(Math.pow(10, e))) : powLabel(e);
          text(ticks, px, y0 + 15, lab, {"text-anchor": "middle"});
        }
      } else {
        var st = niceStep(xd[1] - xd[0], maxXTicks);
        if (!(st > 0 && isFinite(st) && (xd[1] - xd[0]) / st < 50)) { st = Infinity; }
        for (var v = Math.ceil(xd[0] / st) * st; v <= xd[1] + 1e-9 * st; v += st) {
          vline(fx(v)); text(ticks, fx(v), y0 + 15, String(Number(v.toPrecision(6))), {"text-anchor": "middle"});
        }
      }
      // y ticks
      var maxYTicks = Math.max(2, Math.floor((y0 - y1) / 28));
      if (yl) {
        var da = Math.round(Math.log(yd[0]) / Math.LN10), db = Math.round(Math.log(yd[1]) / Math.LN10);
        if (!(isFinite(da) && isFinite(db))) { da = 0; db = 1; }
        var every = Math.max(1, Math.ceil((db - da) / maxYTicks));
        for (var d = da; d <= db; d++) {
          if ((d - da) % every) { continue; }
          var py = fy(Math.pow(10, d)); hline(py);
          text(ticks, x0 - 5, py + 4, powLabel(d), {"text-anchor": "end"});
        }
      } else {
        var sy = niceStep(yd[1] - yd[0], maxYTicks);
        if (!(sy > 0 && isFinite(sy) && (yd[1] - yd[0]) / sy < 50)) { sy = Infinity; }
        for (var w = Math.ceil(yd[0] / sy) * sy; w <= yd[1] + 1e-9 * sy; w += sy) {
          hline(fy(w)); text(ticks, x0 - 5, fy(w) + 4, String(Number(w.toPrecision(6))), {"text-anchor": "end"});
        }
      }
      el("rect", {x: x0, y: y1, width: (x1 - x0).toFixed(1), height: (y0 - y1).toFixed(1), fill: "none",
                  stroke: "currentColor", "stroke-opacity": "0.5"}, g);
      text(g, (x0 + x1) / 2, box.y + 14, o.title, {"text-anchor": "middle", "font-weight": "bold", "font-size": "12",
                                                    fill: "currentColor", "class": "shb-explorable-panel-title"});
      text(g, (x0 + x1) / 2, y0 + 31, o.xlabel, {"text-anchor": "middle", "font-size": "12", fill: "currentColor"});
      var yt = text(g, 0, 0, o.ylabel, {"text-anchor": "middle", "font-size": "12", fill: "currentColor"});
      yt.setAttribute("transform", "translate(" + (box.x + 13) + "," + ((y0 + y1) / 2).toFixed(1) + ") rotate(-90)");
    }

    /** The next series element of this panel, of this tag (reused when the previous redraw drew the same). */
    function item(tag) {
      var k = state.used++, e = state.items[k];
      if (!e || e.tagName !== tag) {
        var fresh = el(tag, {});
        if (e) { state.lines.replaceChild(fresh, e); } else { state.lines.appendChild(fresh); }
        state.items[k] = e = fresh;
      }
      return e;
    }
    function ok(xv, yv) { return isFinite(xv) && isFinite(yv) && (!xl || xv > 0) && (!yl || yv > 0); }
    function tenths(v) { return Math.round(10 * v); }
    function dash(d) { return d ? d.split(" ").map(function (x) { return 10 * Number(x); }).join(" ") : null; }
    return {
      x: fx, y: fy, xdomain: xd, ydomain: yd,
      line: function (xs, ys, style) {
        return setAttrs(item("path"), {d: pathData(xs, ys, fx, fy, ok), fill: "none", stroke: style.color,
                                       "stroke-width": 10 * (style.width || 1.8), "stroke-dasharray": dash(style.dash),
                                       "stroke-opacity": style.opacity, "data-series": style.name});
      },
      marker: function (xv, yv, style) {
        var on = ok(xv, yv);
        return setAttrs(item("circle"), {cx: on ? tenths(fx(xv)) : -990, cy: on ? tenths(fy(yv)) : -990,
                                         r: 10 * (style.r || 4), fill: style.color, stroke: "white", "stroke-width": 10,
                                         "data-series": style.name, visibility: on ? null : "hidden"});
      },
      vline: function (xv, style) {
        var on = isFinite(xv), px = on ? tenths(fx(xv)) : -990;
        return setAttrs(item("line"), {x1: px, x2: px, y1: tenths(y0), y2: tenths(y1), stroke: style.color,
                                       "stroke-dasharray": dash(style.dash || "2 3"), "stroke-width": 10,
                                       "data-series": style.name, visibility: on ? null : "hidden"});
      }
    };
  }

  /** Remove the series elements that the last redraw of this panel did not draw. */
  function panelDone(state) {
    while (state.items.length > state.used) { state.lines.removeChild(state.items.pop()); }
  }

  /** Panel boxes for a container width: 2 columns from 520 px, 1 below (a phone); rows of equal height. */
  function layout(width, count) {
    var cols = width >= 520 ? Math.min(2, count) : 1, h = width >= 520 ? 250 : 230, boxes = [];
    for (var i = 0; i < count; i++) {
      var row = Math.floor(i / cols), inRow = Math.min(cols, count - row * cols), col = i % cols;
      var w = width / inRow;
      boxes.push({x: col * w, y: row * h, w: w, h: h});
    }
    return {boxes: boxes, height: Math.ceil(count / cols) * h};
  }

  function range(n, start) {
    var out = new Float64Array(n);
    for (var i = 0; i < n; i++) { out[i] = i + (start || 0); }
    return out;
  }

  /** A small cache that forgets the least recently used entry: get(key, make) returns the entry, made if new. */
  function Lru(size) {
    var keys = [], map = {};
    return {
      get: function (key, make) {
        var at = keys.indexOf(key);
        if (at >= 0) { keys.splice(at, 1); keys.push(key); return map[key]; }
        keys.push(key);
        map[key] = make();
        if (keys.length > size) { delete map[keys.shift()]; }
        return map[key];
      },
      peek: function (key) { return keys.indexOf(key) >= 0 ? map[key] : null; }
    };
  }

  /** The largest value of a control (the longest horizon a run may be extended to when the page is idle). */
  function largest(cfg, name) {
    var c = cfg.controls.filter(function (x) { return x.name === name; })[0];
    return Math.max.apply(null, c.values);
  }

  /** One idle slice: extend the first run that is short of T by a few steps; false when all are there. */
  function extendSome(runs, T) {
    for (var i = 0; i < runs.length; i++) {
      if (runs[i] && runs[i].T < T) { runs[i].extend(Math.min(T, runs[i].T + 32)); return true; }
    }
    return false;
  }

  // --- the three explorables: compute(state) -> model; draw(panelFactory, model) ---------------------------------

  var KINDS = {}, SEQ = 0;

  // Chapter 1: the reader's constant (lr, momentum) against the greedy schedule, through the moment recursion.
  KINDS.moments = {
    panels: 2,
    setup: function (cfg) {
      var base = familyProblem({n: cfg.problem.n, kappa: cfg.problem.kappa, hMax: cfg.problem.h_max,
                                noise: 1, batch: 1});
      return {base: base, problems: Lru(8), greedy: Lru(8), yours: Lru(8), Tmax: largest(cfg, "horizon")};
    },
    // the runs of recent settings are kept and extended as the horizon grows (the first T steps of a constant or a
    // greedy run are the T-step run, bit for bit): a horizon move computes only the steps not computed before
    runs: function (ctx, s) {
      var p = ctx.problems.get(String(s.noise), function () { return withNoiseScale(ctx.base, s.noise); });
      return [ctx.greedy.get(String(s.noise), function () { return greedyRun(p, true); }),
              ctx.yours.get(s.lr + "|" + s.momentum + "|" + s.noise,
                            function () { return constantRun(p, s.lr, s.momentum); })];
    },
    idle: function (ctx, s) { return extendSome(KINDS.moments.runs(ctx, s), ctx.Tmax); },
    compute: function (ctx, s) {
      var Tmax = s.horizon, runs = KINDS.moments.runs(ctx, s);
      var yours = runs[1].result(Tmax), greedy = runs[0].result(Tmax), diverged = -1;
      for (var t = 0; t <= Tmax; t++) { if (yours.loss[t] === Infinity) { diverged = t; break; } }
      return {s: s, yours: yours, greedy: greedy, T: Tmax, diverged: diverged,
              hmax: ctx.base.h[ctx.base.n - 1]};
    },
    draw: function (panel, md, c) {
      var T = md.T, ts = range(T + 1), cs = c.colors;
      var ext = extent([md.yours.loss, md.greedy.loss, md.yours.high, md.yours.low, md.greedy.high,
                        md.greedy.low], true);
      var pa = panel(0, {name: "loss", title: "Excess loss", xlabel: "step t", ylabel: "excess loss",
                         xdomain: [0, Math.max(1, T)], ydomain: ext, ylog: true});
      pa.line(ts, md.greedy.loss, {color: cs.greedy, name: "greedy"});
      pa.line(ts, md.yours.loss, {color: cs.fixed, width: 2.4, name: "yours"});
      var pb = panel(1, {name: "bands", title: "Band losses: 50 highest, 50 lowest h", xlabel: "step t",
                         ylabel: "excess loss on 50 directions", xdomain: [0, Math.max(1, T)], ydomain: ext,
                         ylog: true});
      pb.line(ts, md.greedy.high, {color: cs.greedy, width: 1.2, name: "greedy-high"});
      pb.line(ts, md.greedy.low, {color: cs.greedy, width: 1.2, dash: "5 3", name: "greedy-low"});
      pb.line(ts, md.yours.high, {color: cs.fixed, width: 2, name: "yours-high"});
      pb.line(ts, md.yours.low, {color: cs.fixed, width: 2, dash: "5 3", name: "yours-low"});
    },
    readout: function (md) {
      var T = md.T, y = md.yours, s = md.s;
      var q = {final_loss: y.loss[T], final_high: y.high[T], final_low: y.low[T], greedy_final_loss: md.greedy.loss[T],
               lr_hmax: s.lr * md.hmax};
      var parts = ["Your (\u03b1, \u03bc) = (" + fmt(s.lr) + ", " + fmt(s.momentum) + ") ends at excess loss ",
                   "final_loss", " after " + T + " steps (the greedy schedule: ", "greedy_final_loss",
                   "); 50 highest h: ", "final_high", "; 50 lowest h: ", "final_low",
                   ". \u03b1\u00b7h_max = ", "lr_hmax"];
      var tail = md.diverged >= 0 ? " \u2265 2(1+\u03bc) = " + fmt(2 * (1 + s.momentum)) +
                 ": the moments diverged at step " + md.diverged + "." : ".";
      return {quantities: q, parts: parts, tail: tail};
    },
    label: function (md) {
      return "Excess loss over " + md.T + " steps of SGD with learning rate " + fmt(md.s.lr) + " and momentum " +
             fmt(md.s.momentum) + " at noise scale " + fmt(md.s.noise) + ": it ends at " + fmt(md.yours.loss[md.T]) +
             ", the greedy schedule at " + fmt(md.greedy.loss[md.T]) + ".";
    }
  };

  // Chapter 2: the greedy schedule (ICLR Theorem 2) as noise, batch size, conditioning and dimension change.
  KINDS.greedy = {
    panels: 3,
    setup: function (cfg) { return {runs: Lru(12), Tmax: largest(cfg, "horizon")}; },
    // greedy runs of recent problems, kept and extended as the horizon grows (the first T steps are the T-step run);
    // noise s/B = 0 is the noise-free run itself
    runs: function (ctx, s) {
      function get(scale) {
        return ctx.runs.get(s.n + "|" + s.kappa + "|" + scale, function () {
          var p = familyProblem({n: s.n, kappa: s.kappa, noise: scale, batch: 1});
          return {p: p, run: greedyRun(p, true)};
        });
      }
      return [get(0), get(s.noise / s.batch)];
    },
    idle: function (ctx, s) {
      var r = KINDS.greedy.runs(ctx, s);
      return extendSome([r[0].run, r[1].run], ctx.Tmax);
    },
    compute: function (ctx, s) {
      var r = KINDS.greedy.runs(ctx, s), p = r[1].p;
      var g = r[1].run.result(s.horizon), detS = r[0].run.result(s.horizon);
      var hmax = p.h[p.n - 1], hmin = p.h[0], r = Math.sqrt(hmax), q = Math.sqrt(hmin);
      return {s: s, g: g, det: detS, T: s.horizon, p: p,
              polyakLr: 4 / ((r + q) * (r + q)), polyakMu: ((r - q) / (r + q)) * ((r - q) / (r + q))};
    },
    draw: function (panel, md, c) {
      var T = md.T, ts = range(T), tl = range(T + 1), cs = c.colors, xd = [0, Math.max(1, T)];
      var pa = panel(0, {name: "lr", title: "Greedy learning rate", xlabel: "step t",
                         ylabel: "learning rate \u03b1\u209c",
                         xdomain: xd, ydomain: extent([md.g.lrs, md.det.lrs], true), ylog: true});
      pa.line(ts, md.det.lrs, {color: cs.greedy, width: 1.4, dash: "1.5 3", name: "greedy-no-noise"});
      pa.line(ts, md.g.lrs, {color: cs.greedy, name: "greedy"});
      var mext = extent([md.g.momenta, md.det.momenta], false) || [0, 1];
      var pb = panel(1, {name: "momentum", title: "Greedy momentum", xlabel: "step t", ylabel: "momentum \u03bc\u209c",
                         xdomain: xd, ydomain: [Math.min(0, mext[0]), Math.max(1, mext[1])]});
      pb.line(ts, md.det.momenta, {color: cs.greedy, width: 1.4, dash: "1.5 3", name: "greedy-no-noise"});
      pb.line(ts, md.g.momenta, {color: cs.greedy, name: "greedy"});
      var pc = panel(2, {name: "loss", title: "Excess loss and band losses",
                         xlabel: "step t", ylabel: "excess loss", xdomain: xd,
                         ydomain: extent([md.g.loss, md.g.high, md.g.low, md.det.loss], true), ylog: true});
      pc.line(tl, md.det.loss, {color: cs.greedy, width: 1.4, dash: "1.5 3", name: "greedy-no-noise"});
      pc.line(tl, md.g.high, {color: cs.greedy, width: 1, name: "greedy-high"});
      pc.line(tl, md.g.low, {color: cs.greedy, width: 1.4, dash: "5 3", name: "greedy-low"});
      pc.line(tl, md.g.loss, {color: cs.greedy, width: 2.4, name: "greedy"});
    },
    readout: function (md) {
      var T = md.T, g = md.g;
      var q = {final_loss: g.loss[T], final_high: g.high[T], final_low: g.low[T], last_lr: g.lrs[T - 1],
               last_momentum: g.momenta[T - 1], no_noise_final_loss: md.det.loss[T], polyak_lr: md.polyakLr,
               polyak_momentum: md.polyakMu};
      var parts = ["After " + T + " greedy steps the excess loss is ", "final_loss", " (50 highest h: ", "final_high",
                   ", 50 lowest h: ", "final_low", "; without noise: ", "no_noise_final_loss",
                   "). Last step: \u03b1 = ", "last_lr", ", \u03bc = ", "last_momentum",
                   " (Polyak's heavy ball for this spectrum: \u03b1 = ", "polyak_lr", ", \u03bc = ",
                   "polyak_momentum", ")"];
      return {quantities: q, parts: parts, tail: "."};
    },
    label: function (md) {
      return "Greedy learning rate, momentum and excess loss over " + md.T + " steps for " + md.s.n +
             " curvatures with condition number " + fmt(md.s.kappa) + " and noise " + fmt(md.s.noise) + "/" +
             md.s.batch + ": the excess loss ends at " + fmt(md.g.loss[md.T]) + ", without noise at " +
             fmt(md.det.loss[md.T]) + ".";
    }
  };

  // Chapter 3: the schedule chosen for horizon T, run to the long horizon, against the long horizon's choice.
  KINDS.horizon = {
    panels: 3,
    setup: function (cfg) {
      var p = familyProblem({n: cfg.problem.n, kappa: cfg.problem.kappa, hMax: cfg.problem.h_max, noise: 1, batch: 1});
      var hs = cfg.controls.filter(function (c) { return c.name === "horizon"; })[0].values;
      return {job: decayCurvesJob(p, cfg.grid), grid: cfg.grid, horizons: hs, gaps: Lru(8)};
    },
    // the loss at the long horizon of every horizon's choice, for one noise scale (the slider's horizon only picks
    // one point of it)
    gap: function (ctx, scale) {
      return ctx.gaps.get(String(scale), function () {
        var cv = ctx.job, hs = ctx.horizons, TL = ctx.grid.longHorizon, gap = new Float64Array(hs.length);
        for (var i = 0; i < hs.length; i++) { gap[i] = combined(cv, horizonChoice(cv, hs[i], scale), TL, scale); }
        return gap;
      });
    },
    pending: function (ctx) { return ctx.job.done < ctx.job.total; },
    compute: function (ctx, s) {
      var cv = ctx.job, TL = ctx.grid.longHorizon, scale = s.noise / s.batch;
      var gT = horizonChoice(cv, s.horizon, scale), gL = horizonChoice(cv, TL, scale);
      var hs = ctx.horizons, gap = KINDS.horizon.gap(ctx, scale), gap0 = KINDS.horizon.gap(ctx, 0);
      return {s: s, scale: scale, TL: TL, gT: gT, gL: gL, cT: curve(cv, gT, scale), cL: curve(cv, gL, scale),
              a0T: cv.alpha0[gT], bT: cv.beta[gT], a0L: cv.alpha0[gL], bL: cv.beta[gL], K: ctx.grid.K,
              horizons: hs, gap: gap, gap0: gap0};
    },
    draw: function (panel, md, c) {
      var TL = md.TL, ts = range(TL + 1), cs = c.colors;
      var pa = panel(0, {name: "loss", title: "Excess loss over " + TL + " steps", xlabel: "step t",
                         ylabel: "excess loss", xdomain: [0, TL], ydomain: extent([md.cT, md.cL], true), ylog: true});
      pa.vline(md.s.horizon, {color: cs.short, name: "horizon"});
      pa.line(ts, md.cL, {color: cs.long, name: "long-choice"});
      pa.line(ts, md.cT, {color: cs.short, width: 2.2, name: "short-choice"});
      var lT = inverseTimeDecay(md.a0T, md.bT, md.K, TL), lL = inverseTimeDecay(md.a0L, md.bL, md.K, TL);
      var pb = panel(1, {name: "lr", title: "Learning rate \u03b1\u2080 / (1 + t/" + md.K + ")^\u03b2",
                         xlabel: "step t", ylabel: "learning rate \u03b1\u209c", xdomain: [0, TL],
                         ydomain: extent([lT, lL], true), ylog: true});
      pb.vline(md.s.horizon, {color: cs.short, name: "horizon"});
      pb.line(range(TL), lL, {color: cs.long, name: "long-choice"});
      pb.line(range(TL), lT, {color: cs.short, width: 2.2, name: "short-choice"});
      var hs = md.horizons;
      var pc = panel(2, {name: "gap", title: "Each horizon's choice at step " + TL, xlabel: "horizon T (log scale)",
                         ylabel: "excess loss at step " + TL, xdomain: [1, TL], xlog: true, xIntTicks: true,
                         ydomain: extent([md.gap, md.gap0], true), ylog: true});
      pc.line(hs, md.gap0, {color: cs.fixed, width: 1.4, dash: "5 3", name: "gap-no-noise"});
      pc.line(hs, md.gap, {color: cs.short, name: "gap"});
      pc.marker(md.s.horizon, md.cT[TL], {color: cs.short, name: "current"});
      pc.marker(TL, md.cL[TL], {color: cs.long, name: "long"});
    },
    readout: function (md) {
      var TL = md.TL;
      var q = {short_alpha0: md.a0T, short_beta: md.bT, short_final_loss: md.cT[TL], long_alpha0: md.a0L,
               long_beta: md.bL, long_final_loss: md.cL[TL], ratio: md.cT[TL] / md.cL[TL],
               gap: md.cT[TL] - md.cL[TL], noise_per_sample: md.scale};
      var parts = ["Horizon " + md.s.horizon + " picks \u03b1\u2080 = ", "short_alpha0", ", \u03b2 = ", "short_beta",
                   "; at step " + TL + " its excess loss is ", "short_final_loss", ", against ", "long_final_loss",
                   " for the " + TL + "-step choice (\u03b1\u2080 = ", "long_alpha0", ", \u03b2 = ", "long_beta",
                   "): \u00d7", "ratio", ", a gap of ", "gap", ". Noise \u03c3\u00b2h = s/B = ", "noise_per_sample"];
      return {quantities: q, parts: parts, tail: "."};
    },
    label: function (md) {
      return "The inverse-time-decay schedule chosen for horizon " + md.s.horizon + " (alpha0 " + fmt(md.a0T) +
             ", beta " + fmt(md.bT) + ") ends at excess loss " + fmt(md.cT[md.TL]) + " after " + md.TL +
             " steps, the " + md.TL + "-step choice at " + fmt(md.cL[md.TL]) + ", at noise " + fmt(md.scale) + ".";
    }
  };

  function setup(root) {
    if (root.getAttribute("data-shb-ready") === "1" || root.getAttribute("data-shb-ready") === "pending") {
      return false;
    }
    var blob = root.querySelector("script.shb-explorable-config");
    if (!blob) { return false; }
    var cfg = JSON.parse(blob.textContent), kind = KINDS[cfg.kind];
    if (!kind) { throw new Error("shb explorable: unknown kind " + cfg.kind); }
    var figure = root.querySelector(".shb-explorable-figure");
    var fallback = root.querySelector(".shb-explorable-fallback");
    var readout = root.querySelector(".shb-explorable-readout"), status = root.querySelector(".shb-explorable-status");
    var controls = cfg.controls.map(function (c) {
      return {c: c, input: root.querySelector('input[data-control="' + c.name + '"]'),
              out: root.querySelector('output[data-control="' + c.name + '"]'), shown: -1};
    });
    var ctx = kind.setup(cfg), svg = null, title = null, panels = [], width = -1, drawnWidth = -1, model = null;
    var timings = [], seq = ++SEQ, current = null, shownKey = null;
    var now = function () { return (global.performance || Date).now(); };
    root.shbExplorer = {timings: timings, config: cfg};

    /** The settings the controls show; a control's label is rewritten only when its value moved. */
    function state() {
      var s = {}, key = [];
      controls.forEach(function (k) {
        var n = k.c.values.length, i = Math.max(0, Math.min(n - 1, parseInt(k.input.value, 10) || 0));
        s[k.c.name] = k.c.values[i];
        key.push(i);
        if (k.shown !== i) {
          k.shown = i;
          k.out.textContent = k.c.labels[i];
          k.out.setAttribute("data-value", String(k.c.values[i]));
          k.input.setAttribute("aria-valuetext", k.c.labels[i]);
        }
      });
      s.key = key.join(",");
      return s;
    }

    function measure() { width = Math.max(280, Math.floor(figure.clientWidth || root.clientWidth || 688)); }

    /** Redraw into the one retained svg (its panels update in place, see Panel). */
    function draw() {
      var lay = layout(width, kind.panels);
      if (!svg) {
        svg = el("svg", {role: "img", "class": "shb-explorable-svg", "font-family": "inherit"});
        title = el("title", {}, svg);
        figure.appendChild(svg);
      }
      setAttrs(svg, {width: width, height: lay.height, viewBox: "0 0 " + width + " " + lay.height});
      function panel(i, o) {
        o.clipId = "shb-explorable-clip-" + seq + "-" + i;
        panels[i] = panels[i] || {};
        return Panel(svg, panels[i], lay.boxes[i], o);
      }
      kind.draw(panel, model, cfg);
      panels.forEach(panelDone);
      var label = kind.label(model);
      if (title.textContent !== label) { title.textContent = label; }
      setAttrs(svg, {"aria-label": label});
      drawnWidth = width;
    }

    /** The readout: text and numbers (span[data-quantity], full precision in data-value); when the sentence has the
     *  same parts as before, only the texts and values that changed are rewritten. */
    var readoutShape = null, readoutNodes = [];
    function showReadout() {
      var r = kind.readout(model), flat = r.parts, hidden = Object.keys(r.quantities).filter(function (name) {
        return flat.indexOf(name) < 0;
      });
      var shape = flat.filter(function (p, i) { return i % 2 === 1; }).concat(["|"], hidden).join(",");
      if (shape !== readoutShape) {
        readoutShape = shape;
        readoutNodes = [];
        while (readout.firstChild) { readout.removeChild(readout.firstChild); }
        flat.concat([r.tail]).forEach(function (p, i) {
          var node = i % 2 === 0 ? document.createTextNode("") : document.createElement("span");
          if (i % 2 === 1) { node.className = "shb-explorable-number"; node.setAttribute("data-quantity", p); }
          readoutNodes.push(node);
          readout.appendChild(node);
        });
        hidden.forEach(function (name) {
          var span = document.createElement("span");
          span.hidden = true;
          span.setAttribute("data-quantity", name);
          readoutNodes.push(span);
          readout.appendChild(span);
        });
      }
      flat.concat([r.tail]).forEach(function (p, i) {
        var node = readoutNodes[i];
        if (i % 2 === 0) { if (node.data !== p) { node.data = p; } return; }
        var text = fmt(r.quantities[p]);
        setAttrs(node, {"data-value": String(r.quantities[p])});
        if (node.textContent !== text) { node.textContent = text; }
      });
      hidden.forEach(function (name, j) {
        setAttrs(readoutNodes[flat.length + 1 + j], {"data-value": String(r.quantities[name])});
      });
    }

    function update(s) {
      var t0 = now();
      model = kind.compute(ctx, s);
      var t1 = now();
      draw();
      var t2 = now();
      showReadout();
      var ms = now() - t0;
      timings.push(ms);
      shownKey = s.key;
      root.setAttribute("data-compute-ms", (t1 - t0).toFixed(2));
      root.setAttribute("data-draw-ms", (t2 - t1).toFixed(2));
      root.setAttribute("data-redraw-ms", ms.toFixed(2));
      root.setAttribute("data-updates", String(timings.length));
      idle();
    }

    // Input events are coalesced: a move asks for one redraw at the next animation frame, where the latest settings
    // are drawn once (a drag fires many input events per frame; a key press fires input and change). A change event
    // whose settings are already drawn redraws nothing.
    var raf = global.requestAnimationFrame ? global.requestAnimationFrame.bind(global) :
              function (f) { return setTimeout(f, 0); };
    var scheduled = false, forced = false;
    function request(force) {
      forced = forced || force;
      if (!scheduled) { scheduled = true; raf(frameTick); }
    }
    function frameTick() {
      scheduled = false;
      var s = state(), force = forced;
      forced = false;
      if (force || s.key !== shownKey) { current = s; update(s); }
      else if (width !== drawnWidth) { draw(); }
    }

    // What the next moves will need and does not depend on them (chapters 1 and 2: the runs of the current settings
    // up to the longest horizon) is computed when the page is idle, in slices of about a millisecond, so that a move
    // waits for at most one slice.
    var ric = global.requestIdleCallback ? global.requestIdleCallback.bind(global) :
              function (f) { return setTimeout(function () { f(null); }, 16); };
    var idleQueued = false;
    function idle() {
      if (!kind.idle || idleQueued) { return; }
      idleQueued = true;
      ric(function (deadline) {
        idleQueued = false;
        var t0 = now(), more = true;
        while (more && (deadline ? deadline.timeRemaining() > 2 : now() - t0 < 6)) { more = kind.idle(ctx, current); }
        if (more) { idle(); }
      });
    }

    function start() {
      controls.forEach(function (k) {
        k.input.addEventListener("input", function () { request(true); });
        k.input.addEventListener("change", function () { request(false); });
      });
      root.querySelectorAll(".shb-explorable-controls").forEach(function (e) { e.hidden = false; });
      if (fallback) { fallback.hidden = true; }
      root.querySelectorAll(".shb-explorable-nojs").forEach(function (e) { e.hidden = true; });
      if (status) { status.hidden = true; }
      measure();
      current = state();
      update(current);
      root.setAttribute("data-shb-ready", "1");
      if (typeof ResizeObserver !== "undefined") {
        new ResizeObserver(function (entries) {
          var w = Math.max(280, Math.floor(entries[0].contentRect.width || 0));
          if (model && entries[0].contentRect.width && w !== width) { width = w; request(false); }
        }).observe(figure);
      }
    }

    if (kind.pending && kind.pending(ctx)) {
      // a one-time computation (chapter 3: the loss curves of every grid schedule), in slices of about 30 ms so that
      // the page stays responsive; the static figure stays until it is done
      root.setAttribute("data-shb-ready", "pending");
      var t0 = now();
      var slice = function () {
        var s0 = now();
        while (ctx.job.next() && now() - s0 < 30) { /* next schedule */ }
        if (status) {
          status.hidden = false;
          status.textContent = "Computing the loss curves of the " + ctx.job.total +
                               " grid schedules in your browser: " +
                               Math.round(100 * ctx.job.done / ctx.job.total) + "%";
        }
        if (kind.pending(ctx)) { setTimeout(slice, 0); return; }
        root.setAttribute("data-setup-ms", (now() - t0).toFixed(0));
        root.setAttribute("data-shb-ready", "0");
        start();
      };
      setTimeout(slice, 0);
    } else {
      start();
    }
    return true;
  }

  /** Set up every container with this id that is not set up yet; retry for up to 10 s when none is in the document
   *  (the classic notebook runs an output's scripts before attaching the output). */
  function boot(id, tries) {
    tries = tries || 0;
    var roots = document.querySelectorAll('div.shb-explorable[data-explorable-id="' + id + '"]');
    var started = 0;
    for (var i = 0; i < roots.length; i++) { if (setup(roots[i])) { started++; } }
    if (started === 0 && roots.length === 0 && tries < 200) { setTimeout(function () { boot(id, tries + 1); }, 50); }
  }

  var lib = {};
  for (var name in numerics) { lib[name] = numerics[name]; }
  lib.boot = boot;
  lib.format = fmt;
  global.shbNqm = lib;
})(typeof window !== "undefined" ? window : this);
