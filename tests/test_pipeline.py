"""End to end: a real `dvc repro` of the pipeline on a tiny config, in a scratch git repo."""

import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests._pipeline import BIN, BUILD_TIMEOUT, COMMAND_TIMEOUT_S, run
from tests._s3 import files_holding, s3_bucket, s3_endpoint  # noqa: F401
from tests.conftest import REPO

# The first test to run may wait for the session's pipeline, built in the background (tests/_pipeline.py):
# more than the default timeout.
pytestmark = [pytest.mark.slow, BUILD_TIMEOUT]


def test_repro_builds_every_stage(pipeline):
    root, first = pipeline
    for path in ("data/sz/cmb_cl.fits", "data/sz/sky/patch_00/sky_90GHz.fits", "data/sz/sky/patch_02/halos.fits",
                 "data/sz/sky/patches.json", "data/sz/cutouts/cutouts.h5", "data/sz/cutouts/catalog.fits", "data/sz/validation.json",
                 "data/sz/mf/mf_snr.fits", "models/sz/best_params.json", "models/sz/cnn/ensemble.json",
                 "data/sz/scores.fits", "reports/sz/evaluate/metrics.json", "reports/sz/ensemble/metrics.json",
                 "models/sz/ensemble.json", "models/sz/registered.json", "data/lens/cutouts/cutouts.h5",
                 "data/lens/validation.json", "models/lens/registered.json", "reports/lens/evaluate/metrics.json"):
        assert (root / path).is_file(), f"{path} missing after dvc repro:\n{first.stdout}"
    validation = json.loads((root / "data/sz/validation.json").read_text())
    assert validation["success"] is True and validation["n_failed"] == 0, validation
    # the tiny sky's three patches: test, validation and training, each whole
    assert {s: v["positives"] > 0 for s, v in validation["summary"]["per_split"].items()} == {
        "train": True, "val": True, "test": True}
    from skysieve.data import open_dataset

    patches = open_dataset(root / "data/sz/cutouts").catalog.meta["PATCHES"]
    assert patches == "patch_00:test,patch_01:val,patch_02:train"
    registered = json.loads((root / "models/sz/registered.json").read_text())
    assert set(registered) == {"cnn", "ensemble"}
    assert_ensemble_metrics(json.loads((root / "reports/sz/ensemble/metrics.json").read_text()))


