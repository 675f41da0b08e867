"""The settings tables of chapters 4 and 5 (shb_lib.mnist.settings): every setting the faithfulness issue names is there,
every source has a value (or says "not stated"), and the book's columns are what the library runs."""

from __future__ import annotations

from shb_lib.mnist import experiments as ex
from shb_lib.mnist import model, online, settings

OFFLINE = ["pretraining steps", "meta-steps", "meta-optimized", "initial weights, std", "momentum convention",
           "time constant K", "batch size", "meta-objective batches", "meta-optimizer", "SMD starts",
           "surface samples", "long runs"]
ONLINE = ["meta-steps per update", "adapted + decayed steps", "final learning rate", "meta-optimizer",
          "initial alpha (mu = 0.9)", "lookahead batches", "training loss of the curves"]


def test_offline_table_names_every_setting_with_a_value_from_each_source():
    rows = {r[0]: r for r in settings.offline_rows()}
    assert set(OFFLINE) <= set(rows)
    for name, row in rows.items():
        assert len(row) == 7 and all(cell.strip() for cell in row), name


def test_online_table_names_every_setting_with_a_value_from_each_source():
    rows = {r[0]: r for r in settings.online_rows()}
    assert set(ONLINE) <= set(rows)
    for name, row in rows.items():
        assert len(row) == 6 and all(cell.strip() for cell in row), name


def test_the_books_columns_are_what_the_library_runs(monkeypatch):
    rows = {r[0]: r for r in settings.offline_rows()}
    assert rows["time constant K"][4:6] == (f"{ex.SCALES['book']['K']:g}", f"{ex.SCALES['paper']['K']:g}")
    assert rows["initial weights, std"][4] == f"{model.INIT_STD:g}"
    monkeypatch.setitem(ex.SCALES["book"], "K", 123.0)  # a change in the library shows in the table
    assert {r[0]: r for r in settings.offline_rows()}["time constant K"][4] == "123"
    on = {r[0]: r for r in settings.online_rows()}
    c = online.OnlineConfig()
    assert on["meta-steps per update"][3] == f"{c.meta_steps} every {c.steps_per_update}"


def test_the_sources_disagreements_the_chapters_explain_are_in_the_table():
    rows = {r[0]: r for r in settings.offline_rows()}
    assert rows["pretraining steps"][1:3] == ("1000", "50 (L515)")
    assert "0.1" in rows["long runs"][3] and "offline.py:778" in rows["long runs"][3]
    assert "momentum SGD" in rows["meta-optimizer"][3]
    on = {r[0]: r for r in settings.online_rows()}
    assert "100 Adam steps every 10" in on["meta-steps per update"][1]
    assert "10 meta-steps every 100" in on["meta-steps per update"][2]
