"""The ``detect`` search's expectations (great-expectations): fields, cluster truth and boxes, heatmap targets."""

import numpy as np
import pandas as pd
from astropy.table import Table

from skysieve.data import ValidationReport, catalog_frame, run_suite, suite_context

__all__ = ["validate_detect"]


def validate_detect(dataset, truth: Table, report: ValidationReport, *, size_px: int, z_range: tuple[float, float],
                    log_m200_range: tuple[float, float], richness_range: tuple[int, int]) -> None:
    """Add the ``detect_fields``, ``detect_truth`` and ``detect_targets`` suites to ``report``.

    Checks that every field's cluster count matches its truth rows and label,
    that truth lies in the simulated ranges, that every box holds its centre
    and lies inside the image, and that each target map has exactly one peak
    of 1 per cluster.
    """
    import great_expectations.expectations as gxe

    from skysieve.data.targets import TargetReader, dense_targets

    context = suite_context()
    df = catalog_frame(dataset.catalog)
    df["n_clusters"] = np.asarray(dataset.catalog["n_clusters"], dtype=np.int64)
    counts = pd.Series(np.asarray(truth["field"], dtype=np.int64)).value_counts()
    df["truth_rows"] = df["id"].map(counts).fillna(0).astype(int)
    df["count_matches"] = df["truth_rows"] == df["n_clusters"]
    df["label_matches"] = df["label"] == (df["n_clusters"] > 0).astype(int)
    targets = dense_targets(dataset)
    df["has_targets"] = targets is not None
    if targets is not None:
        peaks = TargetReader(targets).read(np.arange(len(df)))[..., 0]
        df["target_peaks"] = (peaks >= 1.0 - 1e-4).reshape(len(df), -1).sum(axis=1)
    else:
        df["target_peaks"] = -1
    run_suite(context, "detect_fields", df, [
        gxe.ExpectColumnValuesToBeInSet(column="count_matches", value_set=[True]),
        gxe.ExpectColumnValuesToBeInSet(column="label_matches", value_set=[True]),
        gxe.ExpectColumnValuesToBeInSet(column="has_targets", value_set=[True]),
        gxe.ExpectColumnValuesToBeBetween(column="target_peaks", min_value=0, max_value=10),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="n_clusters", column_B="target_peaks", or_equal=True),
        gxe.ExpectColumnDistinctValuesToContainSet(column="n_clusters", value_set=[0]),  # blank fields: purity
    ], report)
    t = pd.DataFrame({c: np.asarray(truth[c]).astype(np.float64) for c in truth.colnames})
    for c in ("x_px", "y_px"):
        t[f"{c}_in"] = (t[c] >= -0.5) & (t[c] <= size_px - 0.5)
    t["box_holds_centre"] = ((t["box_x0"] <= t["x_px"]) & (t["x_px"] <= t["box_x1"])
                             & (t["box_y0"] <= t["y_px"]) & (t["y_px"] <= t["box_y1"]))
    t["box_inside"] = ((t["box_x0"] >= -0.5) & (t["box_y0"] >= -0.5) & (t["box_x1"] <= size_px - 0.5)
                       & (t["box_y1"] <= size_px - 0.5) & (t["box_x1"] > t["box_x0"]) & (t["box_y1"] > t["box_y0"]))
    t["log_m200"] = np.log10(t["m200_msun"].astype(float))
    run_suite(context, "detect_truth", t, [
        gxe.ExpectColumnValuesToBeUnique(column="cluster_id"),
        gxe.ExpectColumnValuesToBeBetween(column="z", min_value=z_range[0], max_value=z_range[1]),
        gxe.ExpectColumnValuesToBeBetween(column="log_m200", min_value=log_m200_range[0] - 1e-9,
                                          max_value=log_m200_range[1] + 1e-9),
        gxe.ExpectColumnValuesToBeBetween(column="richness", min_value=richness_range[0],
                                          max_value=richness_range[1]),
        gxe.ExpectColumnValuesToBeBetween(column="bcg_mag_r", min_value=12.0, max_value=22.0),
        gxe.ExpectColumnValuesToBeBetween(column="ra", min_value=0.0, max_value=360.0),
        gxe.ExpectColumnValuesToBeBetween(column="dec", min_value=-90.0, max_value=90.0),
        gxe.ExpectColumnValuesToBeInSet(column="x_px_in", value_set=[True]),
        gxe.ExpectColumnValuesToBeInSet(column="y_px_in", value_set=[True]),
        gxe.ExpectColumnValuesToBeInSet(column="box_holds_centre", value_set=[True]),
        gxe.ExpectColumnValuesToBeInSet(column="box_inside", value_set=[True]),
    ], report, id_column="cluster_id")
