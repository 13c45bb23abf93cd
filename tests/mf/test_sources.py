"""Point sources before filtering: subtraction, masking with inpainting, detection, catalog checks."""

import numpy as np
import pytest
from astropy.table import Table

from skysieve.errors import DataError
from skysieve.mf import MapNoise, MatchedFilter, clean_sources, detect_sources, inpaint_harmonic, read_source_catalog
from tests.conftest import make_car_wcs
from tests.mf.conftest import BANDS, BEAMS, FREQS, make_sky, model_noise

SHAPE = (192, 192)
WCS = make_car_wcs(SHAPE)
SOURCE_XY = (100, 90)


def source_table(fluxes_mjy, xy=SOURCE_XY) -> Table:
    ra, dec = WCS.wcs_pix2world([xy], 0)[0]
    cols = {"source_id": [0], "ra": [ra], "dec": [dec]}
    cols.update({f"flux_{b}_mjy": [f] for b, f in zip(BANDS, fluxes_mjy)})
    return Table(cols)


def sky_with(sources: Table, cmb, seed=4):
    from skysieve.sim.instrument import apply_beam
    from skysieve.sim.sources import source_map

    signal = np.stack([np.asarray(apply_beam(source_map(SHAPE, WCS, sources, freq_ghz=f), BEAMS[b]))
                       for f, b in zip(FREQS, BANDS)])
    return make_sky(SHAPE, seed=seed, cmb=cmb, signal=signal)


def near_source(detections, radius_arcmin=15.0):
    d = np.hypot(np.asarray(detections["x"]) - SOURCE_XY[0], np.asarray(detections["y"]) - SOURCE_XY[1]) * 0.25
    return detections[d < radius_arcmin]


@pytest.mark.parametrize("fluxes", [(5.0, 10.0, 40.0), (100.0, 60.0, 40.0)], ids=["dusty", "radio"])
@pytest.mark.parametrize("treatment", ["subtract", "mask"])
def test_treating_a_bright_source_removes_it_from_the_detection_list(toy_cl, fluxes, treatment):
    src = source_table(fluxes)
    sky = sky_with(src, toy_cl)
    mf = MatchedFilter(beam_fwhm_arcmin=BEAMS, noise=model_noise(cmb=toy_cl))
    before = near_source(mf.detections(mf.fit_transform(sky)))
    assert len(before) >= 1  # the source itself, or the ring of false clusters around it
    cleaned = clean_sources(sky, src, treatment=treatment, beam_fwhm_arcmin=BEAMS, mask_radius_arcmin=3.0)
    assert cleaned.n_treated == 1
    snr = mf.fit_transform(cleaned.maps)
    if treatment == "mask":
        assert cleaned.mask[SOURCE_XY[1], SOURCE_XY[0]] and cleaned.mask.sum() < 600
        snr[:, cleaned.mask] = 0.0  # no detections in the inpainted hole (as run_mf_sz does)
    assert len(mf.detections(snr)) == 0


def test_flux_cut_applies_to_any_band():
    sky = make_sky(SHAPE)
    faint = source_table((1.5, 1.0, 1.9))
    assert clean_sources(sky, faint, beam_fwhm_arcmin=BEAMS, flux_cut_mjy=2.0).n_treated == 0
    one_band = source_table((0.5, 1.0, 2.5))
    cleaned = clean_sources(sky, one_band, beam_fwhm_arcmin=BEAMS, flux_cut_mjy=2.0)
    assert cleaned.n_treated == 1 and not np.array_equal(cleaned.maps.data, sky.data)


def test_detect_mode_finds_the_source_with_its_fluxes_and_subtracts_it(toy_cl):
    fluxes = (100.0, 60.0, 40.0)
    sky = sky_with(source_table(fluxes), toy_cl)
    found = detect_sources(sky, beam_fwhm_arcmin=BEAMS, noise=MapNoise(), snr_threshold=5.0)
    assert len(found) == 1
    assert (found["x"][0], found["y"][0]) == SOURCE_XY
    np.testing.assert_allclose([found[f"flux_{b}_mjy"][0] for b in BANDS], fluxes, rtol=0.05)
    cleaned = clean_sources(sky, found, beam_fwhm_arcmin=BEAMS)
    mf = MatchedFilter(beam_fwhm_arcmin=BEAMS, noise=model_noise(cmb=toy_cl))
    assert cleaned.n_treated == 1 and len(mf.detections(mf.fit_transform(cleaned.maps))) == 0


def test_detect_mode_ignores_clusters():
    """tSZ decrements are negative below 217 GHz: no positive peak, no source."""
    from tests.mf.conftest import cluster_signal

    signal = cluster_signal(SHAPE, WCS, x=96, y=96, y_arcmin2=4e-4, theta_c_arcmin=0.5)
    found = detect_sources(make_sky(SHAPE, seed=1, signal=signal), beam_fwhm_arcmin=BEAMS, noise=MapNoise())
    assert len(found) == 0


def test_harmonic_inpainting_is_exact_on_a_plane():
    yy, xx = np.mgrid[:40, :50]
    plane = np.stack([3.0 * xx - 2.0 * yy + 1.0, 0.5 * yy])
    mask = (yy - 20) ** 2 + (xx - 25) ** 2 < 36
    filled = inpaint_harmonic(np.where(mask, 1e6, plane), mask)
    np.testing.assert_allclose(filled, plane, atol=1e-8)


def test_source_catalog_without_flux_columns_names_the_file(tmp_path):
    path = tmp_path / "sources.fits"
    Table({"ra": [15.0], "dec": [0.0], "flux_90GHz_mjy": [3.0]}).write(path)
    with pytest.raises(DataError, match=r"sources.fits: missing columns \['flux_148GHz_mjy', 'flux_219GHz_mjy'\]"):
        read_source_catalog(path, freqs_ghz=FREQS)
    with pytest.raises(DataError, match="source catalog not found"):
        read_source_catalog(tmp_path / "nope.fits", freqs_ghz=FREQS)


def test_masking_most_of_the_map_is_refused():
    from skysieve.errors import ConfigError

    xs, ys = np.meshgrid(np.arange(8, 192, 12), np.arange(8, 192, 12))
    ra, dec = WCS.wcs_pix2world(xs.ravel(), ys.ravel(), 0)
    many = Table({"ra": ra, "dec": dec, **{f"flux_{b}_mjy": np.full(ra.size, 5.0) for b in BANDS}})
    with pytest.raises(ConfigError, match=r"would mask \d+% of the map \(256 sources above mf_sz.flux_cut_mjy"):
        clean_sources(make_sky(SHAPE), many, treatment="mask", mask_radius_arcmin=3.0)
