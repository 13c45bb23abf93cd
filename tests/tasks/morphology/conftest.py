"""Tiny seeded fixtures of the morphology search: a 3-band target survey, a few dozen stamps."""

import pytest

from skysieve.tasks import TASKS_ENV, reset_searches

TINY = {
    "simulate_morphology": {
        "source": {"n": 60},
        "target": {"n_galaxies": 12, "labelled_per_band": 10, "neighbours_mean": 0.5,
                   "bands": [{"name": "F435W", "wavelength_um": 0.43, "psf_fwhm_arcsec": 0.1,
                              "pixel_scale_arcsec": 0.05, "depth_mag": 26.6},
                             {"name": "F814W", "wavelength_um": 0.81, "psf_fwhm_arcsec": 0.1,
                              "pixel_scale_arcsec": 0.05, "depth_mag": 27.0},
                             {"name": "F160W", "wavelength_um": 1.54, "psf_fwhm_arcsec": 0.16,
                              "pixel_scale_arcsec": 0.065, "depth_mag": 26.9}]},
        "re_range_arcsec": [0.12, 0.4], "stamp_px": 40, "val_frac": 0.25, "test_frac": 0.25,
        "class_fractions": [0.2, 0.2, 0.2, 0.2, 0.2]},
    "pretrain_morphology": {"net": {"width": 0.0625, "dense_units": 8}, "epochs": 1, "batch_size": 16,
                            "augment": {"shift_px": 2}},
    "finetune_morphology": {"epochs": 1, "n_trials": 2, "depth_choices": [0, 8]},
    "experiments_morphology": {"sizes": [5, 10, 15], "repeats": 2, "frozen_depths": [0, 8], "depth_repeats": 1,
                               "depth_size": 0, "epochs": 1, "min_steps": 0},
    "evaluate_morphology": {"n_bootstrap": 20},
}


@pytest.fixture
def morphology_search(monkeypatch):
    """The morphology search registered, whether or not the checkout's entry points are installed."""
    from skysieve.tasks import searches

    reset_searches()
    if "morphology" not in searches():
        monkeypatch.setenv(TASKS_ENV, "skysieve.tasks.morphology:search")
        reset_searches()
    yield searches()["morphology"]
    monkeypatch.delenv(TASKS_ENV, raising=False)
    reset_searches()
