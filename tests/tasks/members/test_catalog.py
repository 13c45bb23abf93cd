"""Members catalogs on large band images + positions: each source cut from every band by its own WCS, bad input refused.

The classifier here is a stand-in with the registered model's interface
(``predict_proba``) that records what it is given, so the test can check the
cutouts themselves; the registered CNN end to end is in ``test_search.py``.
"""

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from skysieve.catalog import ModelRef
from skysieve.errors import ConfigError, DataError
from skysieve.tasks.members._catalog_cli import make_catalog
from skysieve.tasks.members.catalog import (
    FLAG_EDGE,
    FLAG_NAN,
    MembersCatalogModel,
    make_members_catalog_at_positions,
)

BANDS = ["F435W", "F606W", "F814W"]
SIZE, SCALE, NPIX = 16, 0.065, 120
CENTRE = (150.0, 2.0)


class _CentreFlux:
    """Member probability from the flux f in the central 2×2 pixels of all bands: f / (f + 10)."""

    def __init__(self):
        self.seen = []

    def predict_proba(self, x):
        self.seen.append(np.array(x))
        f = x[:, SIZE // 2 - 1: SIZE // 2 + 1, SIZE // 2 - 1: SIZE // 2 + 1, :].sum(axis=(1, 2, 3))
        return f / (f + 10.0)


def _model() -> MembersCatalogModel:
    config = {"band_config": "test", "bands": BANDS, "pixel_scale_arcsec": SCALE, "size_px": SIZE,
              "unit": "electron/s"}
    return MembersCatalogModel(cnn=_CentreFlux(), threshold=0.5, config=config, name="members-test", version="1",
                               operating_point="purity>=0.9")


def _wcs(shift_px: float = 0.0, scale: float = SCALE) -> WCS:
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = CENTRE
    w.wcs.crpix = [NPIX / 2 + shift_px, NPIX / 2 - shift_px]
    w.wcs.cdelt = [-scale / 3600, scale / 3600]
    return w


def _sources() -> Table:
    """Four positions: two inside, one near the left edge (cutout not inside), one off the images."""
    w = _wcs()
    x, y = np.array([40.0, 80.0, 3.0, 300.0]), np.array([50.0, 70.0, 60.0, 60.0])
    sky = w.pixel_to_world(x, y)
    return Table({"id": ["a", "b", "edge", "off"], "ra": sky.ra.deg, "dec": sky.dec.deg})


def _write_images(folder, *, bands=BANDS, scale=SCALE, nan_at=None):
    """One image per band, each with its own WCS (shifted by 5 px per band); F814W in electron/ks."""
    paths, rng = [], np.random.default_rng(0)
    src = _sources()
    for k, band in enumerate(bands):
        w = _wcs(shift_px=5.0 * k, scale=scale)
        yy, xx = np.mgrid[:NPIX, :NPIX]
        image = rng.normal(0, 0.01, (NPIX, NPIX))
        for amp, (x, y) in zip((5.0, 1.0, 3.0, 3.0), zip(*w.world_to_pixel_values(src["ra"], src["dec"]))):
            image += amp * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.5**2))
        if nan_at is not None:
            x, y = (float(v) for v in w.world_to_pixel_values(src["ra"][nan_at], src["dec"][nan_at]))
            image[int(round(y)) + 3, int(round(x)) + 3] = np.nan
        unit, factor = ("electron/ks", 1000.0) if band == "F814W" else ("electron/s", 1.0)
        header = w.to_header()
        header.update({"FILTER": band, "BUNIT": unit})
        path = folder / f"{band.lower()}.fits"
        fits.PrimaryHDU((image * factor).astype(np.float32), header=header).writeto(path)
        paths.append(path)
    pos = folder / "positions.ecsv"
    src.write(pos)
    return paths, pos