def assert_ensemble_metrics(metrics: dict) -> None:
    """Each method's thresholds and val/test metrics: present, finite, in range and consistent with the counts."""
    metrics = dict(metrics)
    differences = metrics.pop("differences")["f1"]  # the paired-bootstrap ensemble − single-method F1
    assert set(differences) == {"and_minus_mf", "and_minus_cnn", "rank_product_minus_mf", "rank_product_minus_cnn"}
    for key, d in differences.items():
        a, _, b = key.partition("_minus_")
        assert d["value"] == pytest.approx(metrics[a]["test"]["f1"] - metrics[b]["test"]["f1"]), key
        assert -1.0 <= d["lo"] <= d["hi"] <= 1.0 and 0.0 <= d["fraction_not_above_zero"] <= 1.0, (key, d)
    refit = metrics.pop("with_refit")  # the same, every method refitted per validation resample
    assert set(refit["f1"]) == {"mf", "cnn", "and", "rank_product"} and set(refit["differences"]) == set(differences)
    for method, f1 in refit["f1"].items():
        assert f1["value"] == pytest.approx(metrics[method]["test"]["f1"]) and 0.0 <= f1["lo"] <= f1["hi"] <= 1.0
    truth_mf = metrics.pop("mf_truth_assisted")  # the MF with the truth-assisted assignment, for comparison
    assert truth_mf["tp"] + truth_mf["fn"] == metrics["mf"]["test"]["tp"] + metrics["mf"]["test"]["fn"]
    assert truth_mf["f1"] == pytest.approx(2 * truth_mf["tp"] / (2 * truth_mf["tp"] + truth_mf["fp"] + truth_mf["fn"]))
    assert set(metrics) == {"mf", "cnn", "and", "rank_product"}
    ratios = ("purity", "completeness", "f1", "accuracy")
    for split in ("val", "test"):
        n = {m: sum(metrics[m][split][c] for c in ("tp", "fp", "fn", "tn")) for m in metrics}
        positives = {m: metrics[m][split]["tp"] + metrics[m][split]["fn"] for m in metrics}
        # Every method is scored on the same cutouts.
        assert len(set(n.values())) == 1 and len(set(positives.values())) == 1, (split, n, positives)
        assert next(iter(n.values())) > 0, split
    for method, result in metrics.items():
        assert set(result) == {"thresholds", "val", "test"}, method
        expected = {method} if method != "and" else {"and.cnn", "and.mf"}
        assert set(result["thresholds"]) == expected, method
        assert all(math.isfinite(t) for t in result["thresholds"].values()), (method, result["thresholds"])
        for split in ("val", "test"):
            m = result[split]
            where = f"{method}.{split}"
            base = {"tp", "fp", "fn", "tn", *ratios, "roc_auc", "pr_auc"}
            if split == "val":
                assert set(m) == base, where
            else:  # every test figure with its 95 % bootstrap interval and the counts it rests on
                figures = [*ratios, *(["roc_auc", "pr_auc"] if method != "and" else [])]
                assert set(m) == base | {"n_pos", "n_neg", "n_boot"} | {f"{r}_{e}" for r in figures
                                                                        for e in ("lo", "hi")}, where
                assert m["n_pos"] == m["tp"] + m["fn"] and m["n_neg"] == m["fp"] + m["tn"], where
                assert all(0.0 <= m[f"{r}_lo"] <= m[f"{r}_hi"] <= 1.0 for r in figures), (where, m)
            assert all(isinstance(m[c], int) and m[c] >= 0 for c in ("tp", "fp", "fn", "tn")), (where, m)
            assert all(math.isfinite(m[r]) and 0.0 <= m[r] <= 1.0 for r in ratios), (where, m)
            n = m["tp"] + m["fp"] + m["fn"] + m["tn"]
            assert m["accuracy"] == pytest.approx((m["tp"] + m["tn"]) / n), where
            if m["tp"] + m["fn"]:
                assert m["completeness"] == pytest.approx(m["tp"] / (m["tp"] + m["fn"])), where
            if m["tp"] + m["fp"]:
                assert m["purity"] == pytest.approx(m["tp"] / (m["tp"] + m["fp"])), where
            # A decision rule (the AND of two cuts) has no score to rank by: no ROC or PR curve.
            for auc in ("roc_auc", "pr_auc"):
                if method == "and" and m[auc] is None:
                    continue
                assert math.isfinite(m[auc]) and 0.0 <= m[auc] <= 1.0, (where, auc, m[auc])


def test_dvc_metrics_show_reads_the_reports(pipeline):
    root, _ = pipeline
    (workspace,) = json.loads(run(["dvc", "metrics", "show", "--json"], root).stdout).values()  # one revision
    files = workspace["data"]
    declared = yaml.safe_load((root / "dvc.yaml").read_text())["metrics"]  # every search's reports
    assert {"reports/sz/evaluate/metrics.json", "reports/sz/ensemble/metrics.json",
            "reports/lens/evaluate/metrics.json"} <= set(files) == set(declared)
    for path, shown in files.items():
        # DVC shows every value of the report but lists and nulls (per-fold values, the AND rule's AUCs).
        expected = _leaves(json.loads((root / path).read_text()))
        assert len(expected) > 5 and _leaves(shown["data"]) == expected, path


