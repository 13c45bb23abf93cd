"""``train_<task>.monitor``: a search's validation metric drives early stopping, the plateau and the epoch kept."""

import numpy as np
import pytest
from pydantic import ValidationError

from skysieve.config import TrainParams
from skysieve.errors import ConfigError
from skysieve.train import fit_model, with_overrides
from skysieve.train._callbacks import search_metric
from skysieve.train._metrics import binary_log_loss
from tests.conftest import searches_from

#: The per-epoch record of the default monitor, as it was before searches could supply one.
_DEFAULT_KEYS = {"loss", "val_loss", "val_log_loss", "val_pr_auc", "val_roc_auc", "val_f1", "learning_rate", "ratio",
                 "stage"}


@pytest.fixture
def probe(monkeypatch):
    with searches_from(monkeypatch, "tests.train._probe:search"):
        yield


def _same_records(a: dict, b: dict, keys=None) -> None:
    """Equal values for ``keys`` (default: all of ``a``'s), bit for bit, NaN equal to NaN."""
    keys = list(a) if keys is None else list(keys)
    np.testing.assert_array_equal(np.array([a[k] for k in keys], float), np.array([b[k] for k in keys], float))


def _fit(cfg, ds, **overrides):
    cfg = with_overrides(cfg, overrides)
    return cfg, fit_model(cfg, ds, fit_rows=ds.indices("train"), val_rows=ds.indices("val"), seed=0)


def _recipe(tiny_recipe, **extra):
    # SGD at a high rate: the validation log-loss moves from epoch to epoch, so selections can differ
    return with_overrides(tiny_recipe, {"splitter": "holdout", "optimizer.name": "sgd", "optimizer.learning_rate": 0.5,
                                        **extra})


def test_default_monitor_and_an_agreeing_search_metric_train_identically(tiny_cutouts, tiny_recipe, probe):
    cfg = _recipe(tiny_recipe, **{"epochs": 5, "schedule.reduce_lr_patience": 1, "schedule.early_stopping_patience": 2})
    _, default = _fit(cfg, tiny_cutouts)
    _, hooked = _fit(cfg, tiny_cutouts, monitor="probe.neg_log_loss")
    assert all(set(h) == _DEFAULT_KEYS for h in default.history)  # the default record is unchanged
    # minus the log-loss selects as the log-loss does: same epochs, learning rates, stop, kept weights, bit for bit
    assert len(hooked.history) == len(default.history) and hooked.best_epoch == default.best_epoch
    for d, h in zip(default.history, hooked.history, strict=True):
        _same_records(d, h)
        assert h["val_neg_log_loss"] == -d["val_log_loss"]
    np.testing.assert_array_equal(hooked.val_scores, default.val_scores)
    for a, b in zip(default.model.get_weights(), hooked.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def _plateau_rates(metric, *, lr0, patience, factor, min_delta=1e-4):
    """Learning rate of each epoch under Keras' ReduceLROnPlateau in 'max' mode (no cooldown) following ``metric``."""
    rates, lr, best, wait = [], lr0, -np.inf, 0
    for m in metric:
        rates.append(lr)
        if m > best + min_delta:
            best, wait = m, 0
        else:
            wait += 1
            if wait >= patience:
                lr, wait = lr * factor, 0
    return rates


def _stop_length(metric, *, patience, epochs):
    best, wait = -np.inf, 0
    for i, m in enumerate(metric):
        best, wait = (m, 0) if m > best else (best, wait + 1)
        if wait >= patience:
            return i + 1
    return epochs


def test_a_disagreeing_search_metric_picks_stops_and_schedules_by_itself(tiny_cutouts, tiny_recipe, probe):
    cfg = _recipe(tiny_recipe, **{"epochs": 6, "schedule.reduce_lr_patience": 1, "schedule.early_stopping_patience": 3})
    cfg, fit = _fit(cfg, tiny_cutouts, monitor="probe.log_loss_up")
    hist = fit.history
    up = [h["val_log_loss_up"] for h in hist]
    y_val = tiny_cutouts.labels[tiny_cutouts.indices("val")]
    # the monitored values are the metric: here the validation log-loss, recomputed by the engine itself
    assert up == [h["val_log_loss"] for h in hist]
    assert fit.best_epoch == int(np.argmax(up)) != int(np.argmin(up))  # the default would have kept another epoch
    assert binary_log_loss(y_val, fit.val_scores) == pytest.approx(hist[fit.best_epoch]["val_log_loss"], rel=1e-6)
    assert len(hist) == _stop_length(up, patience=3, epochs=cfg.epochs)
    assert [h["learning_rate"] for h in hist] == pytest.approx(
        _plateau_rates(up, lr0=0.5, patience=1, factor=cfg.schedule.reduce_lr_factor), rel=1e-6)


def test_monitor_names_are_checked_with_the_fix(probe):
    assert search_metric("val_loss") is None
    name, fn = search_metric("probe.log_loss_up")
    assert name == "log_loss_up" and fn.__qualname__ == "log_loss_score"
    with pytest.raises(ConfigError, match=r"offers no validation metric 'nope' \(offered: probe.neg_log_loss, "
                                          r"probe.log_loss_up.*\); set train_<task>.monitor"):
        search_metric("probe.nope")
    with pytest.raises(ConfigError, match=r"no search named 'nosuch'"):
        search_metric("nosuch.metric")
    with pytest.raises(ConfigError, match=r"'f1' is one of the engine's own validation metrics"):
        search_metric("probe.f1")
    with pytest.raises(ConfigError, match=r"'gone' = 'tests.train._probe:no_such_function' cannot be loaded"):
        search_metric("probe.gone")
    with pytest.raises(ValidationError, match="monitor"):
        TrainParams(monitor="val_f1")


def test_a_fit_resumed_under_a_search_metric_ends_as_the_uninterrupted_one(tiny_cutouts, tiny_recipe, probe,
                                                                           tmp_path):
    # the checkpoint keeps the search metric's best (negated) and the plateau's 'max'-mode counters
    from skysieve.train import FoldCheckpoint

    cfg = _recipe(tiny_recipe, **{"epochs": 5, "schedule.reduce_lr_patience": 1,
                                  "schedule.early_stopping_patience": 4, "monitor": "probe.log_loss_up"})
    rows = {"fit_rows": tiny_cutouts.indices("train"), "val_rows": tiny_cutouts.indices("val"), "seed": 0}
    full = fit_model(cfg, tiny_cutouts, **rows)

    class Interrupted(Exception):
        pass

    def stop(step, logs):
        if step == 2:
            raise Interrupted

    ckpt = FoldCheckpoint(tmp_path / "fold_0")
    with pytest.raises(Interrupted):
        fit_model(cfg, tiny_cutouts, on_epoch=stop, checkpoint=ckpt, **rows)
    resumed = fit_model(cfg, tiny_cutouts, checkpoint=ckpt, **rows)
    assert resumed.resumed_epochs == 3 and resumed.best_epoch == full.best_epoch
    assert [set(h) for h in resumed.history] == [set(h) for h in full.history]
    for a, b in zip(full.history, resumed.history, strict=True):
        _same_records(a, b)
    np.testing.assert_array_equal(resumed.val_scores, full.val_scores)
