"""A DVC remote round trip: `dvc push`, then in a fresh clone `dvc pull` and `dvc repro` find nothing to do."""

import hashlib
import shutil

import pytest
import yaml

from skysieve.config import load_params
from tests.conftest import REPO
from tests.test_pipeline import run

pytestmark = pytest.mark.slow

STAGE = "validate_sz"


def _git_commit(root, message):
    run(["git", "add", "-A"], root)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", message], root)


def _locked_hashes(root):
    """``{stage: {path: md5}}`` of every output and dependency in ``dvc.lock``."""
    stages = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    return {name: {e["path"]: e.get("md5") for e in [*s.get("deps", []), *s.get("outs", [])]}
            for name, s in stages.items()}


def _tree_md5(path):
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {p.relative_to(path.parent).as_posix(): hashlib.md5(p.read_bytes()).hexdigest() for p in files}


def test_push_then_pull_in_a_fresh_clone_reproduces_the_same_data(tmp_path):
    origin, remote, clone = tmp_path / "origin", tmp_path / "remote", tmp_path / "clone"
    origin.mkdir()
    for name in ("dvc.yaml", "MLproject"):
        shutil.copy(REPO / name, origin / name)
    shutil.copytree(REPO / "src", origin / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(REPO / "tests" / "tiny_params.yaml", origin / "params.yaml")
    resolved = load_params(origin / "params.yaml").model_dump(mode="json")
    (origin / "params.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    run(["git", "init", "-q"], origin)
    run(["dvc", "init", "-q"], origin)
    run(["dvc", "config", "core.analytics", "false"], origin)
    run(["dvc", "remote", "add", "-d", "store", str(remote)], origin)

    run(["dvc", "repro", STAGE], origin)
    pushed = run(["dvc", "push"], origin).stdout
    assert remote.is_dir() and any(remote.rglob("*")), pushed
    _git_commit(origin, "tiny pipeline up to validate_sz")

    run(["git", "clone", "-q", str(origin), str(clone)], tmp_path)
    assert not (clone / "data/sz/cutouts").exists() and not (clone / ".dvc/cache").exists()
    run(["dvc", "pull", STAGE, "--with-deps"], clone)  # the stages run so far (a plain `dvc pull` wants all)
    for path in ("data/sz/cmb_cl.fits", "data/sz/sky", "data/sz/cutouts"):
        assert _tree_md5(clone / path) == _tree_md5(origin / path), path

    status = run(["dvc", "status", STAGE, "--with-deps"], clone).stdout
    assert "up to date" in status.lower(), status
    again = run(["dvc", "repro", STAGE], clone).stdout
    assert "Running stage" not in again, again
    assert _locked_hashes(clone) == _locked_hashes(origin)
    assert (clone / "dvc.lock").read_text() == (origin / "dvc.lock").read_text()
