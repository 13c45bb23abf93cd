"""The SZ search's own expectations: the halo and point-source truth catalogs, and splits by sky patch."""

from astropy.table import Table

from skysieve.data import ValidationReport, catalog_frame, run_suite, suite_context

__all__ = ["validate_patch_splits", "validate_truth_catalogs"]


def validate_truth_catalogs(halos: Table | None, sources: Table | None, report: ValidationReport) -> None:
    """Add the ``halo_catalog`` and ``source_catalog`` suites to ``report``.

    Catalogs stacked over several patches carry a ``patch`` column; ids are then unique within each patch.
    """
    import great_expectations.expectations as gxe

    context = suite_context()
    if halos is not None:
        df = catalog_frame(halos)
        exp = [
            _unique(df, "halo_id"),
            gxe.ExpectColumnValuesToBeBetween(column="ra", min_value=0, max_value=360),
            gxe.ExpectColumnValuesToBeBetween(column="dec", min_value=-90, max_value=90),
            gxe.ExpectColumnValuesToBeBetween(column="z", min_value=0, max_value=10),
        ]
        for column in ("m500c", "mvir"):
            if column in df.columns:
                exp.append(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=1e12, max_value=1e17))
        run_suite(context, "halo_catalog", df, exp, report, id_column="halo_id")
    if sources is not None:
        df = catalog_frame(sources)
        exp = [_unique(df, "source_id"),
               gxe.ExpectColumnValuesToBeBetween(column="ra", min_value=0, max_value=360),
               gxe.ExpectColumnValuesToBeBetween(column="dec", min_value=-90, max_value=90)]
        for column in df.columns:
            if column.startswith("flux_") and column.endswith("_mjy"):
                exp.append(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0, max_value=1e5))
        run_suite(context, "source_catalog", df, exp, report, id_column="source_id")


def _unique(df, column: str):
    """``column`` unique, within each patch where the frame stacks several."""
    import great_expectations.expectations as gxe

    if "patch" in df.columns:
        return gxe.ExpectCompoundColumnsToBeUnique(column_list=["patch", column])
    return gxe.ExpectColumnValuesToBeUnique(column=column)


def validate_patch_splits(catalog: Table, report: ValidationReport) -> None:
    """Add the ``patch_splits`` suite: each sky patch lies in exactly one split (when the catalog has ``patch``
    and was split by patch, ``PATCHES`` header entries ``name:split``); cutouts split by RA are not checked."""
    import great_expectations.expectations as gxe
    import pandas as pd

    if "patch" not in catalog.colnames:
        return
    declared = dict(item.split(":", 1) for item in str(catalog.meta.get("PATCHES", "")).split(",") if ":" in item)
    if not declared or "ra" in declared.values():
        return
    df = catalog_frame(catalog[["id", "patch", "split"]])
    per_patch = df.groupby("patch")["split"].agg(["nunique", "first"]).reset_index()
    per_patch["declared"] = per_patch["patch"].map(declared).fillna("")
    per_patch["as_declared"] = per_patch["first"] == per_patch["declared"]
    run_suite(suite_context(), "patch_splits", pd.DataFrame(per_patch), [
        gxe.ExpectColumnValuesToBeBetween(column="nunique", min_value=1, max_value=1),
        gxe.ExpectColumnValuesToBeInSet(column="as_declared", value_set=[True]),
    ], report, id_column="patch")
