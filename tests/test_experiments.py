"""The experiments runner: configurations, atomic result files with provenance, resume after an interruption."""

import hashlib
import itertools
import json
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from shb_lib.mnist import experiments as ex
from shb_lib.mnist import model
from shb_lib.mnist.surface import best_of_surface
from shb_lib.book import ROOT


def _ctx():
    k = jax.random.PRNGKey(0)
    x = jax.random.uniform(k, (300, 10), dtype=jnp.float32)
    y = (jnp.argmax(x[:, :3], axis=1)).astype(jnp.int32)
    return types.SimpleNamespace(X=x, Y=y, Xt=x[:60], Yt=y[:60], key=k, source="synthetic",
                                 w0=model.init_mlp(jax.random.PRNGKey(1), (10, 6, 3), std=0.3))


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
    assert "matmul_precision" in meta["hardware"]
    assert not list(tmp_path.glob("*.tmp"))
    again, info2 = ex.surface_unit(ctx, cfg, 4, out=tmp_path)  # loaded, not recomputed
    assert info2["created_utc"] == meta["created_utc"]
    np.testing.assert_array_equal(again["loss"], arrays["loss"])
    found = ex.load_results(tmp_path, scale="book")
    assert len(found) == 1 and ex.load_results(tmp_path, scale="paper") == {}


def test_provenance_records_the_matmul_precision():
    old = jax.config.jax_default_matmul_precision
    try:
        jax.config.update("jax_default_matmul_precision", "highest")
        assert ex.provenance()["hardware"]["matmul_precision"] == "highest"
    finally:
        jax.config.update("jax_default_matmul_precision", old)


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


def test_interrupted_smd_resumes_from_checkpoint_and_counts_every_process_wall_time(tmp_path, monkeypatch):
    ctx, cfg = _ctx(), _cfg()
    full, _ = ex.smd_unit(ctx, cfg, 4, 0.1, out=None, checkpoint_every=2)
    calls = {"n": 0}
    real, real_clock = ex.offline.smd, ex.time.perf_counter

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    clock = itertools.count(0.0, 1000.0)  # the first process is slow: every reading of its clock is 1000 s later
    monkeypatch.setattr(ex.offline, "smd", flaky)
    monkeypatch.setattr(ex.time, "perf_counter", lambda: next(clock))
    with pytest.raises(KeyboardInterrupt):
        ex.smd_unit(ctx, cfg, 4, 0.1, out=tmp_path, checkpoint_every=2)
    monkeypatch.setattr(ex.time, "perf_counter", real_clock)
    (partial,) = tmp_path.glob(".smd-T4-*.partial.npz")
    assert not list(tmp_path.glob("*.json"))
    with np.load(partial) as z:
        assert z["_wall_time_s"].tolist() == [1000.0]  # its time up to its checkpoint
    monkeypatch.setattr(ex.offline, "smd", real)
    resumed, info = ex.smd_unit(ctx, cfg, 4, 0.1, out=tmp_path, checkpoint_every=2)
    np.testing.assert_array_equal(resumed["values"], full["values"])
    np.testing.assert_array_equal(resumed["beta"], full["beta"])
    assert not list(tmp_path.glob(".*partial*")) and len(list(tmp_path.glob("smd-T4-*.json"))) == 1
    saved = json.loads(next(tmp_path.glob("smd-T4-*.json")).read_text())
    first, second = saved["wall_time_per_process_s"]
    assert first == 1000.0 and second < 1000.0  # both processes, not the last one only
    assert saved["wall_time_s"] == pytest.approx(first + second, abs=0.1) and info == saved


