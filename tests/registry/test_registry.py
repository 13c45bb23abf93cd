"""Register, load by alias, promote, refuse, force, roll back — on a real SQLite MLflow registry."""

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from skysieve.cli import build_app
from skysieve.errors import RegistryError
from skysieve.registry import (
    champion_history,
    data_hash_of,
    get_model_version,
    load_ensembles,
    load_reference_distributions,
    promote,
    read_version_documents,
    register_ensemble,
    rollback,
)
from tests.registry.conftest import provenance_for

NAME = "sz-ensemble"


def register(fitted, *, f1=None, data_md5="a1b2c3.dir", **kwargs):
    ens, _, _, metrics = fitted
    if f1 is not None:  # pretend a different model: same thresholds, another test F1 (and no interval recorded)
        rp = {k: v for k, v in metrics["rank_product"].items() if k not in ("f1_lo", "f1_hi")}
        metrics = {**metrics, "rank_product": {**rp, "f1": f1}}
    return register_ensemble(ens, NAME, task="sz", test_metrics=metrics, provenance=provenance_for(data_md5),
                             params={"train": {"epochs": 3}}, **kwargs)  # fmt: skip


def test_register_sets_candidate_and_records_everything(mlflow_store, fitted):
    ens, val, _, metrics = fitted
    mv = register(fitted)
    assert mv.version in (1, "1") and mv.aliases == ["candidate"]
    tags = mv.tags
    assert tags["primary_method"] == "rank_product"
    assert float(tags["test_f1"]) == pytest.approx(metrics["rank_product"]["f1"])
    for method in ("mf", "cnn", "and", "rank_product"):
        for key in ("purity", "completeness", "f1"):
            assert float(tags[f"test.{method}.{key}"]) == pytest.approx(metrics[method][key], abs=5e-4)
    for key, value in ens.thresholds().items():
        assert float(tags[f"threshold.{key}"]) == value
    assert tags["data_hash"] == "a1b2c3.dir" and tags["git_commit"] == "0123abcd"
    # short scalar tags only: the params are a document (an artifact of the logged model), counts and AUCs metrics
    assert "params" not in tags and "test.cnn.roc_auc" not in tags and "test.cnn.tp" not in tags
    assert max(len(v) for v in tags.values()) <= 250 and len(tags) < 30
    assert read_version_documents(NAME, mv.version)["params"] == {"train": {"epochs": 3}}
    # the reference distributions are an artifact, equal to the sorted validation scores
    refs = load_reference_distributions(NAME, alias="candidate")
    np.testing.assert_array_equal(refs["cnn_prob"].values, np.sort(val["cnn_prob"]))
    np.testing.assert_array_equal(refs["mf_snr"].values, np.sort(val["mf_snr"]))
    # the run carries the provenance and params too
    run = mlflow.get_run(tags["run_id"])
    assert run.data.tags["git.commit"] == "0123abcd" and run.data.params["train.epochs"] == "3"
    # the test metrics are MLflow metrics of the run and of the logged model, the AND's missing AUC left out
    assert run.data.metrics["test.cnn.roc_auc"] == pytest.approx(metrics["cnn"]["roc_auc"])
    assert run.data.metrics["test.rank_product.tp"] == metrics["rank_product"]["tp"]
    assert "test.and.roc_auc" not in run.data.metrics
    model = mlflow.MlflowClient().get_logged_model(mv.source.removeprefix("models:/"))
    assert {m.key: m.value for m in model.metrics}["test.rank_product.f1"] == pytest.approx(
        metrics["rank_product"]["f1"])
    # the data is a dataset input of the run: path, DVC md5
    assert [(d.dataset.name, d.dataset.digest) for d in run.inputs.dataset_inputs] == [("data/sz/cutouts",
                                                                                          "a1b2c3.dir")]
    # a description a person reads: metrics table, data, commit, how to promote
    text = mv.description
    assert "| **rank_product** (primary) |" in text
    assert f"| `rank_product` | {ens.thresholds()['rank_product']:.6g} |" in text
    assert "| `data/sz/cutouts` | `a1b2c3.dir` | dvc.lock |" in text and "git commit `0123abcd`" in text
    assert f"skysieve promote {NAME} --version 1" in text


