"""Folds fitted on worker processes (``fold_workers``) give what folds fitted one after another give."""

import dataclasses
import math

import numpy as np
import optuna
import pytest

from skysieve.config import TuneParams, load_params
from skysieve.errors import ConfigError, DataError
from skysieve.train import TrainingCheckpoint, TrainingObserver, checkpoint_key, cross_validate, train_ensemble
from skysieve.train._parallel import fold_workers


class _Events(TrainingObserver):
    """Every call the engine makes, with its arguments."""

    def __init__(self):
        self.calls = []

    def fold_started(self, fold):
        self.calls.append(("started", fold.index))

    def epoch_ended(self, fold, step, logs):
        self.calls.append(("epoch", fold.index, step, dict(logs)))

    def fold_ended(self, fold, result):
        self.calls.append(("ended", fold.index, dict(result.metrics)))


def _same(a, b):
    """Equal floats, NaN equal to NaN."""
    np.testing.assert_array_equal(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))


def _same_events(a: list, b: list) -> None:
    assert [c[:3] if c[0] == "epoch" else c[:2] for c in a] == [c[:3] if c[0] == "epoch" else c[:2] for c in b]
    for ca, cb in zip(a, b, strict=True):
        if ca[0] != "started":
            assert ca[-1].keys() == cb[-1].keys()
            _same([ca[-1][k] for k in ca[-1]], [cb[-1][k] for k in ca[-1]])


def test_fold_workers_resolves_zero_to_one_per_core_and_never_exceeds_the_folds():
    assert fold_workers(0, 3, cpus=2) == 2
    assert fold_workers(0, 3, cpus=16) == 3
    assert fold_workers(0, 1, cpus=16) == 1  # holdout: in this process
    assert fold_workers(5, 3, cpus=2) == 3
    assert fold_workers(1, 3, cpus=16) == 1


