"""Survey maps through ``make_catalog`` / ``skysieve catalog``: footprint, varying depth, weight maps, edge flags.

The realistic tiny map is the package's tiny sky (one planted cluster, one
bright radio source, white noise) cut to an irregular footprint (NaN outside)
whose depth falls fourfold in weight over its right part, with the weight
maps written beside the bands.
"""

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from typer.testing import CliRunner

from skysieve.cli import build_app
from skysieve.data import make_footprint, read_maps, write_map
from skysieve.tasks.sz.catalog import make_catalog
from tests.catalog.conftest import CLUSTER_XY, ENSEMBLE, SHAPE, WHITE, paint_sky, truth_table

METHODS = ("mf", "cnn", "and", "rank_product")
MODEL = f"models:/{ENSEMBLE}@candidate"
APOD, MARGIN = 1.0, 2.0  # arcmin: the tiny map is 40′ wide
runner = CliRunner()


def _footprint_mask(shape=SHAPE) -> np.ndarray:
    """An irregular region: a wobbly disc of radius ~62 px around the centre (the cluster is ~21 px from it)."""
    y, x = np.mgrid[0:shape[0], 0:shape[1]].astype(float)
    phi = np.arctan2(y - 80.0, x - 80.0)
    return np.hypot(y - 80.0, x - 80.0) < 62.0 + 6.0 * np.sin(3 * phi) + 4.0 * np.cos(5 * phi)


def _relative_weight(shape=SHAPE) -> np.ndarray:
    """1 on the left, falling to 1/4 over x = 90 … 120 px (noise up to 2× deeper there)."""
    x = np.arange(shape[1], dtype=float)
    w = 1.0 - 0.75 * np.clip((x - 90.0) / 30.0, 0.0, 1.0)
    return np.broadcast_to(w, shape).copy()


@pytest.fixture(scope="module")
def survey_files(tmp_path_factory):
    """(maps, weights) of the realistic tiny map, and the same sky without footprint (maps only)."""
    root = tmp_path_factory.mktemp("survey")
    clean = paint_sky(root / "clean")
    mask, rel = _footprint_mask(), _relative_weight()
    rng = np.random.default_rng(17)
    maps, weights = [], []
    for path in clean:
        with fits.open(path) as hdul:
            data, header = hdul[0].data.astype(np.float64), hdul[0].header
        band = f"{header['FREQ']:g}GHz"
        sigma = WHITE[band] / 0.25  # µK per 0.25′ pixel at weight 1
        data = data + rng.normal(0.0, 1.0, data.shape) * sigma * np.sqrt(1.0 / rel - 1.0)  # total variance σ²/w
        data[~mask] = np.nan
        wcs = WCS(header)
        maps.append(write_map(root / f"sky_{band}.fits", data, wcs, freq_ghz=header["FREQ"]))
        weights.append(write_map(root / f"weight_{band}.fits", np.where(mask, rel / sigma**2, 0.0), wcs,
                                 freq_ghz=header["FREQ"], bunit="uK^-2"))
    return {"maps": maps, "weights": weights, "clean": clean, "mask": mask}


@pytest.fixture(scope="module")
def survey_result(survey_files, loaded_model, sky_wcs):
    return make_catalog(survey_files["maps"], model=loaded_model, weights=survey_files["weights"],
                        truth=truth_table(sky_wcs), apod_arcmin=APOD, edge_margin_arcmin=MARGIN)


def _brute_edge_distance_arcmin(mask: np.ndarray, x: float, y: float) -> float:
    """Distance from the nearest pixel centre to the nearest unobserved pixel centre, the map's outside included."""
    padded = np.pad(mask, 1, constant_values=False)
    oy, ox = np.nonzero(~padded)
    ix, iy = int(np.floor(x + 0.5)) + 1, int(np.floor(y + 0.5)) + 1
    return float(np.sqrt(np.min((oy - iy) ** 2 + (ox - ix) ** 2))) * 0.25


