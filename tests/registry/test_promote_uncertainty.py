"""The promotion gate with uncertainty, on a real SQLite MLflow registry: refuse only what is worse beyond the noise."""

import numpy as np
import pytest

from skysieve.errors import DataError, RegistryError
from skysieve.evaluate import f1_score, paired_bootstrap_difference
from skysieve.registry import (
    compare_versions,
    get_model_version,
    predictions_document,
    promote,
    read_version_documents,
    register_ensemble,
)
from tests.registry.conftest import provenance_for

NAME = "sz-gate"


def _register(fitted, *, f1, interval=None, decisions=None, ids=None):
    """A version whose primary test F1 is ``f1`` with ``interval``; with ``decisions``, stored per object."""
    ens, _, test, metrics = fitted
    rp = {k: v for k, v in metrics["rank_product"].items() if k not in ("f1_lo", "f1_hi")}
    rp["f1"] = f1
    if interval is not None:
        rp["f1_lo"], rp["f1_hi"] = interval
    documents = None
    if decisions is not None:
        y = np.asarray(test["label"])
        documents = {"test_predictions": predictions_document(np.arange(y.size) if ids is None else ids, y,
                                                              {"rank_product": decisions})}
    return register_ensemble(ens, NAME, task="sz", test_metrics={**metrics, "rank_product": rp},
                             provenance=provenance_for(), documents=documents)


def test_intervals_refuse_only_a_candidate_wholly_below_the_champion(mlflow_store, fitted):
    _register(fitted, f1=0.70, interval=(0.60, 0.80))
    promote(NAME)
    _register(fitted, f1=0.64, interval=(0.53, 0.75))  # lower, but inside the noise: promoted
    within = promote(NAME)
    assert within.changed and within.version == "2" and within.comparison.kind == "intervals"
    assert "candidate 0.6400 (95 % 0.5300–0.7500), champion 0.7000 (95 % 0.6000–0.8000)" in within.message
    assert "the intervals overlap" in within.message
    _register(fitted, f1=0.40, interval=(0.30, 0.50))  # below the champion's whole interval: refused
    with pytest.raises(RegistryError, match=r"v3: worse than champion v2 beyond the noise.*candidate 0\.4000 "
                                            r"\(95 % 0\.3000–0\.5000\), champion 0\.6400 \(95 % 0\.5300–0\.7500\); "
                                            r"the intervals do not overlap.*--force --reason"):
        promote(NAME)
    forced = promote(NAME, force=True, reason="the champion's inputs were mis-scaled")
    assert forced.forced and get_model_version(NAME, version=3).tags["forced_over"] == "lower test F1 beyond the noise"
    tags = get_model_version(NAME, version=3).tags
    assert (tags["test_f1_lo"], tags["test_f1_hi"]) == ("0.3", "0.5")


def test_paired_bootstrap_decides_where_both_stored_their_decisions(mlflow_store, fitted):
    ens, _, test, _ = fitted
    y = np.asarray(test["label"]).astype(bool)
    good = ens.decide(test["cnn_prob"], test["mf_snr"])["rank_product"]
    _register(fitted, f1=f1_score(y, good), interval=(0.0, 1.0), decisions=good)
    promote(NAME)
    assert get_model_version(NAME, version=1).tags["test_predictions"] == "stored"
    stored = read_version_documents(NAME, 1)["test_predictions"]
    assert stored["decisions"]["rank_product"] == good.astype(int).tolist()

    # one cluster fewer: lower F1, but the paired interval of the difference reaches zero — promoted
    slightly = good.copy()
    slightly[np.flatnonzero(good & y)[0]] = False
    _register(fitted, f1=f1_score(y, slightly), interval=(0.0, 1.0), decisions=slightly)
    result = promote(NAME)
    assert result.changed and result.comparison.kind == "paired"
    value, lo, hi = result.comparison.difference
    assert value < 0 and lo < 0 and hi == 0.0  # the resamples that miss this cluster show no difference
    assert f"paired bootstrap over the same {y.size} test objects ({int(y.sum())} positive)" in result.message

    # half the clusters lost: the whole interval of the difference is below zero — refused, though the
    # recorded intervals (0–1) overlap: the paired comparison is the stronger evidence
    worse = slightly.copy()
    worse[np.flatnonzero(slightly & y)[::2]] = False
    _register(fitted, f1=f1_score(y, worse), interval=(0.0, 1.0), decisions=worse)
    expected = paired_bootstrap_difference(y, worse, slightly, n_boot=1000, seed=0)
    assert expected.hi < 0
    pattern = (rf"v3: worse than champion v2 beyond the noise.*difference {expected.value:+.4f} "
               rf"\(95 % {expected.lo:+.4f} … {expected.hi:+.4f}\)")
    with pytest.raises(RegistryError, match=pattern):
        promote(NAME)


def test_compare_versions_falls_back_when_the_objects_differ():
    y = np.array([1, 1, 0, 0, 1, 0])
    a = predictions_document(np.arange(6), y, {"m": [1, 1, 0, 0, 1, 0]})
    b = predictions_document(np.arange(6) + 10, y, {"m": [0, 0, 0, 1, 0, 0]})  # other ids: not paired
    tags_a = {"primary_method": "m", "test_f1_lo": "0.5", "test_f1_hi": "1.0"}
    tags_b = {"primary_method": "m", "test_f1_lo": "0.0", "test_f1_hi": "0.3"}
    c = compare_versions(cand_f1=1.0, champ_f1=0.0, cand_tags=tags_a, champ_tags=tags_b, cand_predictions=a,
                         champ_predictions=b)
    assert c.kind == "intervals" and not c.worse
    shuffled = predictions_document(np.arange(6)[::-1], y[::-1], {"m": [0, 0, 0, 1, 0, 0][::-1]})
    p = compare_versions(cand_f1=0.0, champ_f1=1.0, cand_tags=tags_b, champ_tags=tags_a,
                         cand_predictions=shuffled, champ_predictions=a)
    assert p.kind == "paired" and p.difference[0] == -1.0  # aligned by id, whatever the row order
    point = compare_versions(cand_f1=0.5, champ_f1=0.6, cand_tags={}, champ_tags={})
    assert point.kind == "point" and point.worse and "no intervals recorded" in point.text
    import json

    fits_ids = predictions_document(np.array([b"a1 ", b"b2 "]), [1, 0], {"m": [1, 0]})  # bytes, as FITS gives
    assert json.loads(json.dumps(fits_ids))["id"] == ["a1", "b2"]
    with pytest.raises(DataError, match="unique id"):
        predictions_document([1, 1], [0, 1], {"m": [0, 1]})
