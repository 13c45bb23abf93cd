"""Thumbnails: band names to wavelengths, WCS cutouts, Lupton colour, mm panels, the search hooks."""

from contextlib import ExitStack

import numpy as np
import pytest
from astropy.table import Table
from astropy.visualization import make_lupton_rgb

from skysieve.errors import ConfigError, DataError
from skysieve.gallery import cut, default_thumbnails, lupton_rgb, open_images, wavelength_nm
from skysieve.tasks import get_search
from tests.gallery.conftest import DEC0, MM_N, MM_PIX_DEG, OPT_N, OPT_PIX_DEG, RA0, gaussians, tan_wcs


@pytest.mark.parametrize(("band", "nm"), [("F435W", 435.0), ("F814W", 814.0), ("F160W", 1600.0), ("r", 617.0),
                                          ("HSC-G", 469.0), ("SDSS_i", 748.0), ("148 GHz", None), ("X", None)])
def test_band_wavelengths(band, nm):
    assert wavelength_nm(band) == nm


def test_cut_is_centred_on_the_position_and_none_off_the_image(optical):
    cat, paths = optical
    rows = Table.read(cat)
    with ExitStack() as stack:
        image = open_images(paths[:1], stack)[0]
        piece = cut(image, ra_deg=rows["ra"][1], dec_deg=rows["dec"][1], size_px=21)
        assert piece.shape == (21, 21)
        x, y = (float(v) for v in image.wcs.world_to_pixel_values(rows["ra"][1], rows["dec"][1]))
        yy, xx = np.mgrid[:21, :21]
        w = np.where(piece > 5.0, piece, 0.0)  # the source (20σ peak) above the noise
        centroid = (np.sum(w * xx) / w.sum(), np.sum(w * yy) / w.sum())
        assert centroid == pytest.approx((10 + x - round(x), 10 + y - round(y)), abs=0.3)  # at the position
        assert cut(image, ra_deg=rows["ra"][4], dec_deg=rows["dec"][4], size_px=21) is None  # 5° away
        edge = cut(image, ra_deg=RA0 + (OPT_N / 2 - 2) * OPT_PIX_DEG / np.cos(np.radians(DEC0)), dec_deg=DEC0,
                   size_px=21)
        assert np.isnan(edge).any() and np.isfinite(edge).any()  # partly off: NaN outside


def test_lupton_rgb_is_astropys_on_sky_subtracted_bands():
    rng = np.random.default_rng(1)
    r, g, b = (rng.normal(5.0, 1.0, (40, 40)) for _ in range(3))
    r[20, 20] += 50
    ours = lupton_rgb(r, g, b)
    bands = [x - np.median(x) for x in (r, g, b)]
    stretch = float(np.percentile(sum(bands) / 3, 99.5))
    theirs = make_lupton_rgb(*bands, minimum=0.0, stretch=stretch, Q=8.0)[::-1]
    factor = ours.shape[0] // 40  # enlarged by an integer factor, nearest pixel
    np.testing.assert_array_equal(ours[::factor, ::factor], theirs)
    assert ours[::factor, ::factor][19, 20, 0] > ours[::factor, ::factor][19, 20, 2]  # row 20 flipped: red source


def test_an_inf_pixel_spoils_only_itself_and_no_finite_pixel_gives_the_placeholder():
    rng = np.random.default_rng(2)
    r, g, b = (rng.normal(5.0, 1.0, (40, 40)) for _ in range(3))
    r[20, 20] += 50
    clean = lupton_rgb(r, g, b)
    r[3, 3] = np.inf
    spoiled = lupton_rgb(r, g, b)
    factor = clean.shape[0] // 40
    assert spoiled[::factor, ::factor][19, 20].sum() > 0  # the source still shows (rows flipped)
    differs = np.any(spoiled[::factor, ::factor] != clean[::factor, ::factor], axis=-1)
    assert differs.sum() <= 1 + 0.01 * differs.size  # the inf pixel, drawn black; the rest as before but for the sky
    blank = lupton_rgb(*(np.full((40, 40), np.nan) for _ in range(3)))
    assert blank.std() > 0 and blank.mean() > 40  # the grey placeholder with its text, not a black square


