"""The SZ search's own expectations: the halo and point-source truth catalogs."""

from astropy.table import Table

from skysieve.data import ValidationReport, catalog_frame, run_suite, suite_context

__all__ = ["validate_truth_catalogs"]


def validate_truth_catalogs(halos: Table | None, sources: Table | None, report: ValidationReport) -> None:
    """Add the ``halo_catalog`` and ``source_catalog`` suites to ``report``."""
    import great_expectations.expectations as gxe

    context = suite_context()
    if halos is not None:
        df = catalog_frame(halos)
        exp = [
            gxe.ExpectColumnValuesToBeUnique(column="halo_id"),
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
        exp = [gxe.ExpectColumnValuesToBeUnique(column="source_id"),
               gxe.ExpectColumnValuesToBeBetween(column="ra", min_value=0, max_value=360),
               gxe.ExpectColumnValuesToBeBetween(column="dec", min_value=-90, max_value=90)]
        for column in df.columns:
            if column.startswith("flux_") and column.endswith("_mjy"):
                exp.append(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0, max_value=1e5))
        run_suite(context, "source_catalog", df, exp, report, id_column="source_id")
