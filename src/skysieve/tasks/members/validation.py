"""The members search's own expectations: bands, pixel scale, unit, clusters, labels and dropped sources."""

import h5py
import numpy as np
import pandas as pd

from skysieve.data import ValidationReport, catalog_frame, run_suite, suite_context
from skysieve.data.dataset import IMAGES_KEY

__all__ = ["validate_members_dataset"]


def validate_members_dataset(dataset, report: ValidationReport, *, channels: tuple[str, ...],
                             pixel_scale_arcsec: float, clusters: tuple[str, ...], velocity_cut_kms: float,
                             max_label_rate_gap: float = 0.1) -> None:
    """Add the members suites to ``report`` (dataset of ``skysieve cutouts members``).

    Suites
    ------
    ``members_tensor``: one channel per configured band, ``pixel_arcsec`` and
    ``unit`` (``electron/s``) as simulated.  ``members_labels``: a member is
    exactly a source with ``|dv_kms| ≤ velocity_cut_kms``; redshifts in
    range.  ``members_clusters``: every cluster of ``simulate_members.clusters``
    is in the catalog, with both classes in ``train``.  ``members_split_rates``:
    each split's member rate within ``max_label_rate_gap`` of the overall
    one.  The summary records the sources dropped for a missing band.

    Parameters
    ----------
    dataset : CutoutDataset
    report : ValidationReport
        Appended to.
    """
    import great_expectations.expectations as gxe

    context = suite_context()
    with h5py.File(dataset.tensor_path, "r") as h5:
        attrs = h5[IMAGES_KEY].attrs
        shape = h5[IMAGES_KEY].shape
        declared = pd.DataFrame({"n_bands": [shape[-1]], "pixel_arcsec": [float(attrs.get("pixel_arcsec", np.nan))],
                                 "unit": [str(attrs.get("unit", ""))]})
    run_suite(context, "members_tensor", declared, [
        gxe.ExpectColumnValuesToBeInSet(column="n_bands", value_set=[len(channels)]),
        gxe.ExpectColumnValuesToBeBetween(column="pixel_arcsec", min_value=pixel_scale_arcsec * (1 - 1e-6),
                                          max_value=pixel_scale_arcsec * (1 + 1e-6)),
        gxe.ExpectColumnValuesToBeInSet(column="unit", value_set=["electron/s"]),
    ], report, id_column=None)
    catalog = dataset.catalog
    df = catalog_frame(catalog)
    df["cluster"] = df["cluster"].astype(str).str.strip()
    df["label_matches_dv"] = (df["dv_kms"].abs() <= velocity_cut_kms).astype(int) == df["label"]
    run_suite(context, "members_labels", df, [
        gxe.ExpectColumnValuesToBeInSet(column="label_matches_dv", value_set=[True]),
        gxe.ExpectColumnValuesToBeBetween(column="z_spec", min_value=0.0, max_value=3.0),
        gxe.ExpectColumnValuesToBeBetween(column="z_cluster", min_value=0.05, max_value=1.5),
        gxe.ExpectColumnValuesToBeBetween(column="r_cl_arcsec", min_value=0.0, max_value=600.0),
        gxe.ExpectColumnValuesToBeInSet(column="cluster", value_set=list(clusters)),
    ], report)
    train = df[df["split"] == "train"]
    per = pd.DataFrame({"cluster": list(clusters)})
    per["in_catalog"] = per["cluster"].isin(df["cluster"])
    per["train_members"] = [int(((train["cluster"] == c) & (train["label"] == 1)).sum()) for c in clusters]
    per["train_non_members"] = [int(((train["cluster"] == c) & (train["label"] == 0)).sum()) for c in clusters]
    per["held_out"] = [bool((df["cluster"] == c).any() and (df.loc[df["cluster"] == c, "split"] == "test").all())
                       for c in clusters]
    per["ok_train"] = per["held_out"] | ((per["train_members"] > 0) & (per["train_non_members"] > 0))
    run_suite(context, "members_clusters", per, [
        gxe.ExpectColumnValuesToBeInSet(column="in_catalog", value_set=[True]),
        gxe.ExpectColumnValuesToBeInSet(column="ok_train", value_set=[True]),
    ], report, id_column="cluster")
    rates = df.groupby("split")["label"].agg(["mean", "size"])
    gaps = pd.DataFrame({"split": rates.index,
                         "gap": (rates["mean"] - df["label"].mean()).abs().to_numpy() - 1.0 / rates["size"].to_numpy()})
    run_suite(context, "members_split_rates", gaps, [
        gxe.ExpectColumnValuesToBeBetween(column="gap", max_value=max_label_rate_gap),
    ], report, id_column="split")
    meta = {k.upper(): v for k, v in catalog.meta.items()}
    report.summary["band_config"] = meta.get("BANDCFG")
    report.summary["simulated_sources"] = int(meta.get("NSIM", len(df)))
    report.summary["dropped_missing_band"] = int(meta.get("NDROP", 0))
    report.summary["members_per_cluster"] = {c: int(((df["cluster"] == c) & (df["label"] == 1)).sum())
                                             for c in clusters}
