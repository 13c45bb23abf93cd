"""The Optuna search: search-space checks, pruning, the MLflow run hierarchy, resuming a study."""

import math

import numpy as np
import optuna
import pytest

from skysieve.config import SearchDimension, TuneParams
from skysieve.errors import ConfigError
from skysieve.tune import PruningObserver, base_values, check_search_space, run_tune, suggest


def test_suggest_draws_every_declared_dimension():
    space = {"optimizer.learning_rate": SearchDimension(type="float", low=1e-4, high=1e-2, log=True),
             "net.width": SearchDimension(type="int", low=4, high=12, step=4),
             "optimizer.name": SearchDimension(type="categorical", choices=("adam", "sgd"))}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    values = suggest(study.ask(), space)
    assert 1e-4 <= values["optimizer.learning_rate"] <= 1e-2
    assert values["net.width"] in (4, 8, 12) and values["optimizer.name"] in ("adam", "sgd")


def test_search_space_keys_must_be_train_keys(tiny_recipe):
    space = {"learning_rate": SearchDimension(type="float", low=0.1, high=1.0)}
    with pytest.raises(ConfigError, match=r"params.yaml: tune_sz.search_space: 'learning_rate' is not a key of the "
                                          r"train section; did you mean optimizer.learning_rate"):
        check_search_space(space, tiny_recipe, source="params.yaml: tune_sz")


def test_enqueue_base_takes_the_recipes_values_and_refuses_one_outside_the_space(tiny_recipe):
    space = {"optimizer.learning_rate": SearchDimension(type="float", low=1e-3, high=6e-3, log=True),
             "net.width": SearchDimension(type="int", low=2, high=6, step=2),
             "optimizer.name": SearchDimension(type="categorical", choices=("adam", "sgd"))}
    assert base_values(space, tiny_recipe, source="p") == {"optimizer.learning_rate": 3e-3, "net.width": 2,
                                                           "optimizer.name": "adam"}
    off_grid = {"net.width": SearchDimension(type="int", low=1, high=7, step=4)}  # 1, 5: not 2
    with pytest.raises(ConfigError, match=r"p: enqueue_base: the train section's net.width = 2 is outside the "
                                          r"search space \(1…7 in steps of 4\)"):
        base_values(off_grid, tiny_recipe, source="p")
    above = {"optimizer.learning_rate": SearchDimension(type="float", low=1e-4, high=1e-3)}
    with pytest.raises(ConfigError, match=r"optimizer.learning_rate = 0.003 is outside"):
        base_values(above, tiny_recipe, source="p")
    with pytest.raises(ConfigError, match=r"one of \['sgd'\]"):
        base_values({"optimizer.name": SearchDimension(type="categorical", choices=("sgd",))}, tiny_recipe, source="p")


def test_enqueue_base_skips_absent_net_keys_and_refuses_bools_and_lookalikes(tiny_recipe):
    # vgg's convs_per_block is not a resnet_small key: a conditional dimension, left to the sampler
    space = {"net.convs_per_block": SearchDimension(type="int", low=1, high=3),
             "net.width": SearchDimension(type="int", low=2, high=4)}
    assert base_values(space, tiny_recipe, source="p") == {"net.width": 2}
    flag = tiny_recipe.model_copy(update={"epochs": True})
    with pytest.raises(ConfigError, match="epochs = True is outside"):
        base_values({"epochs": SearchDimension(type="int", low=0, high=3)}, flag, source="p")
    with pytest.raises(ConfigError, match="batch_size = 32 is outside"):
        base_values({"batch_size": SearchDimension(type="categorical", choices=("32", 64))}, tiny_recipe,
                    source="p")


def test_the_base_trial_is_queued_at_creation_and_again_only_after_it_failed():
    from skysieve.tune._study import _enqueue_base

    base = {"optimizer.learning_rate": 3e-3}
    study = optuna.create_study()
    _enqueue_base(study, base, created=False, n_trials=2)  # someone else's new study: not ours to queue
    assert study.get_trials() == []
    _enqueue_base(study, base, created=True, n_trials=2)
    _enqueue_base(study, base, created=True, n_trials=2)  # queued once
    (waiting,) = study.get_trials()
    assert waiting.state == optuna.trial.TrialState.WAITING
    trial = study.ask()
    assert trial.suggest_float("optimizer.learning_rate", 1e-3, 1e-2, log=True) == 3e-3
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    _enqueue_base(study, base, created=False, n_trials=2)  # resumed after it failed: queued again
    assert [t.state for t in study.get_trials()][-1] == optuna.trial.TrialState.WAITING
    trial = study.ask()
    trial.suggest_float("optimizer.learning_rate", 1e-3, 1e-2, log=True)
    study.tell(trial, 0.5)
    _enqueue_base(study, base, created=False, n_trials=2)  # it completed: not again
    assert len(study.get_trials()) == 2


