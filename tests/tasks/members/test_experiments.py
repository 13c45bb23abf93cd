"""The further experiments on a tiny simulation, photometric methods only (the CNN path is the engine's)."""

import numpy as np

from skysieve.config import TrainParams
from skysieve.tasks.members._learning_params import MembersEvaluateParams
from skysieve.tasks.members.experiments import band_config_rows, learning_curve_rows, leave_out_rows
from skysieve.tasks.members.params import CutoutsMembersParams
from skysieve.tasks.members.report import write_experiment_tables

EVAL = MembersEvaluateParams(n_bootstrap=20, rf_trees=20, target_purity=0.6)
CUT = CutoutsMembersParams(val_frac=0.2, test_frac=0.25)


def test_experiments_write_tables_with_intervals(members_sim, tmp_path):
    sim_dir, truth = members_sim
    common = {"reference_band": "F814W", "cnn": False}
    bands = band_config_rows(sim_dir, TrainParams(), EVAL, CUT, configs=("mixed",), **common)
    assert {r["method"] for r in bands} == {"rf", "gmm"} and all(r["dropped"] > 0 for r in bands)
    left = leave_out_rows(sim_dir, TrainParams(), EVAL, CUT, clusters=("A383",), **common)
    n_a383 = int((np.char.strip(np.asarray(truth["cluster"]).astype(str)) == "A383").sum())
    unseen = [r for r in left if r["experiment"] == "A383"]
    assert unseen and all(0 < r["n"] <= n_a383 for r in unseen)
    curve = learning_curve_rows(sim_dir, TrainParams(), EVAL, CUT, fractions=(0.5, 1.0), seed=1, **common)
    n_train = sorted({r["n_train"] for r in curve})
    assert len(n_train) == 2 and n_train[0] < n_train[1]
    files = write_experiment_tables({"band_configs": bands, "leave_out": left, "learning_curve": curve}, tmp_path)
    text = files["markdown"].read_text()
    assert "Table D.4 form" in text and "[" in text
    assert (tmp_path / "learning_curve.png").stat().st_size > 0 and (tmp_path / "leave_out.csv").is_file()
