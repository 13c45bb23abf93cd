"""``skysieve pipeline check`` and ``skysieve tasks`` on the repository's own files, and on broken copies."""

import json
import shutil

import pytest
import yaml
from typer.testing import CliRunner

from skysieve.cli import build_app
from skysieve.tasks._check import check_pipeline
from tests.conftest import REPO

runner = CliRunner()


@pytest.fixture
def copy(tmp_path):
    """dvc.yaml and MLproject copied, to break."""
    for name in ("dvc.yaml", "MLproject"):
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


def _edit(path, change):
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_the_repository_pipeline_agrees_with_every_search():
    assert check_pipeline(REPO) == []
    result = runner.invoke(build_app(), ["pipeline", "check", "--root", str(REPO)])
    assert result.exit_code == 0 and "pipeline check passed" in result.output


@pytest.mark.parametrize("case", ["missing stage", "extra param", "missing param", "missing code dep",
                                  "other command", "missing entry point", "entry point needs a venv"])
def test_a_broken_pipeline_fails_naming_the_stage_and_the_fix(copy, case):
    dvc, mlp = copy / "dvc.yaml", copy / "MLproject"
    if case == "missing stage":
        _edit(dvc, lambda d: d["stages"].pop("cutouts_lens"))
        expect = "dvc.yaml: stage 'cutouts_lens' of search 'lens' is missing; add it with cmd: skysieve cutouts lens"
    elif case == "extra param":
        _edit(dvc, lambda d: d["stages"]["train_sz"]["params"].append("mf_sz"))
        expect = "dvc.yaml: stage 'train_sz' params list ['mf_sz'], which `skysieve train sz` does not read"
    elif case == "missing param":
        _edit(dvc, lambda d: d["stages"]["tune_lens"]["params"].remove("train_lens"))
        expect = "dvc.yaml: stage 'tune_lens' params omit ['train_lens'], which `skysieve tune lens` reads"
    elif case == "missing code dep":
        _edit(dvc, lambda d: d["stages"]["evaluate_sz"]["deps"].remove("src/skysieve/evaluate"))
        expect = "dvc.yaml: stage 'evaluate_sz' deps omit the code it runs: ['src/skysieve/evaluate']"
    elif case == "other command":
        _edit(dvc, lambda d: d["stages"]["mf_sz"].update(cmd="skysieve mf lens --params params.yaml"))
        expect = "dvc.yaml: stage 'mf_sz' runs skysieve mf lens; search 'sz' declares skysieve mf sz"
    elif case == "entry point needs a venv":
        _edit(mlp, lambda d: d["entry_points"]["train_sz"].update(
            command=d["entry_points"]["train_sz"]["command"].removeprefix("bin/")))
        expect = ("MLproject: entry point 'train_sz' runs skysieve, which is only found in an activated virtualenv; "
                  "run bin/skysieve")
    else:
        _edit(mlp, lambda d: d["entry_points"].pop("register_lens"))
        expect = "MLproject: entry point 'register_lens' of search 'lens' is missing"
    problems = check_pipeline(copy)
    assert len(problems) == 1 and problems[0].startswith(expect), problems
    result = runner.invoke(build_app(), ["pipeline", "check", "--root", str(copy)])
    assert result.exit_code == 1 and expect in " ".join(result.output.split())


def test_a_parent_folder_dep_covers_the_code_under_it(copy):
    _edit(copy / "dvc.yaml", lambda d: d["stages"]["evaluate_sz"].update(deps=["data/sz/cutouts", "src/skysieve"]))
    assert check_pipeline(copy) == []


def test_tasks_lists_every_search_with_its_stages_and_models():
    result = runner.invoke(build_app(), ["tasks", "--params", str(REPO / "params.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert {"sz", "lens", "detect", "members", "morphology"} <= set(rows)  # and every other installed search
    assert rows["detect"]["model_names"] == ["detect-centre-net"]
    assert rows["detect"]["validation_metrics"] == ["detect.detection_f1"] and rows["sz"]["validation_metrics"] == []
    assert rows["sz"]["model_names"] == ["skysieve-sz-cnn", "skysieve-sz-ensemble"]
    assert rows["lens"]["model_names"] == ["skysieve-lens-cnn"]
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    listed = [s["name"] for r in rows.values() for s in r["stages"]]
    assert sorted(listed) == sorted(stages)  # every DVC stage belongs to a search, and no search stage is missing
    assert "skysieve mf sz" in rows["sz"]["commands"]
    text = runner.invoke(build_app(), ["tasks", "--params", str(REPO / "params.yaml")]).output
    assert "lens: galaxy-scale strong lenses" in text and "register_sz" in text


def test_stage_code_follows_the_command_imports_through_the_source():
    from skysieve.tasks import get_search
    from skysieve.tasks._check import stage_code

    sz = get_search("sz")
    stages = {st.name: st for st in sz.stages()}
    mf = stage_code(sz, stages["mf_sz"])
    assert mf[0] == "src/skysieve/tasks/sz"
    assert {"src/skysieve/mf", "src/skysieve/sim", "src/skysieve/cli", "src/skysieve/config",
            "src/skysieve/tasks/_registry.py"} <= set(mf)  # sim only through mf's own imports
    assert "src/skysieve/registry" not in mf and "src/skysieve/tasks/lens" not in mf
    tune = stage_code(sz, stages["tune_sz"])  # the engine's generic command, and train's metrics below it
    assert {"src/skysieve/tune", "src/skysieve/train", "src/skysieve/metrics", "src/skysieve/nets"} <= set(tune)
    assert "src/skysieve/evaluate" not in tune


def test_a_dep_the_imports_need_is_required(copy):
    _edit(copy / "dvc.yaml", lambda d: d["stages"]["tune_lens"]["deps"].remove("src/skysieve/metrics"))
    problems = check_pipeline(copy)
    assert problems == [("dvc.yaml: stage 'tune_lens' deps omit the code it runs: ['src/skysieve/metrics']; add them "
                        "so a code change reruns the stage")]
