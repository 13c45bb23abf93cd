"""Point sources: unit conversion, power-law sampling, maps, Poisson power and the default calibration."""

import astropy.units as u
import numpy as np
import pytest
from pixell import enmap
from scipy import constants

from skysieve.config import SimulateSzParams, SourcePopulationParams
from skysieve.errors import ConfigError
from skysieve.sim import (
    expected_source_count,
    flux_column,
    mjy_to_uk,
    poisson_cl,
    sample_sources,
    source_map,
    uk_to_mjy,
)
from skysieve.sim._geometry import patch_solid_angle_sr

ARCMIN2_SR = (np.pi / (180 * 60)) ** 2


def test_mjy_uk_round_trip():
    flux = np.array([0.1, 2.0, 150.0])
    for freq in (90.0, 148.0, 219.0):
        t = mjy_to_uk(flux, freq, pixel_area_sr=0.0625 * ARCMIN2_SR)
        np.testing.assert_allclose(uk_to_mjy(t, freq, pixel_area_sr=0.0625 * ARCMIN2_SR), flux, rtol=1e-12)


def test_mjy_to_uk_matches_analytic_dbdt():
    nu, tcmb = 148e9, 2.7255
    x = constants.h * nu / (constants.k * tcmb)
    db_dt = 2 * constants.k * nu**2 / constants.c**2 * x**2 * np.exp(x) / np.expm1(x) ** 2  # W m⁻² Hz⁻¹ sr⁻¹ K⁻¹
    area = 0.0625 * ARCMIN2_SR
    expected_uk = 1e-29 / area / db_dt * 1e6  # 1 mJy = 1e-29 W m⁻² Hz⁻¹
    assert mjy_to_uk(1.0, 148.0, pixel_area_sr=area) == pytest.approx(expected_uk, rel=1e-6)
    # the familiar number: ~ 1 / (395 Jy sr⁻¹ per µK) at 148 GHz
    assert 1e-3 / mjy_to_uk(1.0, 148.0, pixel_area_sr=1.0) == pytest.approx(393.3, rel=0.01)


def test_sample_sources_counts_columns_and_pixel_centres(geometry):
    shape, wcs = geometry(120, 0.5)  # 1 deg²
    cfg = SimulateSzParams().ir
    table = sample_sources(shape, wcs, cfg, seed=2, population="ir")
    expected = expected_source_count(cfg, solid_angle_sr=patch_solid_angle_sr(shape, wcs))
    assert abs(len(table) - expected) < 4 * np.sqrt(expected)
    for freq in (90.0, 148.0, 219.0):
        assert flux_column(freq) in table.colnames and table[flux_column(freq)].unit == u.mJy
    assert table.colnames[:5] == ["source_id", "ra", "dec", "population", "spectral_index"]
    assert set(table["population"]) == {"ir"}
    assert table["ra"].unit == u.deg
    pix = enmap.sky2pix(shape, wcs, np.deg2rad([table["dec"], table["ra"]]))
    np.testing.assert_allclose(pix, np.rint(pix), atol=1e-6)  # exactly at pixel centres
    ref = np.asarray(table[flux_column(148.0)])
    assert ref.min() >= cfg.s_min_mjy and ref.max() <= cfg.s_max_mjy


def test_sampled_fluxes_follow_the_power_law_and_spectral_index(geometry):
    cfg = SourcePopulationParams(counts_norm_per_sr_per_mjy=3e5, counts_slope=2.5, s_min_mjy=1.0, s_max_mjy=1e5,
                                 spectral_index=-0.7, spectral_index_scatter=0.2)
    shape, wcs = geometry(120, 1.0)
    table = sample_sources(shape, wcs, cfg, seed=8, population="radio")
    s = np.asarray(table[flux_column(148.0)])
    n = len(s)
    alpha_hat = 1 + n / np.sum(np.log(s / cfg.s_min_mjy))  # maximum likelihood (s_max ≫ s_min)
    assert alpha_hat == pytest.approx(cfg.counts_slope, abs=4 * (alpha_hat - 1) / np.sqrt(n))
    index = np.log(table[flux_column(219.0)] / table[flux_column(148.0)]) / np.log(219 / 148)
    np.testing.assert_allclose(index, table["spectral_index"], rtol=1e-9)
    assert np.mean(index) == pytest.approx(-0.7, abs=4 * 0.2 / np.sqrt(n))
    assert np.std(index) == pytest.approx(0.2, rel=0.1)


