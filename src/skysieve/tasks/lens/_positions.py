"""Positions in large band images: the engine's (:mod:`skysieve.catalog._positions`), shared with other searches."""

from skysieve.catalog._positions import PositionCutouts, open_positions, read_positions

__all__ = ["PositionCutouts", "open_positions", "read_positions"]
