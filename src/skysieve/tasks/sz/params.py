"""The SZ search's own params models: the ``cutouts_sz`` stage, its spatial split, and ``register_sz``.

The sky, matched filter, evaluation and ensemble sections use the engine's
library models (:mod:`skysieve.config`); :mod:`skysieve.tasks.sz` lists which
sections the search owns.
"""

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from skysieve.config import PositiveCriteria, Section

__all__ = ["CutoutsSzParams", "RegisterParams", "SplitParams"]


class SplitParams(Section):
    """Which cutouts are train, validation and test.

    ``by: patch`` (default): whole sky patches (``simulate_sz.patches``) — the
    first ``test_patches`` patches (index order) are test, the next
    ``val_patches`` validation, the rest training, so adding a patch only adds
    training data.  ``by: ra``: DeepSZ's strips of one patch, as fractions of its
    RA extent from the low-RA edge (test RA < 0.13 × 90°, validation up to
    0.2 × 90°, training above); with several patches each patch is cut the same way.
    """

    by: Literal["patch", "ra"] = "patch"
    test_patches: int = Field(1, ge=1)
    val_patches: int = Field(1, ge=1)
    test_frac: float = Field(0.13, gt=0, lt=1)
    val_frac: float = Field(0.07, gt=0, lt=1)

    @model_validator(mode="after")
    def _sum(self) -> "SplitParams":
        if self.test_frac + self.val_frac >= 1:
            raise ValueError(f"test_frac + val_frac must be < 1 (got {self.test_frac + self.val_frac})")
        return self


class CutoutsSzParams(Section):
    """The ``cutouts_sz`` stage: staggered square cutouts with spatial splits."""

    size_arcmin: float = Field(8.0, gt=0)
    stride_arcmin: float = Field(6.0, gt=0)
    central_arcmin: float = Field(6.0, gt=0)
    positive: PositiveCriteria = PositiveCriteria()
    split: SplitParams = SplitParams()
    drop_adjacent_negatives_in_train: bool = True
    train_negative_fraction: float = Field(
        1.0, gt=0, le=1, description="keep each training negative with this probability (validation and test "
                                     "keep every cutout); drawn per patch from SeedSequence(seed, spawn_key=(k,))")
    seed: int = Field(2021, ge=0, description="seed of the training-negative subsample")
    group_tile_deg: float = Field(1.0, gt=0, description="side of the sky tiles used as k-fold groups")

    @model_validator(mode="after")
    def _geometry(self) -> "CutoutsSzParams":
        if self.central_arcmin > self.size_arcmin:
            raise ValueError(f"central_arcmin must be <= size_arcmin (got {self.central_arcmin} > {self.size_arcmin})")
        if self.stride_arcmin > self.size_arcmin:
            raise ValueError(f"stride_arcmin must be <= size_arcmin (got {self.stride_arcmin} > {self.size_arcmin})")
        return self


class RegisterParams(Section):
    """The ``register_sz`` stage: names of the registered models, and whose F1 decides promotion.

    Registering sets the alias ``candidate``; ``skysieve promote`` compares the
    test F1 of ``ensemble_primary_method`` between candidate and champion.
    """

    cnn_model_name: str = Field("skysieve-sz-cnn", min_length=1)
    ensemble_model_name: str = Field("skysieve-sz-ensemble", min_length=1)
    ensemble_primary_method: Literal["mf", "cnn", "and", "rank_product"] = "rank_product"

    @field_validator("cnn_model_name", "ensemble_model_name")
    @classmethod
    def _name(cls, v: str, info: ValidationInfo) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", v):
            raise ValueError(f"{info.field_name} must be letters, digits, '.', '_' or '-' (got {v!r})")
        return v