def test_unknown_population_is_a_config_error(geometry):
    shape, wcs = geometry(8, 1.0)
    with pytest.raises(ConfigError, match="unknown source population 'agn'"):
        sample_sources(shape, wcs, SimulateSzParams().radio, seed=0, population="agn")


def test_source_map_puts_each_flux_in_its_pixel(geometry):
    shape, wcs = geometry(64, 0.25)
    table = sample_sources(shape, wcs, SimulateSzParams().ir, seed=3, population="ir")
    area = np.asarray(enmap.pixsizemap(shape, wcs))
    for freq in (90.0, 219.0):
        smap = np.asarray(source_map(shape, wcs, table, freq_ghz=freq))
        recovered = uk_to_mjy(smap, freq, pixel_area_sr=area)
        assert recovered.sum() == pytest.approx(np.sum(table[flux_column(freq)]), rel=1e-9)
        assert np.count_nonzero(smap) <= len(table)


def test_source_map_power_matches_poisson_cl(geometry, power_spectrum):
    # Faint sources only (no heavy tail), so the shot noise is measured to a few per cent.
    cfg = SourcePopulationParams(counts_norm_per_sr_per_mjy=4.5e5, counts_slope=3.0, s_min_mjy=0.3, s_max_mjy=3.0,
                                 spectral_index=3.4)
    shape, wcs = geometry(256, 0.5)
    table = sample_sources(shape, wcs, cfg, seed=4, population="ir")
    smap = source_map(shape, wcs, table, freq_ghz=219.0)
    _, cl, _, _ = power_spectrum(smap, np.array([1000.0, 20000.0]))
    assert cl[0] == pytest.approx(poisson_cl(cfg, freq_ghz=219.0), rel=0.1)


def test_default_populations_reproduce_deepsz_point_source_power():
    # DeepSZ §2.1: D_3000 = 2.7, 8.8, 71 µK² at 90/148/219 GHz; we count sources fainter than
    # 2 mJy at 148 GHz (the matched filter subtracts brighter ones).
    cfg = SimulateSzParams()
    d3000 = []
    for freq in (90.0, 148.0, 219.0):
        cl = sum(poisson_cl(pop, freq_ghz=freq, flux_cut_mjy=2.0, cut_freq_ghz=148.0) for pop in (cfg.radio, cfg.ir))
        d3000.append(3000 * 3001 / (2 * np.pi) * cl)
    np.testing.assert_allclose(d3000, [2.7, 8.8, 71.0], rtol=0.2)
    # radio dominates at 90 GHz relative to its share elsewhere, IR at 219 GHz
    radio = [poisson_cl(cfg.radio, freq_ghz=f, flux_cut_mjy=2.0, cut_freq_ghz=148.0) for f in (90.0, 219.0)]
    ir = [poisson_cl(cfg.ir, freq_ghz=f, flux_cut_mjy=2.0, cut_freq_ghz=148.0) for f in (90.0, 219.0)]
    assert radio[0] > ir[0] and ir[1] > 100 * radio[1]


def test_poisson_cl_cut_in_band_removes_bright_sources():
    cfg = SimulateSzParams().radio
    assert poisson_cl(cfg, freq_ghz=90.0, flux_cut_mjy=2.0) < poisson_cl(cfg, freq_ghz=90.0) / 50


def test_a_draw_of_zero_sources_is_an_empty_table_with_every_column(geometry):
    cfg = SourcePopulationParams(counts_norm_per_sr_per_mjy=1e-9, counts_slope=2.0, s_min_mjy=1.0, s_max_mjy=10.0,
                                 spectral_index=-0.7)
    shape, wcs = geometry(16, 1.0)
    assert expected_source_count(cfg, solid_angle_sr=patch_solid_angle_sr(shape, wcs)) < 1e-6
    table = sample_sources(shape, wcs, cfg, seed=0, population="radio")
    assert len(table) == 0
    assert table.colnames == ["source_id", "ra", "dec", "population", "spectral_index",
                              *(flux_column(f) for f in (90.0, 148.0, 219.0))]
    assert table["ra"].unit == u.deg and table[flux_column(148.0)].unit == u.mJy
    assert not np.any(source_map(shape, wcs, table, freq_ghz=148.0))
