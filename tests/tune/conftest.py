"""Fixtures for the search tests: the tiny dataset and recipe of tests/train."""

from tests.train.conftest import tiny_cutouts, tiny_recipe  # noqa: F401
