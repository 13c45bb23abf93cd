"""The multi-frequency matched filter: normalisation, recovery of injected clusters, band combination."""

import numpy as np
import pytest

from skysieve.data.maps import SkyMaps
from skysieve.errors import DataError
from skysieve.mf import MapNoise, MatchedFilter, beta_template, default_scales
from skysieve.mf._fourier import fourier_grid
from tests.conftest import make_car_wcs
from tests.mf.conftest import BANDS, BEAMS, WHITE, cluster_signal, make_sky, model_noise

SHAPE = (192, 192)


def analytic_snr(signal: np.ndarray, bands=BANDS, pixel_arcmin: float = 0.25) -> float:
    """Optimal SNR of a known signal in white noise, in real space: SNR² = Σ_bands Σ_pixels (s − s̄)² / σ_pix².

    The map mean (ℓ = 0) is not used by the filter — real maps have no meaningful mean — so it is left out.
    """
    return float(np.sqrt(sum(((s.astype(float) - s.mean()) ** 2).sum() * pixel_arcmin**2 / WHITE[b] ** 2
                             for s, b in zip(signal, bands))))


def test_default_scales_are_the_spt_grid():
    np.testing.assert_allclose(default_scales(), np.arange(1, 13) * 0.25)


def test_template_has_unit_integral_and_is_centred():
    grid = fourier_grid((64, 96), make_car_wcs((64, 96)))
    tau = beta_template(grid, theta_c_arcmin=0.5, theta_max_arcmin=5.0)
    assert tau.sum() * grid.pixel_area_arcmin2 == pytest.approx(1.0, rel=1e-5)
    assert np.unravel_index(tau.argmax(), tau.shape) == (0, 0)
    assert tau[0, 3] == pytest.approx(tau[0, -3]) and tau[3, 0] == pytest.approx(tau[-3, 0])


def test_injected_cluster_snr_position_and_y_are_recovered():
    wcs = make_car_wcs(SHAPE)
    x, y, y_true = 95.3, 100.6, 4.0e-4
    signal = cluster_signal(SHAPE, wcs, x=x, y=y, y_arcmin2=y_true, theta_c_arcmin=1.0)
    expected = analytic_snr(signal)
    assert 40 < expected < 80  # a clear detection: noise moves its SNR by a few per cent, its centre < 1 px

    mf = MatchedFilter(beam_fwhm_arcmin=BEAMS, noise=model_noise(), snr_threshold=5.0)
    noiseless = SkyMaps(data=signal.astype(np.float32), wcs=wcs, bands=BANDS, freqs_ghz=(90.0, 148.0, 219.0),
                        unit="uK_CMB")
    clean = mf.fit_transform(noiseless)
    scale = int(np.flatnonzero(np.isclose(mf.theta_c_arcmin, 1.0))[0])
    iy, ix = int(round(y)), int(round(x))
    # On the true template and at the nearest pixel: the optimal SNR, and Y in arcmin².
    assert clean[scale, iy, ix] == pytest.approx(expected, rel=0.01)
    assert clean[scale, iy, ix] * mf.sigma_[scale] == pytest.approx(y_true, rel=0.03)

    noisy = make_sky(SHAPE, seed=3, signal=signal)
    detections = mf.detections(mf.transform(noisy))
    best = detections[0]
    assert best["snr"] == pytest.approx(expected, rel=0.10)
    assert np.hypot(best["x"] - x, best["y"] - y) < 1.0
    assert 0.5 <= best["theta_c_arcmin"] <= 1.75
    assert len(detections) == 1  # nothing else in pure noise above 5σ


