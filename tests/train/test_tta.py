"""Test-time augmentation of the final model: eight D4 views averaged, Platt fitted on the averages."""

import json

import numpy as np
import pytest

from skysieve.data.dihedral import dihedral
from skysieve.errors import DataError
from skysieve.train import FoldEnsemble, load_trained, predict_dataset, train_ensemble


def test_tta_scores_are_the_view_average_invariant_under_d4_and_survive_saving(tiny_cutouts, tiny_recipe, tmp_path):
    cfg = tiny_recipe.model_copy(update={"tta": True, "epochs": 1})
    result = train_ensemble(cfg, tiny_cutouts)
    ens = result.ensemble
    assert ens.tta
    x = tiny_cutouts.read(tiny_cutouts.indices("test"))
    plain = FoldEnsemble(ens.models, ens.calibrator)
    views = [plain.predict_raw(dihedral(x, k)) for k in range(8)]
    np.testing.assert_allclose(ens.predict_raw(x), np.mean(views, axis=0), rtol=1e-6)
    assert np.ptp(np.stack(views), axis=0).max() > 1e-4  # the views do differ: the average is not a no-op
    for k in (1, 4, 7):  # averaging over the whole group makes the score invariant under each of its elements
        np.testing.assert_allclose(ens.predict_raw(dihedral(x, k)), ens.predict_raw(x), rtol=1e-5, atol=1e-7)
    # the calibrator was fitted on the averaged validation scores, the ones the model gives
    val = tiny_cutouts.indices("val")
    np.testing.assert_allclose(result.val_raw, ens.predict_raw(tiny_cutouts.read(val)), rtol=1e-5)

    ens.save(tmp_path / "cnn")
    manifest = json.loads((tmp_path / "cnn" / "ensemble.json").read_text())
    assert manifest["tta"] is True and "8 D4 views" in manifest["combine"]
    loaded = load_trained(tmp_path / "cnn")
    assert loaded.tta and "tta" not in loaded.metadata
    np.testing.assert_allclose(predict_dataset(loaded, tiny_cutouts, tiny_cutouts.indices("test")),
                               ens.predict_proba(x), rtol=1e-5)
    # a model saved before the option (no "tta" in its manifest) loads as plain
    del manifest["tta"]
    (tmp_path / "cnn" / "ensemble.json").write_text(json.dumps(manifest))
    assert not load_trained(tmp_path / "cnn").tta

    with pytest.raises(DataError, match="test-time augmentation needs square cutouts"):
        ens.predict_raw(x[:, :, :-2, :])
