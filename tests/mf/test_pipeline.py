"""The mf_sz stage end to end (library and `skysieve mf sz`), and its bad-input errors."""

import json
import warnings

import numpy as np
import pytest
import yaml
from astropy.table import Table
from pydantic import ValidationError
from typer.testing import CliRunner

from skysieve.cli import build_app
from skysieve.config import MfParams, Params
from skysieve.data import band_name, open_dataset, read_maps, write_map
from skysieve.errors import ConfigDeprecationWarning, ConfigError, DataError
from skysieve.mf import run_mf_sz
from skysieve.tasks.sz.cutouts import plan_cutouts, write_cutouts
from tests.conftest import make_car_wcs
from tests.mf.conftest import BANDS, FREQS, cluster_signal, make_sky

SHAPE = (192, 192)
runner = CliRunner()


@pytest.fixture(scope="module")
def sz_dirs(tmp_path_factory):
    """A simulated-looking sky directory (one bright cluster, one bright source) and its cutouts."""
    root = tmp_path_factory.mktemp("mf")
    wcs = make_car_wcs(SHAPE)
    signal = cluster_signal(SHAPE, wcs, x=70.0, y=100.0, y_arcmin2=3e-4, theta_c_arcmin=1.0)
    src_xy = (140, 50)
    from skysieve.sim.instrument import apply_beam
    from skysieve.sim.sources import source_map

    ra_s, dec_s = wcs.wcs_pix2world([src_xy], 0)[0]
    sources = Table({"source_id": [0], "ra": [ra_s], "dec": [dec_s], "population": ["radio"],
                     "flux_90GHz_mjy": [80.0], "flux_148GHz_mjy": [60.0], "flux_219GHz_mjy": [45.0]})
    from tests.mf.conftest import BEAMS

    signal += np.stack([np.asarray(apply_beam(source_map(SHAPE, wcs, sources, freq_ghz=f), BEAMS[b]))
                        for f, b in zip(FREQS, BANDS)])
    sky = make_sky(SHAPE, seed=9, signal=signal)
    sky_dir = root / "sky"
    sky_dir.mkdir()
    for i, f in enumerate(FREQS):
        write_map(sky_dir / f"sky_{band_name(f)}.fits", sky.data[i], wcs, freq_ghz=f)
    hx, hy = np.array([70.0, 150.0]), np.array([100.0, 150.0])
    ra, dec = wcs.wcs_pix2world(hx, hy, 0)
    halos = Table({"halo_id": [7, 8], "ra": ra, "dec": dec, "z": [0.5, 0.6], "mvir": [6e14, 1e14],
                   "m500c": [4e14, 7e13]})
    halos.write(sky_dir / "halos.fits")
    sources.write(sky_dir / "sources.fits")
    params = Params()
    maps = read_maps(sorted(sky_dir.glob("sky_*.fits")))
    catalog = plan_cutouts(SHAPE, wcs, maps.pixel_arcmin, halos, params.cutouts_sz)
    write_cutouts(maps, catalog, root / "cutouts")
    (root / "params.yaml").write_text(yaml.safe_dump({"mf_sz": {"snr_threshold": 5.0, "sources": "catalog"}}))
    return root


def test_cli_writes_detections_scores_and_summary(sz_dirs):
    out = sz_dirs / "mf"
    result = runner.invoke(build_app(), ["mf", "sz", "--params", str(sz_dirs / "params.yaml"), "--sky",
                                         str(sz_dirs / "sky"), "--cutouts", str(sz_dirs / "cutouts"),
                                         "--out", str(out)])
    assert result.exit_code == 0, result.output
    det = Table.read(out / "detections.fits")
    scores = Table.read(out / "mf_snr.fits")
    summary = json.loads((out / "summary.json").read_text())
    cat = open_dataset(sz_dirs / "cutouts").catalog
    assert list(scores["id"]) == list(cat["id"])  # one score per cutout, in catalog order: joins on id
    assert len(det) == 1 and det["halo_id"][0] == 7 and det["snr"][0] > 10  # the cluster; the source is gone
    holder = cat["id"][cat["halo_id"] == 7][0]
    assert scores["mf_detected"][scores["id"] == holder][0]
    assert np.all(scores["mf_snr"][~scores["mf_detected"]] <= 5.0)
    assert summary["n_sources_treated"] == 1 and summary["n_matched"] == 1
    assert len(summary["theta_c_arcmin"]) == 12


def test_find_mode_needs_no_source_catalog(sz_dirs):
    maps = read_maps(sorted((sz_dirs / "sky").glob("sky_*.fits")))
    cat = open_dataset(sz_dirs / "cutouts").catalog
    params = MfParams(sources="find", snr_threshold=5.0)
    result = run_mf_sz(maps, params=params, bands=Params().simulate_sz.bands, cutouts=cat, central_px=24,
                       halos=Table.read(sz_dirs / "sky" / "halos.fits"))
    assert len(result.sources) >= 1
    assert np.hypot(result.sources["x"][0] - 140, result.sources["y"][0] - 50) < 1
    assert len(result.detections) == 1 and result.detections["halo_id"][0] == 7


def test_catalog_mode_without_a_source_catalog_says_how_to_find_them(sz_dirs):
    maps = read_maps(sorted((sz_dirs / "sky").glob("sky_*.fits")))
    with pytest.raises(DataError, match=r"mf_sz.sources = 'catalog' but no source catalog .* set mf_sz.sources: find"):
        run_mf_sz(maps, params=MfParams(sources="catalog"), bands=Params().simulate_sz.bands,
                  cutouts=open_dataset(sz_dirs / "cutouts").catalog, central_px=24)