def test_sources_are_cut_from_every_band_by_its_own_wcs_and_scored(tmp_path):
    images, positions = _write_images(tmp_path)
    model = _model()
    result = make_members_catalog_at_positions(model, images[::-1], positions, batch_size=1)  # any band order
    t = result.table
    assert list(t["id"]) == ["a", "b", "edge", "off"]
    np.testing.assert_allclose(t["ra"], _sources()["ra"])
    assert list(t["flags"]) == [0, 0, FLAG_EDGE, FLAG_EDGE] and list(t["off_image"]) == [False, False, False, True]
    prob = np.asarray(t["member_prob"], float)
    assert np.isnan(prob[2:]).all() and prob[0] > 0.5 > prob[1]  # the brighter source scores higher
    assert list(t["is_member"]) == [True, False, False, False]
    seen = np.concatenate(model.cnn.seen)
    assert seen.shape == (2, SIZE, SIZE, 3)
    for c in range(3):  # each band's peak at the cutout centre, though the bands' WCS differ by 5 px each
        peak = np.unravel_index(np.argmax(seen[0, ..., c]), (SIZE, SIZE))
        assert peak == (SIZE // 2, SIZE // 2)
    # F814W was written in electron/ks: the model sees electron/s, like the other bands
    np.testing.assert_allclose(seen[0, SIZE // 2, SIZE // 2], 5.0, atol=0.1)
    assert t.meta["NPOS"] == 4 and t.meta["NEDGE"] == 2 and t.meta["NOFFIMG"] == 1 and t.meta["BANDS"] == "F435W,F606W,F814W"
    assert result.summary["n_scored"] == 2 and result.summary["n_members"] == 1


def test_nan_pixels_in_a_cutout_are_flagged_and_not_scored(tmp_path):
    images, positions = _write_images(tmp_path, nan_at=1)
    t = make_members_catalog_at_positions(_model(), images, positions).table
    assert list(t["flags"]) == [0, FLAG_NAN, FLAG_EDGE, FLAG_EDGE] and np.isnan(t["member_prob"][1])


def _ref() -> ModelRef:
    return ModelRef(uri="models:/members-test/1", name="members-test", version="1", alias=None, run_id="r")


def _catalog(out, **options):
    opts = {"member_cutouts": None, "member_images": None, "member_positions": None, "extra": [], **options}
    make_catalog(_ref(), out=out, options=opts, given=frozenset(), truth=None, batch_size=8, progress=False,
                 echo=lambda _: None, model=_model())


def test_the_catalog_command_writes_the_table_and_refuses_bad_images_writing_nothing(tmp_path):
    images, positions = _write_images(tmp_path)
    _catalog(tmp_path / "cat.fits", member_images=images, member_positions=positions)
    cat = Table.read(tmp_path / "cat.fits")
    assert cat.colnames[:6] == ["id", "ra", "dec", "member_prob", "is_member", "flags"]
    assert cat.meta["MODEL"] == "members-test" and cat.meta["POSFILE"] == "positions.ecsv"

    out = tmp_path / "bad.fits"
    with pytest.raises(DataError, match=r"have bands \['F435W', 'F606W'\] but model members-test v1 takes "
                                        r"\['F435W', 'F606W', 'F814W'\]; pass exactly one image per band"):
        _catalog(out, member_images=images[:2], member_positions=positions)
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    bad_images, _ = _write_images(wrong, scale=0.05)
    with pytest.raises(DataError, match=r"f435w\.fits: pixels of 0\.05 × 0\.05″ but model members-test v1 takes "
                                        r"0\.065″ pixels"):
        _catalog(out, member_images=bad_images, member_positions=positions)
    off = tmp_path / "off.csv"
    Table({"ra": [10.0, 11.0], "dec": [-30.0, -31.0]}).write(off)
    with pytest.raises(DataError, match=r"none of the 2 positions in .*off\.csv has its 16×16 px cutout inside every "
                                        r"image .*2 are off an image"):
        _catalog(out, member_images=images, member_positions=off)
    no_ra = tmp_path / "no_ra.csv"
    Table({"x": [1.0], "dec": [2.0]}).write(no_ra)
    with pytest.raises(DataError, match=r"no_ra\.csv: no 'ra' and 'dec' columns"):
        _catalog(out, member_images=images, member_positions=no_ra)
    with pytest.raises(ConfigError, match=r"give --member-cutouts DIR, or --member-images"):
        _catalog(out, member_images=images)  # positions missing
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".bad")]
