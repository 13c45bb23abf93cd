"""Several `skysieve tune` processes on one PostgreSQL study: shared, exact, and surviving a killed worker."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import optuna
import pytest
import yaml

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BIN = Path(sys.executable).parent
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def write_params(directory: Path, *, study: str, n_trials: int) -> Path:
    """A tiny train + tune recipe: a 2-block VGG, 1 epoch on the hold-out split, one searched key."""
    params = {
        "train_sz": {"net": {"name": "vgg", "filters": 4, "blocks": 2, "convs_per_block": 1, "dense_units": 8},
                     "batch_size": 32, "epochs": 1, "splitter": "holdout", "norm_sample": 32, "experiment": study},
        "tune_sz": {"n_trials": n_trials, "startup_trials": n_trials, "pruner": "none", "study_name": study,
                    "search_space": {"optimizer.learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2,
                                                                 "log": True}}},
    }
    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def start_worker(directory: Path, name: str, *, data: Path, storage: str, tracking: str,
                 grace_s: int = 3) -> subprocess.Popen:
    """`skysieve tune sz` in its own process (heartbeat every second), output in ``<name>.log``."""
    cmd = [str(BIN / "skysieve"), "tune", "sz", "--params", "params.yaml", "--data", str(data),
           "--out", f"{name}.json", "--storage", storage, "--heartbeat", "1", "--grace", str(grace_s)]
    log = (directory / f"{name}.log").open("w")
    return subprocess.Popen(cmd, cwd=directory, env={**os.environ, "MLFLOW_TRACKING_URI": tracking},
                            stdout=log, stderr=subprocess.STDOUT)


def wait_all(procs: dict[str, subprocess.Popen], directory: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    for name, proc in procs.items():
        try:
            proc.wait(max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            log = (directory / f"{name}.log").read_text()
            raise AssertionError(f"{name} still running after {timeout} s:\n{log}") from None
        assert proc.returncode == 0, (directory / f"{name}.log").read_text()


def study_runs(tracking: str, study: str) -> tuple[list, list]:
    """(study runs, trial runs) of the MLflow experiment named ``study``."""
    client = mlflow.MlflowClient(tracking)
    exp = client.get_experiment_by_name(study).experiment_id
    parents = client.search_runs([exp], "tags.`skysieve.run_kind` = 'study'")
    trials = client.search_runs([exp], "tags.`skysieve.run_kind` = 'trial'")
    return parents, trials


def test_two_workers_share_one_study_exactly(tiny_cutouts, postgres_db, mlflow_postgres, tmp_path):
    write_params(tmp_path, study="shared", n_trials=6)
    data = tiny_cutouts.tensor_path.parent
    procs = {name: start_worker(tmp_path, name, data=data, storage=postgres_db, tracking=mlflow_postgres)
             for name in ("worker-a", "worker-b")}
    wait_all(procs, tmp_path)

    results = [json.loads((tmp_path / f"{name}.json").read_text()) for name in procs]
    assert {r["study_name"] for r in results} == {"shared"}
    assert all(r["n_complete"] + r["n_pruned"] == 6 for r in results)

    study = optuna.load_study(study_name="shared", storage=postgres_db)
    trials = study.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state in FINISHED]
    assert len(finished) == 6, [(t.number, t.state.name) for t in trials]  # none lost, none extra
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    workers = {t.user_attrs["skysieve.worker"] for t in finished}
    assert len(workers) == 2, f"one worker did all the trials: {workers}"
    # The workers draw different random trials (each its own seed), so no hyperparameters are tried twice.
    assert len({t.params["optimizer.learning_rate"] for t in finished}) == 6
    # Any other trial is one a worker declined at the end because the study was full.
    assert all(t.user_attrs.get("skysieve.surplus") for t in trials if t.state not in FINISHED)

    # One MLflow parent for both workers (both started on a brand-new study), one trial run per finished trial.
    parents, trial_runs = study_runs(mlflow_postgres, "shared")
    assert len(parents) == 1 and {r["mlflow_parent_run_id"] for r in results} == {parents[0].info.run_id}
    assert sorted(int(r.data.tags["optuna.trial_number"]) for r in trial_runs) == sorted(t.number for t in finished)
    assert {r.data.tags["mlflow.parentRunId"] for r in trial_runs} == {parents[0].info.run_id}
    assert {t.user_attrs["mlflow_run_id"] for t in finished} == {r.info.run_id for r in trial_runs}


def test_a_worker_killed_mid_trial_leaves_the_study_to_finish(tiny_cutouts, postgres_db, mlflow_postgres, tmp_path):
    write_params(tmp_path, study="killed", n_trials=4)
    data = tiny_cutouts.tensor_path.parent
    survivor = start_worker(tmp_path, "survivor", data=data, storage=postgres_db, tracking=mlflow_postgres)
    victim = start_worker(tmp_path, "victim", data=data, storage=postgres_db, tracking=mlflow_postgres)

    # Kill the victim while it is inside a trial.
    deadline = time.monotonic() + 180
    victim_trial = None
    while victim_trial is None:
        assert victim.poll() is None, (tmp_path / "victim.log").read_text()
        assert time.monotonic() < deadline, "the victim never started a trial"
        time.sleep(0.2)
        try:
            study = optuna.load_study(study_name="killed", storage=postgres_db)
        except KeyError:
            continue  # not created yet
        # Wait until it has drawn its parameters (i.e. it is training), so the retry has some to copy.
        victim_trial = next((t for t in study.get_trials(deepcopy=False)
                             if t.state == optuna.trial.TrialState.RUNNING and t.params
                             and t.user_attrs.get("skysieve.worker", "").endswith(f":{victim.pid}")), None)
    time.sleep(0.5)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    wait_all({"survivor": survivor}, tmp_path)

    study = optuna.load_study(study_name="killed", storage=postgres_db)
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    assert sum(t.state in FINISHED for t in trials.values()) == 4
    # The killed trial was failed by its missing heartbeat, and run again with the same parameters.
    assert trials[victim_trial.number].state == optuna.trial.TrialState.FAIL
    (retry,) = [t for t in trials.values() if t.system_attrs.get("failed_trial") == victim_trial.number]
    assert retry.params == trials[victim_trial.number].params != {}
    assert retry.state == optuna.trial.TrialState.COMPLETE
    assert not [t for t in trials.values() if t.state == optuna.trial.TrialState.RUNNING]
    # Its MLflow run was closed as FAILED, not left RUNNING.
    _, trial_runs = study_runs(mlflow_postgres, "killed")
    dead = next(r for r in trial_runs if r.data.tags["optuna.trial_number"] == str(victim_trial.number))
    assert dead.info.status == "FAILED" and dead.data.tags["skysieve.failed_by"].startswith("heartbeat")