def test_old_sources_name_detect_still_runs_the_stage_as_find_with_a_warning(sz_dirs, tmp_path):
    """Params files written before the rename (``sources: detect``) give the same stage outputs as ``find``."""
    outs = {}
    for name in ("detect", "find"):
        params = tmp_path / f"params_{name}.yaml"
        params.write_text(yaml.safe_dump({"mf_sz": {"snr_threshold": 5.0, "sources": name}}))
        outs[name] = tmp_path / f"mf_{name}"
        args = ["mf", "sz", "--params", str(params), "--sky", str(sz_dirs / "sky"), "--cutouts",
                str(sz_dirs / "cutouts"), "--out", str(outs[name])]
        if name == "detect":
            with pytest.warns(ConfigDeprecationWarning, match=rf"params_detect.yaml: mf_sz.sources: 'detect' is the "
                                                              r"old name of 'find' .* write `sources: find`"):
                result = runner.invoke(build_app(), args)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("error", ConfigDeprecationWarning)
                result = runner.invoke(build_app(), args)
        assert result.exit_code == 0, result.output
    old, new = (Table.read(outs[n] / "mf_snr.fits") for n in ("detect", "find"))
    assert len(new) > 0 and old.colnames == new.colnames
    for col in new.colnames:
        np.testing.assert_array_equal(old[col], new[col])
    for name in ("detect", "find"):
        summary = json.loads((outs[name] / "summary.json").read_text())
        assert summary["sources"] == "find" and summary["n_sources_treated"] >= 1


def test_model_noise_without_cmb_spectrum_is_a_config_error(sz_dirs):
    maps = read_maps(sorted((sz_dirs / "sky").glob("sky_*.fits")))
    with pytest.raises(ConfigError, match="noise_model = 'model' needs the CMB spectrum"):
        run_mf_sz(maps, params=MfParams(noise_model="model", sources="catalog"), bands=Params().simulate_sz.bands,
                  cutouts=open_dataset(sz_dirs / "cutouts").catalog, central_px=24,
                  sources=Table.read(sz_dirs / "sky" / "sources.fits"))


def _invoke(sz_dirs, sky):
    return runner.invoke(build_app(), ["mf", "sz", "--params", str(sz_dirs / "params.yaml"), "--sky", str(sky),
                                       "--cutouts", str(sz_dirs / "cutouts"), "--out", str(sky / "mf")])


def _copy_sky(sz_dirs, tmp_path):
    import shutil

    sky = tmp_path / "sky"
    shutil.copytree(sz_dirs / "sky", sky)
    return sky


def test_cli_rejects_maps_on_different_grids(sz_dirs, tmp_path):
    sky = _copy_sky(sz_dirs, tmp_path)
    write_map(sky / "sky_148GHz.fits", np.zeros(SHAPE, np.float32), make_car_wcs(SHAPE, pixel_arcmin=0.5),
              freq_ghz=148.0)
    result = _invoke(sz_dirs, sky)
    assert result.exit_code == 2
    assert "sky_148GHz.fits" in result.output and "WCS" in result.output
    assert not (sky / "mf").exists()


def test_cli_rejects_a_band_without_frequency(sz_dirs, tmp_path):
    from astropy.io import fits

    sky = _copy_sky(sz_dirs, tmp_path)
    with fits.open(sky / "sky_219GHz.fits", mode="update") as hdul:
        del hdul[0].header["FREQ"]
    result = _invoke(sz_dirs, sky)
    assert result.exit_code == 2 and "sky_219GHz.fits" in result.output and "FREQ" in result.output


def test_cli_rejects_a_source_catalog_without_fluxes(sz_dirs, tmp_path):
    sky = _copy_sky(sz_dirs, tmp_path)
    Table({"ra": [15.0], "dec": [0.0]}).write(sky / "sources.fits", overwrite=True)
    result = _invoke(sz_dirs, sky)
    assert result.exit_code == 2
    assert "sources.fits: missing columns ['flux_90GHz_mjy'" in result.output


def test_params_validate_the_section():
    with pytest.raises(ValidationError, match=r"theta_c_max_arcmin must be >= theta_c_min_arcmin \(got 1.0 < 2.0\)"):
        MfParams(theta_c_min_arcmin=2.0, theta_c_max_arcmin=1.0)
    with pytest.raises(ValidationError, match=r"noise_model\n +Input should be 'model' or 'maps'"):
        MfParams(noise_model="wiener")
    assert MfParams().n_scales == 12 and MfParams().flux_cut_mjy == 2.0
    assert MfParams().sources == "find"
    with pytest.warns(ConfigDeprecationWarning, match="'detect' is the old name of 'find'"):
        old = MfParams(sources="detect")
    assert old == MfParams(sources="find") and old.model_dump()["sources"] == "find"  # stored under the new name
    with pytest.raises(ValidationError, match=r"sources\n +Input should be 'catalog' or 'find'"):
        MfParams(sources="detected")


def test_unknown_band_is_a_data_error_naming_the_file(sz_dirs):
    maps = read_maps(sorted((sz_dirs / "sky").glob("sky_*.fits")))
    bands = Params().simulate_sz.bands[:2]  # the instrument knows 90 and 148 GHz only
    with pytest.raises(DataError, match=r"sky_219GHz.fits: band\(s\) \['219GHz'\] have no beam"):
        run_mf_sz(maps, params=MfParams(), bands=bands, cutouts=open_dataset(sz_dirs / "cutouts").catalog,
                  central_px=24, sources=Table.read(sz_dirs / "sky" / "sources.fits"))