def test_default_thumbnails_colour_for_three_optical_bands_panels_otherwise(optical):
    from astropy.io import fits

    cat, paths = optical
    rows = Table.read(cat)
    with fits.open(paths[0], mode="update") as hdul:  # HST/ACS names the band in FILTER1/FILTER2
        del hdul[0].header["FILTER"]
        hdul[0].header["FILTER1"], hdul[0].header["FILTER2"] = "g", "CLEAR2L"
    with ExitStack() as stack:
        assert [im.band for im in open_images(paths, stack)] == ["g", "r", "i"]
    rgb = list(default_thumbnails(rows, paths, size_px=24))
    assert rgb[4] is None and all(t.ndim == 3 and t.dtype == np.uint8 for t in rgb[:4])
    centre = rgb[1][rgb[1].shape[0] // 2 - 7, rgb[1].shape[1] // 2]  # above the label strip
    assert centre[0] > centre[2] > 0  # i (red) brightest, g (blue) faintest
    two = list(default_thumbnails(rows, paths[:2], size_px=24))
    assert two[1].shape[1] > 2 * rgb[1].shape[1] - 10  # two panels side by side
    np.testing.assert_array_equal(two[1][..., 0], two[1][..., 2])  # grey


def test_sz_panels_show_the_decrement_blue_and_refuse_a_map_without_freq(mm_maps, tmp_path):
    cat, paths = mm_maps
    rows = Table.read(cat)
    thumbs = list(get_search("sz").gallery_thumbnails(rows, tuple(paths), size_px=None))
    assert thumbs[4] is None
    panel = thumbs[1]
    side = panel.shape[0] - 14  # label strip
    assert panel.shape[1] == 3 * side + 4  # three bands, two 2-px gaps
    red, _, blue = (int(v) for v in panel[side // 2, side // 2])  # 90 GHz, the first panel: a decrement
    assert blue > red + 60
    from astropy.io import fits

    bad = tmp_path / "nofreq.fits"
    fits.PrimaryHDU(np.zeros((MM_N, MM_N), np.float32), tan_wcs(MM_N, MM_PIX_DEG).to_header()).writeto(bad)
    with pytest.raises(DataError, match="nofreq.fits: no FREQ"):
        list(get_search("sz").gallery_thumbnails(rows, (bad,), size_px=None))
    with pytest.raises(ConfigError, match="give --images"):
        list(get_search("sz").gallery_thumbnails(rows, (), size_px=None))


def test_lens_thumbnails_from_a_cutout_directory(tmp_path):
    from astropy.io import fits

    cutdir = tmp_path / "cutouts"
    cutdir.mkdir()
    wcs = tan_wcs(40, 0.05 / 3600)
    files = []
    for k in range(2):
        hdus = [fits.PrimaryHDU()]
        for j, band in enumerate(("F435W", "F606W", "F814W")):
            data = gaussians(wcs, 40, [RA0], [DEC0], [10.0 * (j + 1)], 2.0, noise=0.5, seed=10 * k + j)
            hdus.append(fits.ImageHDU(data, fits.Header({"FILTER": band})))
        fits.HDUList(hdus).writeto(cutdir / f"c{k}.fits")
        files.append(f"c{k}.fits")
    rows = Table({"id": ["c0", "c1"], "ra": [np.nan] * 2, "dec": [np.nan] * 2, "score": [0.3, 0.8], "file": files})
    rows.meta.update({"SIZE_PX": 30, "NBANDS": 3, "BAND1": "F435W", "BAND2": "F606W", "BAND3": "F814W",
                      "INPUT": "cutouts", "CUTDIR": str(cutdir)})
    lens = get_search("lens")
    for images in ((cutdir,), ()):  # given, or from the header's CUTDIR
        thumbs = list(lens.gallery_thumbnails(rows, images, size_px=None))
        assert len(thumbs) == 2 and all(t is not None for t in thumbs)
        r, _, b = (int(v) for v in thumbs[0][thumbs[0].shape[0] // 2 - 7, thumbs[0].shape[1] // 2])
        assert r > b  # F814W brightest: red
    (cutdir / "c1.fits").unlink()
    with pytest.raises(DataError, match="c1.fits: cutout file of the catalog not found"):
        list(lens.gallery_thumbnails(rows, (cutdir,), size_px=None))
    moved = rows.copy()
    moved.meta["CUTDIR"] = str(tmp_path / "gone")
    with pytest.raises(DataError, match="gone: the catalog's cutout directory .* not found; give --images"):
        list(lens.gallery_thumbnails(moved, (), size_px=None))
    del moved.meta["CUTDIR"]
    with pytest.raises(ConfigError, match="'lens' search: the thumbnails are drawn from the catalog's inputs"):
        list(lens.gallery_thumbnails(moved, (), size_px=None))