def test_long_runs_record_how_and_from_which_files_their_schedules_were_chosen(tmp_path, monkeypatch):
    ctx = _ctx()
    monkeypatch.setattr(ex, "_Context", lambda cfg: ctx)
    tiny = dict(K=10.0, n_samples=6, surface_eval_batches=2, meta_steps=3, smd_eval_batches=2, meta_lr=0.1,
                final_steps=20, record_every=10, long_eval_batches=2, batch_size=20)
    for choose, label in (("surface", "surface top 3 of 6 samples"), ("smd", "SMD from beta = 0.1 and 10")):
        out = tmp_path / choose
        res = ex.run_mnist("book", out=out, horizons=(4,), units=(choose, "long"), choose=choose, **tiny)
        assert res["chosen_by"] == {4: label}
        chosen = json.loads(next(out.glob("long-*.json")).read_text())["chosen"]
        assert chosen["by"] == label and chosen["horizons"]["4"]["by"] == label
        assert tuple(chosen["horizons"]["4"][k] for k in ("alpha_0", "beta")) == res["choice"][4]
        sources = chosen["horizons"]["4"]["from"]
        files = sorted(p for p in out.glob(f"{choose}-T4-*.npz"))
        assert [s["unit"] for s in sources] == [p.name[:-4] for p in files] and len(files) == (1 if choose ==
                                                                                                 "surface" else 2)
        assert [s["npz_sha256"] for s in sources] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in files]
        (long,) = ex.organize(ex.load_results(out))["long"]
        assert long[2] == label  # the label recomputed from the units agrees with the record


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


def test_cli_passes_one_value_per_horizon(monkeypatch, tmp_path):
    seen = {}

    def fake_run(scale, out, horizons, units, progress, **kw):
        seen.update(kw, horizons=horizons)
        return {"choice": {}}

    monkeypatch.setattr(ex, "run_mnist", fake_run)
    assert ex.main(["mnist", "--scale", "paper", "--horizons", "100", "5000", "--meta-steps", "9", "4",
                    "--samples", "8", "--chunk", "16", "--out", str(tmp_path)]) == 0
    assert seen["meta_steps"] == {100: 9, 5000: 4} and seen["n_samples"] == 8 and seen["surface_chunk"] == 16


def test_config_sorts_horizons():
    assert ex.config("paper", horizons=(20000, 100, 5000, 100))["horizons"] == (100, 5000, 20000)


def _long(horizons, final):
    n, R = len(horizons), 10
    loss = np.outer(final, np.ones(R)) * np.linspace(2.0, 1.0, R)  # each row ends at its `final` value
    return {"step": np.arange(1, R + 1) * 100, "horizons": np.asarray(horizons), "alpha_0": np.asarray(final) * 0 + 0.1,
            "beta": np.arange(n, dtype=float), "train_loss": loss, "test_error": loss / 10, "lr": loss / 100,
            "diverged": np.zeros(n, bool)}


def test_sort_long_and_ratios_follow_the_horizons_not_the_row_order():
    a = _long([100, 20000, 5000, 1000], [4.0, 0.001, 0.01, 0.1])
    s = ex.sort_long(a)
    assert list(s["horizons"]) == [100, 1000, 5000, 20000]
    np.testing.assert_array_equal(s["beta"], [0.0, 3.0, 2.0, 1.0])
    np.testing.assert_array_equal(s["train_loss"][:, -1], [4.0, 0.1, 0.01, 0.001])
    np.testing.assert_array_equal(s["step"], a["step"])
    final, tail = ex.long_ratios(a, record_every=100, tail_steps=300)
    assert final == pytest.approx(4000.0)
    assert tail == pytest.approx(4000.0)  # rows are proportional, so any window gives the same ratio
    b = dict(a, train_loss=a["train_loss"].copy())
    b["train_loss"][1, -3:] = [0.003, 0.002, 0.001]  # the longest horizon's last three records
    assert ex.long_ratios(b, 100, 300)[1] == pytest.approx(np.mean(a["train_loss"][0, -3:]) / 0.002)


def _info(unit, devices=("cpu:cpu",), **cfg):
    return {"config": dict(unit=unit, **cfg), "hardware": {"devices": list(devices), "cpu_count": 2}}


