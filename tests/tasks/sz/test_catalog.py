"""make_catalog end to end on a tiny sky with a real registry: found, merged, traced, scored against truth."""

import hashlib

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from skysieve.catalog import write_catalog
from skysieve.errors import DataError, RegistryError
from skysieve.tasks.sz.catalog import THRESHOLD_KEYS, make_catalog
from tests.catalog.conftest import CLUSTER_XY, ENSEMBLE, THRESHOLDS, paint_sky, truth_table

METHODS = ("mf", "cnn", "and", "rank_product")


def _sep_arcmin(table, wcs, xy):
    ra, dec = wcs.wcs_pix2world([xy], 0)[0]
    return np.degrees(np.arccos(np.clip(
        np.sin(np.radians(dec)) * np.sin(np.radians(table["dec"]))
        + np.cos(np.radians(dec)) * np.cos(np.radians(table["dec"])) * np.cos(np.radians(table["ra"] - ra)),
        -1, 1))) * 60


def test_the_planted_cluster_is_found_by_every_method(catalog_result, sky_wcs):
    t = catalog_result.table
    sep = _sep_arcmin(t, sky_wcs, CLUSTER_XY)
    (row,) = np.flatnonzero(sep < 1.0)
    assert sep[row] < 0.25  # the position is the MF detection's
    assert t["mf_detected"][row] and t["mf_snr"][row] > 8
    assert t["cnn_prob"][row] > 0.9
    assert all(t[f"decision_{m}"][row] for m in METHODS)
    assert {"ra", "dec", "cnn_prob", "mf_snr", "rank_product", "tile_id", *(f"decision_{m}" for m in METHODS)} <= set(
        t.colnames)


def test_overlapping_tiles_that_fire_on_one_cluster_merge_into_one_candidate(catalog_result):
    s, t = catalog_result.summary, catalog_result.table
    # several overlapping tiles fire on the cluster for every method (the MF detection is central in 2 × 2
    # tiles, the CNN sees the decrement in more) — and the bright radio source leaves no false candidates
    assert s["n_positive_tiles"]["mf"] >= 4 and s["n_positive_tiles"]["cnn"] >= 4
    assert len(t) == 1 and s["n_candidates"] == 1
    assert t["n_tiles"][0] >= s["n_positive_tiles"]["cnn"]
    assert s["n_sources_treated"] >= 1  # the source was found and subtracted, not taken for a cluster