def test_search_dimension_validation():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="'low' must be < 'high'"):
        SearchDimension(type="float", low=1.0, high=0.5)
    with pytest.raises(ValidationError, match="needs a non-empty 'choices'"):
        SearchDimension(type="categorical")


class _Trial:
    def __init__(self, prune_at):
        self.reports, self.prune_at = [], prune_at

    def report(self, value, step):
        self.reports.append((step, value))

    def should_prune(self):
        return len(self.reports) >= self.prune_at


class _Logger:
    def __init__(self):
        self.epochs = []

    def fold_started(self, fold):
        pass

    def epoch_ended(self, fold, step, logs):
        self.epochs.append(step)


def test_pruning_observer_reports_per_epoch_steps_and_prunes():
    from skysieve.train import Fold

    trial, logger = _Trial(prune_at=3), _Logger()
    obs = PruningObserver(logger, trial, metric="pr_auc", steps_per_fold=2)
    fold0, fold1 = Fold(0, np.arange(3), np.arange(2)), Fold(1, np.arange(3), np.arange(2))
    obs.epoch_ended(fold0, 0, {"val_pr_auc": 0.5})
    obs.epoch_ended(fold0, 1, {"val_pr_auc": math.nan})  # not reported
    obs.epoch_ended(fold1, 0, {"val_pr_auc": 0.6})
    with pytest.raises(optuna.TrialPruned, match="pruned at fold 1, epoch 1"):
        obs.epoch_ended(fold1, 1, {"val_pr_auc": 0.7})
    assert trial.reports == [(0, 0.5), (2, 0.6), (3, 0.7)]
    assert logger.epochs == [0, 1, 0, 1]