def test_the_cluster_is_found_on_the_survey_map_and_nothing_outside_the_footprint(survey_result, survey_files,
                                                                                   sky_wcs):
    t = survey_result.table
    assert len(t) >= 1
    x, y = np.asarray(t["x"], float), np.asarray(t["y"], float)
    ix, iy = np.floor(x + 0.5).astype(int), np.floor(y + 0.5).astype(int)
    assert survey_files["mask"][iy, ix].all()  # no candidate outside the footprint
    row = int(np.argmin(np.hypot(x - CLUSTER_XY[0], y - CLUSTER_XY[1])))
    assert np.hypot(x[row] - CLUSTER_XY[0], y[row] - CLUSTER_XY[1]) < 1.5  # px: 0.375′
    assert all(t[f"decision_{m}"][row] for m in METHODS) and not t["edge_flag"][row]
    # the two halos with signal-free or out-of-footprint positions: (30, 30) lies outside → one true object
    assert survey_result.summary["n_true"] == 1
    for m in METHODS:
        c = survey_result.truth[m]
        assert (c.tp, c.fp, c.fn) == (1, 0, 0), m
    meta = t.meta
    assert not meta["PERIODIC"] and 0.4 < meta["OBSFRAC"] < 0.6 and meta["EDGEMARG"] == MARGIN
    assert meta["WGT1"] == "weight_90GHz.fits" and len(meta["WSHA_1"]) == 64


def test_edge_distance_column_matches_a_brute_force_distance(survey_result, survey_files):
    t = survey_result.table
    assert t["edge_dist_arcmin"].unit == "arcmin"
    for x, y, d in zip(t["x"], t["y"], t["edge_dist_arcmin"]):
        assert d == pytest.approx(_brute_edge_distance_arcmin(survey_files["mask"], x, y), rel=1e-6)


def test_candidates_within_the_margin_are_flagged_and_decide_nothing(survey_files, loaded_model, sky_wcs):
    mask = survey_files["mask"]
    d_cluster = _brute_edge_distance_arcmin(mask, *CLUSTER_XY)
    assert 8.0 < d_cluster < 12.0
    r = make_catalog(survey_files["maps"], model=loaded_model, weights=survey_files["weights"],
                     truth=truth_table(sky_wcs), apod_arcmin=APOD, edge_margin_arcmin=d_cluster + 1.0)
    t = r.table
    row = int(np.argmin(np.hypot(t["x"] - CLUSTER_XY[0], t["y"] - CLUSTER_XY[1])))
    assert t["edge_flag"][row] and t["edge_dist_arcmin"][row] < d_cluster + 1.0
    assert not any(t[f"decision_{m}"][row] for m in METHODS)  # flagged: out of every decision …
    assert t["mf_snr"][row] > 8 and t["cnn_prob"][row] > 0.9  # … though its scores are kept
    assert r.summary["n_true"] == 0 and r.summary["n_edge_flagged"] == int(np.count_nonzero(t["edge_flag"]))
    assert np.array_equal(t["edge_flag"], t["edge_dist_arcmin"] < d_cluster + 1.0)


def test_purity_on_the_survey_map_is_that_of_the_same_sky_without_footprint(survey_result, survey_files,
                                                                             loaded_model, sky_wcs):
    """Tolerance 0: on this sky every method is pure both ways (one cluster, no false candidate)."""
    clean = make_catalog(survey_files["clean"], model=loaded_model, truth=truth_table(sky_wcs))
    for m in METHODS:
        assert survey_result.truth[m].purity >= clean.truth[m].purity - 0.0 == 1.0


def test_weights_whiten_the_filter_and_restore_y(survey_files, loaded_model):
    """Without weights the deep and shallow halves share one noise level; with them the SNR of the cluster
    (on the deep side, weight 1) is no lower, and Y is estimated on the map's own scale."""
    with_w = make_catalog(survey_files["maps"], model=loaded_model, weights=survey_files["weights"],
                          apod_arcmin=APOD, edge_margin_arcmin=MARGIN).table
    without = make_catalog(survey_files["maps"], model=loaded_model, apod_arcmin=APOD,
                           edge_margin_arcmin=MARGIN).table
    pick = [int(np.argmin(np.hypot(t["x"] - CLUSTER_XY[0], t["y"] - CLUSTER_XY[1]))) for t in (with_w, without)]
    assert with_w["mf_snr"][pick[0]] >= 0.95 * without["mf_snr"][pick[1]]
    assert with_w["mf_y_arcmin2"][pick[0]] == pytest.approx(3e-4, rel=0.35)