def _leaves(tree: dict, prefix: str = "") -> dict:
    """``{"a.b.c": value}`` for every value that is neither a dict, a list nor null."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_leaves(value, f"{prefix}{key}."))
        elif value is not None and not isinstance(value, list):
            out[f"{prefix}{key}"] = value
    return out


def test_promoted_lens_model_catalogs_fits_cutouts_as_the_pipeline_scored_them(pipeline, tmp_path):
    """The registered lens CNN, promoted, run by `skysieve catalog` on FITS files of test cutouts."""
    import numpy as np
    from astropy.io import fits
    from astropy.table import Table

    from skysieve.data import open_dataset

    root, _ = pipeline
    run(["skysieve", "promote", "skysieve-lens-cnn"], root)
    dataset = open_dataset(root / "data/lens/cutouts")
    scores = Table.read(root / "data/lens/scores.fits")
    rows = np.flatnonzero(np.isin(np.asarray(dataset.catalog["id"]), np.asarray(scores["id"])))[:8]
    cutouts = tmp_path / "cutouts"
    cutouts.mkdir()
    for row, image in zip(rows, dataset.read(rows), strict=True):
        hdus = [fits.PrimaryHDU()]
        for c, band in enumerate(dataset.channels):
            hdus.append(fits.ImageHDU(image[..., c], header=fits.Header({"FILTER": band, "BUNIT": "electron/s"})))
        fits.HDUList(hdus).writeto(cutouts / f"{dataset.catalog['id'][row]}.fits")
    out = tmp_path / "lenses.fits"
    run(["skysieve", "catalog", "--model", "models:/skysieve-lens-cnn@champion", "--cutouts", str(cutouts),
         "--out", str(out)], root)
    table = Table.read(out)
    expected = {str(i): p for i, p in zip(scores["id"], scores["cnn_prob"], strict=True)}
    assert len(table) == rows.size
    np.testing.assert_allclose(table["score"], [expected[str(i)] for i in table["id"]], rtol=1e-5, atol=1e-6)


def test_second_repro_is_a_no_op(pipeline):
    root, _ = pipeline
    out = run(["dvc", "repro"], root).stdout
    assert "Running stage" not in out, out


def test_cutout_param_change_does_not_resimulate(own_pipeline):
    root = own_pipeline
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["cutouts_sz"]["group_tile_deg"] = 0.3
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    # The stage and what it needs (the sky: up to date), not the training downstream of it.
    out = run(["dvc", "repro", "cutouts_sz"], root).stdout
    assert "Running stage 'cutouts_sz'" in out
    assert "Running stage 'simulate_sz'" not in out and "Running stage 'cmb_spectrum'" not in out
    # What reads the cutouts is now stale, for the next full `dvc repro`; the sky is not.
    stale = json.loads(run(["dvc", "status", "--json"], root).stdout)
    assert {"validate_sz", "train_sz"} <= set(stale) and not {"simulate_sz", "cmb_spectrum"} & set(stale), stale


def test_failed_validation_stops_repro_with_report(own_pipeline):
    root = own_pipeline
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["validate_sz"]["min_positives"] = 100_000
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = run(["dvc", "repro", "validate_sz"], root, check=False)
    assert result.returncode != 0
    assert "validation failed" in result.stderr + result.stdout
    report = (root / "data/sz/validation.failed.md").read_text()
    assert "expect_column_sum_to_be_between" in report


def _plain_shell(cmd, cwd):
    """Run ``cmd`` as from a new terminal: no virtualenv activated, the venv's ``bin`` not on ``PATH``."""
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if Path(p).resolve() != BIN.resolve())
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "MLFLOW_RUN_ID")}
    env.update(PATH=path, MLFLOW_TRACKING_URI=f"sqlite:///{cwd}/mlflow.db",
               DVC_SITE_CACHE_DIR=str(Path(cwd) / ".dvc" / "tmp" / "site-cache"))
    assert shutil.which("skysieve", path=path) is None, "skysieve on the plain PATH: the test would prove nothing"
    return subprocess.run(cmd, check=False, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT_S)


def _entry_point_runs(root, entry_point):
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{root}/mlflow.db")
    experiment = client.get_experiment_by_name("mlproject")
    return client.search_runs([experiment.experiment_id],
                              filter_string=f"tags.`mlflow.project.entryPoint` = '{entry_point}'")


