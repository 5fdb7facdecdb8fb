"""``mediarec tune``: validation from training events only, deterministic, saved for train/serve."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from mediarec.datasets.base import Dataset
from mediarec.engine import MediaRec
from mediarec.eval.tune import TuneOptions, TuneResult, search_space, tune
from mediarec.eval.tune_report import write_tune_report
from mediarec.recommenders.tuned import TUNED_FILE, load_tuned, save_tuned
from tests.cli_helpers import invoke, small_home
from tests.eval.synthetic import communities

# One ALS thread: on a busy 2-core machine implicit's thread pool costs more than the tiny fits.
BASE = {"hybrid": {"threads": 1}, "als": {"threads": 1}}
FAST = TuneOptions(budget_seconds=120, trials=6, rungs=2, min_users=30, cold_fraction=0.2)


def _with_given_folds(ds: Dataset, seed: int = 3) -> Dataset:
    """The same events with a given split: per event, a seeded 20% marked test."""
    folds = np.where(np.random.default_rng(seed).random(len(ds.events)) < 0.2, "test", "train")
    return dataclasses.replace(ds, events=dataclasses.replace(ds.events, folds=folds.astype(str)))


def _features(ds: Dataset, seed: int = 5) -> np.ndarray:
    """Item vectors that know the communities (item c*50+i belongs to community c), with noise."""
    rng = np.random.default_rng(seed)
    n = len(ds.item_ids)
    index = {str(i): k for k, i in enumerate(ds.item_ids)}
    out = 0.5 * rng.standard_normal((n, 8)).astype(np.float32)
    for item, k in index.items():
        out[k, int(item.removeprefix("item")) // 50] += 1.0
    return out


def _picks(result: TuneResult) -> list[tuple[str, str, float, float | None]]:
    return [(t.model, json.dumps(t.params, sort_keys=True), t.recall, t.cold_recall) for t in result.trials]


def test_poisoning_the_test_fold_changes_nothing_the_tuner_sees() -> None:
    ds = _with_given_folds(communities(users_per=20, per_user=12))
    features = _features(ds)
    clean = tune(ds, features, outer_split="given", options=FAST, base_params=BASE)
    # Garbage test fold: every test event moved to a different item and a stranger user.
    ev = ds.events
    test = ev.folds == "test"
    items = ev.items.copy()
    items[test] = np.random.default_rng(0).choice(ds.item_ids, size=int(test.sum()))
    users = ev.users.copy()
    users[test] = "poisoned-user"
    poisoned = dataclasses.replace(ds, events=dataclasses.replace(ev, items=items, users=users))
    dirty = tune(poisoned, features, outer_split="given", options=FAST, base_params=BASE)
    assert (dirty.model, dirty.params) == (clean.model, clean.params)
    assert _picks(dirty) == _picks(clean)
    # The same data split randomly instead does put those events into what the tuner reads:
    # the check above is not vacuous.
    warm_only = dataclasses.replace(FAST, cold_fraction=0.0)
    assert _picks(
        tune(poisoned, features, outer_split="random", options=warm_only, base_params=BASE)
    ) != _picks(tune(ds, features, outer_split="random", options=warm_only, base_params=BASE))


def test_same_seed_same_choice_and_another_seed_another_search() -> None:
    ds = communities(users_per=20, per_user=12)
    features = _features(ds)
    first = tune(ds, features, outer_split="random", options=FAST, base_params=BASE)
    again = tune(ds, features, outer_split="random", options=FAST, base_params=BASE)
    assert (first.model, first.params) == (again.model, again.params)
    assert _picks(first) == _picks(again)
    other = tune(
        ds, features, outer_split="random", options=dataclasses.replace(FAST, seed=7), base_params=BASE
    )
    assert _picks(other) != _picks(first)
    # Successive halving: fewer trials at each rung, on more users.
    rungs = [t.rung for t in first.trials]
    assert rungs.count(0) > rungs.count(1) >= 1
    assert max(t.users for t in first.trials if t.rung == 0) < min(
        t.users for t in first.trials if t.rung == 1
    )


def test_cold_recall_of_the_winner_is_not_below_the_default() -> None:
    ds = communities(users_per=20, per_user=12)
    result = tune(ds, _features(ds), outer_split="random", options=FAST, base_params=BASE)
    assert result.model == "hybrid"
    assert result.cold_recall is not None and result.default_cold_recall is not None
    assert result.cold_recall >= result.default_cold_recall


def test_without_features_the_plain_cf_models_are_searched() -> None:
    ds = communities(users_per=20, per_user=12)
    result = tune(
        ds, None, outer_split="random", options=dataclasses.replace(FAST, trials=4), base_params=BASE
    )
    assert result.model in {"ease", "dlae", "als", "itemknn", "itemknn-bm25"}
    assert result.cold_recall is None
    assert {name for name, _ in search_space(False)} == {"ease", "dlae", "als", "itemknn", "itemknn-bm25"}


def test_a_budget_that_runs_out_is_reported(tmp_path: Path) -> None:
    ds = communities(users_per=20, per_user=12)
    result = tune(
        ds,
        None,
        outer_split="random",
        options=dataclasses.replace(FAST, budget_seconds=1e-9),
        base_params=BASE,
    )
    assert result.budget_hit and len(result.trials) == 1  # the first trial always runs
    md, js, svg = write_tune_report(result, tmp_path / "tune")
    assert "budget hit" in md.read_text()
    assert json.loads(js.read_text())["budget_hit"] is True
    assert svg.read_text().startswith("<svg")


def test_saved_configuration_is_what_train_uses(tmp_path: Path) -> None:
    home = small_home(tmp_path / "home")
    save_tuned("ease", {"l2": 7.0}, "store", home)
    engine = MediaRec(home)
    assert engine.settings.default_model == "ease"  # the tuned winner replaces the shipped default
    _, fitted = engine.train()
    assert fitted.name == "ease" and fitted.params.l2 == 7.0  # type: ignore[attr-defined]
    # An operator's own default_model is kept; the tuned options still apply to the tuned model.
    (home / "mediarec.toml").write_text('default_model = "itemknn"\n')
    assert MediaRec(home).settings.default_model == "itemknn"


def test_a_broken_tuned_file_is_refused_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / TUNED_FILE).write_text(json.dumps({"model": "ease", "params": {"nope": 1}}))
    with pytest.raises(ValueError, match="nope"):
        load_tuned(tmp_path)
    with pytest.raises(ValueError, match="unknown model"):
        save_tuned("lightgcn", {}, "x", tmp_path)


def test_cli_tune_then_evaluate_the_tuned_row(tmp_path: Path) -> None:
    home = small_home(tmp_path / "home")
    result = invoke(home, "tune", "--budget", "2m", "--trials", "4")
    assert result.exit_code == 0, result.output
    assert "Chosen:" in result.stdout
    assert (home / "tune" / "tune.md").is_file() and (home / "tune" / "tune.svg").is_file()
    tuned = load_tuned(home)
    assert tuned is not None
    out = tmp_path / "report"
    result = invoke(
        home,
        "evaluate",
        "--split",
        "random",
        "--models",
        f"popularity,{tuned.model},tuned",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    rows = {row["model"]: row for row in json.loads((out / "report.json").read_text())["rows"]}
    assert "tuned" in rows
    assert rows["tuned"]["params"] == {**rows[tuned.model]["params"], **tuned.params}


@pytest.mark.parametrize("text", ["0", "ten", "5x", "-3m"])
def test_bad_budget_is_refused(tmp_path: Path, text: str) -> None:
    result = invoke(tmp_path / "home", "tune", "--budget", text)
    assert result.exit_code == 2
    assert "--budget" in result.output


def test_an_empty_store_is_refused_with_the_reason(tmp_path: Path) -> None:
    with MediaRec(tmp_path / "home") as engine:
        engine.store.counts()  # the store file exists, with nothing in it
    result = invoke(tmp_path / "home", "tune", "--budget", "1m")
    assert result.exit_code == 1
    assert "no training events to tune on" in result.output


def test_poisoning_the_cold_test_items_changes_nothing_with_outer_cold() -> None:
    """`evaluate --cold` holds out its own items; `tune --cold` drops their events too, unread."""
    from mediarec.eval.splits import make_split

    ds = _with_given_folds(communities(users_per=20, per_user=12))
    features = _features(ds)
    opts = dataclasses.replace(FAST, outer_cold=0.2)
    clean = tune(ds, features, outer_split="given", options=opts, base_params=BASE)
    held_out = make_split(ds, "cold-items", seed=opts.seed, test_fraction=0.2).candidates
    assert held_out is not None and len(held_out)
    ev = ds.events
    on_cold = np.isin(ev.items, held_out)
    users = ev.users.copy()
    users[on_cold] = np.random.default_rng(1).permutation(users[on_cold])  # garbage for those items
    poisoned = dataclasses.replace(ds, events=dataclasses.replace(ev, users=users))
    dirty = tune(poisoned, features, outer_split="given", options=opts, base_params=BASE)
    assert _picks(dirty) == _picks(clean)
    # Without outer_cold the same garbage is read: the check above can fail.
    plain = dataclasses.replace(opts, outer_cold=0.0)
    assert _picks(tune(poisoned, features, outer_split="given", options=plain, base_params=BASE)) != _picks(
        tune(ds, features, outer_split="given", options=plain, base_params=BASE)
    )


def test_trials_sharing_a_fitted_core_run_back_to_back() -> None:
    """Each first core is one contiguous run of trials, so a small cache fits it once per rung
    (sorting by the options' JSON text interleaved EASE's l2 values, ``core2`` sorting before
    ``l2``); the runs come in the order their first configuration was drawn, the default's first,
    so a rung cut by the budget drops a random share of cores, not every EASE core."""
    from mediarec.eval.tune import _run_order
    from mediarec.recommenders.hybrid import HybridParams, core_key

    configs = [("hybrid", {}), *search_space(True)]
    order = _run_order(list(range(len(configs))), configs, n_items=500)
    assert sorted(order) == list(range(len(configs)))

    def first(c: tuple[str, dict[str, object]]) -> tuple[object, ...]:
        p = HybridParams(**c[1])  # type: ignore[arg-type]
        return core_key(dataclasses.replace(p, core="ease" if p.core == "auto" else p.core))

    cores = [first(configs[i]) for i in order]
    runs = [c for k, c in enumerate(cores) if k == 0 or c != cores[k - 1]]
    assert len(runs) == len(set(runs))  # no first core comes back after another
    assert runs[0] == ("ease", 1000.0)  # the default hybrid's core (EASE, l2 1000) runs first
    drawn = [min(i for i in range(len(configs)) if first(configs[i]) == c) for c in runs]
    assert drawn == sorted(drawn)  # then the cores in the order they were drawn


def test_a_rung_cut_by_its_deadline_still_promotes_its_best(monkeypatch: pytest.MonkeyPatch) -> None:
    """A first rung that runs out of its half of the budget hands its leaders to the next rung
    (scored on more users) instead of ending the search on the first rung's few users."""
    import types

    import mediarec.eval.tune as tune_mod

    clock = [0.0]  # a fake clock: every trial costs 10 "seconds"
    monkeypatch.setattr(tune_mod, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))
    real_score = tune_mod.Validation.score

    def slow_score(self: object, *args: object, **kw: object) -> object:
        clock[0] += 10.0
        return real_score(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(tune_mod.Validation, "score", slow_score)
    ds = communities(users_per=20, per_user=12)
    opts = dataclasses.replace(FAST, trials=12, budget_seconds=100.0, cold_fraction=0.0)
    result = tune(ds, _features(ds), outer_split="random", options=opts, base_params=BASE)
    rung0 = [t for t in result.trials if t.rung == 0]
    rung1 = [t for t in result.trials if t.rung == 1]
    assert result.budget_hit and len(rung0) < 13  # the first rung was cut ...
    assert rung1 and len(rung1) == len(rung0) // opts.eta  # ... and its best third went on
    assert max(t.users for t in rung0) < min(t.users for t in rung1)
    best0 = sorted(rung0, key=lambda t: (-t.recall, t.number))[: len(rung1)]
    assert {json.dumps(t.params, sort_keys=True) for t in rung1} == {
        json.dumps(t.params, sort_keys=True) for t in best0
    }


def test_rungs_of_equal_size_are_one() -> None:
    """943 users, at least 200 per rung: 200, 314, 943, not 200, 200, 314, 943 (a second rung on
    the same 200 users repeated the first's scores and only narrowed the field); every rung at
    least 1.5 times the one before."""
    from mediarec.eval.tune import _rung_sizes

    assert _rung_sizes(943, TuneOptions()) == [200, 314, 943]
    assert _rung_sizes(610, TuneOptions()) == [203, 610]  # not 200, 203, 610
    assert _rung_sizes(6040, TuneOptions()) == [223, 671, 2013, 6040]
    assert _rung_sizes(150, TuneOptions()) == [150]  # fewer users than a rung's minimum: one rung


def test_a_default_dropped_early_but_best_on_the_finalists_users_stays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The default, cut on the first rung's few users, is re-scored on the finalists' users; when
    it is as good as the best finalist there, no change is made (a change must earn its place)."""
    import mediarec.eval.tune as tune_mod

    def fake_score(self: object, number: int, name: str, params: dict, users: np.ndarray, k: int) -> object:
        # A fake scorer: the default looks weak on the first rung's users and best on the finalists'.
        if set(params) <= set(BASE["hybrid"]):  # the default: no searched option
            recall = 0.5 if number == -1 else 0.1
        else:
            recall = 0.3 + 0.001 * (len(json.dumps(params, sort_keys=True)) % 7)
        return tune_mod.Trial(number, name, dict(params), 0, len(users), recall, recall, 0.0)

    monkeypatch.setattr(tune_mod.Validation, "score", fake_score)
    ds = communities(users_per=20, per_user=12)
    # One validation carve: the rule under test (with more, the default is ranked by its mean).
    opts = dataclasses.replace(FAST, trials=9, cold_fraction=0.0, confirm_carves=1)
    result = tune(ds, _features(ds), outer_split="random", options=opts, base_params=BASE)
    assert [t for t in result.trials if t.rung == 1]  # two rungs ran ...
    assert all(t.params for t in result.trials if t.rung == 1)  # ... and the default did not go on
    assert (result.model, result.params) == ("hybrid", {})  # ... yet it stays the choice
    assert result.recall == result.default_recall == 0.5


def test_the_finalists_are_ranked_by_their_mean_over_two_validation_carves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The best finalist on the search's carve by a hair loses to the runner-up that the second
    carve (its own seed, same training events) prefers clearly: the choice follows the mean."""
    import mediarec.eval.tune as tune_mod

    carves: list[int] = []  # id() of each validation carve, in the order first scored

    def fake_score(self: object, number: int, name: str, params: dict, users: np.ndarray, k: int) -> object:
        # A fake scorer: a fixed order on the first carve; the second carve favours ``favourite``.
        if id(self) not in carves:
            carves.append(id(self))
        text = json.dumps({k: v for k, v in params.items() if k != "threads"}, sort_keys=True)
        if carves.index(id(self)) == 0:
            recall = 0.3 + 0.001 * (sum(map(ord, text)) % 97) / 97
        else:
            recall = 0.5 if text == favourite else 0.2
        return tune_mod.Trial(number, name, dict(params), 0, len(users), recall, recall, 0.0)

    monkeypatch.setattr(tune_mod.Validation, "score", fake_score)
    ds = communities(users_per=20, per_user=12)
    one = dataclasses.replace(FAST, trials=9, cold_fraction=0.0, confirm_carves=1)
    favourite = ""
    single = tune(ds, _features(ds), outer_split="random", options=one, base_params=BASE)
    last = max(t.rung for t in single.trials)
    ranked = sorted((t for t in single.trials if t.rung == last), key=lambda t: -t.recall)
    assert json.dumps(single.params, sort_keys=True) == json.dumps(ranked[0].params, sort_keys=True)
    favourite = json.dumps(ranked[1].params, sort_keys=True)  # second on the first carve
    carves.clear()
    two = dataclasses.replace(one, confirm_carves=2)
    both = tune(ds, _features(ds), outer_split="random", options=two, base_params=BASE)
    assert json.dumps(both.params, sort_keys=True) == favourite
    assert both.carves == 2 and len(carves) == 2
    assert both.recall == pytest.approx((ranked[1].recall + 0.5) / 2)  # the mean is what is reported
    confirm = [t for t in both.trials if t.rung == last + 1]
    assert {json.dumps(t.params, sort_keys=True) for t in confirm} >= {favourite, "{}"}  # the default too
    assert all("validation carve 2" in t.note for t in confirm)