def test_footprint_of_maps_without_blank_pixels_is_periodic_and_changes_nothing(sky_files, catalog_result):
    fp = make_footprint(read_maps(sky_files))
    assert fp.periodic and fp.fraction == 1.0 and np.isinf(fp.edge_distance_arcmin([3.0], [4.0])).all()
    t = catalog_result.table
    assert np.isinf(t["edge_dist_arcmin"]).all() and not t["edge_flag"].any()


# ---------------------------------------------------------------------------------------------------------------
# Bad input: exit 2, a message naming the file, nothing written
# ---------------------------------------------------------------------------------------------------------------

def _copy_with(src, dst, *, data=None, header_update=None):
    with fits.open(src) as hdul:
        hdu = hdul[0]
        if data is not None:
            hdu.data = data.astype(np.float32)
        for key, value in (header_update or {}).items():
            hdu.header[key] = value
        hdul.writeto(dst)
    return dst


@pytest.mark.parametrize("case", ["all nan", "weights shape", "weights wcs", "weights zero", "weights count",
                                  "no overlap"])
def test_bad_survey_input_exits_2_naming_the_file_and_writes_nothing(case, registry, survey_files, tmp_path):
    maps, weights = list(survey_files["maps"]), list(survey_files["weights"])
    if case == "all nan":
        maps[1] = _copy_with(maps[1], tmp_path / "nan.fits", data=np.full(SHAPE, np.nan))
        expect = f"{maps[1]}: the map is entirely NaN"
    elif case == "weights shape":
        weights[2] = _copy_with(weights[2], tmp_path / "w_small.fits", data=np.ones((SHAPE[0] - 8, SHAPE[1])))
        expect = f"{weights[2]}: weight map of shape (152, 160) but its band {maps[2]} has shape (160, 160)"
    elif case == "weights wcs":
        with fits.open(weights[0]) as hdul:
            crpix = hdul[0].header["CRPIX1"]
        weights[0] = _copy_with(weights[0], tmp_path / "w_shift.fits", header_update={"CRPIX1": crpix + 2})
        expect = f"{weights[0]}: WCS (projection, reference pixel or pixel size) differs from its band {maps[0]}"
    elif case == "weights zero":
        weights[1] = _copy_with(weights[1], tmp_path / "w_zero.fits", data=np.zeros(SHAPE))
        expect = f"{weights[1]}: no pixel of weight > 0"
    elif case == "weights count":
        weights = weights[:2]
        expect = "--maps and --weights name 5 files in all; pass one weight map per band map"
    else:  # every band observed somewhere, but never all three at once
        half = np.ones(SHAPE)
        half[:, 80:] = 0.0
        weights[0] = _copy_with(weights[0], tmp_path / "w_left.fits", data=half)
        weights[1] = _copy_with(weights[1], tmp_path / "w_right.fits", data=1.0 - half)
        expect = "the footprint (finite in every band, weight > 0) has no valid pixel"
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "candidates.fits"
    result = runner.invoke(build_app(), ["catalog", "--model", MODEL, "--maps", *map(str, maps),
                                         "--weights", *map(str, weights), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and expect in " ".join(result.output.split())
    assert list(outdir.iterdir()) == []


def test_the_command_reads_weights_after_the_maps_and_reports_the_footprint(registry, survey_files, sky_wcs,
                                                                             tmp_path):
    truth = tmp_path / "halos.fits"
    truth_table(sky_wcs).write(truth)
    out = tmp_path / "cat.fits"
    result = runner.invoke(build_app(), ["catalog", "--model", MODEL, "--maps", *map(str, survey_files["maps"]),
                                         "--weights", *map(str, survey_files["weights"]), "--out", str(out),
                                         "--truth", str(truth), "--apod-arcmin", str(APOD),
                                         "--edge-margin-arcmin", str(MARGIN), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "footprint:" in result.output and "of the map observed" in result.output
    header = fits.getheader(out, 1)
    assert [header[f"WGT{i}"] for i in (1, 2, 3)] == [p.name for p in survey_files["weights"]]
    line = next(ln for ln in result.output.splitlines() if ln.startswith("rank_product"))
    assert line.split()[1:4] == ["1.000", "1.000", "1.000"]


def test_only_tiles_whose_central_region_holds_an_observed_pixel_are_scored():
    from skysieve.catalog import tile_grid
    from skysieve.data import Footprint
    from skysieve.tasks.sz._catalog_footprint import observed_tiles

    mask = _footprint_mask()
    grid = tile_grid(SHAPE, size_px=16, central_px=12, stride_px=6)
    fp = Footprint(mask, np.ones(SHAPE, np.float32), mask.astype(np.float32), None, None, False, 0.25)
    ids = observed_tiles(grid, fp)
    x0, y0 = grid.corners(np.arange(grid.n))
    brute = [i for i in range(grid.n) if mask[y0[i] + 2: y0[i] + 14, x0[i] + 2: x0[i] + 14].any()]
    assert ids.tolist() == brute and 0 < len(brute) < grid.n


def test_survey_maps_filtered_in_blocks_find_the_cluster_and_nothing_outside(survey_files, loaded_model, sky_wcs):
    r = make_catalog(survey_files["maps"], model=loaded_model, weights=survey_files["weights"],
                     truth=truth_table(sky_wcs), apod_arcmin=APOD, edge_margin_arcmin=MARGIN, mf_block_px=112,
                     mf_margin_arcmin=4.0)
    t = r.table
    assert r.summary["n_blocks"] == 4
    ix, iy = np.floor(np.asarray(t["x"]) + 0.5).astype(int), np.floor(np.asarray(t["y"]) + 0.5).astype(int)
    assert survey_files["mask"][iy, ix].all()
    assert r.truth["mf"].tp == 1 and r.truth["rank_product"].tp == 1


def test_a_tan_survey_map_is_read_and_searched(tmp_path, loaded_model, sky_files, sky_wcs):
    """The tiny sky resampled onto a TAN grid (:func:`~skysieve.sim.survey.to_tan`), cut to the footprint."""
    from pixell import enmap

    from skysieve.config import PatchParams
    from skysieve.sim.survey import tan_geometry, to_tan

    shape, wcs = tan_geometry(PatchParams(width_deg=40 / 60, height_deg=40 / 60, pixel_arcmin=0.25))
    assert shape == SHAPE and wcs.wcs.ctype[0] == "RA---TAN"
    mask = _footprint_mask()
    paths = []
    for p in sky_files:
        with fits.open(p) as hdul:
            car, freq = enmap.ndmap(hdul[0].data.astype(float), WCS(hdul[0].header)), hdul[0].header["FREQ"]
        tan = np.where(mask, to_tan(car, shape, wcs), np.nan)
        paths.append(write_map(tmp_path / p.name, tan, wcs, freq_ghz=freq))
    ra, dec = sky_wcs.wcs_pix2world([CLUSTER_XY], 0)[0]
    cx, cy = wcs.wcs_world2pix([[ra, dec]], 0)[0]
    t = make_catalog(paths, model=loaded_model, apod_arcmin=APOD, edge_margin_arcmin=MARGIN).table
    assert t.meta["SCANNOIS"] and not t.meta["PERIODIC"]
    row = int(np.argmin(np.hypot(t["x"] - cx, t["y"] - cy)))
    assert np.hypot(t["x"][row] - cx, t["y"][row] - cy) < 1.5
    assert all(t[f"decision_{m}"][row] for m in METHODS)
