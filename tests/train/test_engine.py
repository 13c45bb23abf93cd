"""The engine: seeds, curriculum, early stopping, the fold ensemble and its files, overrides."""

import json

import numpy as np
import pytest

from skysieve.config import TrainParams
from skysieve.errors import ConfigError, DataError
from skysieve.train import (
    FoldEnsemble,
    cross_validate,
    fit_model,
    load_trained,
    predict_dataset,
    train_ensemble,
    with_overrides,
)


def test_same_seed_gives_the_same_metrics(tiny_cutouts, tiny_recipe):
    cfg = with_overrides(tiny_recipe, {"splitter": "holdout", "epochs": 1, "augment.fraction": 0.5})
    a = cross_validate(cfg, tiny_cutouts)
    b = cross_validate(cfg, tiny_cutouts)
    assert a.folds[0].metrics == b.folds[0].metrics
    np.testing.assert_array_equal(a.oof_scores, b.oof_scores)


def test_curriculum_trains_one_stage_per_ratio_and_keeps_the_best(tiny_cutouts, tiny_recipe):
    cfg = with_overrides(tiny_recipe, {"imbalance.strategy": "curriculum", "imbalance.curriculum_ratios": [1, 4],
                                       "epochs": 1, "optimizer.name": "sgd", "optimizer.learning_rate": 0.01,
                                       "optimizer.warmup_steps": 2, "optimizer.weight_decay": 0.003})
    seen = []
    fit = fit_model(cfg, tiny_cutouts, fit_rows=tiny_cutouts.indices("train"), val_rows=tiny_cutouts.indices("val"),
                    seed=0, on_epoch=lambda step, logs: seen.append((step, logs["ratio"])))
    assert seen == [(0, 1.0), (1, 4.0)]
    assert [h["stage"] for h in fit.history] == [0.0, 1.0]
    best = max(range(2), key=lambda i: fit.history[i]["val_pr_auc"])
    assert fit.best_epoch == best
    assert fit.val_scores.shape == tiny_cutouts.indices("val").shape


def test_early_stopping_stops_when_validation_loss_stalls(tiny_cutouts, tiny_recipe):
    cfg = with_overrides(tiny_recipe, {"epochs": 8, "schedule.early_stopping_patience": 1,
                                       "optimizer.learning_rate": 0.5, "optimizer.name": "sgd"})
    fit = fit_model(cfg, tiny_cutouts, fit_rows=tiny_cutouts.indices("train"), val_rows=tiny_cutouts.indices("val"),
                    seed=0)
    losses = [h["val_loss"] for h in fit.history]
    assert len(losses) < 8
    assert fit.best_epoch == int(np.argmin(losses))


def test_no_validation_rows_is_a_data_error(tiny_cutouts, tiny_recipe):
    with pytest.raises(DataError, match="no rows with split == 'val'"):
        fit_model(tiny_recipe, tiny_cutouts, fit_rows=tiny_cutouts.indices("train"), val_rows=np.array([], int), seed=0)


def test_fold_ensemble_saves_loads_and_predicts(tiny_cutouts, tiny_recipe, tmp_path):
    result = train_ensemble(tiny_recipe, tiny_cutouts)
    ens = result.ensemble
    assert len(ens.models) == 2 and ens.calibrator is not None
    assert result.cv.oof_rows.size == tiny_cutouts.indices("train").size
    assert result.metrics["val_log_loss"] <= result.metrics["val_log_loss_raw"] + 1e-9
    ens.metadata["task"] = "sz"
    ens.save(tmp_path / "cnn")
    assert sorted(p.name for p in (tmp_path / "cnn").iterdir()) == [
        "calibration.json", "ensemble.json", "fold_0.keras", "fold_1.keras"]
    assert json.loads((tmp_path / "cnn" / "calibration.json").read_text())["method"] == "platt"
    loaded = load_trained(tmp_path / "cnn")
    assert isinstance(loaded, FoldEnsemble) and loaded.metadata["task"] == "sz"
    rows = tiny_cutouts.indices("test")
    p = predict_dataset(loaded, tiny_cutouts, rows, batch_size=7)
    assert p.shape == rows.shape
    np.testing.assert_allclose(p, ens.predict_proba(tiny_cutouts.read(rows)), rtol=1e-5)
    raw = predict_dataset(loaded, tiny_cutouts, rows, raw=True)
    np.testing.assert_allclose(p, loaded.calibrator.predict_proba(raw), rtol=1e-5)


def test_overrides_set_dotted_keys_and_switch_architecture(tiny_recipe):
    cfg = with_overrides(tiny_recipe, {"optimizer.learning_rate": 0.01, "net.width": 4, "batch_size": 8})
    assert (cfg.optimizer.learning_rate, cfg.net.width, cfg.batch_size) == (0.01, 4, 8)
    vgg = with_overrides(tiny_recipe, {"net.filters": 8, "net.name": "vgg", "net.width": 4})
    assert vgg.net.name == "vgg" and vgg.net.filters == 8  # net.width: not a vgg key, ignored
    with pytest.raises(ConfigError, match=r"best.json: unknown train key 'optimizer.lr'"):
        with_overrides(tiny_recipe, {"optimizer.lr": 0.1}, source="best.json")
    with pytest.raises(ConfigError, match=r"best.json: invalid train params .*batch_size.*got 0"):
        with_overrides(tiny_recipe, {"batch_size": 0}, source="best.json")


def test_train_section_rejects_bad_values():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="curriculum_ratios must all be > 0"):
        TrainParams.model_validate({"imbalance": {"curriculum_ratios": [1, -2]}})
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        TrainParams.model_validate({"net": {"name": "alexnet"}})