def test_organize_groups_units_and_names_how_long_runs_were_chosen():
    rng = np.random.default_rng(0)

    def surface(n):
        return {"alpha_0": rng.uniform(0.01, 0.5, n), "beta": rng.uniform(0.1, 100, n), "loss": rng.uniform(0, 1, n)}

    def smd(b0):  # small alpha_0: stored choices are rounded to 6 decimals, far coarser than rtol=1e-5 here
        return {"alpha_0": np.geomspace(0.01, 0.0234567, 11) * (1 + b0 / 100), "beta": np.geomspace(b0, 1.0, 11)}

    units = {}
    for T in (1000, 100):
        for n in (8, 50):
            units[f"surface-T{T}-{n}"] = (surface(n), _info("surface", horizon=T, n_samples=n))
        for b0 in (10.0, 1.0, 0.1):
            units[f"smd-T{T}-{b0}"] = (smd(b0), _info("smd", ("gpu:NVIDIA H100",), horizon=T, init_beta=b0))
    surf = {T: units[f"surface-T{T}-8"][0] for T in (100, 1000)}
    by_surface = {T: best_of_surface(surf[T], 3) for T in (1000, 100)}
    by_smd = {T: ex.smd_choice([units[f"smd-T{T}-{b}"][0] for b in (0.1, 10.0)]) for T in (1000, 100)}
    by_one = {T: ex.smd_choice([units[f"smd-T{T}-1.0"][0]]) for T in (1000, 100)}
    for name, choices, by in (("long-a", by_surface, "surface top 3"), ("long-b", by_smd, None),
                              ("long-c", by_one, None)):
        cfg = dict(alpha_0=[round(choices[T][0], 6) for T in (1000, 100)],  # as long_unit stores them
                   beta=[round(choices[T][1], 6) for T in (1000, 100)], **({"chosen_by": by} if by else {}))
        units[name] = (_long([1000, 100], [0.1, 1.0]), _info("long", **cfg))
    o = ex.organize(units)
    assert list(o["surface"]) == [100, 1000] and list(o["smd"]) == [100, 1000]
    assert [i["config"]["n_samples"] for _, i in o["surface"][100]] == [50, 8]
    assert [i["config"]["init_beta"] for _, i in o["smd"][100]] == [0.1, 1.0, 10.0]
    sc = ex.surface_choices(o["surface"], top=3)
    assert list(sc) == [50, 8] and sc[8] == {100: by_surface[100], 1000: by_surface[1000]}
    labels = sorted(label for _, _, label in o["long"])
    assert labels == ["SMD from beta = 0.1 and 10", "SMD from beta = 1", "surface top 3 of 8 samples"]
    assert all(list(a["horizons"]) == [100, 1000] for a, _, _ in o["long"])
    assert ex.device_label(units["smd-T100-0.1"][1]) == "NVIDIA H100"
    assert ex.device_label(units["surface-T100-8"][1]) == "2-core CPU"
    twice = dict(units, extra=(surface(8), _info("surface", horizon=100, n_samples=8)))
    with pytest.raises(ValueError, match="n_samples=8 for horizon 100"):
        ex.organize(twice)


def test_long_seeds_refuses_a_budget_the_folder_does_not_hold(tmp_path, capsys):
    """``long-seeds --samples N`` names the budgets it found instead of running anything."""
    with pytest.raises(SystemExit) as exit_info:
        ex.main(["long-seeds", "--choices-from", str(ROOT / "results"), "--samples", "7", "--out",
                 str(tmp_path), "--seeds", "0"])
    assert exit_info.value.code == 2
    assert "no 7-sample surfaces" in capsys.readouterr().err and not any(tmp_path.iterdir())


def test_chapter_seed_commands_read_finished_seeds_and_refuse_bad_flags(tmp_path, monkeypatch, capsys):
    """``online-seeds`` / ``estimator-seeds``: a finished seed is read (no MNIST needed), a repeated seed refused."""
    import shutil

    from shb_lib.book import ROOT

    for cmd, folder in (("online-seeds", "online-seeds"), ("estimator-seeds", "estimator-seeds")):
        out = tmp_path / folder
        out.mkdir()
        for f in (ROOT / "results" / folder).glob("*seed0-*"):
            shutil.copy(f, out)
        monkeypatch.delenv("SHB_DATA_DIR", raising=False)
        monkeypatch.setenv("HOME", str(tmp_path))  # no cached MNIST either: reading must not need it
        assert ex.main([cmd, "--out", str(out), "--seeds", "0"]) == 0
        assert "seed 0: done" in capsys.readouterr().out
        with pytest.raises(SystemExit) as e:
            ex.main([cmd, "--out", str(out), "--seeds", "0", "0"])
        assert e.value.code == 2
