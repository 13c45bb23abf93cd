"""Transfer fits reproduce: the same params give the same network, in this process and in another one."""

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from skysieve.tasks.morphology.params import PretrainMorphologyParams
from skysieve.tasks.morphology.transfer import Split, from_scratch, predict, pretrain

CFG = {"net": {"width": 0.0625, "dense_units": 8}, "epochs": 2, "batch_size": 8, "patience": 2,
       "augment": {"shift_px": 2}, "seed": 11}


def _split(n: int, seed: int) -> Split:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, 40, 40, 1)).astype("float32")
    y = rng.dirichlet(np.ones(5), n).astype("float32")
    return Split(x, y, np.arange(n))


def _digest() -> str:
    """Pre-train the tiny Table 1 net (dropout on, augmentation on) and hash its weights and predictions."""
    cfg = PretrainMorphologyParams.model_validate(CFG)
    train, val = _split(24, 0), _split(8, 1)
    fit = pretrain(cfg, train, val)
    h = hashlib.sha256()
    for w in fit.model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    h.update(predict(fit.model, val).tobytes())
    return h.hexdigest()


def test_pretrain_twice_in_one_process_gives_the_same_weights_and_predictions():
    first = _digest()
    # a fit with another seed in between must not shift the next one (dropout generators, Python's random)
    cfg = PretrainMorphologyParams.model_validate(CFG)
    from_scratch(cfg, _split(16, 5), _split(8, 6), epochs=1, seed=99, patience=1)
    assert _digest() == first


@pytest.mark.slow
def test_pretrain_in_a_fresh_process_gives_the_same_weights_as_here():
    here = _digest()
    src = os.path.join(os.path.dirname(__file__))
    code = f"import sys; sys.path.insert(0, {src!r}); import test_transfer; print(test_transfer._digest())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONHASHSEED": "123"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == here
