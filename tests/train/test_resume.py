"""Resuming training from its checkpoint: interrupted after some epochs, it ends where an uninterrupted run ends."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from skysieve.config import TrainParams
from skysieve.train import TrainingCheckpoint, TrainingObserver, checkpoint_key, train_ensemble
from tests.train._fixtures import TINY_RECIPE

pytestmark = pytest.mark.slow


class _Interrupted(Exception):
    pass


class _Recorder(TrainingObserver):
    """Records every (fold, step) the engine reports; raises at ``stop_at`` (after the epoch is saved)."""

    def __init__(self, stop_at=None):
        self.seen, self.stop_at = [], stop_at

    def epoch_ended(self, fold, step, logs):
        self.seen.append((fold.index, step))
        if (fold.index, step) == self.stop_at:
            raise _Interrupted(f"stopped after fold {fold.index}, epoch {step}")


def _recipe(tiny_recipe: TrainParams) -> TrainParams:
    # Two curriculum stages of 2 epochs, dropout, warm-up and augmentation: every piece of state a resume restores.
    return tiny_recipe.model_copy(update={
        "epochs": 2,
        "net": tiny_recipe.net.model_copy(update={"dropout": 0.3}),
        "optimizer": tiny_recipe.optimizer.model_copy(update={"warmup_steps": 3}),
        "imbalance": tiny_recipe.imbalance.model_copy(update={"strategy": "curriculum",
                                                              "curriculum_ratios": (1.0, 3.0)}),
        "augment": tiny_recipe.augment.model_copy(update={"fraction": 0.3}),
    })


def _same(a, b):
    """Equal floats, NaN equal to NaN."""
    np.testing.assert_array_equal(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))


@pytest.fixture
def uninterrupted(tiny_cutouts, tmp_path_factory):
    cfg = _recipe(TrainParams.model_validate(TINY_RECIPE))
    return cfg, train_ensemble(cfg, tiny_cutouts, observer=_Recorder())


def test_interrupted_training_resumes_at_the_next_epoch_and_ends_the_same(uninterrupted, tiny_cutouts, tmp_path):
    # Stopped in fold 1 at the first epoch of the second curriculum stage: fold 0 comes back finished,
    # fold 1 goes on across a stage boundary.
    cfg, full = uninterrupted
    stop_at = (1, 2)
    key = checkpoint_key(cfg, data={"data.cutouts.md5": "x"})
    first = _Recorder(stop_at=stop_at)
    with pytest.raises(_Interrupted):
        train_ensemble(cfg, tiny_cutouts, observer=first,
                       checkpoint=TrainingCheckpoint.open(tmp_path / "cnn.ckpt", key=key))
    assert first.seen[-1] == stop_at

    again = _Recorder()
    resumed = train_ensemble(cfg, tiny_cutouts, observer=again,
                             checkpoint=TrainingCheckpoint.open(tmp_path / "cnn.ckpt", key=key))
    fold, step = stop_at
    # Epochs up to the interruption come back from the checkpoint (reported again for the logs), the rest train.
    trained = [r.fit.resumed_epochs for r in resumed.cv.folds]
    assert trained[fold] == step + 1, trained
    assert all(n == len(r.fit.history) for n, r in zip(trained[:fold], resumed.cv.folds[:fold], strict=True))
    assert all(n == 0 for n in trained[fold + 1:])
    assert again.seen == [(f, s) for f, r in enumerate(full.cv.folds) for s in range(len(r.fit.history))]

    # Same histories, scores and metrics, bit for bit, as the uninterrupted run (CPU, seeded).
    for a, b in zip(full.cv.folds, resumed.cv.folds, strict=True):
        assert len(a.fit.history) == len(b.fit.history) and a.fit.best_epoch == b.fit.best_epoch
        for ra, rb in zip(a.fit.history, b.fit.history, strict=True):
            assert ra.keys() == rb.keys()
            _same([ra[k] for k in ra], [rb[k] for k in ra])
        _same(a.oof_scores, b.oof_scores)
        assert a.fit.images == b.fit.images
    _same(full.val_raw, resumed.val_raw)
    assert full.metrics.keys() == resumed.metrics.keys()
    _same(list(full.metrics.values()), [resumed.metrics[k] for k in full.metrics])
    _same(list(full.cv.summary().values()), list(resumed.cv.summary().values()))


def test_a_checkpoint_for_other_params_is_discarded(tiny_recipe, tmp_path):
    path = tmp_path / "cnn.ckpt"
    TrainingCheckpoint.open(path, key=checkpoint_key(tiny_recipe, data={}))
    (path / "fold_0").mkdir()
    other = tiny_recipe.model_copy(update={"epochs": 5})
    reopened = TrainingCheckpoint.open(path, key=checkpoint_key(other, data={}))
    assert reopened.discarded and "other params or data" in reopened.discarded
    assert not (path / "fold_0").exists()
    same = TrainingCheckpoint.open(path, key=checkpoint_key(other, data={}))
    assert same.discarded is None and len(same.read_meta()["runs"]) == 0


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


def test_skysieve_train_killed_mid_run_resumes_from_its_checkpoint(tiny_cutouts, tmp_path, mlflow_db):
    """SIGKILL a real `skysieve train` after its first checkpoint; the next run goes on and cleans up.

    The params leave ``fold_workers`` at its default: on a machine with two or more cores the two folds
    are fitted on worker processes, which must not outlive the killed run (they would go on writing the
    checkpoint the next run resumes).
    """
    import yaml

    params = {"train_sz": {"net": {"name": "resnet_small", "stem_filters": 4, "width": 2, "stages": 2,
                                   "dense_units": 16},
                           "batch_size": 32, "epochs": 2, "k_folds": 2, "splitter": "group_kfold",
                           "norm_sample": 64, "seed": 3, "imbalance": {"strategy": "none"}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_db}
    cmd = [str(Path(sys.executable).with_name("skysieve")), "train", "sz",
           "--data", str(tiny_cutouts.tensor_path.parent), "--out", "models/sz/cnn"]
    ckpt = tmp_path / "models/sz/cnn.ckpt"
    log = tmp_path / "killed.log"  # a file, not a pipe: nobody reads a pipe while we wait, and a full one blocks
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 240
            while not (ckpt / "fold_0" / "LATEST").is_file() and not (ckpt / "fold_0" / "done").is_dir():
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "no checkpoint within 240 s"
                time.sleep(0.05)
            workers = _children(proc.pid)
        finally:
            proc.send_signal(signal.SIGKILL)  # also when the wait failed: leave nothing running
            proc.wait(timeout=60)
    assert ckpt.is_dir()
    if (os.cpu_count() or 1) >= 2:
        assert len(workers) >= 2, workers  # the fold workers (and multiprocessing's resource tracker)
    deadline = time.monotonic() + 30
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if _running(pid)], "fold workers outlived the killed `skysieve train`"

    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "resumed" in out.stdout, out.stdout
    assert not ckpt.exists(), "the checkpoint is removed once the model is saved"
    manifest = json.loads((tmp_path / "models/sz/cnn/ensemble.json").read_text())
    assert len(manifest["models"]) == 2

    import mlflow

    client = mlflow.MlflowClient(mlflow_db)
    runs = client.search_runs([client.get_experiment_by_name("sz").experiment_id],
                              "tags.`skysieve.run_kind` = 'train'")
    by_status = sorted(r.info.status for r in runs)
    assert by_status == ["FINISHED", "KILLED"], by_status
    (done,) = [r for r in runs if r.info.status == "FINISHED"]
    assert int(done.data.tags["skysieve.resumed_epochs"]) >= 1
    assert done.data.tags["skysieve.resumes_run"] == next(r.info.run_id for r in runs if r.info.status == "KILLED")