def test_pyfunc_loads_by_alias_and_decides_like_the_ensembles(mlflow_store, fitted):
    ens, _, test, _ = fitted
    register(fitted)
    model = mlflow.pyfunc.load_model(f"models:/{NAME}@candidate")
    out = model.predict(test[["cnn_prob", "mf_snr"]])
    assert isinstance(out, pd.DataFrame) and len(out) == len(test)
    for method, decision in ens.decide(test["cnn_prob"], test["mf_snr"]).items():
        np.testing.assert_array_equal(out[f"decision_{method}"].to_numpy(), decision)
    np.testing.assert_allclose(out["rank_product"], out["q_cnn"] * out["q_mf"])
    # a single row scores as it does in the batch: the references are stored, not the batch
    one = model.predict(test[["cnn_prob", "mf_snr"]].iloc[[5]])
    assert one["rank_product"].iloc[0] == pytest.approx(out["rank_product"].iloc[5])
    assert load_ensembles(f"models:/{NAME}@candidate").thresholds() == ens.thresholds()


def test_promote_refuse_force_and_rollback(mlflow_store, fitted):
    v1 = register(fitted, f1=0.70)
    first = promote(NAME)
    assert first.changed and first.version == "1" and first.previous is None
    assert get_model_version(NAME, alias="champion").tags["promoted_by"]

    register(fitted, f1=0.55)  # worse, same data: refused with both figures
    with pytest.raises(RegistryError, match=r"v2: test F1 0\.5500 is below champion v1's 0\.7000 on the same test"):
        promote(NAME)
    assert str(get_model_version(NAME, alias="champion").version) == str(v1.version)
    with pytest.raises(RegistryError, match="--force needs --reason"):
        promote(NAME, force=True)

    forced = promote(NAME, force=True, reason="v1 has a known calibration bug", user="ana")
    assert forced.forced and forced.version == "2" and forced.previous == "1"
    tags = get_model_version(NAME, version=2).tags
    assert tags["forced"] == "true" and tags["force_reason"] == "v1 has a known calibration bug"
    assert tags["forced_by"] == "ana" and tags["forced_at"] and tags["forced_over"] == "lower test F1"

    register(fitted, f1=0.70)  # equal to the best so far: >= passes
    assert promote(NAME).version == "3"
    assert promote(NAME).changed is False  # already champion

    back = rollback(NAME, user="ana")
    assert (back.version, back.previous) == ("2", "3")
    assert get_model_version(NAME, alias="champion").tags["rolled_back_from"] == "3"
    assert rollback(NAME).version == "1"
    with pytest.raises(RegistryError, match="first champion; there is no earlier one"):
        rollback(NAME)
    history = champion_history(NAME)
    assert [(e["action"], e["version"]) for e in history] == [
        ("promote", "1"), ("promote", "2"), ("promote", "3"), ("rollback", "2"), ("rollback", "1")]
    assert history[1]["forced"] is True and history[1]["reason"] == "v1 has a known calibration bug"


def test_other_test_data_is_refused_unless_forced(mlflow_store, fitted):
    register(fitted, f1=0.6)
    promote(NAME)
    register(fitted, f1=0.9, data_md5="ffff.dir")
    with pytest.raises(RegistryError, match=r"test data differ.*ffff\.dir vs a1b2c3\.dir.*0\.9000 vs 0\.6000"):
        promote(NAME)
    result = promote(NAME, force=True, reason="new simulation, old test set retired")
    assert result.version == "2"
    assert get_model_version(NAME, version=2).tags["forced_over"] == "different test data"


def test_promote_a_chosen_version(mlflow_store, fitted):
    register(fitted, f1=0.6)
    register(fitted, f1=0.5)
    assert promote(NAME, version=1).version == "1"  # candidate is v2, but v1 was asked for


