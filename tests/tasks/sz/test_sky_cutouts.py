import numpy as np
import pytest
from astropy.table import Table
from typer.testing import CliRunner

from skysieve.cli import build_app
from skysieve.config import CosmologyParams, PatchesParams, PatchParams, SimulateSzParams
from skysieve.data import open_dataset, read_maps
from skysieve.errors import ConfigError
from skysieve.sim import read_patch_dirs, simulate_patches
from skysieve.tasks.sz.cutouts import write_cutouts
from skysieve.tasks.sz.params import CutoutsSzParams, SplitParams
from skysieve.tasks.sz.sky_cutouts import ID_STRIDE, patch_loaders, patch_splits, plan_sky_cutouts

runner = CliRunner()
# Four 40′ patches with a low positive cut, so every patch holds positives.
SIM = SimulateSzParams(seed=3, patch=PatchParams(width_deg=40 / 60, height_deg=40 / 60),
                       patches=PatchesParams(count=4, ra_step_deg=1.0))
CUTS = {"positive": {"mass_column": "m500c", "m_min_msun": 6e13, "z_min": 0.05}}


def _maps(path):
    return read_maps(sorted(path.glob("sky_*.fits"), key=lambda p: float(p.stem[4:-3])))


@pytest.fixture(scope="module")
def sky(tmp_path_factory):
    """Four independent 160 × 160-pixel patches (no CMB: no spectrum needed)."""
    out = tmp_path_factory.mktemp("patches") / "sky"
    cfg = SIM.model_copy(update={"components": SIM.components.model_copy(update={"cmb": False})})
    simulate_patches(cfg, CosmologyParams(), cl=None, out_dir=out)
    return out


def _plan(sky, cfg, patches=None):
    found = read_patch_dirs(sky)
    dirs = {name: path for _, name, path in found}
    chosen = [(k, name) for k, name, _ in found if patches is None or k in patches]
    return plan_sky_cutouts(chosen, cfg, load=lambda n: (_maps(dirs[n]), Table.read(dirs[n] / "halos.fits")),
                            sky=sky)


def test_patch_splits_by_index_and_too_few_patches_refused():
    assert patch_splits([3, 0, 1, 2], SplitParams()) == {0: "test", 1: "val", 2: "train", 3: "train"}
    assert patch_splits([0, 1, 2, 3, 4], SplitParams(test_patches=2, val_patches=2))[4] == "train"
    assert patch_splits([0], SplitParams(by="ra")) == {0: None}
    with pytest.raises(ConfigError, match=r"needs at least 3 sky patches \(1 test \+ 1 validation \+ 1 training\); "
                                          r"sky/ has 2: raise simulate_sz.patches.count to 3"):
        patch_splits([0, 1], SplitParams(), sky="sky/")


