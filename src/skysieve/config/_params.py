"""The root params model and :func:`load_params`, the only place YAML is read."""

from pathlib import Path

import yaml
from pydantic import Field, ValidationError, field_validator

from skysieve.config._base import Section
from skysieve.config._data import CutoutsSzParams, ValidateParams
from skysieve.config._evaluate import EnsembleParams, EvaluateParams, RegisterParams
from skysieve.config._lens import CutoutsLensParams, SimulateLensParams
from skysieve.config._lens_learning import (
    LensEvaluateParams,
    LensRegisterParams,
    lens_train_defaults,
    lens_tune_defaults,
    over_defaults,
)
from skysieve.config._mf import MfParams
from skysieve.config._sim import CmbSpectrumParams, CosmologyParams, SimulateSzParams
from skysieve.config._train import TrainParams, TuneParams
from skysieve.errors import ConfigError

__all__ = ["Params", "load_params"]


class Params(Section):
    """Every section of ``params.yaml``; each stage reads only its own."""

    cosmology: CosmologyParams = CosmologyParams()
    cmb_spectrum: CmbSpectrumParams = CmbSpectrumParams()
    simulate_sz: SimulateSzParams = SimulateSzParams()
    cutouts_sz: CutoutsSzParams = CutoutsSzParams()
    validate_sz: ValidateParams = ValidateParams()
    mf_sz: MfParams = MfParams()
    tune_sz: TuneParams = TuneParams()
    train_sz: TrainParams = TrainParams()
    evaluate_sz: EvaluateParams = EvaluateParams()
    ensemble_sz: EnsembleParams = EnsembleParams()
    register_sz: RegisterParams = RegisterParams()
    simulate_lens: SimulateLensParams = SimulateLensParams()
    cutouts_lens: CutoutsLensParams = CutoutsLensParams()
    validate_lens: ValidateParams = ValidateParams(label_rate_min=0.5, label_rate_max=0.8, min_positives=1,
                                                   max_abs_pixel_uk=1e4)
    tune_lens: TuneParams = Field(default_factory=lens_tune_defaults)
    train_lens: TrainParams = Field(default_factory=lens_train_defaults)
    evaluate_lens: LensEvaluateParams = LensEvaluateParams()
    register_lens: LensRegisterParams = LensRegisterParams()

    @field_validator("train_lens", mode="before")
    @classmethod
    def _train_lens(cls, value):
        return over_defaults(lens_train_defaults(), value)

    @field_validator("tune_lens", mode="before")
    @classmethod
    def _tune_lens(cls, value):
        return over_defaults(lens_tune_defaults(), value)


def _describe(err: dict, path: Path) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = err["loc"][:-1]
        model = Params
        for key in parent:
            field = model.model_fields.get(str(key)) if isinstance(key, str) else None
            annot = getattr(field, "annotation", None) if field else None
            if isinstance(annot, type) and issubclass(annot, Section):
                model = annot
            else:
                model = None
                break
        allowed = f"; allowed keys: {', '.join(model.model_fields)}" if model is not None else ""
        return f"{path}: unknown key '{loc}'{allowed}"
    if kind == "missing":
        return f"{path}: missing required key '{loc}'"
    got = err.get("input")
    got_text = "" if isinstance(got, dict) else f" (got {got!r})"
    msg = err["msg"].removeprefix("Value error, ")
    return f"{path}: {loc}: {msg}{got_text}" if loc else f"{path}: {msg}{got_text}"


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate a params file.

    Parameters
    ----------
    path : str or Path
        A YAML file with one mapping per stage section. Sections or keys that
        are absent take the defaults of the default pipeline.

    Returns
    -------
    Params
        The frozen, validated params.

    Raises
    ------
    ConfigError
        If the file is missing or not YAML, or a key is unknown, of the wrong
        type or out of range; the message names the file, the dotted key, the
        value received and what is allowed.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found; pass --params PATH or run from the repository root")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        lines = [_describe(e, path) for e in exc.errors()]
        raise ConfigError("\n".join(lines)) from None
