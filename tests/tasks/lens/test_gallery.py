"""Galleries of the worst false positives and false negatives (tasks/lens/_gallery.py)."""

import numpy as np
import pytest
from astropy.table import Table

from skysieve.config import CosmologyParams
from skysieve.data import open_dataset
from skysieve.tasks.lens._gallery import composite, gallery_titles, worst_errors, write_error_galleries
from skysieve.tasks.lens.cutouts import make_lens_cutouts
from skysieve.tasks.lens.params import CutoutsLensParams, SimulateLensParams
from skysieve.tasks.lens.sim import write_lens_simulation


def test_worst_errors_are_the_most_confident_mistakes():
    y = np.array([1, 1, 1, 0, 0, 0, 1, 0])
    s = np.array([0.9, 0.1, 0.3, 0.95, 0.2, 0.7, 0.05, 0.6])
    picks = worst_errors(y, s, threshold=0.5, n=2)
    assert picks["false_positive"].tolist() == [3, 5]  # highest-scored non-lenses first
    assert picks["false_negative"].tolist() == [6, 1]  # lowest-scored lenses first
    assert worst_errors(y, s, threshold=0.0, n=5)["false_negative"].size == 0


def test_composite_is_an_rgb_image_in_the_unit_range_with_red_the_reddest_band():
    cutout = np.random.default_rng(0).normal(0, 1, (24, 24, 3))
    cutout[10:14, 10:14, 2] += 50  # red in the last (reddest) band
    rgb = composite(cutout)
    assert rgb.shape == (24, 24, 3) and rgb.min() >= 0 and rgb.max() <= 1
    assert rgb[12, 12, 0] > rgb[12, 12, 2]
    assert composite(cutout[..., :1]).shape == (24, 24, 3)


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("gallery")
    cfg = SimulateLensParams.model_validate({"n_cutouts": 6, "size_px": 32, "supersampling": 2, "seed": 8,
                                             "neighbours": {"mean_count": 0.0}})
    write_lens_simulation(cfg, CosmologyParams(), root / "sim", seed=cfg.seed, workers=0)  # in-process
    make_lens_cutouts(root / "sim", root / "cutouts", CutoutsLensParams(split={"val_frac": 0.0, "test_frac": 0.0}))
    return open_dataset(root / "cutouts"), root


def test_galleries_show_the_truth_of_each_error(tiny_dataset):
    dataset, root = tiny_dataset
    catalog = dataset.catalog
    y = np.asarray(catalog["label"])
    scores = Table({"id": catalog["id"], "label": y, "split": np.full(len(y), "test"),
                    "cnn_prob": np.where(y == 1, 0.2, 0.8) + np.linspace(0, 0.1, len(y))})  # every cutout wrong
    files = write_error_galleries(dataset, scores, threshold=0.5, n=3, out_dir=root / "report")
    assert set(files) == {"false_positives_test", "false_negatives_test"}
    for path in files.values():
        assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lenses = np.flatnonzero(y == 1)[:2]
    titles = gallery_titles(catalog[lenses], np.array([0.1, 0.2]))
    row = catalog[lenses[0]]
    assert f"θE={row['theta_e_arcsec']:.2f}″" in titles[0] and f"SNR={row['arc_snr']:.1f}" in titles[0]
    assert f"src={row['src_mag_f814w']:.1f}" in titles[0] and "p=0.10" in titles[0]
    non_lens = gallery_titles(catalog[np.flatnonzero(y == 0)[:1]], np.array([0.9]))[0]
    assert "lens F814W=" in non_lens and "θE" not in non_lens
