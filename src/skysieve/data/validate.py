"""Data validation with great-expectations: every hand-off is checked.

Two suites guard every search's cutout dataset:

* ``cutout_catalog`` — ids unique (so no cutout sits in two splits), RA/Dec
  finite and in range, labels in {0, 1}, splits in {train, val, test}, the
  label rate within the configured band, enough positives, every positive
  holding a halo, truth columns in physical ranges;
* ``cutout_tensor`` — a per-cutout summary streamed from the tensor file (no
  NaN/inf, |pixel| bounded) and the declared shape and dtype.

A search adds its own suites on its truth (``tasks/<name>/validation.py``)
with :func:`suite_context`, :func:`catalog_frame` and :func:`run_suite`.

A failed expectation does not raise inside the library: :func:`validate_dataset`
returns a :class:`ValidationReport`; the CLI writes it and exits non-zero.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from astropy.table import Table

from skysieve.config import ValidateParams
from skysieve.data.dataset import IMAGES_KEY, CutoutDataset

__all__ = ["ExpectationFailure", "ValidationReport", "catalog_frame", "run_suite", "suite_context",
           "validate_dataset"]


@dataclass(frozen=True)
class ExpectationFailure:
    """One failed expectation: which, on what, how many rows, example ids."""

    suite: str
    expectation: str
    column: str | None
    unexpected_count: int | None
    examples: list
    detail: str


@dataclass
class ValidationReport:
    """The outcome of every suite run on one dataset."""

    n_expectations: int = 0
    failures: list[ExpectationFailure] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict:
        return {
            "success": self.success,
            "n_expectations": self.n_expectations,
            "n_failed": len(self.failures),
            "summary": self.summary,
            "failures": [f.__dict__ for f in self.failures],
        }

    def to_markdown(self) -> str:
        lines = [f"# Data validation: {'PASSED' if self.success else 'FAILED'}", "",
                 f"{self.n_expectations} expectations, {len(self.failures)} failed.", ""]
        for key, value in self.summary.items():
            lines.append(f"- {key}: {value}")
        if self.failures:
            lines += ["", "| suite | expectation | column | rows | example ids / values | detail |",
                      "|---|---|---|---|---|---|"]
            for f in self.failures:
                lines.append(f"| {f.suite} | {f.expectation} | {f.column or ''} | {f.unexpected_count} | "
                             f"{', '.join(map(str, f.examples[:10]))} | {f.detail} |")
        return "\n".join(lines) + "\n"

    def write(self, path: str | Path) -> None:
        """Write ``path`` (JSON) and a Markdown twin with suffix ``.md``."""
        from skysieve._io import atomic_path

        path = Path(path)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2, default=str))
        with atomic_path(path.with_suffix(".md")) as tmp:
            tmp.write_text(self.to_markdown())


def suite_context():
    """An in-memory great-expectations context with progress bars off."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def run_suite(context, name: str, df: pd.DataFrame, expectations: list, report: ValidationReport,
               id_column: str | None = "id") -> None:
    import great_expectations as gx

    source = context.data_sources.add_pandas(name=f"{name}_source")
    batch_def = source.add_dataframe_asset(name=name).add_batch_definition_whole_dataframe("all")
    suite = gx.ExpectationSuite(name=name)
    for expectation in expectations:
        suite.add_expectation(expectation)
    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": 10}
    if id_column and id_column in df.columns:
        result_format["unexpected_index_column_names"] = [id_column]
    result = batch_def.get_batch(batch_parameters={"dataframe": df}).validate(suite, result_format=result_format)
    report.n_expectations += len(result.results)
    for r in result.results:
        if r.success:
            continue
        cfg = r.expectation_config
        res = r.result or {}
        examples = res.get("partial_unexpected_index_list") or res.get("partial_unexpected_list") or []
        examples = [e.get(id_column, e) if isinstance(e, dict) else e for e in examples]
        detail = {k: v for k, v in cfg.kwargs.items() if k not in ("column", "batch_id")}
        if "observed_value" in res:
            detail["observed"] = res["observed_value"]
        if r.exception_info and r.exception_info.get("raised_exception"):
            detail["exception"] = r.exception_info.get("exception_message")
        report.failures.append(ExpectationFailure(
            suite=name, expectation=cfg.type, column=cfg.kwargs.get("column"),
            unexpected_count=res.get("unexpected_count"), examples=list(examples),
            detail=json.dumps(detail, default=str)))


def catalog_frame(catalog: Table) -> pd.DataFrame:
    cols = {}
    for name in catalog.colnames:
        col = catalog[name]
        if col.ndim == 1:
            values = np.asarray(col)
            if values.dtype.kind in "SU":
                cols[name] = np.char.strip(values.astype(str))
            else:  # FITS columns are big-endian; pandas and great-expectations want native order
                cols[name] = values.astype(values.dtype.newbyteorder("="))
    return pd.DataFrame(cols)


