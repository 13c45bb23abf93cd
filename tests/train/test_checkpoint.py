"""Two processes writing one training checkpoint never write into each other's temporary files."""

import threading

import numpy as np

from skysieve.train import TrainingCheckpoint
from skysieve.train._checkpoint import EpochState


def _model(seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def _writer(ckpt_dir, writer: int, model, rounds: int, barrier: threading.Barrier, errors: list) -> None:
    barrier.wait()
    try:
        for i in range(rounds):
            ckpt = TrainingCheckpoint.open(ckpt_dir, key="k", info={"writer": writer, "round": i})
            fold = ckpt.fold(0)
            state = EpochState(stage=0, epoch=i, stage_done=False, history=[{"loss": float(writer)}] * (i + 1),
                               stage_start=0, best_loss=float(writer), best_index=0, wait=0,
                               best_weights=model.get_weights())
            fold.save_epoch(model, state)
            fold.save_done(model, history=state.history, best_epoch=0, val_scores=np.full(3, float(writer)),
                           images=writer, train_seconds=0.0, resumed_epochs=0)
    except BaseException as exc:  # noqa: BLE001 - collected for the assertion in the main thread
        errors.append(exc)


def test_two_writers_of_one_checkpoint_do_not_collide(tmp_path):
    ckpt_dir, rounds = tmp_path / "cnn.ckpt", 6
    models = [_model(0), _model(1)]
    TrainingCheckpoint.open(ckpt_dir, key="k")  # both writers resume it (two processes opening a new one at once
    # may both see no checkpoint.json yet; that race is TrainingCheckpoint.open's, not the writes')
    barrier, errors = threading.Barrier(2), []
    threads = [threading.Thread(target=_writer, args=(ckpt_dir, w, models[w], rounds, barrier, errors))
               for w in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

    done = TrainingCheckpoint(ckpt_dir, key="k").fold(0).load_done()
    writer = done["images"]  # the last writer to finish: its record, scores and model, not a mix
    assert writer in (0, 1)
    np.testing.assert_array_equal(done["val_scores"], np.full(3, float(writer)))
    assert {h["loss"] for h in done["history"]} == {float(writer)}
    for got, want in zip(done["model"].get_weights(), models[writer].get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    meta = TrainingCheckpoint(ckpt_dir, key="k").read_meta()
    assert meta["key"] == "k" and meta["runs"]
    leftovers = [p.name for p in ckpt_dir.rglob(".*")]
    assert leftovers == []  # every temporary file and directory was renamed into place or removed