def test_unknown_names_versions_aliases_are_clear_errors(mlflow_store, fitted):
    with pytest.raises(RegistryError, match=r"no registered model named 'nope'.*registered: none"):
        promote("nope")
    register(fitted)
    with pytest.raises(RegistryError, match=r"model 'sz-ensemble' has no version 7 \(versions: 1\)"):
        promote(NAME, version=7)
    with pytest.raises(RegistryError, match=r"has no alias 'champion' \(aliases: candidate→v1\)"):
        get_model_version(NAME, alias="champion")
    with pytest.raises(RegistryError, match="no champion to roll back"):
        rollback(NAME)
    with pytest.raises(RegistryError, match="no alias 'champion'"):
        load_ensembles(f"models:/{NAME}@champion")
    with pytest.raises(RegistryError, match="primary_method 'best' has no test F1"):
        register(fitted, primary_method="best")
    with pytest.raises(RegistryError, match="provenance names no data"):
        data_hash_of({"git.commit": "abc"})


def test_data_hash_combines_several_inputs():
    one = data_hash_of({"data.a.md5": "x1"})
    assert one == "x1"
    two = data_hash_of({"data.a.md5": "x1", "data.b.md5": "y2", "data.b.md5_source": "computed"})
    assert two == data_hash_of({"data.b.md5": "y2", "data.a.md5": "x1"}) and len(two) == 32


def test_predict_cutouts_through_a_linked_cnn_model(mlflow_store, fitted):
    ens, _, _, metrics = fitted
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="cnn", python_model=_MeanPixelCnn(), pip_requirements=["numpy"])
    cnn_mv = mlflow.register_model(info.model_uri, "sz-cnn")
    register(fitted, cnn_model_uri=f"models:/sz-cnn/{cnn_mv.version}")
    model = mlflow.pyfunc.load_model(f"models:/{NAME}@candidate").unwrap_python_model()
    cutouts = np.stack([np.full((8, 8, 3), v, dtype=np.float32) for v in (0.05, 0.9)])
    out = model.predict_cutouts(cutouts, [1.0, 9.0])
    np.testing.assert_allclose(out["cnn_prob"], [0.05, 0.9], rtol=1e-6)
    expected = ens.decide([0.05, 0.9], [1.0, 9.0])
    np.testing.assert_array_equal(out["decision_rank_product"], expected["rank_product"])


def test_cli_promote_and_rollback(mlflow_store, fitted):
    runner = CliRunner()
    app = build_app()
    register(fitted, f1=0.6)
    ok = runner.invoke(app, ["promote", NAME])
    assert ok.exit_code == 0, ok.output
    assert "promoted 'sz-ensemble' v1 (test F1 0.6000) to champion" in ok.output
    register(fitted, f1=0.4)
    refused = runner.invoke(app, ["promote", NAME])
    assert refused.exit_code == 2
    assert "test F1 0.4000 is below champion v1's 0.6000" in refused.output
    bad = runner.invoke(app, ["promote", NAME, "--force"])
    assert bad.exit_code == 2 and "--force needs --reason" in bad.output
    forced = runner.invoke(app, ["promote", NAME, "--force", "--reason", "demo"])
    assert forced.exit_code == 0 and "forced 'sz-ensemble' v2" in forced.output
    back = runner.invoke(app, ["promote", NAME, "--rollback"])
    assert back.exit_code == 0 and "from v2 to v1" in back.output
    unknown = runner.invoke(app, ["promote", "nope"])
    assert unknown.exit_code == 2 and "no registered model named 'nope'" in unknown.output


class _MeanPixelCnn(mlflow.pyfunc.PythonModel):
    """A stand-in CNN: probability = mean pixel of each cutout."""

    _skip_type_hint_validation = True

    def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201, ARG002
        x = np.asarray(model_input)
        return x.reshape(len(x), -1).mean(axis=1)
