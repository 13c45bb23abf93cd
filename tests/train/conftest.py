"""Fixtures for the training-engine tests: a 200-cutout 16×16×3 dataset and a tiny recipe."""

import pytest

from skysieve.config import TrainParams
from tests.train._fixtures import write_tiny_dataset


@pytest.fixture(scope="session")
def tiny_cutouts(tmp_path_factory):
    """A :class:`CutoutDataset` of 200 cutouts with a planted signal in the ~20 % positives."""
    from skysieve.data.dataset import open_dataset

    return open_dataset(write_tiny_dataset(tmp_path_factory.mktemp("cutouts") / "cutouts"))


@pytest.fixture
def tiny_recipe() -> TrainParams:
    """A tiny, fast ``train`` section: small ResNet, 2 folds, 2 epochs."""
    return TrainParams.model_validate({
        "net": {"name": "resnet_small", "stem_filters": 4, "width": 2, "stages": 2, "dense_units": 16},
        "optimizer": {"name": "adam", "learning_rate": 3e-3},
        "batch_size": 32, "eval_batch_size": 64, "epochs": 2, "k_folds": 2, "splitter": "group_kfold",
        "norm_sample": 64, "seed": 3, "experiment": "test",
    })
