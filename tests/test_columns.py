"""One reader for "a table column as floats in a unit" (src/skysieve/_columns.py)."""

import astropy.units as u
import numpy as np
import pytest
from astropy.table import MaskedColumn, QTable, Table

from skysieve._columns import column_values
from skysieve.errors import DataError


def test_quantity_column_is_converted():
    table = QTable({"ra": [3600.0, 7200.0] * u.arcsec})
    values = column_values(table["ra"], u.deg)
    assert values.dtype == np.float64
    np.testing.assert_allclose(values, [1.0, 2.0], rtol=0, atol=1e-15)


def test_plain_column_with_unit_is_converted():
    table = Table({"flux": [1.0, 2.5]}, units={"flux": "Jy"})
    np.testing.assert_array_equal(column_values(table["flux"], "mJy"), [1000.0, 2500.0])


def test_unitless_column_is_taken_in_the_unit_asked_for():
    table = Table({"z": np.array([1, 2], dtype=np.int32), "m": [1e14, 2e14]})
    z = column_values(table["z"], u.dimensionless_unscaled)
    assert z.dtype == np.float64
    np.testing.assert_array_equal(z, [1.0, 2.0])
    np.testing.assert_array_equal(column_values(table["m"], u.Msun), [1e14, 2e14])


def test_no_unit_asked_returns_the_stored_values():
    table = Table({"ra": [1.5]}, units={"ra": "arcmin"})
    np.testing.assert_array_equal(column_values(table["ra"]), [1.5])
    np.testing.assert_array_equal(column_values(QTable({"ra": [1.5] * u.arcmin})["ra"]), [1.5])


def test_masked_column_keeps_stored_values():
    col = MaskedColumn([1.0, 2.0], mask=[False, True], unit="deg", name="dec")
    np.testing.assert_array_equal(column_values(col, u.deg), [1.0, 2.0])


def test_same_numbers_as_the_former_helpers():
    # the five former copies did column.quantity.to_value(unit) or u.Quantity(column).to_value(unit)
    table = Table({"ra": np.linspace(-3.0, 7.0, 11)}, units={"ra": "deg"})
    expected = np.asarray(table["ra"].quantity.to_value(u.rad), dtype=float)
    np.testing.assert_array_equal(column_values(table["ra"], u.rad), expected)


def test_wrong_unit_names_table_column_and_units():
    table = Table({"ra": [1.0]}, units={"ra": "mJy"})
    with pytest.raises(DataError, match=r"halo catalog: column 'ra' is in mJy, which does not convert to deg .*"
                                        r"write the column in deg"):
        column_values(table["ra"], u.deg, table="halo catalog")


def test_unrecognized_unit_is_a_data_error():
    table = Table({"m500c": [1e14]})
    table["m500c"].unit = u.Unit("Msol_h", parse_strict="silent")
    with pytest.raises(DataError, match=r"table: column 'm500c' is in Msol_h, .* write the column in solMass"):
        column_values(table["m500c"], u.Msun)
