"""Reading a table column as plain floats in a chosen unit (internal).

The one place the engine and the searches turn an astropy table column into a
``float64`` array: a :class:`~astropy.table.QTable` ``Quantity`` column and a
:class:`~astropy.table.Table` column with a ``unit`` are converted to the unit
asked for; a column without a unit is taken to be in that unit already (the
convention of catalogs written without units).  A unit that does not convert
raises :class:`~skysieve.errors.DataError` naming the table, the column, the
unit it has and the unit wanted.
"""

import astropy.units as u
import numpy as np

from skysieve.errors import DataError

__all__ = ["column_values"]


def column_values(column, unit=None, *, table: str = "table") -> np.ndarray:
    """A table column as ``float64`` values in ``unit``.

    Parameters
    ----------
    column : astropy Column, MaskedColumn or Quantity
        The column (``table["ra"]``).  Masked entries keep their stored value.
    unit : astropy unit, str or None
        The unit wanted.  ``None`` returns the values as stored, in whatever
        unit the column has.  A column without a unit is taken to be in
        ``unit`` already.
    table : str, keyword-only
        What the column belongs to (a file name, ``"halo catalog"``), for the
        error message.

    Returns
    -------
    ndarray of shape (n,), float64

    Raises
    ------
    DataError
        If the column's unit does not convert to ``unit`` (or is not a unit
        astropy knows), naming ``table``, the column, both units and the fix.
    """
    col_unit = getattr(column, "unit", None)
    if unit is None or col_unit is None:
        return np.asarray(column, dtype=np.float64)
    quantity = column if isinstance(column, u.Quantity) else getattr(column, "quantity", None)
    if quantity is None:
        quantity = u.Quantity(column)
    try:
        return np.asarray(quantity.to_value(unit), dtype=np.float64)
    except (u.UnitsError, ValueError) as exc:  # UnitConversionError; ValueError for an unrecognized unit
        name = getattr(getattr(column, "info", None), "name", None) or "?"
        raise DataError(f"{table}: column {name!r} is in {col_unit}, which does not convert to {u.Unit(unit)} "
                        f"({exc}); write the column in {u.Unit(unit)} (or a unit convertible to it), "
                        "or without a unit if its values are already in it") from exc
