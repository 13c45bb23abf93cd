"""Promotions at the same moment from several processes: one champion, an unbroken history."""

import json
import os
import subprocess
import sys
import textwrap
import time

import mlflow
import pytest

from skysieve.errors import RegistryError
from skysieve.registry import CHAMPION, champion_history, champion_lock, register_model_version
from skysieve.registry._promote import LOCK_SUFFIX
from tests.registry.conftest import provenance_for
from tests.registry.test_registry import NAME, register

# Each child imports, opens the store, says it is ready, waits for "go", then promotes its version.
_CHILD = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    import mlflow
    from skysieve.registry import champion_history, promote
    here, version = Path(sys.argv[1]), sys.argv[2]
    champion_history(sys.argv[3])  # open the store first, so that the processes race on the promotion itself
    (here / f"ready-{version}").touch()
    while not (here / "go").exists():
        time.sleep(0.005)
    result = promote(sys.argv[3], version=version, force=True, reason=f"race {version}")
    print(json.dumps({"version": result.version, "previous": result.previous}))
""")


def race_promotions(name: str, versions: list[str], workdir, *, env: dict[str, str]) -> list[dict]:
    """Run one ``promote(name, version=v, force=True)`` per version in its own process, all released at once."""
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD, str(workdir), v, name], env={**os.environ, **env},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for v in versions]
    try:
        deadline = time.monotonic() + 180
        while not all((workdir / f"ready-{v}").exists() for v in versions):
            if not all(p.poll() is None for p in procs):  # one died: the others would wait for "go" forever
                for p in procs:
                    p.kill()
                raise AssertionError([p.communicate(timeout=60) for p in procs])
            assert time.monotonic() < deadline, "children did not start"
            time.sleep(0.05)
        (workdir / "go").touch()
        outs = [p.communicate(timeout=180) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=60)
    assert all(p.returncode == 0 for p in procs), outs
    return [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]


def assert_one_champion_and_a_chained_history(name: str, versions: list[str], results: list[dict]) -> None:
    client = mlflow.MlflowClient()
    champion = str(client.get_registered_model(name).aliases[CHAMPION])
    events = [e for e in champion_history(name) if e["action"] == "promote"]
    # Every promotion is in the history, each one following the one before it: no lost update.
    assert sorted(e["version"] for e in events) == sorted(versions)
    assert [e["previous"] for e in events] == [None, *[e["version"] for e in events[:-1]]]
    assert events[-1]["version"] == champion
    # Each process saw the champion the one before it left.
    assert sorted((r["version"], r["previous"]) for r in results) == sorted((e["version"], e["previous"])
                                                                           for e in events)
    # No lock is left behind.
    assert not client.search_registered_models(f"name = '{name}{LOCK_SUFFIX}'")


@pytest.mark.slow
def test_concurrent_promotions_serialise(mlflow_store, fitted, tmp_path):
    first = register(fitted, f1=0.5)
    for f1 in (0.6, 0.7):
        _, _, _, metrics = fitted
        metrics = {**metrics, "rank_product": {**metrics["rank_product"], "f1": f1}}
        register_model_version(first.source, NAME, task="sz", test_metrics=metrics, thresholds=fitted[0].thresholds(),
                               provenance=provenance_for(), primary_method="rank_product")
    versions = ["1", "2", "3"]
    results = race_promotions(NAME, versions, tmp_path, env={"MLFLOW_TRACKING_URI": mlflow_store})
    assert_one_champion_and_a_chained_history(NAME, versions, results)


def test_a_held_lock_makes_others_wait_then_fail_clearly(mlflow_store, fitted):
    register(fitted, f1=0.5)
    with champion_lock(NAME):
        with pytest.raises(RegistryError, match=rf"another promotion holds the lock '{NAME}{LOCK_SUFFIX}'"):
            with champion_lock(NAME, timeout=0.5):
                pass
    with champion_lock(NAME, timeout=0.5):  # released: free again
        pass


def test_a_stale_lock_is_broken(mlflow_store, fitted):
    register(fitted, f1=0.5)
    client = mlflow.MlflowClient()
    client.create_registered_model(f"{NAME}{LOCK_SUFFIX}", tags={
        "skysieve.lock": json.dumps({"id": "dead", "by": "gone:1", "at": time.time() - 3600})})
    with champion_lock(NAME, timeout=5):
        pass
    assert not client.search_registered_models(f"name = '{NAME}{LOCK_SUFFIX}'")
