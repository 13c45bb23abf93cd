"""Fixtures for the training-engine tests: a 200-cutout 16×16×3 dataset and a tiny recipe."""

import pytest

from skysieve.config import TrainParams
from tests.train._fixtures import TINY_RECIPE, write_tiny_dataset


@pytest.fixture(scope="session")
def tiny_cutouts(tmp_path_factory):
    """A :class:`CutoutDataset` of 200 cutouts with a planted signal in the ~20 % positives."""
    from skysieve.data.dataset import open_dataset

    return open_dataset(write_tiny_dataset(tmp_path_factory.mktemp("cutouts") / "cutouts"))


@pytest.fixture
def tiny_recipe() -> TrainParams:
    """A tiny, fast ``train`` section: small ResNet, 2 folds, 2 epochs."""
    return TrainParams.model_validate(TINY_RECIPE)
