"""The one number formatter and the one table (shb_lib.plotting.tables): the text the chapters print is what the
formatters it replaced wrote, byte for byte."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest

from shb_lib import plotting
from shb_lib.mnist import hypergrad as hg
from shb_lib.mnist import online as ol
from shb_lib.plotting import estimators as pe
from shb_lib.plotting.tables import MarkdownTable, number, plus_minus

VALUES = [0.0, 1.0, -1.0, 0.0506, 1e-4, 9.99e-5, 123456.0, 1234567.0, 20000, 5000, 0.9, 1 / 3, -0.00041,
          math.inf, -math.inf, math.nan, np.float64(0.0246), np.float32(0.301), np.int64(100)]


@pytest.mark.parametrize("x", VALUES)
def test_number_is_percent_g_of_the_formatters_it_replaced(x):
    assert number(x) == f"{x:g}"  # settings._g
    for d in (2, 3, 4):
        assert number(x, d) == f"{x:.{d}g}"
        assert number(x, d, signed=True) == f"{x:+.{d}g}"  # plotting.estimators._pm
    # online._sig: "inf" for +inf, "nan" for nan, else .3g
    old_online = "inf" if not np.isfinite(x) and x > 0 else ("nan" if np.isnan(x) else f"{x:.3g}")
    assert number(x, 3) == old_online


def test_number_accepts_zero_dimensional_arrays_and_refuses_the_rest():
    assert number(np.array(0.25), 2) == "0.25" and number(jnp.float32(0.5)) == "0.5"
    for bad in ("0.1", True, [0.1], np.zeros(2)):
        with pytest.raises(ValueError, match="x"):
            number(bad)
    for digits in (0, 18, 2.0, True):
        with pytest.raises(ValueError, match="digits"):
            number(1.0, digits)


def test_plus_minus():
    assert plus_minus(1.4912, 0.0101) == "1.49 ± 0.01"
    assert plus_minus(0.00905, 0.00191, signed=True) == "+0.00905 ± 0.0019"
    assert plus_minus(0.26374, 0.00191, 4) == "0.2637 ± 0.0019"


def test_plotting_exports_the_one_table():
    assert plotting.MarkdownTable is MarkdownTable and plotting.number is number


def test_markdown_and_text_renderings():
    t = MarkdownTable(["run", "x"], [["a", "1"], ["bb", 22]])
    assert t.markdown() == "| run | x |\n|---|---|\n| a | 1 |\n| bb | 22 |" == repr(t)
    assert t.text() == "run   x\n---  --\na     1\nbb   22"
    assert '<th scope="row">bb</th><td>22</td>' in t.html()
    with pytest.raises(ValueError, match="one entry per header"):
        MarkdownTable(["a", "b"], [["1"]])


def _old_summary_table(results, digits=3):
    """online.summary_table before it used plotting.tables (commit 2f6e964), for the byte-for-byte check."""
    def sig(x):
        return "inf" if not np.isfinite(x) and x > 0 else ("nan" if np.isnan(x) else f"{x:.{digits}g}")

    head = ("run", "alpha_eff 0", "learned alpha_eff", "learned mu", "final loss", "test error", "diverged")
    rows = [head]
    for name, r in results.items():
        k = r.config.adapt_steps // r.config.steps_per_update
        for i in range(len(r.alpha)):
            rows.append((name, sig(r.alpha[i] / (1 - r.mu[i])), sig(r.alpha_eff[i, k]), sig(r.momentum[i, k]),
                         sig(r.final_loss[i]), sig(r.test_error[i]), "yes" if r.diverged[i] else "no"))
    widths = [max(len(row[j]) for row in rows) for j in range(len(head))]

    def fmt(row):
        return "  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths)))

    return "\n".join([fmt(rows[0]), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows[1:]])


def _fake_result(n, rng, config):
    U = config.steps // config.steps_per_update
    loss = rng.lognormal(-2, 1, size=(n, 3))
    loss[0, -1] = np.inf
    err = rng.uniform(0, 0.1, size=n)
    err[0] = np.nan
    return ol.OnlineResult(step=np.arange(3), train_loss=loss, lr_step=np.arange(U),
                           alpha_eff=rng.lognormal(size=(n, U)), momentum=rng.uniform(0.5, 0.999, size=(n, U)),
                           meta_loss=np.zeros((n, 1)), test_error=err, diverged=np.arange(n) == 0,
                           alpha=rng.lognormal(-3, 1, size=n), mu=np.full(n, 0.9), config=config, state=())


def test_summary_table_is_the_text_it_printed_before():
    rng = np.random.default_rng(0)
    c = ol.OnlineConfig()
    results = {"hand-tuned": _fake_result(1, rng, c), "SMD stochastic": _fake_result(4, rng, c)}
    for digits in (2, 3, 5):
        assert ol.summary_table(results, digits) == _old_summary_table(results, digits)


def test_sampled_endpoint_table_takes_the_horizon_and_the_time_constant():
    points = {"start": np.log([0.1, 3.0]), "other": np.log([0.0576, 2.35])}
    J = np.array([[0.26, 0.27, 0.262], [0.271, 0.272, 0.270]])
    t = pe.sampled_endpoint_table(points, J, "start", horizon=150, time_const=150)
    assert t.rows[0][3] == number(0.1 / 2.0**3.0, 3) == "0.0125"  # alpha_0 / (1 + T / time_const)^beta
    t2 = pe.sampled_endpoint_table(points, J, "start", horizon=300, time_const=100)
    assert t2.rows[0][3] == number(0.1 / 4.0**3.0, 3)


def test_typed_hyperparameters_unpack_as_the_tuples_they_replace():
    s = hg.hparams_to_schedule(hg.default_hparams(beta=2.0, alpha_0=0.05, mu=0.8, dtype=jnp.float64))
    assert isinstance(s, hg.ScheduleHparams) and isinstance(s, tuple)
    a0, beta, mu = s
    assert np.allclose([a0, beta, mu], [0.05, 2.0, 0.8]) and np.isclose(s.alpha_eff, 0.25)
    assert np.allclose(np.exp(s.phi()), [0.05, 2.0]) and s.phi().dtype == np.float64
    assert tuple(ol.HAND_TUNED) == (0.1, 0.9) and ol.HAND_TUNED.mu == 0.9 and np.isclose(ol.HAND_TUNED.alpha_eff, 1)
    h = ol.online_hparams(*ol.HAND_TUNED)
    assert np.allclose([float(v) for v in ol.lr_and_momentum(h)], ol.HAND_TUNED)
