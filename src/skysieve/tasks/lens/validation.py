"""The lens search's own expectations: lens truth, negatives, kinds and split balance."""

import pandas as pd
from astropy.table import Table

from skysieve.data import ValidationReport, catalog_frame, run_suite, suite_context

__all__ = ["validate_lens_catalog"]


def validate_lens_catalog(catalog: Table, report: ValidationReport, *, theta_e_range_arcsec: tuple[float, float],
                          src_mag_max: float, dz_min: float, reference_band: str = "F814W",
                          max_label_rate_gap: float = 0.1) -> None:
    """Add the lens-truth suites to ``report`` (catalog of ``skysieve cutouts lens``).

    Parameters
    ----------
    catalog : Table
        Lens cutout catalog with the truth columns of :func:`skysieve.sim.lens_truth_columns`.
    report : ValidationReport
        Appended to.
    theta_e_range_arcsec : (float, float)
        Positives need ``lo < theta_e_arcsec < hi``.
    src_mag_max : float
        Faintest source magnitude in ``reference_band`` (the paper: F814W = 29).
    dz_min : float
        Positives need ``src_z >= z_lens + dz_min``.
    max_label_rate_gap : float
        Largest allowed |label rate of a split − overall label rate|, plus 2 / (cutouts in the split) for
        the granularity of assigning whole groups.
    """
    import great_expectations.expectations as gxe

    context = suite_context()
    df = catalog_frame(catalog)
    band = reference_band.lower()
    lo, hi = theta_e_range_arcsec
    pos = df[df["label"] == 1].copy()
    pos["dz"] = pos["src_z"] - pos["z_lens"]
    run_suite(context, "lens_positives", pos, [
        gxe.ExpectColumnValuesToNotBeNull(column="theta_e_arcsec"),
        gxe.ExpectColumnValuesToBeBetween(column="theta_e_arcsec", min_value=lo, max_value=hi, strict_min=True,
                                          strict_max=True),
        gxe.ExpectColumnValuesToBeBetween(column=f"src_mag_{band}", min_value=10.0, max_value=src_mag_max + 1e-9),
        gxe.ExpectColumnValuesToBeBetween(column="dz", min_value=dz_min - 1e-9),
        gxe.ExpectColumnValuesToBeBetween(column="src_re_arcsec", min_value=0.0, max_value=10.0, strict_min=True),
        gxe.ExpectColumnValuesToNotBeNull(column="magnification"),
        gxe.ExpectColumnValuesToBeBetween(column="magnification", min_value=0.0, max_value=1e4, strict_min=True),
        gxe.ExpectColumnValuesToBeBetween(column="n_images", min_value=1, max_value=5),
        gxe.ExpectColumnValuesToBeBetween(column="n_images_in_cutout", min_value=1, max_value=5),
    ], report)
    neg = df[df["label"] == 0]
    run_suite(context, "lens_negatives", neg, [
        gxe.ExpectColumnValuesToBeInSet(column="n_images", value_set=[0]),
        gxe.ExpectColumnValuesToBeNull(column="src_z"),
        gxe.ExpectColumnValuesToBeNull(column="theta_e_arcsec"),
    ], report)
    run_suite(context, "lens_all", df, [
        gxe.ExpectColumnValuesToBeBetween(column=f"lens_mag_{band}", min_value=10.0, max_value=30.0),
        gxe.ExpectColumnValuesToBeBetween(column="lens_colour", min_value=-3.0, max_value=5.0),
        gxe.ExpectColumnValuesToBeBetween(column="z_lens", min_value=0.0, max_value=3.0),
        gxe.ExpectColumnValuesToBeInSet(column="kind", value_set=["lens", "member", "twin", "blue_neighbour",
                                                                  "spiral", "edge_on"]),
    ], report)
    if "split" in df.columns and len(df):
        groups = df.groupby("group")["split"].nunique().rename("n_splits").reset_index()
        rates = df.groupby("split")["label"].agg(["mean", "size"])
        # Splits are assigned per group (at most a lens and its twin), so a split's rate can be off by 2/size.
        excess = (rates["mean"] - df["label"].mean()).abs() - max_label_rate_gap - 2.0 / rates["size"]
        gaps = pd.DataFrame({"split": rates.index, "gap_excess": excess.to_numpy()})
        run_suite(context, "lens_splits", groups, [
            gxe.ExpectColumnValuesToBeInSet(column="n_splits", value_set=[1]),
        ], report, id_column="group")
        run_suite(context, "lens_split_rates", gaps, [
            gxe.ExpectColumnValuesToBeBetween(column="gap_excess", max_value=0.0),
        ], report, id_column="split")