def test_mlflow_run_entry_points_work_from_a_plain_shell(own_pipeline):
    """`mlflow run . -e NAME` with no activated venv: bin/skysieve finds the checkout's .venv itself."""
    root = own_pipeline
    (root / ".venv").symlink_to(BIN.parent, target_is_directory=True)  # what `make install` leaves in a checkout
    before = {p: (root / p).stat().st_mtime_ns for p in ("data/sz/validation.json", "models/sz/cnn/ensemble.json")}
    for entry_point in ("validate_sz", "train_sz"):
        result = _plain_shell([str(BIN / "mlflow"), "run", ".", "-e", entry_point, "--env-manager", "local",
                               "--experiment-name", "mlproject"], root)
        assert result.returncode == 0, f"mlflow run -e {entry_point}:\n{result.stdout}\n{result.stderr}"
        runs = _entry_point_runs(root, entry_point)
        assert [r.info.status for r in runs] == ["FINISHED"], runs
    for path, mtime in before.items():
        assert (root / path).stat().st_mtime_ns > mtime, f"{path} not rewritten by its entry point"


def test_mlflow_run_without_an_environment_says_how_to_make_one(own_pipeline):
    result = _plain_shell(["bin/skysieve", "tasks"], own_pipeline)  # no .venv in the copy, python3 lacks the packages
    if result.returncode == 0:
        pytest.skip("the python3 on the plain PATH has skysieve's packages: nothing to refuse")
    assert result.returncode == 127
    assert "lacks the packages skysieve needs; run 'make install'" in result.stderr

def _tree_md5(path: Path) -> dict[str, str]:
    import hashlib

    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {p.relative_to(path.parent).as_posix(): hashlib.md5(p.read_bytes()).hexdigest() for p in files}


def test_s3_remote_push_then_a_fresh_clone_pulls_and_repro_is_a_no_op(own_pipeline, s3_bucket, tmp_path,  # noqa: F811
                                                                      monkeypatch):
    """`dvc push` to an s3:// remote (a loopback S3), `git clone` + `dvc pull`: nothing to run, nothing to fetch.

    The remote's URL and endpoint are in the committed ``.dvc/config``; the credentials are in the environment
    (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) where it pushes and in the clone's untracked ``.dvc/config.local``
    (``dvc remote modify --local``) where it pulls, and reach no other file of either repository.
    """
    origin, clone = own_pipeline, tmp_path / "clone"
    ignore = origin / ".gitignore"  # what the project's repository ignores (the embedded stores, caches)
    ignore.write_text((ignore.read_text() if ignore.exists() else "") + (REPO / ".gitignore").read_text())
    run(["dvc", "remote", "add", "-d", "store", s3_bucket.url("dvc")], origin)
    run(["dvc", "remote", "modify", "store", "endpointurl", s3_bucket.endpoint], origin)
    run(["git", "add", "-A"], origin)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "tiny pipeline"], origin)

    pushed = run(["dvc", "push"], origin).stdout
    cache = origin / ".dvc" / "cache" / "files" / "md5"
    cached = {p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file()}
    assert len(cached) > 20, pushed
    assert {k.removeprefix("dvc/files/md5/") for k in s3_bucket.object_keys("dvc/")} == cached, pushed

    run(["git", "clone", "-q", str(origin), str(clone)], tmp_path)
    assert not (clone / "data/sz/cutouts").exists() and not (clone / ".dvc/cache").exists()
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    run(["dvc", "remote", "modify", "--local", "store", "access_key_id", s3_bucket.key_id], clone)
    run(["dvc", "remote", "modify", "--local", "store", "secret_access_key", s3_bucket.secret], clone)
    run(["dvc", "pull"], clone)
    for path in ("data/sz/sky", "data/sz/cutouts", "models/sz/cnn", "data/lens/cutouts"):
        assert _tree_md5(clone / path) == _tree_md5(origin / path), path
    status = run(["dvc", "status"], clone).stdout
    assert "Data and pipelines are up to date." in status, status
    again = run(["dvc", "repro"], clone).stdout
    assert "Running stage" not in again, again
    assert (clone / "dvc.lock").read_text() == (origin / "dvc.lock").read_text()

    config = (clone / ".dvc" / "config").read_text()
    assert s3_bucket.url("dvc") in config and "access_key" not in config and "secret" not in config, config
    local = clone / ".dvc" / "config.local"
    assert files_holding(s3_bucket.secret, origin, clone) == [local]
    run(["git", "check-ignore", "-q", str(local)], clone)  # never committed
    assert run(["git", "status", "--porcelain"], clone).stdout == ""
