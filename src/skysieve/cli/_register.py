"""``skysieve register``: put the trained CNN (and the SZ ensemble) in the MLflow registry as ``candidate``."""

import json
from pathlib import Path
from typing import Annotated

import typer

from skysieve.cli._common import ParamsOption, handle_errors

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``register`` command group to ``app``."""
    group = typer.Typer(help="Register models with metrics, thresholds, reference scores and provenance.",
                        no_args_is_help=True)

    @group.command("sz")
    @handle_errors
    def sz(
        params: ParamsOption = Path("params.yaml"),
        model: Annotated[Path, typer.Option(help="trained CNN directory")] = Path("models/sz/cnn"),
        state: Annotated[Path, typer.Option(help="ensemble thresholds/references from `skysieve ensemble sz`")] = Path(
            "models/sz/ensemble.json"),
        data: Annotated[list[Path], typer.Option(help="data the models were evaluated on (for the data hash)")] = [
            Path("data/sz/cutouts"), Path("data/sz/mf")],
        out: Annotated[Path, typer.Option(help="output: JSON record of the registered names and versions")] = Path(
            "models/sz/registered.json"),
    ) -> None:
        """Register CNN and ensemble versions and set alias `candidate` (section: register_sz).

        Promotion to `champion` is a separate, checked step: `skysieve promote NAME`.
        """
        from skysieve._io import atomic_path
        from skysieve._tracking import configure_mlflow, provenance
        from skysieve.catalog._config import catalog_tags
        from skysieve.config import load_params
        from skysieve.errors import DataError
        from skysieve.registry import register_pipeline

        p = load_params(params)
        if not state.is_file():
            raise DataError(f"{state}: not found; run `skysieve ensemble sz --state {state}` first")
        configure_mlflow()
        record = register_pipeline(
            models_dir=model, ensemble_state=json.loads(state.read_text()), provenance=provenance(data),
            params=p, cnn_name=p.register_sz.cnn_model_name, ensemble_name=p.register_sz.ensemble_model_name,
            primary_method=p.register_sz.ensemble_primary_method, extra_tags=catalog_tags(p))
        with atomic_path(out) as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n")
        for kind, r in record.items():
            typer.echo(f"registered {kind}: {r['name']} version {r['version']} (alias candidate)")
        typer.echo(f"promote with: skysieve promote {record['ensemble']['name']}")

    @group.command("lens")
    @handle_errors
    def lens(
        params: ParamsOption = Path("params.yaml"),
        model: Annotated[Path, typer.Option(help="trained CNN directory")] = Path("models/lens/cnn"),
        state: Annotated[Path, typer.Option(help="thresholds/references/metrics from `skysieve evaluate lens`")] = Path(
            "models/lens/evaluation.json"),
        data: Annotated[list[Path], typer.Option(help="data the model was evaluated on (for the data hash)")] = [
            Path("data/lens/cutouts")],
        out: Annotated[Path, typer.Option(help="output: JSON record of the registered name and version")] = Path(
            "models/lens/registered.json"),
    ) -> None:
        """Register the lens CNN with its test metrics and thresholds, alias `candidate` (section: register_lens).

        The version also carries the lens catalog config (bands, zero points, pixel scale, cutout size, unit)
        that `skysieve catalog` checks new cutouts against. Promotion to `champion` is a separate, checked
        step: `skysieve promote NAME`.
        """
        from skysieve._io import atomic_path
        from skysieve._tracking import configure_mlflow, experiment_id, provenance
        from skysieve.catalog._lens_config import LensCatalogConfig, lens_catalog_config_from_params, lens_catalog_tags
        from skysieve.config import load_params
        from skysieve.errors import DataError
        from skysieve.registry import read_cnn_manifest, register_cnn

        p = load_params(params)
        if not state.is_file():
            raise DataError(f"{state}: not found; run `skysieve evaluate lens --state {state}` first")
        manifest = read_cnn_manifest(model)
        mismatch = LensCatalogConfig.model_validate(lens_catalog_config_from_params(p)).cnn_mismatch(
            manifest["channels"], manifest["input_shape"])
        if mismatch:
            raise DataError(f"{model}: {mismatch} (from {params}: simulate_lens.size_px, cutouts_lens.channels); "
                            "register with the params it was trained with")
        # the lens sections, with train_lens as actually trained (tuned overrides applied)
        recorded = {k: v for k, v in p.model_dump(mode="json").items() if k.endswith("_lens") or k == "cosmology"}
        recorded["train_lens"] = manifest.get("params", recorded["train_lens"])
        recorded["tuned"] = manifest.get("tuned", {})
        configure_mlflow()
        record = register_cnn(models_dir=model, name=p.register_lens.model_name, state=json.loads(state.read_text()),
                              provenance=provenance(data), params=recorded, experiment_id=experiment_id("lens"),
                              tags={"skysieve.task": "lens", **lens_catalog_tags(p)})
        with atomic_path(out) as tmp:
            tmp.write_text(json.dumps({"cnn": record}, indent=2) + "\n")
        typer.echo(f"registered cnn: {record['name']} version {record['version']} (alias candidate)")
        typer.echo(f"promote with: skysieve promote {record['name']}")

    app.add_typer(group, name="register")