@pytest.mark.slow
def test_tiny_study_builds_the_run_hierarchy_and_resumes(tiny_cutouts, tiny_recipe, tmp_path, monkeypatch,
                                                         mlflow_db):
    import mlflow

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("SKYSIEVE_OPTUNA_STORAGE", raising=False)
    base = tiny_recipe.model_copy(update={"epochs": 1})
    tune = TuneParams.model_validate({
        "n_trials": 1, "startup_trials": 1, "pruner": "none", "study_name": "tiny", "enqueue_base": True,
        "storage": f"sqlite:///{tmp_path}/optuna.db",
        "search_space": {"optimizer.learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}}})
    data = tiny_cutouts.tensor_path.parent
    first = run_tune(tune, base, data_dir=data, task="sz", root=tmp_path)
    assert first.n_complete == 1 and first.best_trial == 0
    # enqueue_base: the first trial is the recipe as configured, not a draw
    assert first.params == {"optimizer.learning_rate": base.optimizer.learning_rate}

    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name("test").experiment_id
    (study_run,) = client.search_runs([exp], "tags.`skysieve.run_kind` = 'study'")
    assert study_run.info.run_id == first.mlflow_parent_run_id
    assert study_run.data.metrics["best_value"] == pytest.approx(first.best_value)
    trials = client.search_runs([exp], f"tags.mlflow.parentRunId = '{study_run.info.run_id}'")
    assert [r.info.run_name for r in trials] == ["trial-0"]
    for trial in trials:
        assert trial.data.tags["skysieve.run_kind"] == "trial"
        assert {"pr_auc_mean", "pr_auc_std", "objective", "fold0_pr_auc"} <= set(trial.data.metrics)
        assert "trial.optimizer.learning_rate" in trial.data.params
        assert trial.data.tags["git.commit"] and "version.optuna" in trial.data.tags
        folds = client.search_runs([exp], f"tags.mlflow.parentRunId = '{trial.info.run_id}'")
        assert sorted(r.info.run_name for r in folds) == ["fold-0", "fold-1"]
        assert all(r.data.tags["skysieve.run_kind"] == "fold" for r in folds)
        assert all("val_pr_auc" in r.data.metrics and "fold_pr_auc" in r.data.metrics for r in folds)
        # trial and fold runs name their data (DVC path, md5) in the UI's Dataset column
        for r in [study_run, trial, *folds]:
            (read,) = client.get_run(r.info.run_id).inputs.dataset_inputs
            assert read.dataset.digest == trial.data.tags[f"data.{read.dataset.name}.md5"] != ""

    # Resume: the same study and parent run, one more trial.
    more = tune.model_copy(update={"n_trials": 2})
    resumed = run_tune(more, base, data_dir=data, task="sz", root=tmp_path)
    assert resumed.mlflow_parent_run_id == first.mlflow_parent_run_id
    assert resumed.n_complete == 2
    study = optuna.load_study(study_name="tiny", storage=tune.storage)
    assert [t.number for t in study.trials] == [0, 1]  # the base trial is not enqueued again on resuming
    assert study.trials[1].params["optimizer.learning_rate"] != base.optimizer.learning_rate
    trials = client.search_runs([exp], f"tags.mlflow.parentRunId = '{first.mlflow_parent_run_id}'")
    assert sorted(r.info.run_name for r in trials) == ["trial-0", "trial-1"]
    assert client.get_run(first.mlflow_parent_run_id).data.tags["skysieve.resumed_n_trials"] == "2"
    # Nothing left to do: a finished study is not extended.
    again = run_tune(more, base, data_dir=data, task="sz", root=tmp_path)
    assert again.n_complete == 2 and again.best_value == resumed.best_value


@pytest.mark.slow
def test_a_pruned_trial_is_marked_in_mlflow(tiny_cutouts, tiny_recipe, tmp_path, monkeypatch, mlflow_db):
    import mlflow

    class PruneSecond(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return trial.number == 1

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr("skysieve.tune._storage.make_pruner", lambda tune, steps_per_trial: PruneSecond())
    base = tiny_recipe.model_copy(update={"epochs": 1, "splitter": "holdout"})
    tune = TuneParams.model_validate({
        "n_trials": 2, "startup_trials": 1, "study_name": "pruned", "storage": f"sqlite:///{tmp_path}/optuna.db",
        "search_space": {"augment.fraction": {"type": "float", "low": 0.0, "high": 0.5}}})
    result = run_tune(tune, base, data_dir=tiny_cutouts.tensor_path.parent, task="sz", root=tmp_path)
    assert (result.n_complete, result.n_pruned) == (1, 1)
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name("test").experiment_id
    (pruned,) = client.search_runs([exp], "tags.`skysieve.state` = 'PRUNED' and tags.`skysieve.run_kind` = 'trial'")
    assert pruned.info.run_name == "trial-1" and pruned.info.status == "KILLED"
    (fold,) = client.search_runs([exp], f"tags.mlflow.parentRunId = '{pruned.info.run_id}'")
    assert fold.info.status == "KILLED"


def test_default_study_name_follows_what_the_search_depends_on():
    from skysieve.config import TrainParams
    from skysieve.tune import default_study_name

    tune, base = TuneParams(), TrainParams()
    prov = {"data.data/sz/cutouts.md5": "abc", "git.commit": "1234", "version.keras": "3"}
    name = default_study_name("sz", tune, base, prov)
    assert name.startswith("sz-") and len(name) == len("sz-") + 10
    # How long and where to search, and provenance other than the data, do not change the study.
    longer = tune.model_copy(update={"n_trials": 40, "timeout_s": 60.0, "storage": "postgresql://h/db"})
    assert default_study_name("sz", longer, base, {**prov, "git.commit": "5678"}) == name
    # The data, the train section, the search and the task do.
    assert default_study_name("sz", tune, base, {**prov, "data.data/sz/cutouts.md5": "abd"}) != name
    assert default_study_name("sz", tune, base.model_copy(update={"epochs": base.epochs + 1}), prov) != name
    assert default_study_name("sz", tune.model_copy(update={"objective": "f1"}), base, prov) != name
    assert default_study_name("lens", tune, base, prov) != name


def test_default_study_name_follows_the_training_code(monkeypatch):
    from skysieve.config import TrainParams
    from skysieve.tune import _storage

    tune, base, prov = TuneParams(), TrainParams(), {"data.d.md5": "abc"}
    name = _storage.default_study_name("sz", tune, base, prov)
    assert len(_storage.training_code_digest()) == 64
    assert _storage.training_code_digest() == _storage.training_code_digest()
    monkeypatch.setattr(_storage, "training_code_digest", lambda: "other code")
    assert _storage.default_study_name("sz", tune, base, prov) != name
