"""Survey-map realism of the simulator, each feature against its analytic expectation; all off by default."""

from itertools import pairwise

import numpy as np
import pytest
from pixell import enmap

from skysieve.config import PatchParams, SimulateSzParams, SurveyParams
from skysieve.data import read_maps, read_weights
from skysieve.sim import simulate_sky
from skysieve.sim.instrument import white_noise
from skysieve.sim.sky import write_sky
from skysieve.sim.survey import one_over_f_noise, tan_geometry, to_tan


def _survey_cfg(components, **survey) -> SimulateSzParams:
    return SimulateSzParams(patch=PatchParams(width_deg=1.0, height_deg=1.0), components=components(noise=True),
                            survey=SurveyParams(**survey))


def test_survey_features_are_off_by_default(tiny_cfg, cosmo, powerlaw_cl):
    assert not tiny_cfg.survey.active
    sky = simulate_sky(tiny_cfg, cosmo, cl=powerlaw_cl, seed=5)
    assert sky.weights is None and np.isfinite(sky.maps).all() and sky.wcs.wcs.ctype[0] == "RA---CAR"


def test_one_over_f_power_follows_the_model_along_the_scan_and_is_flat_across(geometry):
    """P(ℓx, ℓy) / N² = 1 + (ℓ_knee / |ℓx|)^α: averaged over ℓy at each |ℓx| it follows the model; at
    |ℓx| ≫ ℓ_knee it is white and does not depend on ℓy."""
    shape, wcs = geometry(256, 0.5)
    knee, alpha, depth = 3000.0, 3.0, 10.0
    power = np.zeros(shape)
    n_real = 6
    for seed in range(n_real):
        white = np.asarray(white_noise(shape, wcs, depth, seed=seed))
        colored = one_over_f_noise(white, wcs, ell_knee=knee, alpha=alpha)
        power += np.abs(np.fft.fft2(colored)) ** 2 / n_real
    sigma2 = depth**2 / 0.25  # µK² per 0.5′ pixel
    power /= shape[0] * shape[1] * sigma2  # E|FFT|² of white noise = n σ²
    ly, lx = (np.asarray(a) for a in enmap.laxes(shape, wcs))
    alx = np.abs(lx)
    model = 1.0 + (knee / np.where(alx > 0, alx, alx[1])) ** alpha
    along = power.mean(axis=0)  # ℓy-averaged, 256 × 6 modes per column: ~2.6 % scatter
    for lo, hi in ((1000, 2000), (2000, 4000), (4000, 8000), (8000, 20000)):
        sel = (alx >= lo) & (alx < hi)
        assert along[sel].mean() == pytest.approx(model[sel].mean(), rel=0.06), (lo, hi)
    far = alx > 6 * knee  # across the scan: flat in ℓy at 1 + (1/6)^3
    rows = power[:, far].mean(axis=1)
    low, high = rows[np.abs(ly) < 3000].mean(), rows[np.abs(ly) > 10000].mean()
    assert low == pytest.approx(high, rel=0.05) and high == pytest.approx(1 + (1 / 6) ** 3, rel=0.06)
    assert along[(alx > 1000) & (alx < 1500)].mean() > 5 * high  # the stripes: low-|ℓx| excess


def test_depth_map_noise_rms_is_one_over_sqrt_weight(cosmo, components):
    cfg = _survey_cfg(components, footprint=True, depth_rms=0.8, depth_scale_deg=0.15, footprint_scale_deg=0.2)
    sky = simulate_sky(cfg, cosmo, cl=None, seed=4)
    for band, image, weight in zip(cfg.bands, sky.maps, sky.weights):
        inside = weight > 0
        assert np.array_equal(inside, np.isfinite(image))  # NaN exactly where the weight is 0
        z = image[inside] * np.sqrt(weight[inside])  # unit variance if rms = 1/√w
        w = weight[inside]
        edges = np.quantile(w, [0, 0.25, 0.5, 0.75, 1.0])
        for lo, hi in pairwise(edges):
            sel = (w >= lo) & (w <= hi)
            assert z[sel].std() == pytest.approx(1.0, rel=0.03), band
        assert w.max() / w.min() > 4  # the depth really varies
        assert np.median(w) * (band.noise_uk_arcmin / 0.25) ** 2 == pytest.approx(1.0, rel=0.01)


