import h5py
import numpy as np
import pytest
from astropy.table import Table

from skysieve.config import ValidateParams
from skysieve.data import open_dataset, read_maps, validate_dataset
from skysieve.tasks.sz.cutouts import plan_cutouts, write_cutouts
from skysieve.tasks.sz.params import CutoutsSzParams
from skysieve.tasks.sz.validation import validate_truth_catalogs

LOOSE = ValidateParams(label_rate_min=0.0, label_rate_max=1.0, min_positives=1)
CHANNELS = ("90GHz", "148GHz", "219GHz")


@pytest.fixture
def tiny_dataset(tiny_sky, tmp_path):
    maps = read_maps(sorted(tiny_sky.glob("sky_*.fits"), key=lambda p: float(p.stem[4:-3])))
    cfg = CutoutsSzParams(stride_arcmin=2.0, drop_adjacent_negatives_in_train=False,
                          split={"test_frac": 0.3, "val_frac": 0.3})
    catalog = plan_cutouts(maps.data.shape[1:], maps.wcs, maps.pixel_arcmin, Table.read(tiny_sky / "halos.fits"), cfg)
    return write_cutouts(maps, catalog, tmp_path / "cutouts")


def test_clean_dataset_passes(tiny_dataset, tiny_sky):
    report = validate_dataset(open_dataset(tiny_dataset), LOOSE, expected_channels=CHANNELS, size_px=32)
    validate_truth_catalogs(Table.read(tiny_sky / "halos.fits"), None, report)
    assert report.success, report.to_markdown()
    assert report.n_expectations > 20
    assert report.summary["positives"] >= 2


def test_duplicate_ids_and_nan_pixels_are_reported_with_examples(tiny_dataset, tmp_path):
    catalog = Table.read(tiny_dataset / "catalog.fits")
    dup = int(catalog["id"][1])
    catalog["id"][2] = dup
    catalog.write(tiny_dataset / "catalog.fits", overwrite=True)
    with h5py.File(tiny_dataset / "cutouts.h5", "r+") as h5:
        h5["images"][4, 3, 3, 1] = np.nan
    report = validate_dataset(open_dataset(tiny_dataset), LOOSE)
    assert not report.success
    by_kind = {(f.suite, f.expectation, f.column): f for f in report.failures}
    unique = by_kind[("cutout_catalog", "expect_column_values_to_be_unique", "id")]
    assert unique.unexpected_count == 2 and dup in unique.examples
    nonfinite = by_kind[("cutout_tensor", "expect_column_values_to_be_between", "n_nonfinite")]
    assert nonfinite.unexpected_count == 1 and int(catalog["id"][4]) in nonfinite.examples
    report.write(tmp_path / "report.json")
    text = (tmp_path / "report.md").read_text()
    assert "FAILED" in text and "expect_column_values_to_be_unique" in text


def test_label_rate_band_and_channel_order(tiny_dataset):
    strict = ValidateParams(label_rate_min=0.5, label_rate_max=0.6)
    report = validate_dataset(open_dataset(tiny_dataset), strict, expected_channels=CHANNELS[::-1])
    failed = {(f.expectation, f.column) for f in report.failures}
    assert ("expect_column_mean_to_be_between", "label") in failed
    assert ("expect_column_values_to_be_in_set", "channels") in failed


def test_out_of_range_truth(tiny_sky):
    halos = Table.read(tiny_sky / "halos.fits")
    halos["z"][0] = -1.0
    report = validate_dataset.__globals__["ValidationReport"]()
    validate_truth_catalogs(halos, None, report)
    assert [(f.suite, f.column, f.examples) for f in report.failures] == [("halo_catalog", "z", [0])]
