"""Reading catalogue columns safely (internal).

``column_values`` is the engine's :func:`skysieve._columns.column_values`,
re-exported here for the simulators.
"""

from astropy.table import Table

from skysieve._columns import column_values
from skysieve.errors import DataError

__all__ = ["column_values", "require_columns"]


def require_columns(table: Table, columns, what: str, *, maker: str) -> None:
    """Raise :class:`DataError` naming the missing columns of ``table``."""
    missing = [c for c in columns if c not in table.colnames]
    if missing:
        raise DataError(f"{what}: table lacks columns {missing} (has {table.colnames}); make it with {maker}")