def test_footprint_is_irregular_nan_outside_and_seeded(cosmo, components):
    cfg = _survey_cfg(components, footprint=True, footprint_scale_deg=0.1, footprint_roughness=0.2)
    a = simulate_sky(cfg, cosmo, cl=None, seed=9)
    b = simulate_sky(cfg, cosmo, cl=None, seed=9)
    assert np.array_equal(a.maps, b.maps, equal_nan=True)
    mask = np.isfinite(a.maps[0])
    assert all(np.array_equal(mask, np.isfinite(m)) for m in a.maps)  # one footprint for every band
    assert 0.3 < mask.mean() < 0.7  # π 0.8² / 4 ≈ 0.5 for a disc
    ny, nx = mask.shape
    y, x = np.mgrid[0:ny, 0:nx]
    r = np.hypot(y - (ny - 1) / 2, x - (nx - 1) / 2)
    disc = r < 0.8 * ny / 2
    assert np.mean(mask != disc) > 0.03  # not a disc: the boundary wobbles
    assert not mask[0].any() and mask[ny // 2, nx // 2]


def test_tan_projection_puts_the_sky_where_the_tan_wcs_says(cosmo, components):
    """A Gaussian blob painted on the CAR grid, resampled to TAN, matches the blob evaluated at the TAN pixels'
    sky positions (the beamed sky is smooth on the pixel scale)."""
    patch = PatchParams(width_deg=2.0, height_deg=2.0, dec_center_deg=-30.0, pixel_arcmin=0.5)
    from skysieve.sim import make_geometry

    shape, wcs = make_geometry(patch)
    ra0, dec0, sig = np.radians(15.6), np.radians(-29.5), np.radians(2.0 / 60)

    def blob(pos):
        dec, ra = pos
        cosd = np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(ra - ra0)
        return np.exp(-0.5 * (np.arccos(np.clip(cosd, -1, 1)) / sig) ** 2)

    car = enmap.ndmap(blob(enmap.posmap(shape, wcs)), wcs)
    tshape, twcs = tan_geometry(patch)
    assert twcs.wcs.ctype[0] == "RA---TAN" and abs(tshape[0] - shape[0]) <= 2
    tan = to_tan(car, tshape, twcs)
    expect = blob(enmap.posmap(tshape, twcs))
    assert np.abs(tan - expect).max() < 0.01
    cfg = SimulateSzParams(patch=patch, components=components(noise=True), survey=SurveyParams(projection="tan"))
    sky = simulate_sky(cfg, cosmo, cl=None, seed=2)
    assert sky.wcs.wcs.ctype[0] == "RA---TAN" and sky.maps.shape[1:] == tshape and np.isfinite(sky.maps).all()


def test_weight_maps_are_written_beside_the_bands_and_read_back(tmp_path, cosmo, components):
    cfg = _survey_cfg(components, footprint=True, depth_rms=0.5, ell_knee=1500)
    sky = simulate_sky(cfg, cosmo, cl=None, seed=3)
    written = write_sky(sky, tmp_path)
    names = [p.name for p in written]
    assert names[:6] == ["sky_90GHz.fits", "sky_148GHz.fits", "sky_219GHz.fits", "weight_90GHz.fits",
                         "weight_148GHz.fits", "weight_219GHz.fits"]
    maps = read_maps(written[:3], allow_nan=True)
    w = read_weights(written[3:6], maps)
    assert np.allclose(w, sky.weights) and np.array_equal(w > 0, np.isfinite(maps.data))
