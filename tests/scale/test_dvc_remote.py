"""A DVC remote round trip: `dvc push`, then in a fresh clone `dvc pull` and `dvc repro` find nothing to do."""

import hashlib

import pytest
import yaml

from tests._pipeline import BUILD_TIMEOUT, run
from tests.conftest import REPO

# The pipeline builds in the background from the start of the session (tests/_pipeline.py); the first test
# that uses it (maybe this one) waits for it: more than the default timeout.
pytestmark = [pytest.mark.slow, BUILD_TIMEOUT]

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


def test_push_then_pull_in_a_fresh_clone_reproduces_the_same_data(own_pipeline, tmp_path):
    """On a copy of the session's tiny pipeline (tests/_pipeline.py): a local-directory remote, a partial pull."""
    origin, remote, clone = own_pipeline, tmp_path / "remote", tmp_path / "clone"
    ignore = origin / ".gitignore"  # what the project's repository ignores (the embedded stores, caches)
    ignore.write_text((ignore.read_text() if ignore.exists() else "") + (REPO / ".gitignore").read_text())
    run(["dvc", "remote", "add", "-d", "store", str(remote)], origin)
    pushed = run(["dvc", "push"], origin).stdout
    assert remote.is_dir() and any(remote.rglob("*")), pushed
    _git_commit(origin, "tiny pipeline")

    run(["git", "clone", "-q", str(origin), str(clone)], tmp_path)
    assert not (clone / "data/sz/cutouts").exists() and not (clone / ".dvc/cache").exists()
    run(["dvc", "pull", STAGE, "--with-deps"], clone)  # the stages up to validate_sz only
    for path in ("data/sz/cmb_cl.fits", "data/sz/sky", "data/sz/cutouts"):
        assert _tree_md5(clone / path) == _tree_md5(origin / path), path
    assert not (clone / "models/sz/cnn").exists()  # downstream of validate_sz: not pulled

    status = run(["dvc", "status", STAGE, "--with-deps"], clone).stdout
    assert "up to date" in status.lower(), status
    again = run(["dvc", "repro", STAGE], clone).stdout
    assert "Running stage" not in again, again
    assert _locked_hashes(clone) == _locked_hashes(origin)
    assert (clone / "dvc.lock").read_text() == (origin / "dvc.lock").read_text()
