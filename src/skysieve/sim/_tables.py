"""Reading catalogue columns safely (internal)."""

import astropy.units as u
import numpy as np
from astropy.table import Table

from skysieve.errors import DataError

__all__ = ["column_values", "require_columns"]


def require_columns(table: Table, columns, what: str, *, maker: str) -> None:
    """Raise :class:`DataError` naming the missing columns of ``table``."""
    missing = [c for c in columns if c not in table.colnames]
    if missing:
        raise DataError(f"{what}: table lacks columns {missing} (has {table.colnames}); make it with {maker}")


def column_values(column, unit) -> np.ndarray:
    """A table column as float64 in ``unit`` (a column without a unit is taken to be in ``unit``)."""
    if getattr(column, "unit", None) is not None:
        return np.asarray(u.Quantity(column).to_value(unit), dtype=np.float64)
    return np.asarray(column, dtype=np.float64)