def test_pure_noise_snr_has_unit_variance(toy_cl):
    """Model noise: the variance of the SNR maps, pooled over realisations, is 1 within 5 % at every scale.

    The large scales respond to the few longest modes of a small map, so one 256² map's variance scatters
    by ~20 % at θc = 3′: 96 realisations bring that to ~2 %.
    """
    mf = MatchedFilter(beam_fwhm_arcmin=BEAMS, noise=model_noise(cmb=toy_cl))
    variances = []
    for seed in range(96):
        sky = make_sky((256, 256), seed=100 + seed, cmb=toy_cl)
        if seed == 0:
            mf.fit(sky)
        variances.append(mf.transform(sky).var(axis=(1, 2)))
    np.testing.assert_allclose(np.mean(variances, axis=0), 1.0, atol=0.05)


def test_noise_estimated_from_the_maps_gives_unit_variance(toy_cl):
    """Map-estimated noise on one larger map: unit variance within 5 % (the estimate is fit to the map itself)."""
    sky = make_sky((512, 512), seed=5, cmb=toy_cl)
    snr = MatchedFilter(beam_fwhm_arcmin=BEAMS, noise=MapNoise(), theta_c_arcmin=[0.25, 1.0, 2.0]).fit_transform(sky)
    np.testing.assert_allclose(snr.var(axis=(1, 2)), 1.0, atol=0.05)


def test_multiband_filter_beats_every_single_band_with_cmb(toy_cl):
    """The expected SNR (filter applied to the noiseless cluster) is highest when the bands are combined."""
    wcs = make_car_wcs(SHAPE)
    signal = cluster_signal(SHAPE, wcs, x=96, y=96, y_arcmin2=2.0e-4, theta_c_arcmin=1.5)
    scale = [1.5]

    def expected_snr(bands):
        keep = [BANDS.index(b) for b in bands]
        maps = SkyMaps(data=signal[keep].astype(np.float32), wcs=wcs, bands=tuple(bands),
                       freqs_ghz=tuple(float(b.removesuffix("GHz")) for b in bands), unit="uK_CMB")
        mf = MatchedFilter(beam_fwhm_arcmin=BEAMS, noise=model_noise(cmb=toy_cl, bands=bands), theta_c_arcmin=scale)
        return float(mf.fit_transform(maps)[0, 96, 96])

    combined = expected_snr(BANDS)
    singles = {b: expected_snr((b,)) for b in BANDS}
    assert all(combined > s for s in singles.values()), (combined, singles)
    assert combined > 2 * max(singles.values())  # the CMB, common to all bands, is cancelled


def test_bands_without_frequency_or_beam_are_rejected():
    sky = make_sky((64, 64))
    no_freq = SkyMaps(data=sky.data, wcs=sky.wcs, bands=sky.bands, freqs_ghz=None, unit="uK_CMB",
                      paths=tuple(f"sky_{b}.fits" for b in sky.bands))
    with pytest.raises(DataError, match=r"sky_90GHz.fits.*no frequency"):
        MatchedFilter(beam_fwhm_arcmin=BEAMS, noise=model_noise()).fit(no_freq)
    from pathlib import Path

    odd = SkyMaps(data=sky.data, wcs=sky.wcs, bands=("90GHz", "148GHz", "277GHz"), freqs_ghz=(90.0, 148.0, 277.0),
                  unit="uK_CMB", paths=(Path("a.fits"), Path("b.fits"), Path("c277.fits")))
    with pytest.raises(DataError, match=r"c277.fits: band\(s\) \['277GHz'\] have no beam"):
        MatchedFilter(beam_fwhm_arcmin=BEAMS, noise=model_noise()).fit(odd)


def test_transform_refuses_maps_of_another_geometry():
    mf = MatchedFilter(beam_fwhm_arcmin=BEAMS, noise=model_noise(), theta_c_arcmin=[1.0]).fit(make_sky((64, 64)))
    with pytest.raises(DataError, match="refit the filter"):
        mf.transform(make_sky((64, 96)))
    with pytest.raises(DataError, match="not fitted"):
        MatchedFilter(beam_fwhm_arcmin=BEAMS, noise=model_noise()).transform(make_sky((64, 64)))