def test_splits_are_whole_patches_disjoint_and_ids_unique(sky):
    cat = _plan(sky, CutoutsSzParams(**CUTS))
    patch, split = np.asarray(cat["patch"], str), np.asarray(cat["split"], str)
    assert {p: set(split[patch == p]) for p in np.unique(patch)} == {
        "patch_00": {"test"}, "patch_01": {"val"}, "patch_02": {"train"}, "patch_03": {"train"}}
    assert len(np.unique(cat["id"])) == len(cat)
    # k-fold groups are sky tiles inside a patch: never shared between patches
    groups = {p: set(np.asarray(cat["group"])[patch == p]) for p in np.unique(patch)}
    assert not groups["patch_02"] & groups["patch_03"]
    assert np.all(np.asarray(cat["id"]) // ID_STRIDE == np.char.replace(patch, "patch_", "").astype(int))
    assert cat.meta["PATCHES"] == "patch_00:test,patch_01:val,patch_02:train,patch_03:train"
    assert all(int(cat["label"][split == s].sum()) > 0 for s in ("train", "val", "test"))


def test_training_negatives_subsampled_per_patch_and_val_test_kept_whole(sky):
    full = _plan(sky, CutoutsSzParams(**CUTS))
    half = _plan(sky, CutoutsSzParams(**CUTS, train_negative_fraction=0.5, seed=4))
    split_f, split_h = np.asarray(full["split"], str), np.asarray(half["split"], str)
    for s in ("val", "test"):  # every cutout kept
        np.testing.assert_array_equal(full["id"][split_f == s], half["id"][split_h == s])
    train_f, train_h = full[split_f == "train"], half[split_h == "train"]
    assert train_h["label"].sum() == train_f["label"].sum()  # every positive kept
    neg_f, neg_h = int((train_f["label"] == 0).sum()), int((train_h["label"] == 0).sum())
    assert abs(neg_h - 0.5 * neg_f) < 4 * np.sqrt(0.25 * neg_f)  # binomial(n, 0.5) within 4 sigma
    # patch 2's subsample does not depend on whether patch 3 is there
    without_3 = _plan(sky, CutoutsSzParams(**CUTS, train_negative_fraction=0.5, seed=4), patches={0, 1, 2})
    in_2 = np.asarray(half["patch"], str) == "patch_02"
    np.testing.assert_array_equal(half["id"][in_2], without_3["id"][np.asarray(without_3["patch"], str) == "patch_02"])


def test_write_streams_each_patch_from_its_own_maps(sky, tmp_path):
    cat = _plan(sky, CutoutsSzParams(**CUTS))
    out = write_cutouts(patch_loaders(read_patch_dirs(sky), _maps), cat, tmp_path / "cutouts")
    ds = open_dataset(out)
    for name in ("patch_00", "patch_03"):
        row = int(np.flatnonzero(np.asarray(ds.catalog["patch"], str) == name)[5])
        x0, y0 = int(ds.catalog["x0"][row]), int(ds.catalog["y0"][row])
        expected = _maps(sky / name).data[:, y0:y0 + 32, x0:x0 + 32].transpose(1, 2, 0)
        np.testing.assert_array_equal(ds.read(np.array([row]))[0], expected)


def test_cli_cutouts_validate_mf_over_patches(sky, tmp_path):
    import yaml

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"simulate_sz": SIM.model_dump(mode="json"),
                                      "cutouts_sz": {**CUTS, "train_negative_fraction": 0.7},
                                      "validate_sz": {"label_rate_min": 0.0, "label_rate_max": 1.0},
                                      "mf_sz": {"n_scales": 3}}))
    app = build_app()
    res = runner.invoke(app, ["cutouts", "sz", "--params", str(params), "--sky", str(sky),
                              "--out", str(tmp_path / "cutouts")])
    assert res.exit_code == 0, res.output
    assert "from 4 patches: train" in res.output
    res = runner.invoke(app, ["validate", "sz", "--params", str(params), "--data", str(tmp_path / "cutouts"),
                              "--sky", str(sky), "--report", str(tmp_path / "validation.json")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["mf", "sz", "--params", str(params), "--sky", str(sky), "--cutouts",
                              str(tmp_path / "cutouts"), "--out", str(tmp_path / "mf")])
    assert res.exit_code == 0, res.output
    scores, cat = Table.read(tmp_path / "mf" / "mf_snr.fits"), open_dataset(tmp_path / "cutouts").catalog
    assert list(scores["id"]) == list(cat["id"])  # one score per cutout of every patch, in catalog order
    det = Table.read(tmp_path / "mf" / "detections.fits")
    assert set(np.char.strip(np.asarray(det["patch"], str))) <= {"patch_00", "patch_01", "patch_02", "patch_03"}


def test_validation_fails_when_a_patch_straddles_two_splits(sky, tmp_path):
    import yaml

    cat = _plan(sky, CutoutsSzParams(**CUTS))
    split = np.asarray(cat["split"], dtype="U5")
    split[np.flatnonzero(np.asarray(cat["patch"], str) == "patch_02")[:3]] = "test"  # leak into test
    cat["split"] = split
    write_cutouts(patch_loaders(read_patch_dirs(sky), _maps), cat, tmp_path / "cutouts")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"simulate_sz": SIM.model_dump(mode="json"),
                                      "validate_sz": {"label_rate_min": 0.0, "label_rate_max": 1.0}}))
    res = runner.invoke(build_app(), ["validate", "sz", "--params", str(params), "--data", str(tmp_path / "cutouts"),
                                      "--sky", str(sky), "--report", str(tmp_path / "validation.json")])
    assert res.exit_code == 1
    report = (tmp_path / "validation.failed.md").read_text()
    assert "patch_splits" in report and "patch_02" in report
