"""The full sky: geometry, determinism, component switches, frequency behaviour and the written files."""

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table
from pixell import enmap

from skysieve.config import PatchParams, SimulateSzParams
from skysieve.data.maps import read_maps
from skysieve.sim import make_geometry, simulate_sky, tsz_frequency_factor, write_sky


def test_default_geometry():
    patch = PatchParams()
    shape, wcs = make_geometry(patch)
    side = round(patch.width_deg * 60 / patch.pixel_arcmin)
    assert shape == (side, side)
    assert abs(wcs.wcs.cdelt[1]) * 60 == pytest.approx(0.25)
    assert wcs.wcs.cdelt[0] < 0  # RA increases to the left
    centre = (side - 1) / 2
    dec, ra = np.degrees(enmap.pix2sky(shape, wcs, [centre, centre]))
    assert ra == pytest.approx(15.0, abs=0.01) and dec == pytest.approx(0.0, abs=0.01)


def test_tiny_sky_shapes_types_and_catalogues(tiny_cfg, cosmo, powerlaw_cl):
    sky = simulate_sky(tiny_cfg, cosmo, cl=powerlaw_cl, seed=5)
    assert sky.maps.shape == (3, 64, 64) and sky.maps.dtype == np.float32
    assert sky.freqs_ghz == (90.0, 148.0, 219.0) and sky.bands == ("90GHz", "148GHz", "219GHz")
    assert np.all(np.isfinite(sky.maps))
    assert set(sky.sources["population"]) <= {"radio", "ir"} and len(sky.sources) > 0
    np.testing.assert_array_equal(sky.sources["source_id"], np.arange(len(sky.sources)))
    assert "flux_219GHz_mjy" in sky.sources.colnames


def test_same_seed_bit_identical_other_seed_differs(tiny_cfg, cosmo, powerlaw_cl):
    a = simulate_sky(tiny_cfg, cosmo, cl=powerlaw_cl, seed=5)
    b = simulate_sky(tiny_cfg, cosmo, cl=powerlaw_cl, seed=5)
    c = simulate_sky(tiny_cfg, cosmo, cl=powerlaw_cl, seed=6)
    np.testing.assert_array_equal(a.maps, b.maps)
    assert len(a.halos) == len(b.halos) and np.array_equal(a.halos["ra"], b.halos["ra"])
    assert not np.allclose(a.maps, c.maps)


def test_all_components_off_gives_zero_maps_and_no_sources(tiny_cfg, cosmo, components):
    cfg = tiny_cfg.model_copy(update={"components": components()})
    sky = simulate_sky(cfg, cosmo, cl=None, seed=1)  # no CMB: no spectrum needed
    assert np.all(sky.maps == 0)
    assert len(sky.sources) == 0 and "flux_90GHz_mjy" in sky.sources.colnames
    assert "m500c" in sky.halos.colnames  # the truth catalogue is always made


def test_components_are_independent_streams(tiny_cfg, cosmo, powerlaw_cl, components):
    def run(**on):
        cfg = tiny_cfg.model_copy(update={"components": components(**on)})
        return simulate_sky(cfg, cosmo, cl=powerlaw_cl, seed=21).maps.astype(np.float64)

    cmb, dust, radio, noise = run(cmb=True), run(dust=True), run(radio=True), run(noise=True)
    together = run(cmb=True, dust=True, radio=True, noise=True)
    np.testing.assert_allclose(together, cmb + dust + radio + noise, atol=2e-3 * np.abs(together).max())
    np.testing.assert_allclose(run(noise=True, ir=True) - run(ir=True), noise, atol=1e-3)  # same noise realisation


