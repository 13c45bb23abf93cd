import json

import numpy as np
import pytest
from astropy.table import Table
from pydantic import ValidationError

from skysieve.config import PatchesParams, PatchParams, SimulateSzParams
from skysieve.data import read_maps
from skysieve.errors import DataError
from skysieve.sim import patch_layout, patch_seed, read_patch_dirs, simulate_patches, simulate_sky, write_sky


def _cfg(tiny_cfg: SimulateSzParams, count: int) -> SimulateSzParams:
    return tiny_cfg.model_copy(update={"patches": PatchesParams(count=count, ra_step_deg=1.0)})


def test_patch_seed_is_the_spawned_child_whatever_the_count():
    for n in (3, 5):
        children = np.random.SeedSequence(2021).spawn(n)
        for k in range(n):
            np.testing.assert_array_equal(patch_seed(2021, k).generate_state(4), children[k].generate_state(4))
    assert not np.array_equal(patch_seed(2021, 0).generate_state(4), patch_seed(2021, 1).generate_state(4))


def test_layout_steps_the_patch_in_ra_and_names_it():
    cfg = SimulateSzParams(patch=PatchParams(ra_center_deg=355.0), patches=PatchesParams(count=3, ra_step_deg=8.0))
    layout = patch_layout(cfg)
    assert [p.name for p in layout] == ["patch_00", "patch_01", "patch_02"]
    assert [p.patch.ra_center_deg for p in layout] == [355.0, 3.0, 11.0]  # wraps at 360°
    assert all(p.patch.width_deg == cfg.patch.width_deg for p in layout)


def test_overlapping_or_too_many_patches_are_refused():
    with pytest.raises(ValidationError, match=r"ra_step_deg must be >= patch.width_deg .*\(got 5.0 < 7.5\)"):
        SimulateSzParams(patches=PatchesParams(count=2, ra_step_deg=5.0))
    with pytest.raises(ValidationError, match=r"must fit in 360° of RA \(got 40 × 10.0\)"):
        SimulateSzParams(patches=PatchesParams(count=40, ra_step_deg=10.0))


def test_adding_a_patch_leaves_the_others_bit_identical(tmp_path, tiny_cfg, cosmo, powerlaw_cl):
    two = simulate_patches(_cfg(tiny_cfg, 2), cosmo, cl=powerlaw_cl, out_dir=tmp_path / "two")
    three = simulate_patches(_cfg(tiny_cfg, 3), cosmo, cl=powerlaw_cl, out_dir=tmp_path / "three")
    assert [e["name"] for e in three] == ["patch_00", "patch_01", "patch_02"] and three[:2] == two
    for name in ("patch_00", "patch_01"):
        for f in ("sky_90GHz.fits", "sky_148GHz.fits", "sky_219GHz.fits", "halos.fits", "sources.fits"):
            assert (tmp_path / "two" / name / f).read_bytes() == (tmp_path / "three" / name / f).read_bytes(), f
    # ... and the patches are independent realisations, not copies.
    a = read_maps(sorted((tmp_path / "three" / "patch_00").glob("sky_*.fits"))).data
    b = read_maps(sorted((tmp_path / "three" / "patch_01").glob("sky_*.fits"))).data
    assert abs(np.corrcoef(a[0].ravel(), b[0].ravel())[0, 1]) < 0.2
    manifest = json.loads((tmp_path / "three" / "patches.json").read_text())
    assert manifest["seed"] == tiny_cfg.seed and "spawn_key=(k,)" in manifest["seed_rule"]


def test_a_patch_is_the_single_sky_of_its_seed_at_its_centre(tmp_path, tiny_cfg, cosmo, powerlaw_cl):
    cfg = _cfg(tiny_cfg, 2)
    simulate_patches(cfg, cosmo, cl=powerlaw_cl, out_dir=tmp_path / "sky")
    moved = cfg.model_copy(update={"patch": patch_layout(cfg)[1].patch})
    direct = simulate_sky(moved, cosmo, cl=powerlaw_cl, seed=np.random.SeedSequence(cfg.seed).spawn(2)[1])
    written = read_maps(sorted((tmp_path / "sky" / "patch_01").glob("sky_*.fits"),
                           key=lambda p: float(p.stem[4:-3])))
    np.testing.assert_array_equal(written.data, direct.maps)
    halos = Table.read(tmp_path / "sky" / "patch_01" / "halos.fits")
    assert np.all(np.abs(halos["ra"] - (tiny_cfg.patch.ra_center_deg + 1.0)) < tiny_cfg.patch.width_deg)


def test_read_patch_dirs_reads_both_layouts_and_names_what_is_missing(tmp_path, tiny_cfg, cosmo, powerlaw_cl):
    simulate_patches(_cfg(tiny_cfg, 2), cosmo, cl=powerlaw_cl, out_dir=tmp_path / "multi")
    assert [(k, n, p.name) for k, n, p in read_patch_dirs(tmp_path / "multi")] == [
        (0, "patch_00", "patch_00"), (1, "patch_01", "patch_01")]
    write_sky(simulate_sky(tiny_cfg, cosmo, cl=powerlaw_cl, seed=1), tmp_path / "single")
    assert read_patch_dirs(tmp_path / "single") == [(0, "single", tmp_path / "single")]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: neither sky_<band>.fits maps nor patches.json; run `skysieve "
                                        r"simulate sz"):
        read_patch_dirs(tmp_path / "empty", rerun=f"skysieve simulate sz --out {tmp_path / 'empty'}")
    for f in (tmp_path / "multi" / "patch_01").glob("sky_*.fits"):
        f.unlink()
    with pytest.raises(DataError, match=r"patch_01: patch patch_01 of .*patches.json has no sky_<band>.fits maps"):
        read_patch_dirs(tmp_path / "multi")


def test_a_seed_sequence_given_twice_gives_the_same_sky(tiny_cfg, cosmo, powerlaw_cl):
    seed = patch_seed(5, 3)
    a = simulate_sky(tiny_cfg, cosmo, cl=powerlaw_cl, seed=seed)
    b = simulate_sky(tiny_cfg, cosmo, cl=powerlaw_cl, seed=seed)  # spawning did not advance the caller's sequence
    np.testing.assert_array_equal(a.maps, b.maps)
