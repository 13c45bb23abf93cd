"""``skysieve catalog`` for the lens task: cutout directories and positions in large images, scored by the
registered lens CNN, with the model's threshold, reference percentiles and provenance in the header."""

import hashlib
import json

import mlflow
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from typer.testing import CliRunner

from skysieve.cli import build_app
from skysieve.errors import DataError, RegistryError
from tests.catalog.conftest import (
    ENSEMBLE,
    LENS,
    LENS_CHANNELS,
    LENS_PIXEL_ARCSEC,
    LENS_SIZE,
    LENS_THRESHOLD,
    lens_reference,
)

runner = CliRunner()
S = LENS_SIZE


def _run(*args):
    return runner.invoke(build_app(), ["catalog", *map(str, args)])


def tan_wcs(*, crpix=(100.5, 80.5), crval=(177.4, 22.4), pixel_arcsec=LENS_PIXEL_ARCSEC) -> WCS:
    """A TAN WCS (north up, east left), ICRS."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crpix = list(crpix)
    w.wcs.crval = list(crval)
    w.wcs.cdelt = [-pixel_arcsec / 3600.0, pixel_arcsec / 3600.0]
    w.wcs.radesys = "ICRS"
    return w


def cutout_arrays(n: int, seed: int, size: int = S) -> np.ndarray:
    """Seeded stand-ins for multi-band cutouts, (n, size, size, 3) float32, e⁻/s."""
    return np.random.default_rng(seed).normal(0.0, 1.0, (n, size, size, len(LENS_CHANNELS))).astype(np.float32)


def _header(band, wcs=None, bunit="electron/s"):
    h = wcs.to_header() if wcs is not None else fits.Header()
    h["FILTER"] = band
    if bunit is not None:
        h["BUNIT"] = bunit
    return h


def write_cutout(path, image, *, wcs=None, bunit="electron/s", order=(2, 0, 1), bands=LENS_CHANNELS):
    """One multi-band cutout file: an empty primary HDU and one ImageHDU per band, in ``order``."""
    hdus = [fits.PrimaryHDU()]
    for c in order:
        if bands[c] is not None:
            hdus.append(fits.ImageHDU(np.ascontiguousarray(image[..., c]), header=_header(bands[c], wcs, bunit)))
    fits.HDUList(hdus).writeto(path)
    return path


def write_band_files(directory, stem, image, *, wcs=None, filter_keyword=True):
    """Per-band single-HDU files ``<stem>_<FILTER>.fits``."""
    for c, band in enumerate(LENS_CHANNELS):
        h = _header(band, wcs)
        if not filter_keyword:
            del h["FILTER"]
        fits.PrimaryHDU(np.ascontiguousarray(image[..., c]), header=h).writeto(directory / f"{stem}_{band}.fits")


def expected_scores(lens_registry, arrays):
    """CnnModel.predict_proba on the arrays, from a fresh load of the registered version."""
    cnn = mlflow.pyfunc.load_model(f"models:/{LENS}/{lens_registry['version']}").unwrap_python_model()
    return cnn.predict_proba(arrays)


def read_catalog(path):
    """The catalog as written: NaN stays NaN (astropy would mask it)."""
    return Table.read(path, mask_invalid=False)


def mid_rank(scores):
    ref = lens_reference()
    return np.array([(np.sum(ref < s) + 0.5 * np.sum(ref == s)) / ref.size for s in scores])


@pytest.fixture(scope="module")
def cutout_dir(tmp_path_factory):
    """Six multi-band files (HDUs shuffled, one without a WCS, one with lower-case FILTER values) and two
    per-band groups (one without FILTER keywords); returns (dir, arrays by id, wcs by id)."""
    root = tmp_path_factory.mktemp("lens-cutouts")
    arrays = cutout_arrays(8, seed=3)
    by_id, wcs_by_id = {}, {}
    for i in range(6):
        cid = f"obj{i:02d}"
        wcs = None if i == 4 else tan_wcs(crpix=(8.5 + i, 8.5 - i), crval=(177.4 + 0.01 * i, 22.4))
        bands = tuple(b.lower() for b in LENS_CHANNELS) if i == 5 else LENS_CHANNELS  # FILTER in any case
        write_cutout(root / f"{cid}.fits", arrays[i], wcs=wcs, order=[(0, 1, 2), (2, 0, 1), (1, 2, 0)][i % 3],
                     bands=bands)
        by_id[cid], wcs_by_id[cid] = arrays[i], wcs
    write_band_files(root, "grp06", arrays[6], wcs=tan_wcs(crpix=(8.5, 8.5), crval=(177.5, 22.5)))
    write_band_files(root, "grp07", arrays[7], filter_keyword=False)
    by_id["grp06"], wcs_by_id["grp06"] = arrays[6], tan_wcs(crpix=(8.5, 8.5), crval=(177.5, 22.5))
    by_id["grp07"], wcs_by_id["grp07"] = arrays[7], None
    (root / "notes.txt").write_text("not a FITS file: ignored")
    return root, by_id, wcs_by_id


def test_register_lens_stores_the_lens_catalog_config(lens_registry):
    from skysieve.catalog import resolve_model
    from skysieve.tasks.lens._catalog_config import read_lens_catalog_config

    ref = resolve_model(lens_registry["uri"])
    assert ref.task == "lens" and ref.tags["skysieve.task"] == "lens"
    assert "lens_catalog_config" not in ref.tags  # a document (artifact), not a long tag
    stored = ref.documents["lens_catalog_config"]
    assert stored["format"] == "skysieve.lens_catalog_config/1"
    cfg = read_lens_catalog_config(ref.documents, where=ref.where)
    assert cfg.channels == LENS_CHANNELS and cfg.size_px == S and cfg.pixel_arcsec == LENS_PIXEL_ARCSEC
    assert cfg.unit == "electron/s"
    assert cfg.zero_points_ab == {"F435W": 25.66, "F606W": 26.49, "F814W": 25.94}  # simulate_lens.bands defaults
    assert float(ref.tags["threshold.cnn"]) == LENS_THRESHOLD and ref.tags["operating_point"] == "fixed"


def test_lens_catalog_config_is_read_back_or_refused_clearly(lens_registry):
    from skysieve.catalog import resolve_model
    from skysieve.tasks.lens._catalog_config import read_lens_catalog_config

    documents = resolve_model(lens_registry["uri"]).documents
    from_params = read_lens_catalog_config({"params": documents["params"]}, where="model 'x' v1")
    assert from_params == read_lens_catalog_config(documents, where="model 'x' v1")
    old_tags = {"lens_catalog_config": json.dumps(documents["lens_catalog_config"])}  # versions before documents
    assert read_lens_catalog_config({}, where="model 'x' v1", tags=old_tags) == from_params
    missing = r"model 'x' v1 has no document 'lens_catalog_config' .* `skysieve register lens`"
    with pytest.raises(RegistryError, match=missing):
        read_lens_catalog_config({"params": {}}, where="model 'x' v1")
    bad = {**documents["lens_catalog_config"], "format": "skysieve.lens_catalog_config/9"}
    with pytest.raises(RegistryError, match="format 'skysieve.lens_catalog_config/9' is not"):
        read_lens_catalog_config({"lens_catalog_config": bad}, where="model 'x' v1")


def test_cutout_directory_scores_are_the_registered_cnn_scores(lens_registry, cutout_dir, tmp_path):
    root, by_id, wcs_by_id = cutout_dir
    out = tmp_path / "out" / "lenses.fits"
    result = _run("--model", lens_registry["uri"], "--cutouts", root, "--out", out, "--no-progress")
    assert result.exit_code == 0, result.output
    assert f"wrote {out}: 8 cutouts, 8 scored" in result.output
    assert f"{LENS} v{lens_registry['version']}" in result.output
    table = read_catalog(out)
    ids = sorted(by_id)
    assert list(table["id"]) == ids
    expected = expected_scores(lens_registry, np.stack([by_id[i] for i in ids]))
    np.testing.assert_allclose(table["score"], expected, rtol=0, atol=1e-6)
    assert 0 < table["is_lens"].sum() < len(table)  # the threshold cuts this sample
    np.testing.assert_array_equal(table["is_lens"], expected >= LENS_THRESHOLD)
    np.testing.assert_allclose(table["percentile"], mid_rank(np.asarray(table["score"])), atol=1e-12)
    for row in table:
        wcs = wcs_by_id[row["id"]]
        if wcs is None:
            assert np.isnan(row["ra"]) and np.isnan(row["dec"])
        else:
            ra, dec = wcs.pixel_to_world_values((S - 1) / 2.0, (S - 1) / 2.0)
            assert row["ra"] == pytest.approx(float(ra), abs=1e-10) and row["dec"] == pytest.approx(float(dec),
                                                                                                 abs=1e-10)
    assert table["file"][ids.index("grp06")] == "grp06_F435W.fits, grp06_F606W.fits, grp06_F814W.fits"
    assert not table["flag_nan"].any() and str(table["ra"].unit) == "deg"

    header = fits.getheader(out, 1)
    files = sorted(p for p in root.iterdir() if p.suffix == ".fits")
    combined = hashlib.sha256("".join(f"{d}\n" for d in sorted(hashlib.sha256(p.read_bytes()).hexdigest()
                                                                 for p in files)).encode()).hexdigest()
    assert header["SHA256"] == combined and header["NFILES"] == len(files) == 12 and header["NCUTOUT"] == 8
    assert header["TASK"] == "lens" and header["INPUT"] == "cutouts"
    assert header["MODEL"] == LENS and header["MODELVER"] == lens_registry["version"]
    assert header["MODALIAS"] == "candidate" and header["RUNID"] == lens_registry["run_id"]
    assert header["THR_CNN"] == LENS_THRESHOLD and header["OPPOINT"] == "fixed" and header["REFN"] == 400
    assert header["DATAHASH"] and header["DATAHASH"] != "unknown" and header["MODGIT"]
    assert header["SKYSVER"] and header["GITCOMM"] and header["BAND1"] == "F435W" and header["ZP3"] == 25.94
    assert header["SIZE_PX"] == S and header["PIX_ASEC"] == LENS_PIXEL_ARCSEC and header["NLENS"] == table[
        "is_lens"].sum()
    assert [p.name for p in out.parent.iterdir()] == ["lenses.fits"]


def test_larger_cutouts_are_centre_cropped(lens_model, lens_registry, tmp_path):
    from skysieve.tasks.lens.catalog import make_lens_catalog

    inner = cutout_arrays(3, seed=5)
    frames = cutout_arrays(3, seed=6, size=25)
    starts = {"even24": 4, "odd21": 2, "exact16": 0}  # (n - 16) // 2
    wcs = tan_wcs(crpix=(3.0, 12.0))
    for k, (cid, y0) in enumerate(starts.items()):
        n = S + 2 * y0 + (1 if cid == "odd21" else 0)
        big = frames[k, :n, :n].copy()
        big[y0: y0 + S, y0: y0 + S] = inner[k]
        write_cutout(tmp_path / f"{cid}.fits", big, wcs=wcs)
    table = make_lens_catalog(model=lens_model, cutouts=tmp_path).table
    assert list(table["id"]) == ["even24", "exact16", "odd21"]
    order = [0, 2, 1]
    np.testing.assert_allclose(table["score"], expected_scores(lens_registry, inner[order]), rtol=0, atol=1e-6)
    for row, cid in zip(table, ["even24", "exact16", "odd21"]):
        c = starts[cid] + (S - 1) / 2.0
        ra, dec = wcs.pixel_to_world_values(c, c)
        assert row["ra"] == pytest.approx(float(ra), abs=1e-10) and row["dec"] == pytest.approx(float(dec), abs=1e-10)


def test_hst_and_scaled_units_are_converted_and_nan_pixels_flagged(lens_model, lens_registry, tmp_path):
    from skysieve.tasks.lens.catalog import make_lens_catalog

    arrays = cutout_arrays(3, seed=8)
    write_cutout(tmp_path / "a.fits", arrays[0], bunit="ELECTRONS/S")
    write_cutout(tmp_path / "b.fits", arrays[1] * 1000.0, bunit="electron/ks")
    blank = arrays[2].copy()
    blank[3, 4, 1] = np.nan
    write_cutout(tmp_path / "c.fits", blank, bunit=None)
    result = make_lens_catalog(model=lens_model, cutouts=tmp_path, batch_size=2)
    table = result.table
    np.testing.assert_allclose(table["score"][:2], expected_scores(lens_registry, arrays[:2]), rtol=0, atol=1e-6)
    assert list(table["flag_nan"]) == [False, False, True]
    assert np.isnan(table["score"][2]) and not table["is_lens"][2] and np.isnan(table["percentile"][2])
    assert result.summary["n_nan"] == 1 and table.meta["NNAN"] == 1


def test_cutouts_that_cannot_be_scored_at_all_are_an_error_and_no_catalog(lens_model, tmp_path):
    from skysieve.tasks.lens.catalog import make_lens_catalog

    cutouts = tmp_path / "cutouts"
    cutouts.mkdir()
    for i, image in enumerate(cutout_arrays(2, seed=3)):
        image[5, 5, i] = np.nan
        write_cutout(cutouts / f"n{i}.fits", image)
    with pytest.raises(DataError, match=r"cutouts: none of the 2 cutouts could be scored \(2 with NaN"):
        make_lens_catalog(model=lens_model, cutouts=cutouts)


def _paste(cutouts, corners, *, shape=(160, 200), shifts=((0, 0), (7, -5), (-3, 11)), seed=9):
    """One large image per band, each band on its own grid (CRPIX shifted by ``shifts``), with the cutouts
    pasted so the same sky lands under them in every band; returns (images, wcs of band 0)."""
    rng = np.random.default_rng(seed)
    images, wcs0 = [], None
    for c, (dx, dy) in enumerate(shifts):
        wcs = tan_wcs(crpix=(100.5 + dx, 80.5 + dy))
        wcs0 = wcs0 or wcs
        data = rng.normal(0.0, 1.0, shape).astype(np.float32)
        for image, (x0, y0) in zip(cutouts, corners):
            data[y0 + dy: y0 + dy + S, x0 + dx: x0 + dx + S] = image[..., c]
        images.append((data, wcs))
    return images, wcs0


def test_positions_in_large_images_give_the_cutout_scores(lens_registry, cutout_dir, tmp_path):
    _, by_id, _ = cutout_dir
    ids = sorted(by_id)[:5]
    cutouts = np.stack([by_id[i] for i in ids])
    corners = [(20, 15), (60, 40), (100, 100), (150, 30), (45, 120)]
    images, wcs0 = _paste(cutouts, corners)
    paths = []
    for c in (2, 0, 1):  # any order on the command line
        data, wcs = images[c]
        paths.append(tmp_path / f"field_{LENS_CHANNELS[c]}.fits")
        if LENS_CHANNELS[c] == "F606W":  # as an HST/ACS drizzled file: band in FILTER1/2, SCI and WHT extensions
            primary = fits.PrimaryHDU(header=fits.Header([("FILTER1", "F606W"), ("FILTER2", "CLEAR2L")]))
            sci = fits.ImageHDU(data, header=_header("F606W", wcs, bunit="ELECTRONS/S"), name="SCI")
            del sci.header["FILTER"]
            fits.HDUList([primary, sci, fits.ImageHDU(np.ones_like(data), name="WHT")]).writeto(paths[-1])
        else:
            fits.PrimaryHDU(data, header=_header(LENS_CHANNELS[c], wcs)).writeto(paths[-1])
    xs = [x0 + (S - 1) / 2.0 for x0, _ in corners] + [3.0, -40.0]  # then: half off the edge, off the image
    ys = [y0 + (S - 1) / 2.0 for _, y0 in corners] + [50.0, 50.0]
    ra, dec = wcs0.pixel_to_world_values(np.array(xs), np.array(ys))
    positions = tmp_path / "positions.csv"
    Table({"id": [*ids, "edge", "off"], "RA": ra, "Dec": dec}).write(positions, format="ascii.csv")
    out = tmp_path / "out.fits"
    result = _run("--model", lens_registry["uri"], "--images", *paths, "--positions", positions, "--out", out)
    assert result.exit_code == 0, result.output
    assert "7 cutouts, 5 scored" in result.output
    assert "2 positions not scored: their cutout is not inside every image (flag_edge); 1 of them off an image" \
        in " ".join(result.output.split())
    table = read_catalog(out)
    assert list(table["id"]) == [*ids, "edge", "off"]
    np.testing.assert_allclose(table["score"][:5], expected_scores(lens_registry, cutouts), rtol=0, atol=1e-6)
    assert list(table["flag_edge"]) == [False] * 5 + [True, True]
    assert list(table["off_image"]) == [False] * 6 + [True]
    assert np.isnan(table["score"][5:]).all() and not table["is_lens"][5:].any()
    np.testing.assert_allclose(table["ra"], ra % 360.0, atol=1e-12)
    np.testing.assert_allclose(table["x"], xs, atol=1e-6)
    header = fits.getheader(out, 1)
    for i, band in enumerate(LENS_CHANNELS, start=1):  # images listed in channel order
        path = tmp_path / f"field_{band}.fits"
        assert header[f"IMAGE{i}"] == path.name
        assert header[f"SHA256_{i}"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert header["POSFILE"] == "positions.csv" and header["NEDGE"] == 2 and header["NOFFIMG"] == 1
    assert header["POSSHA"] == hashlib.sha256(positions.read_bytes()).hexdigest()


def test_positions_are_cut_as_cutout2d_cuts_them(lens_model, tmp_path):
    from astropy.nddata import Cutout2D

    from skysieve.tasks.lens._inputs import open_positions

    data = np.random.default_rng(1).normal(0, 1, (90, 70)).astype(np.float32)
    wcs = tan_wcs(crpix=(30.2, 40.7))
    paths = []
    for band in LENS_CHANNELS:
        paths.append(tmp_path / f"{band}.fits")
        fits.PrimaryHDU(data, header=_header(band, wcs)).writeto(paths[-1])
    # inside; inside; on the right edge (x: 54…69 of 70), one pixel over; on the top edge (y: 74…89 of 90), over
    xy = np.array([[10.2, 12.3], [33.49, 44.51], [61.9, 70.2], [62.6, 70.2], [50.3, 81.5], [50.3, 82.6]])
    ra, dec = wcs.pixel_to_world_values(xy[:, 0], xy[:, 1])
    Table({"ra": ra, "dec": dec}).write(tmp_path / "pos.fits")
    inputs = open_positions(paths, tmp_path / "pos.fits", lens_model.config)
    try:
        got = {int(i): b for index, batch in inputs.batches(2) for i, b in zip(index, batch)}
    finally:
        inputs.close()
    np.testing.assert_allclose(inputs.xy[0].T, xy, atol=1e-8)  # located by the WCS
    for i in range(len(xy)):
        try:
            want = Cutout2D(data, tuple(inputs.xy[0, :, i]), (S, S), mode="strict").data
        except Exception:
            assert inputs.flag_edge[i] and i not in got
            continue
        assert not inputs.flag_edge[i]
        np.testing.assert_array_equal(got[i][..., 0], want)
    assert inputs.flag_edge.tolist() == [False, False, False, True, False, True]
    assert list(inputs.ids) == [0, 1, 2, 3, 4, 5]


def test_truth_table_gives_purity_completeness_f1(lens_registry, cutout_dir, tmp_path):
    from skysieve.evaluate import confusion_counts

    root, by_id, _ = cutout_dir
    ids = sorted(by_id)
    labels = [1, 0, 1, 1, 0, 0, 1, 0]
    truth = tmp_path / "truth.fits"
    Table({"id": ids[:-1] + ["elsewhere"], "label": labels}).write(truth)
    out = tmp_path / "out.fits"
    result = _run("--model", lens_registry["uri"], "--cutouts", root, "--out", out, "--truth", truth)
    assert result.exit_code == 0, result.output
    table = read_catalog(out)
    c = confusion_counts(np.array(labels[:-1], bool), np.asarray(table["is_lens"][:-1]))
    line = next(ln for ln in result.output.splitlines() if ln.startswith("cnn"))
    assert line.split()[1:] == [f"{c.purity:.3f}", f"{c.completeness:.3f}", f"{c.f1:.3f}", str(c.tp), str(c.fp),
                                str(c.fn), str(c.tn)]
    assert "truth: 7 scored rows with a label (4 lenses); 1 rows without one" in result.output
    assert list(table["label"]) == labels[:-1] + [-1]


def test_each_task_refuses_the_other_ones_model_in_the_library(lens_registry, registry):
    from skysieve.tasks.lens.catalog import load_lens_catalog_model
    from skysieve.tasks.sz._catalog_model import load_catalog_model

    with pytest.raises(RegistryError, match=f"model '{LENS}' v1 serves the 'lens' search, not an SZ ensemble"):
        load_catalog_model(lens_registry["uri"])
    with pytest.raises(RegistryError, match=f"model '{ENSEMBLE}' v1 is not a lens classifier"):
        load_lens_catalog_model(f"models:/{ENSEMBLE}@candidate")


BAD = ["missing band", "band twice", "missing band file", "pixel scale", "bunit", "too small", "no ra/dec", "bad image pixel scale",
       "images without positions", "no usable position", "sz model with cutouts", "lens model with maps",
       "sz option for lens"]


@pytest.mark.parametrize("case", BAD)
def test_bad_lens_input_exits_2_naming_the_file_and_writes_nothing(case, lens_registry, sky_files, tmp_path):
    arrays = cutout_arrays(2, seed=12)
    cut = tmp_path / "cutouts"
    cut.mkdir()
    write_cutout(cut / "good.fits", arrays[0], wcs=tan_wcs())
    model, inputs = lens_registry["uri"], ["--cutouts", cut]
    if case == "missing band":
        write_cutout(cut / "lacks.fits", arrays[1], bands=(None, "F606W", "F814W"))
        expect = f"{cut / 'lacks.fits'}: no F435W image for cutout 'lacks' (bands found: ['F606W', 'F814W'])"
    elif case == "band twice":
        write_cutout(cut / "dup.fits", arrays[1], bands=("F435W", "F606W", "F606W"))
        expect = f"cutout 'dup': band F606W twice ({cut / 'dup.fits'} HDU"
    elif case == "missing band file":
        write_band_files(cut, "pair", arrays[1])
        (cut / "pair_F606W.fits").unlink()
        expect = f"{cut / 'pair_F435W.fits'}, {cut / 'pair_F814W.fits'}: no F606W image for cutout 'pair'"
    elif case == "pixel scale":
        write_cutout(cut / "coarse.fits", arrays[1], wcs=tan_wcs(pixel_arcsec=0.03))
        expect = "coarse.fits (HDU 2, F435W): pixels of 0.03 × 0.03″ but model 'test-lens-cnn' v1 takes 0.06″"
    elif case == "bunit":
        write_cutout(cut / "jansky.fits", arrays[1], bunit="MJy/sr")
        expect = ("jansky.fits (HDU 2, F435W): BUNIT = 'MJy/sr' cannot be converted to electron / s; the model takes "
                  "pixels in electron/s")
    elif case == "too small":
        write_cutout(cut / "tiny.fits", arrays[1][:12, :12])
        expect = "tiny.fits (HDU 2, F435W): 12×12 px, smaller than the 16×16 px (0.96″) cutouts"
    elif case in ("no ra/dec", "bad image pixel scale", "images without positions", "no usable position"):
        images = []
        for c, band in enumerate(LENS_CHANNELS):
            scale = 0.05 if (case == "bad image pixel scale" and c == 1) else LENS_PIXEL_ARCSEC
            images.append(tmp_path / f"{band}.fits")
            fits.PrimaryHDU(np.zeros((40, 40), np.float32),
                            header=_header(band, tan_wcs(crpix=(20, 20), pixel_arcsec=scale))).writeto(images[-1])
        pos = tmp_path / "pos.csv"
        ra = 177.4 + (0.1 if case == "no usable position" else 0.0)  # 6′ away: off the 2.4″ images
        Table({"alpha": [ra], "delta": [22.4]} if case == "no ra/dec" else {"ra": [ra], "dec": [22.4]}).write(
            pos, format="ascii.csv")
        inputs = ["--images", *images] + ([] if case == "images without positions" else ["--positions", pos])
        expect = {"no ra/dec": f"{pos}: no 'ra' and 'dec' columns (has ['alpha', 'delta'])",
                  "bad image pixel scale": f"{images[1]}: pixels of 0.05 × 0.05″ but model 'test-lens-cnn' v1 takes "
                                           "0.06″ pixels",
                  "images without positions": "given without positions; add --positions",
                  "no usable position": f"none of the 1 positions in {pos} has its 16×16 px cutout inside every "
                                        "image"}[case]
    elif case == "sz model with cutouts":
        model = f"models:/{ENSEMBLE}@candidate"
        expect = f"--cutouts: not an input of model '{ENSEMBLE}' v1, a model of the 'sz' search"
        expect += " (galaxy clusters in millimetre (SZ) maps: matched filter, CNN, MF+CNN ensembles); give --maps /"
    elif case == "lens model with maps":
        inputs = ["--maps", *sky_files]
        expect = f"--maps: not an input of model '{LENS}' v1, a model of the 'lens' search"
    elif case == "sz option for lens":
        inputs += ["--stride-arcmin", "3"]
        expect = "--stride-arcmin: not an input of model 'test-lens-cnn' v1, a model of the 'lens' search"
    outdir = tmp_path / "out"
    outdir.mkdir()
    result = _run("--model", model, *inputs, "--out", outdir / "lenses.fits")
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and expect in " ".join(result.output.split())
    assert list(outdir.iterdir()) == []


def test_register_lens_refuses_params_the_cnn_was_not_trained_with(lens_registry, tmp_path):
    from tests.catalog.conftest import LENS_PARAMS_YAML

    (tmp_path / "params.yaml").write_text(LENS_PARAMS_YAML.replace(f"size_px: {S}", "size_px: 20"))
    (tmp_path / "evaluation.json").write_text("{}")
    result = runner.invoke(build_app(), ["register", "lens", "--params", str(tmp_path / "params.yaml"), "--model",
                                         str(lens_registry["models_dir"]), "--state", str(tmp_path / "evaluation.json"),
                                         "--out", str(tmp_path / "registered.json")])
    assert result.exit_code == 2, result.output
    assert ("the CNN takes (16, 16, 3) cutouts with channels ['F435W', 'F606W', 'F814W'] but the lens catalog config "
            "says (20, 20, 3)") in " ".join(result.output.split())
    assert not (tmp_path / "registered.json").exists()


def test_lens_fields_make_one_survey_catalog_without_the_overlap_s_duplicates(lens_registry, cutout_dir, tmp_path):
    """Two cutout directories as survey fields (the serial loop); the second repeats three of the first's."""
    import shutil

    root, by_id, _ = cutout_dir
    shutil.copytree(root, tmp_path / "fields" / "f1")
    (tmp_path / "fields" / "f2").mkdir()
    for cid in ("obj00", "obj01", "obj02"):
        shutil.copy(root / f"{cid}.fits", tmp_path / "fields" / "f2" / f"{cid}.fits")
    out = tmp_path / "survey.fits"
    result = _run("--model", lens_registry["uri"], "--fields", tmp_path / "fields" / "*", "--out", out)
    assert result.exit_code == 0, result.output
    assert "field f1: wrote" in result.output and "field f2: wrote" in result.output
    table = read_catalog(out)
    header = fits.getheader(out, 1)
    assert header["NDUPL"] == 3 and len(table) == len(by_id) and header["MODEL"] == LENS
    assert sorted(table["id"]) == sorted(by_id) and set(table["field"]) == {"f1"}  # ties keep the first field