def test_header_traces_the_model_maps_and_code(catalog_result, registry, sky_files, tmp_path):
    out = write_catalog(catalog_result, tmp_path / "cat.fits")
    header = fits.getheader(out, 1)
    assert header["MODEL"] == ENSEMBLE and header["MODELVER"] == registry["version"]
    assert header["RUNID"] == registry["run_id"] and header["MODALIAS"] == "candidate"
    assert header["CNNURI"] == f"models:/test-sz-cnn/{registry['cnn_version']}"
    for key, value in THRESHOLDS.items():
        assert header[THRESHOLD_KEYS[key]] == value
    for i, path in enumerate(sky_files, start=1):
        assert header[f"SHA256_{i}"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert header[f"MAP{i}"] == path.name
    assert [header[f"BAND{i}"] for i in (1, 2, 3)] == ["90GHz", "148GHz", "219GHz"]
    assert header["SKYSVER"] and (len(header["GITCOMM"]) == 40 or header["GITCOMM"] == "unknown")
    assert header["MODGIT"] == "c0ffee" and header["DATAHASH"] == "feedbeef.dir"
    assert (header["TILE_PX"], header["CENT_PX"], header["STRIDEPX"]) == (16, 12, 6)
    back = Table.read(out)
    assert len(back) == 1 and back["decision_and"].dtype == bool
    assert back["ra"].unit == "deg"


def test_truth_metrics_hand_checked(catalog_result):
    """True objects: the planted cluster and a massive halo with no signal (the others fail the mass or
    redshift cut or sit outside the footprint). One candidate, on the cluster: TP 1, FP 0, FN 1."""
    assert catalog_result.summary["n_true"] == 2
    for m in METHODS:
        c = catalog_result.truth[m]
        assert (c.tp, c.fp, c.fn) == (1, 0, 1)
        assert (c.purity, c.completeness) == (1.0, 0.5) and c.f1 == pytest.approx(2 / 3)
    assert catalog_result.table["truth_id"].tolist() == [10]


def test_map_order_does_not_matter_and_stride_is_an_option(sky_files, loaded_model, catalog_result):
    t = make_catalog(sky_files[::-1], model=loaded_model, stride_arcmin=3.0).table
    assert t.meta["STRIDEPX"] == 12 and t.meta["NTILES"] < catalog_result.table.meta["NTILES"]
    assert [t.meta[f"BAND{i}"] for i in (1, 2, 3)] == ["90GHz", "148GHz", "219GHz"]
    assert len(t) == 1 and abs(t["ra"][0] - catalog_result.table["ra"][0]) < 1e-9


class _SpyCnn:
    """The real CNN, recording the batches it is given."""

    def __init__(self, cnn):
        self.cnn, self.sizes = cnn, []
        self.channels, self.input_shape = cnn.channels, cnn.input_shape

    def predict_proba(self, x):
        self.sizes.append(x.shape[0])
        return self.cnn.predict_proba(x)


def test_tiles_are_scored_in_streamed_batches(sky_files, loaded_model):
    import copy

    model = copy.copy(loaded_model)
    model.cnn = _SpyCnn(loaded_model.cnn)
    result = make_catalog(sky_files, model=model, batch_size=100)
    n = result.summary["n_tiles"]
    assert model.cnn.sizes == [100] * (n // 100) + ([n % 100] if n % 100 else [])
    assert len(result.table) == 1


def test_the_model_is_resolved_before_any_map_is_read(registry, tmp_path):
    with pytest.raises(RegistryError, match="no registered model named 'nope'"):
        make_catalog([tmp_path / "missing.fits"], model="models:/nope@champion")
    with pytest.raises(RegistryError, match="has no alias 'champion'"):
        make_catalog([tmp_path / "missing.fits"], model=f"models:/{ENSEMBLE}@champion")


def test_maps_with_other_bands_are_refused_naming_them(sky_files, loaded_model):
    with pytest.raises(DataError, match=r"bands \['90GHz', '148GHz'\] but model 'test-sz-ensemble' v1 was trained "
                                        r"on \['90GHz', '148GHz', '219GHz'\]"):
        make_catalog(sky_files[:2], model=loaded_model)


def test_maps_with_another_pixel_size_are_refused(tmp_path, loaded_model):
    from tests.conftest import make_car_wcs

    files = paint_sky(tmp_path / "coarse", shape=(96, 96), cluster_xy=(50.0, 50.0), source_xy=None,
                      wcs=make_car_wcs((96, 96), pixel_arcmin=0.5))
    with pytest.raises(DataError, match="pixels of 0.5′ but model 'test-sz-ensemble' v1 was trained on 0.25′"):
        make_catalog(files, model=loaded_model)


def test_truth_without_needed_columns_is_refused_before_work(sky_files, loaded_model, sky_wcs):
    bad = truth_table(sky_wcs)
    bad.remove_column("mvir")
    with pytest.raises(DataError, match=r"missing columns \['mvir'\]"):
        make_catalog(sky_files, model=loaded_model, truth=bad)


def test_a_sky_without_clusters_gives_an_empty_catalog_that_still_writes(tmp_path, loaded_model, sky_wcs):
    files = paint_sky(tmp_path / "empty", y_arcmin2=0.0, source_xy=None, seed=11)
    result = make_catalog(files, model=loaded_model, truth=truth_table(sky_wcs), progress=True)
    assert len(result.table) == 0 and result.summary["n_positive_tiles"]["cnn"] == 0
    assert result.truth["mf"].fn == 2 and result.truth["mf"].tp == 0 and result.truth["mf"].purity == 0.0
    out = write_catalog(result, tmp_path / "empty.fits")
    back = Table.read(out)
    assert len(back) == 0 and "decision_rank_product" in back.colnames and back.meta["NCAND"] == 0



def test_a_second_detection_in_a_kept_tile_gets_a_row_of_its_own(loaded_model):
    """A tile scores its best detection; another in its central region becomes a row (tile's CNN, its SNR).

    Rows no method calls positive are dropped: the registered thresholds are MF 5, CNN 0.5, AND 0.5 / 5,
    rank product 0.8 (``tests/catalog/conftest.py``).
    """
    from skysieve.tasks.sz._catalog_mf import TileMf
    from skysieve.tasks.sz.catalog import _with_extra

    detections = Table({"snr": [30.0, 9.0, 4.2, 7.0, 8.0], "x": [10.0, 14.0, 12.0, 60.0, 20.0],
                        "y": [10.0, 10.0, 13.0, 60.0, 20.0]})
    best = np.full((4, 4), -1, np.int32)
    best.flat[5], best.flat[11] = 0, 4  # detection 4 is tile 11's best (tile 11 not kept: scored no positive)
    mf = TileMf(central_max=np.zeros((4, 4), np.float32), best_detection=best,
                detections=detections, sources=Table(), n_blocks=1, n_sources_treated=0, snr_threshold=4.0,
                extra=np.array([[5, 1], [5, 2], [9, 3], [6, 4]], np.int64))
    ids, cnn, snr, det = np.array([5, 6]), np.array([0.2, 0.9]), np.array([30.0, 3.0]), np.array([0, -1])
    out_ids, out_cnn, out_snr, out_det = _with_extra(ids, cnn, snr, det, mf=mf, model=loaded_model)
    # detection 1 (SNR 9 ≥ 5: MF-positive) joins as tile 5's; detection 2 (SNR 4.2, CNN 0.2) is positive
    # for no method; detection 3's tile 9 was not kept; detection 4 is tile 11's best, scored there, and
    # does not borrow kept tile 6's CNN probability 0.9 (which would make it CNN-positive)
    np.testing.assert_array_equal(out_ids, [5, 6, 5])
    np.testing.assert_array_equal(out_det, [0, -1, 1])
    np.testing.assert_allclose(out_cnn, [0.2, 0.9, 0.2])
    np.testing.assert_allclose(out_snr, [30.0, 3.0, 9.0])
    decided = loaded_model.ensembles.decide(np.array([0.2]), np.array([4.2]))
    assert not any(np.asarray(v).any() for v in decided.values())
