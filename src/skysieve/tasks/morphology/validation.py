"""The morphology search's great-expectations suites: votes sum to one, stamp size, finite pixels, every class.

Run on each survey's dataset after ``skysieve simulate morphology``; the
engine's binary ``validate_dataset`` does not apply (labels are 0 … 4 and
vote fractions), so the contract columns are checked here too.
"""

import h5py
import numpy as np
import pandas as pd

from skysieve.data import CutoutDataset, ValidationReport, catalog_frame, run_suite, suite_context
from skysieve.data.dataset import IMAGES_KEY
from skysieve.tasks.morphology.params import CLASSES, ValidateMorphologyParams

__all__ = ["validate_morphology_dataset"]


def _tensor_frame(dataset: CutoutDataset, *, block: int = 512) -> pd.DataFrame:
    n = len(dataset)
    n_bad, max_abs = np.zeros(n, np.int64), np.zeros(n)
    with h5py.File(dataset.tensor_path, "r") as h5:
        images = h5[IMAGES_KEY]
        for start in range(0, n, block):
            flat = images[start: start + block].reshape(min(block, n - start), -1)
            finite = np.isfinite(flat)
            n_bad[start: start + block] = (~finite).sum(axis=1)
            max_abs[start: start + block] = np.where(finite, np.abs(flat), 0).max(axis=1)
    return pd.DataFrame({"id": np.asarray(dataset.catalog["id"]).astype(np.int64), "n_nonfinite": n_bad,
                         "max_abs": max_abs})


def validate_morphology_dataset(dataset: CutoutDataset, cfg: ValidateMorphologyParams, *, name: str,
                                stamp_px: int, bands: tuple[str, ...]) -> ValidationReport:
    """Run the suites on one survey's dataset and return the report.

    Parameters
    ----------
    dataset : CutoutDataset
    cfg : ValidateMorphologyParams
    name : str
        ``source`` or ``target`` (suite names).
    stamp_px : int
        Expected stamp side.
    bands : tuple of str
        The bands the ``band`` column may hold.
    """
    import great_expectations.expectations as gxe

    context = suite_context()
    report = ValidationReport()
    df = catalog_frame(dataset.catalog)
    shape = pd.DataFrame({"id": [0], "ny": [dataset.shape[1]], "nx": [dataset.shape[2]],
                          "nchan": [dataset.shape[3]]})
    run_suite(context, f"{name}_stamps", shape, [
        gxe.ExpectColumnValuesToBeInSet(column="ny", value_set=[stamp_px]),
        gxe.ExpectColumnValuesToBeInSet(column="nx", value_set=[stamp_px]),
        gxe.ExpectColumnValuesToBeInSet(column="nchan", value_set=[1]),
    ], report)
    run_suite(context, f"{name}_pixels", _tensor_frame(dataset), [
        gxe.ExpectColumnValuesToBeInSet(column="n_nonfinite", value_set=[0]),
        gxe.ExpectColumnValuesToBeBetween(column="max_abs", max_value=cfg.max_abs_pixel),
    ], report)
    run_suite(context, f"{name}_catalog", df, [
        *[gxe.ExpectColumnToExist(column=c) for c in ("id", "ra", "dec", "label", "split", "group", "band",
                                                       *(f"p_{k}" for k in CLASSES))],
        gxe.ExpectColumnValuesToBeUnique(column="id"),
        gxe.ExpectColumnValuesToBeInSet(column="band", value_set=list(bands)),
        gxe.ExpectColumnValuesToBeInSet(column="split", value_set=["train", "val", "test", "unlabelled"]),
    ], report)
    lab = df[df["labelled"]].copy()
    lab["vote_sum_error"] = (lab[[f"p_{k}" for k in CLASSES]].sum(axis=1) - 1.0).abs()
    run_suite(context, f"{name}_votes", lab, [
        gxe.ExpectColumnValuesToBeBetween(column="vote_sum_error", max_value=cfg.vote_sum_tolerance),
        *[gxe.ExpectColumnValuesToBeBetween(column=f"p_{k}", min_value=0.0, max_value=1.0) for k in CLASSES],
        gxe.ExpectColumnDistinctValuesToContainSet(column="label", value_set=list(range(len(CLASSES)))),
        gxe.ExpectColumnDistinctValuesToContainSet(column="split", value_set=["train", "val", "test"]),
    ], report)
    groups = df[df["labelled"]].groupby("group")["split"].nunique().rename("n_splits").reset_index()
    run_suite(context, f"{name}_groups", groups, [
        gxe.ExpectColumnValuesToBeInSet(column="n_splits", value_set=[1]),
    ], report, id_column="group")
    report.summary[name] = {"n": int(len(df)), "labelled": int(len(lab)),
                            "label_counts": {c: int((lab["label"] == i).sum()) for i, c in enumerate(CLASSES)}}
    return report