def _tensor_summary(dataset: CutoutDataset, *, block: int = 1024) -> pd.DataFrame:
    """Stream the tensor once: per cutout, the count of non-finite pixels and max |pixel|."""
    n = len(dataset)
    n_bad = np.zeros(n, dtype=np.int64)
    max_abs = np.zeros(n, dtype=np.float64)
    with h5py.File(dataset.tensor_path, "r") as h5:
        images = h5[IMAGES_KEY]
        for start in range(0, n, block):
            chunk = images[start: start + block]
            flat = chunk.reshape(chunk.shape[0], -1)
            finite = np.isfinite(flat)
            n_bad[start: start + block] = (~finite).sum(axis=1)
            max_abs[start: start + block] = np.where(finite, np.abs(flat), 0).max(axis=1)
    ids = np.asarray(dataset.catalog["id"]).astype(np.int64)  # native byte order (FITS is big-endian)
    return pd.DataFrame({"id": ids, "n_nonfinite": n_bad, "max_abs": max_abs})


def validate_dataset(dataset: CutoutDataset, cfg: ValidateParams, *, expected_channels: tuple[str, ...] | None = None,
                     size_px: int | None = None) -> ValidationReport:
    """Run the ``cutout_catalog`` and ``cutout_tensor`` suites on a dataset.

    Parameters
    ----------
    dataset : CutoutDataset
    cfg : ValidateParams
        Label-rate band, minimum positives and pixel bound.
    expected_channels : tuple of str, optional
        Channel order the tensor must declare (e.g. ``("90GHz", "148GHz", "219GHz")``).
    size_px : int, optional
        Expected cutout side.
    """
    import great_expectations.expectations as gxe

    context = suite_context()
    report = ValidationReport()
    df = catalog_frame(dataset.catalog)
    df["positive_holds_halo"] = (df["label"] == 0) | df.get("has_halo", pd.Series(True, index=df.index))
    n = len(df)
    cat = [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *[gxe.ExpectColumnToExist(column=c) for c in ("id", "ra", "dec", "label", "split", "group")],
        gxe.ExpectColumnValuesToBeUnique(column="id"),
        gxe.ExpectColumnValuesToNotBeNull(column="ra"),
        gxe.ExpectColumnValuesToNotBeNull(column="dec"),
        gxe.ExpectColumnValuesToBeBetween(column="ra", min_value=0, max_value=360),
        gxe.ExpectColumnValuesToBeBetween(column="dec", min_value=-90, max_value=90),
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=[0, 1]),
        gxe.ExpectColumnValuesToBeInSet(column="split", value_set=["train", "val", "test"]),
        gxe.ExpectColumnDistinctValuesToContainSet(column="split", value_set=["train", "val", "test"]),
        gxe.ExpectColumnMeanToBeBetween(column="label", min_value=cfg.label_rate_min, max_value=cfg.label_rate_max),
        gxe.ExpectColumnSumToBeBetween(column="label", min_value=cfg.min_positives),
        gxe.ExpectColumnValuesToBeInSet(column="positive_holds_halo", value_set=[True]),
    ]
    for column, lo, hi in (("mvir", 1e12, 1e17), ("m500c", 1e12, 1e17), ("z", 0.0, 10.0),
                           ("offset_arcmin", 0.0, 60.0), ("y5r500_arcmin2", 0.0, 100.0)):
        if column in df.columns:
            cat.append(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=lo, max_value=hi))
    run_suite(context, "cutout_catalog", df, cat, report)

    summary = _tensor_summary(dataset)
    run_suite(context, "cutout_tensor", summary, [
        gxe.ExpectColumnValuesToBeBetween(column="n_nonfinite", min_value=0, max_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="max_abs", min_value=0, max_value=cfg.max_abs_pixel_uk),
    ], report)

    with h5py.File(dataset.tensor_path, "r") as h5:
        dtype = str(h5[IMAGES_KEY].dtype)
    shape = dataset.shape
    declared = pd.DataFrame({
        "dtype": [dtype], "ndim": [len(shape)], "n_rows_match_catalog": [shape[0] == n],
        "square": [len(shape) == 4 and shape[1] == shape[2]],
        "channels": [",".join(dataset.channels)], "size_px": [shape[1] if len(shape) > 1 else -1],
    })
    shape_expectations = [
        gxe.ExpectColumnValuesToBeInSet(column="dtype", value_set=["float32"]),
        gxe.ExpectColumnValuesToBeInSet(column="ndim", value_set=[4]),
        gxe.ExpectColumnValuesToBeInSet(column="n_rows_match_catalog", value_set=[True]),
        gxe.ExpectColumnValuesToBeInSet(column="square", value_set=[True]),
    ]
    if expected_channels is not None:
        shape_expectations.append(gxe.ExpectColumnValuesToBeInSet(column="channels",
                                                                   value_set=[",".join(expected_channels)]))
    if size_px is not None:
        shape_expectations.append(gxe.ExpectColumnValuesToBeInSet(column="size_px", value_set=[size_px]))
    run_suite(context, "cutout_tensor_shape", declared, shape_expectations, report, id_column=None)

    labels = df["label"].to_numpy()
    report.summary = {
        "cutouts": n,
        "positives": int(labels.sum()),
        "label_rate": round(float(labels.mean()) if n else 0.0, 5),
        "per_split": {s: {"cutouts": int((df["split"] == s).sum()),
                          "positives": int(labels[(df["split"] == s).to_numpy()].sum())}
                      for s in ("train", "val", "test")},
        "shape": list(shape),
        "channels": list(dataset.channels),
    }
    return report