def test_fold_workers_is_validated_with_file_key_and_value(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train_sz:\n  fold_workers: -1\n")
    with pytest.raises(ConfigError, match=r"params.yaml: .*train_sz.fold_workers: .*greater than or equal to 0.*"
                                          r"\(got -1\)"):
        load_params(path)


def test_fold_workers_changes_neither_the_checkpoint_key_nor_the_study(tiny_recipe):
    from skysieve.tune import default_study_name

    two = tiny_recipe.model_copy(update={"fold_workers": 2})
    assert checkpoint_key(two, data={"d": "1"}) == checkpoint_key(tiny_recipe, data={"d": "1"})
    assert checkpoint_key(two.model_copy(update={"epochs": 3}), data={"d": "1"}) != checkpoint_key(two, data={"d": "1"})
    prov = {"data.d.md5": "abc"}
    assert default_study_name("sz", TuneParams(), two, prov) == default_study_name("sz", TuneParams(), tiny_recipe, prov)


@pytest.mark.slow
def test_two_workers_fit_the_same_folds_as_one_process(tiny_cutouts, tiny_recipe, tmp_path):
    # Three folds on two workers: one worker fits two folds in turn. Final ensemble (models sent back)
    # with dropout and augmentation, every seeded piece of a fit.
    cfg = tiny_recipe.model_copy(update={"k_folds": 3, "net": tiny_recipe.net.model_copy(update={"dropout": 0.3}),
                                         "augment": tiny_recipe.augment.model_copy(update={"fraction": 0.3})})
    runs = {}
    for workers in (1, 2):
        events = _Events()
        key = checkpoint_key(cfg, data={})
        ckpt = TrainingCheckpoint.open(tmp_path / f"w{workers}.ckpt", key=key)
        runs[workers] = (train_ensemble(cfg.model_copy(update={"fold_workers": workers}), tiny_cutouts,
                                        observer=events, checkpoint=ckpt), events, ckpt)
    (one, events1, ckpt1), (two, events2, ckpt2) = runs[1], runs[2]
    # The observer sees the same calls, in fold order, with the same per-epoch logs and metrics.
    _same_events(events1.calls, events2.calls)
    for a, b in zip(one.cv.folds, two.cv.folds, strict=True):
        assert a.fold.index == b.fold.index and a.fit.best_epoch == b.fit.best_epoch
        assert a.metrics.keys() == b.metrics.keys()
        _same(list(a.metrics.values()), [b.metrics[k] for k in a.metrics])
        _same(a.oof_scores, b.oof_scores)
        _same(a.fit.val_scores, b.fit.val_scores)
        assert a.fit.images == b.fit.images
    _same(one.cv.oof_scores, two.cv.oof_scores)
    np.testing.assert_array_equal(one.cv.oof_rows, two.cv.oof_rows)
    _same(one.val_raw, two.val_raw)
    assert one.metrics.keys() == two.metrics.keys()
    _same(list(one.metrics.values()), [two.metrics[k] for k in one.metrics])
    # The models the workers sent back predict what the in-process models predict.
    rows = tiny_cutouts.indices("test")
    _same(one.ensemble.predict_proba(tiny_cutouts.read(rows)), two.ensemble.predict_proba(tiny_cutouts.read(rows)))
    # The workers wrote the finished folds into the checkpoint, as the single process does.
    assert ckpt1.finished_folds() == ckpt2.finished_folds() == [0, 1, 2]


@pytest.mark.slow
def test_an_error_in_a_worker_is_raised_as_itself(tiny_cutouts, tiny_recipe):
    # No validation rows: fit_model raises a DataError in each worker; the parent raises it, not a BrokenProcessPool.
    catalog = tiny_cutouts.catalog.copy()
    catalog["split"][catalog["split"] == "val"] = "train"
    no_val = dataclasses.replace(tiny_cutouts, catalog=catalog)
    with pytest.raises(DataError, match=r"cutouts/catalog.fits: no rows with split == 'val'"):
        cross_validate(tiny_recipe.model_copy(update={"fold_workers": 2}), no_val)


def _pruned_study(tiny_cutouts, tiny_recipe, tmp_path, monkeypatch, template, *, workers: int):
    """Two trials, the second pruned at its first report of fold 1; the study, its result and the MLflow runs."""
    import mlflow

    from skysieve.tune import run_tune
    from tests.conftest import new_mlflow_store

    class PruneSecondAtFoldOne(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return trial.number == 1 and trial.last_step is not None and trial.last_step >= 1

    monkeypatch.setattr("skysieve.tune._storage.make_pruner", lambda tune, steps_per_trial: PruneSecondAtFoldOne())
    root = tmp_path / f"w{workers}"
    uri = new_mlflow_store(template, root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    base = tiny_recipe.model_copy(update={"fold_workers": workers, "epochs": 1})  # one step per fold
    tune = TuneParams.model_validate({
        "n_trials": 2, "startup_trials": 1, "study_name": "folds", "storage": f"sqlite:///{root}/optuna.db",
        "search_space": {"optimizer.learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}}})
    result = run_tune(tune, base, data_dir=tiny_cutouts.tensor_path.parent, task="sz", root=root,
                      handoff_dir=root / "cnn.ckpt")
    study = optuna.load_study(study_name="folds", storage=tune.storage)
    client = mlflow.MlflowClient(uri)
    exp = client.get_experiment_by_name("test").experiment_id
    runs = {}
    for trial in client.search_runs([exp], "tags.`skysieve.run_kind` = 'trial'"):
        folds = client.search_runs([exp], f"tags.mlflow.parentRunId = '{trial.info.run_id}'")
        runs[trial.info.run_name] = (trial.info.status, trial.data.metrics, {
            f.info.run_name: (f.info.status, sorted((m.step, m.value)
                                                    for m in client.get_metric_history(f.info.run_id, "val_pr_auc")))
            for f in folds})
    return result, study, runs, root


@pytest.mark.slow
def test_a_study_with_fold_workers_matches_one_process_pruning_included(tiny_cutouts, tiny_recipe, tmp_path,
                                                                          monkeypatch, mlflow_template):
    one = _pruned_study(tiny_cutouts, tiny_recipe, tmp_path, monkeypatch, mlflow_template, workers=1)
    two = _pruned_study(tiny_cutouts, tiny_recipe, tmp_path, monkeypatch, mlflow_template, workers=2)
    (r1, s1, runs1, _), (r2, s2, runs2, root2) = one, two
    assert (r1.n_complete, r1.n_pruned) == (r2.n_complete, r2.n_pruned) == (1, 1)
    assert r1.best_value == r2.best_value and r1.params == r2.params
    # Same states, values and reported steps: the pruned trial stopped at the same step.
    for t1, t2 in zip(s1.trials, s2.trials, strict=True):
        assert t1.state == t2.state and t1.params == t2.params
        assert (t1.value, t1.intermediate_values) == (t2.value, t2.intermediate_values)
    assert sorted(s2.trials[1].intermediate_values) == [0, 1]  # pruned at fold 1's first epoch
    # The same MLflow runs: trial and fold runs, statuses, per-epoch curves (written by the parent).
    assert runs1.keys() == runs2.keys() == {"trial-0", "trial-1"}
    for name in runs1:
        status1, metrics1, folds1 = runs1[name]
        status2, metrics2, folds2 = runs2[name]
        assert status1 == status2 and folds1 == folds2
        assert metrics1 == metrics2
    assert runs2["trial-1"][0] == "KILLED" and runs2["trial-1"][2]["fold-1"][0] == "KILLED"
    assert runs2["trial-1"][2]["fold-0"][0] == "FINISHED"
    assert all(math.isfinite(v) for _, v in runs2["trial-0"][2]["fold-0"][1])
    # The complete trial's fold models, fitted by the workers, were handed over to training.
    assert r2.handed_over == str(root2 / "cnn.ckpt")
    assert TrainingCheckpoint(root2 / "cnn.ckpt", key="").finished_folds() == [0, 1]
