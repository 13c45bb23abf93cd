"""Lens cutout datasets: grouped stratified splits, channel selection, validation suites."""

import h5py
import numpy as np
import pytest

from skysieve.config import CosmologyParams, ValidateParams
from skysieve.data import ValidationReport, open_dataset, validate_dataset
from skysieve.data.dataset import IMAGES_KEY
from skysieve.errors import ConfigError, DataError
from skysieve.tasks.lens.cutouts import assign_lens_splits, make_lens_cutouts
from skysieve.tasks.lens.params import CutoutsLensParams, LensSplitParams, SimulateLensParams
from skysieve.tasks.lens.sim import write_lens_simulation
from skysieve.tasks.lens.validation import validate_lens_catalog


def test_splits_keep_groups_together_and_follow_the_fractions():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(600), rng.integers(1, 3, 600))  # singles and pairs (lens + twin)
    labels = np.zeros(groups.size, dtype=int)
    first = np.r_[True, groups[1:] != groups[:-1]]
    labels[first] = rng.uniform(size=first.sum()) < 0.67
    split = assign_lens_splits(labels, groups, LensSplitParams(val_frac=0.1, test_frac=0.2), seed=1)
    for g in np.unique(groups):
        assert np.unique(split[groups == g]).size == 1
    for name, frac in (("test", 0.2), ("val", 0.1), ("train", 0.7)):
        assert np.mean(split == name) == pytest.approx(frac, abs=0.02)
        assert labels[split == name].mean() == pytest.approx(labels.mean(), abs=0.05)  # stratified
    again = assign_lens_splits(labels, groups, LensSplitParams(val_frac=0.1, test_frac=0.2), seed=1)
    np.testing.assert_array_equal(split, again)


@pytest.fixture(scope="module")
def lens_sim(tmp_path_factory):
    cfg = SimulateLensParams(n_cutouts=24, size_px=24, supersampling=2, seed=4)
    out = tmp_path_factory.mktemp("lens") / "sim"
    truth = write_lens_simulation(cfg, CosmologyParams(), out, seed=cfg.seed)
    return cfg, out, truth


def test_cutouts_select_channels_and_pass_validation(lens_sim, tmp_path):
    cfg, sim, truth = lens_sim
    cut = CutoutsLensParams(channels=("F814W", "F435W"), split=LensSplitParams(val_frac=0.25, test_frac=0.25))
    catalog = make_lens_cutouts(sim, tmp_path / "cutouts", cut)
    ds = open_dataset(tmp_path / "cutouts")
    assert ds.channels == ("F814W", "F435W") and ds.shape == (24, 24, 24, 2)
    assert catalog.colnames[:6] == ["id", "ra", "dec", "label", "split", "group"]
    with h5py.File(sim / "stamps.h5") as h5:
        np.testing.assert_array_equal(ds.read([3, 1])[..., 1], h5[IMAGES_KEY][[1, 3]][::-1][..., 0])
    report = validate_dataset(ds, ValidateParams(label_rate_min=0.5, label_rate_max=0.8, max_abs_pixel_uk=1e4),
                              expected_channels=("F814W", "F435W"), size_px=24)
    validate_lens_catalog(ds.catalog, report, theta_e_range_arcsec=cfg.members.theta_e_range_arcsec,
                          src_mag_max=29.0, dz_min=0.4)
    assert report.success, report.to_markdown()
    assert report.n_expectations > 40


def test_lens_suite_flags_a_positive_without_images(lens_sim, tmp_path):
    cfg, sim, _ = lens_sim
    catalog = make_lens_cutouts(sim, tmp_path / "cutouts", CutoutsLensParams())
    bad = catalog.copy()
    k = int(np.flatnonzero(np.asarray(bad["label"]) == 1)[0])
    bad["n_images_in_cutout"][k] = 0
    bad["theta_e_arcsec"][k] = 5.0
    report = ValidationReport()
    validate_lens_catalog(bad, report, theta_e_range_arcsec=(0.2, 3.5), src_mag_max=29.0, dz_min=0.4,
                          max_label_rate_gap=1.0)
    failed = {(f.suite, f.column) for f in report.failures}
    assert failed == {("lens_positives", "n_images_in_cutout"), ("lens_positives", "theta_e_arcsec")}
    assert all(int(bad["id"][k]) in f.examples for f in report.failures)
    # A twin moved away from its lens's split is caught.
    twin = int(np.flatnonzero(np.char.strip(np.asarray(catalog["kind"]).astype(str)) == "twin")[0])
    split = catalog.copy()
    split["split"][twin] = "test" if split["split"][twin].strip() != "test" else "train"
    report = ValidationReport()
    validate_lens_catalog(split, report, theta_e_range_arcsec=(0.2, 3.5), src_mag_max=29.0, dz_min=0.4,
                          max_label_rate_gap=1.0)
    assert [(f.suite, f.examples) for f in report.failures] == [("lens_splits", [int(catalog["group"][twin])])]


def test_cutouts_errors_name_the_fix(lens_sim, tmp_path):
    _, sim, _ = lens_sim
    with pytest.raises(ConfigError, match=r"cutouts_lens.channels: \['F160W'\] not in the simulated bands"):
        make_lens_cutouts(sim, tmp_path / "c", CutoutsLensParams(channels=("F160W",)))
    with pytest.raises(DataError, match=r"run `skysieve simulate lens --out"):
        make_lens_cutouts(tmp_path / "nowhere", tmp_path / "c", CutoutsLensParams())
    assert not (tmp_path / "c").exists()
