"""The experiments runner: configurations, atomic result files with provenance, resume after an interruption."""

import json
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import shb_lib  # noqa: F401
from shb_lib import experiments as ex
from shb_lib import mlp


def _ctx():
    k = jax.random.PRNGKey(0)
    x = jax.random.uniform(k, (300, 10), dtype=jnp.float32)
    y = (jnp.argmax(x[:, :3], axis=1)).astype(jnp.int32)
    return types.SimpleNamespace(X=x, Y=y, Xt=x[:60], Yt=y[:60], key=k, source="synthetic",
                                 w0=mlp.init_mlp(jax.random.PRNGKey(1), (10, 6, 3), std=0.3))


def _cfg(**kw):
    base = dict(K=10.0, horizons=(4, 8), n_samples=(6, 4), surface_eval_batches=2, meta_steps=(5, 3),
                smd_eval_batches=2, meta_lr=0.1, final_steps=20, record_every=10, long_eval_batches=2,
                sweep_batch_sizes=(10, 20), sweep_betas=(0.1, 1.0), batch_size=20)
    base.update(kw)
    return ex.config("book", **base)


def test_config_scales_and_validation():
    assert ex.config("paper")["horizons"] == (100, 1000, 5000, 20000)
    assert ex.config("paper")["K"] == 5000.0 and ex.config("book")["K"] < 5000.0
    with pytest.raises(ValueError, match="scale"):
        ex.config("huge")
    with pytest.raises(ValueError, match="horizons"):
        ex.config("book", horizons=(0, 10))
    with pytest.raises(ValueError, match="unknown"):
        ex.config("book", nonsense=1)


def test_units_are_written_atomically_with_provenance_and_skipped_on_rerun(tmp_path):
    ctx, cfg = _ctx(), _cfg()
    arrays, info = ex.surface_unit(ctx, cfg, 4, out=tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 and files[0].startswith("surface-T4-") and {f[-4:] for f in files} == {".npz", "json"}
    meta = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert meta["scale"] == "book" and meta["config"]["horizon"] == 4 and meta["seed"] == 0
    assert "jax" in meta["versions"] and "devices" in meta["hardware"] and meta["wall_time_s"] >= 0
    assert meta["hardware"]["matmul_precision"] in ("None", "default", "high", "highest", "float32", "bfloat16")
    assert not list(tmp_path.glob("*.tmp"))
    again, info2 = ex.surface_unit(ctx, cfg, 4, out=tmp_path)  # loaded, not recomputed
    assert info2["created_utc"] == meta["created_utc"]
    np.testing.assert_array_equal(again["loss"], arrays["loss"])
    found = ex.load_results(tmp_path, scale="book")
    assert len(found) == 1 and ex.load_results(tmp_path, scale="paper") == {}


def test_unit_names_with_a_dot_keep_their_hash(tmp_path):
    # SMD from beta 0.1 is named "smd-T100-beta0.1"; its files must not lose ".1-<hash>" to a suffix rule, or two
    # configurations would share one file and a rerun would load the wrong one.
    for steps in (1, 2):
        ex.save_unit(tmp_path, "smd-T100-beta0.1", {"meta_steps": steps}, {"x": np.arange(steps)}, 0.0, "paper")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 4 and all(n.startswith("smd-T100-beta0.1-") for n in names), names
    for steps in (1, 2):
        arrays, info = ex.load_unit(tmp_path, "smd-T100-beta0.1", {"meta_steps": steps})
        np.testing.assert_array_equal(arrays["x"], np.arange(steps))
        assert info["config"] == {"meta_steps": steps}
    stems = sorted(ex.load_results(tmp_path))
    assert stems == sorted({n.rsplit(".", 1)[0] for n in names})


def test_interrupted_smd_resumes_from_checkpoint(tmp_path, monkeypatch):
    ctx, cfg = _ctx(), _cfg()
    full, _ = ex.smd_unit(ctx, cfg, 4, 0.1, out=None, checkpoint_every=2)
    calls = {"n": 0}
    real = ex.meta.smd

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(ex.meta, "smd", flaky)
    with pytest.raises(KeyboardInterrupt):
        ex.smd_unit(ctx, cfg, 4, 0.1, out=tmp_path, checkpoint_every=2)
    assert len(list(tmp_path.glob(".smd-T4-*.partial.npz"))) == 1 and not list(tmp_path.glob("*.json"))
    monkeypatch.setattr(ex.meta, "smd", real)
    resumed, _ = ex.smd_unit(ctx, cfg, 4, 0.1, out=tmp_path, checkpoint_every=2)
    np.testing.assert_array_equal(resumed["values"], full["values"])
    np.testing.assert_array_equal(resumed["beta"], full["beta"])
    assert not list(tmp_path.glob(".*partial*")) and len(list(tmp_path.glob("smd-T4-*.json"))) == 1


def test_long_and_sweep_units():
    ctx, cfg = _ctx(), _cfg()
    long, _ = ex.long_unit(ctx, cfg, [4, 8], {4: (0.05, 3.0), 8: (0.1, 0.5)})
    assert long["train_loss"].shape == (2, 3) and list(long["horizons"]) == [4, 8]
    sweep, _ = ex.sweep_unit(ctx, cfg)
    assert sweep["loss"].shape == (2, 2, 2) and np.isfinite(sweep["loss"]).all()
    assert np.allclose(ex.smd_choice([{"alpha_0": np.array([1.0, 2.0, 4.0]), "beta": np.array([1.0, 1.0, 9.0])}]),
                       (4.0, 9.0))


def test_cli_rejects_bad_arguments():
    with pytest.raises(SystemExit):
        ex.main(["mnist", "--scale", "huge"])
    with pytest.raises(SystemExit):
        ex.main(["mnist", "--samples", "0"])
    with pytest.raises(SystemExit):  # two values for the paper's four horizons
        ex.main(["mnist", "--scale", "paper", "--meta-steps", "5", "6"])
    with pytest.raises(SystemExit):
        ex.main(["mnist", "--chunk", "0"])


def test_per_horizon_settings_accept_a_number_a_dict_or_the_scale_tuple():
    cfg = ex.config("paper", horizons=(100, 20000), meta_steps={100: 7, 20000: 3}, n_samples=11)
    assert ex._per_horizon(cfg, "meta_steps", 100) == 7 and ex._per_horizon(cfg, "meta_steps", 20000) == 3
    assert ex._per_horizon(cfg, "n_samples", 20000) == 11
    with pytest.raises(ValueError, match="meta_steps has no value for horizon 5000"):
        ex._per_horizon(cfg, "meta_steps", 5000)
    book = ex.config("book")  # a horizon outside the scale's takes the nearest one's value (in log)
    assert ex._per_horizon(book, "n_samples", 60) == book["n_samples"][0]
    assert ex._per_horizon(book, "n_samples", 900) == book["n_samples"][-1]


def test_cli_passes_one_value_per_horizon(monkeypatch):
    seen = {}

    def fake_run(scale, out, horizons, units, progress, **kw):
        seen.update(kw, horizons=horizons)
        return {"choice": {}}

    monkeypatch.setattr(ex, "run_mnist", fake_run)
    assert ex.main(["mnist", "--scale", "paper", "--horizons", "100", "5000", "--meta-steps", "9", "4",
                    "--samples", "8", "--chunk", "16"]) == 0
    assert seen["meta_steps"] == {100: 9, 5000: 4} and seen["n_samples"] == 8 and seen["surface_chunk"] == 16