def test_band_ratios_follow_each_component_spectrum(tiny_cfg, cosmo, powerlaw_cl, components):
    # Without beam or noise, tSZ scales as f(x) and the CMB is identical in every band.
    def run(**on):
        cfg = tiny_cfg.model_copy(update={"components": components(**on)})
        return simulate_sky(cfg, cosmo, cl=powerlaw_cl, seed=2)

    cfg = tiny_cfg.model_copy(update={"halos": tiny_cfg.halos.model_copy(update={"m_min_msun": 2e13})})
    cfg = cfg.model_copy(update={"components": components(tsz=True)})
    tsz = simulate_sky(cfg, cosmo, cl=None, seed=2)
    assert len(tsz.halos) > 0
    f = tsz_frequency_factor(np.array(tsz.freqs_ghz))
    strong = np.abs(tsz.maps[0]) > 1e-3 * np.abs(tsz.maps[0]).max()
    np.testing.assert_allclose(tsz.maps[1][strong] / tsz.maps[0][strong], f[1] / f[0], rtol=1e-4)
    assert tsz.maps[0].min() < 0 and tsz.maps[0].max() <= 0  # a decrement at 90 GHz
    cmb = run(cmb=True).maps
    np.testing.assert_array_equal(cmb[0], cmb[2])


def test_beam_smooths_and_keeps_the_mean(tiny_cfg, cosmo, powerlaw_cl, components):
    def run(**on):
        cfg = tiny_cfg.model_copy(update={"components": components(**on)})
        return simulate_sky(cfg, cosmo, cl=powerlaw_cl, seed=3).maps.astype(np.float64)

    raw, beamed = run(ir=True), run(ir=True, beam=True)
    np.testing.assert_allclose(beamed.sum(axis=(1, 2)), raw.sum(axis=(1, 2)), rtol=1e-4)
    assert np.all(beamed.max(axis=(1, 2)) < 0.5 * raw.max(axis=(1, 2)))


def test_write_sky_round_trip(tmp_path, tiny_cfg, cosmo, powerlaw_cl):
    sky = simulate_sky(tiny_cfg, cosmo, cl=powerlaw_cl, seed=5)
    paths = write_sky(sky, tmp_path / "out")
    names = [p.name for p in paths]
    assert names == ["sky_90GHz.fits", "sky_148GHz.fits", "sky_219GHz.fits", "halos.fits", "sources.fits"]
    maps = read_maps(paths[:3])
    assert maps.unit == "uK_CMB" and maps.freqs_ghz == (90.0, 148.0, 219.0)
    np.testing.assert_array_equal(maps.data, sky.maps)
    assert maps.pixel_arcmin == pytest.approx(0.25)
    halos = Table.read(tmp_path / "out" / "halos.fits")
    assert halos["m500c"].unit == u.Msun and halos["ra"].unit == u.deg and len(halos) == len(sky.halos)
    sources = Table.read(tmp_path / "out" / "sources.fits")
    assert sources["flux_148GHz_mjy"].unit == u.mJy and len(sources) == len(sky.sources)
    assert not list((tmp_path / "out").glob("*.partial"))


def test_cmb_on_without_spectrum_uses_camb(monkeypatch, tiny_cfg, cosmo, powerlaw_cl, components):
    import skysieve.sim.sky as sky_module

    calls = []

    def fake(cosmo_arg, cfg_arg):
        calls.append(cfg_arg.lmax)
        return powerlaw_cl

    monkeypatch.setattr(sky_module, "compute_cmb_spectrum", fake)
    cfg = tiny_cfg.model_copy(update={"components": components(cmb=True)})
    with_none = simulate_sky(cfg, cosmo, cl=None, seed=4)
    assert calls == [8000]
    np.testing.assert_array_equal(with_none.maps, simulate_sky(cfg, cosmo, cl=powerlaw_cl, seed=4).maps)


def test_default_patch_has_enough_deepsz_positives(cosmo):
    # DeepSZ positives: Mvir >= 2e14 Msun and z >= 0.25; ~5.4 per deg², ~306 on the default 7.5° × 7.5° patch.
    from skysieve.sim import sample_halos

    cfg = SimulateSzParams()
    shape, wcs = make_geometry(cfg.patch)
    halos = sample_halos(shape, wcs, cfg.halos, cosmo, seed=cfg.seed)
    positives = int(np.sum((halos["mvir"] >= 2e14) & (halos["z"] >= 0.25)))
    assert 260 < positives < 360
