"""Members catalogs from a directory of cutout files: FITS endings, units, damaged files, band names, provenance."""

import gzip

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from skysieve.catalog import ModelRef
from skysieve.errors import DataError
from skysieve.tasks.members import search as members_search
from skysieve.tasks.members.catalog import MembersCatalogModel, make_members_catalog
from tests.tasks.members.test_catalog import BANDS, SCALE, SIZE, _model


def _cutout(path, image, *, bands=BANDS, bunit="electron/s", names=None):
    hdus = [fits.PrimaryHDU()]
    for k, band in enumerate(bands):
        h = fits.Header({"FILTER": (names or bands)[k], "BUNIT": bunit, "PIXSCALE": SCALE,
                         "RA_OBJ": 150.0 + k * 0, "DEC_OBJ": 2.0})
        hdus.append(fits.ImageHDU(image[..., k].astype(np.float32), header=h))
    fits.HDUList(hdus).writeto(path)


def _images(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(1.0, 0.5, (n, SIZE, SIZE, len(BANDS))).astype(np.float32)


def test_gzipped_and_fts_files_are_read_and_units_converted(tmp_path):
    x = _images(3)
    _cutout(tmp_path / "a.fits", x[0])
    _cutout(tmp_path / "b.fts", x[1] * 1000.0, bunit="electron/ks")
    _cutout(tmp_path / "c.fits", x[2], bunit="ELECTRONS/S")
    (tmp_path / "c.fits.gz").write_bytes(gzip.compress((tmp_path / "c.fits").read_bytes()))
    (tmp_path / "c.fits").unlink()
    model = _model()
    table = make_members_catalog(model, tmp_path).table
    assert list(table["id"]) == ["a", "b", "c"]
    expected = model.cnn.predict_proba(x)
    np.testing.assert_allclose(table["member_prob"], expected, rtol=1e-6)


def test_acs_filter1_filter2_headers_name_the_band(tmp_path):
    """HST/ACS files name the band in FILTER1/FILTER2 (one of them CLEAR…), not FILTER: the same scores."""
    x = _images(2)
    _cutout(tmp_path / "a.fits", x[0])
    hdus = [fits.PrimaryHDU()]
    for k, band in enumerate(BANDS):
        pair = {"FILTER1": band, "FILTER2": "CLEAR2L"} if k % 2 else {"FILTER1": "CLEAR1L", "FILTER2": band.lower()}
        h = fits.Header({**pair, "BUNIT": "electron/s", "PIXSCALE": SCALE, "RA_OBJ": 150.0, "DEC_OBJ": 2.0})
        hdus.append(fits.ImageHDU(x[1][..., k], header=h))
    fits.HDUList(hdus).writeto(tmp_path / "b.fits")
    model = _model()
    table = make_members_catalog(model, tmp_path).table
    assert list(table["flags"]) == [0, 0]
    np.testing.assert_allclose(table["member_prob"], model.cnn.predict_proba(x), rtol=1e-6)
    # one band per file, named in the primary header, with a table extension beside the image: still that band
    lone = tmp_path / "lone"
    lone.mkdir()
    head = fits.Header({"FILTER": BANDS[0], "RA_OBJ": 150.0, "DEC_OBJ": 2.0})
    image = fits.ImageHDU(x[0][..., 0], header=fits.Header({"BUNIT": "electron/s", "PIXSCALE": SCALE}))
    fits.HDUList([fits.PrimaryHDU(header=head), image, fits.BinTableHDU(Table({"a": [1, 2]}))]).writeto(
        lone / "one.fits")
    _cutout(lone / "a.fits", x[1])
    # read as F435W with the other bands missing (flag 1), not refused as a file of none of the model's bands
    assert list(make_members_catalog(model, lone).table["flags"]) == [0, 1]


def test_damaged_files_and_wrong_bands_are_errors_naming_the_file(tmp_path):
    x = _images(1)[0]
    cases = {}
    _cutout(tmp_path / "cut.fits", x)
    data = (tmp_path / "cut.fits").read_bytes()
    cases["truncated"] = (data[: len(data) - 2000], r"cut\.fits: truncated")
    _cutout(tmp_path / "dup.fits", x[..., [0, 1, 1]], names=["F435W", "F606W", "F606W"])
    cases["duplicate"] = ((tmp_path / "dup.fits").read_bytes(), r"dup\.fits: band F606W twice")
    _cutout(tmp_path / "names.fits", x, names=["g", "r", "i"])
    cases["names"] = ((tmp_path / "names.fits").read_bytes(),
                      r"names\.fits: no image HDU of the model's bands .*found in FILTER/FILTER1/FILTER2: g, r, i")
    for case, (content, message) in cases.items():
        folder = tmp_path / case
        folder.mkdir()
        (folder / ("cut.fits" if case == "truncated" else f"{case if case != 'duplicate' else 'dup'}.fits"))\
            .write_bytes(content)
        with pytest.raises(DataError, match=message):
            make_members_catalog(_model(), folder)


def test_the_header_says_which_version_code_and_data_made_the_catalog(tmp_path):
    _cutout(tmp_path / "a.fits", _images(1)[0])
    base = _model()
    ref = ModelRef(uri="models:/skysieve-members-cnn@candidate", name="skysieve-members-cnn", version="3",
                   alias="candidate", run_id="abc123", tags={"git_commit": "f00d", "data_hash": "cafe"})
    model = MembersCatalogModel(cnn=base.cnn, threshold=base.threshold, config=base.config, name=ref.name,
                                version=ref.version, operating_point=base.operating_point, ref=ref)
    meta = make_members_catalog(model, tmp_path).table.meta
    assert (meta["TASK"], meta["MODEL"], meta["MODELVER"], meta["MODALIAS"]) == ("members", ref.name, "3", "candidate")
    assert (meta["MODELURI"], meta["RUNID"], meta["MODGIT"], meta["DATAHASH"]) == (ref.uri, "abc123", "f00d", "cafe")
    assert meta["GITCOMM"] and meta["CUTDIR"] == str(tmp_path.resolve()) and len(meta["INPUTSHA"]) == 64


def test_a_members_catalog_from_cutout_files_gets_a_gallery_from_the_same_files(tmp_path):
    """No --images: the gallery finds the cutouts through the header's CUTDIR and the ``file`` column."""
    from skysieve.catalog import write_catalog
    from skysieve.gallery import write_gallery

    cutdir = tmp_path / "cutouts"
    cutdir.mkdir()
    x = _images(3)
    yy, xx = np.mgrid[:SIZE, :SIZE] - (SIZE - 1) / 2
    x[1][..., 2] += 20.0 * np.exp(-(xx ** 2 + yy ** 2) / 18.0)  # a source bright in F814W only: red
    x[2][:4, :4, 0] = np.nan  # NaN pixels: not scored, but drawn
    for k in range(3):
        _cutout(cutdir / f"s{k}.fits", x[k])
    result = make_members_catalog(_model(), cutdir)
    table = result.table
    assert list(table["file"]) == ["s0.fits", "s1.fits", "s2.fits"] and list(table["flags"]) == [0, 0, 2]
    assert (table.meta["INPUT"], table.meta["SIZE_PX"]) == ("cutouts", SIZE)
    write_catalog(result, tmp_path / "members.fits")
    report = write_gallery(tmp_path / "members.fits", images=(), out=tmp_path / "gallery", echo=lambda _: None)
    assert report.n_rows == 3 and report.n_placeholders == 0
    assert len(list((tmp_path / "gallery" / "thumbs").glob("*.png"))) == 3
    rows = Table.read(tmp_path / "members.fits")
    thumbs = list(members_search.gallery_thumbnails(rows, (), size_px=None))
    centre = thumbs[1][thumbs[1].shape[0] // 2, thumbs[1].shape[1] // 2].astype(int)
    assert centre[0] > centre[2] + 50  # F814W → red channel of the Lupton composite
    (cutdir / "s2.fits").unlink()
    with pytest.raises(DataError, match=r"s2\.fits: cutout file of the catalog not found"):
        list(members_search.gallery_thumbnails(rows, (cutdir,), size_px=None))


def test_a_members_gallery_ranks_by_membership_probability():
    table = Table({"id": ["a", "b"], "member_prob": [0.2, 0.9]})
    assert members_search.gallery_score(table) == "member_prob"
