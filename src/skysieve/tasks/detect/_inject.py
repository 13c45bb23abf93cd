"""Injection–recovery: completeness of a registered detector against M200 and z, logged per version.

Fresh fields (their own seed) receive one or two clusters each with M200 and
z drawn uniformly over the bins; the registered model scans them like
``skysieve evaluate detect`` does (same stretch, heatmap decoding and 100 kpc
matching at its registered threshold) and the fraction recovered per
(M200, z) bin is reported with its Wilson 95 % interval.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.table import Table

__all__ = ["InjectionResult", "log_completeness", "run_injection", "write_completeness"]


@dataclass
class InjectionResult:
    """Injected clusters (``m200_msun``, ``z``, ``recovered``) and the binned completeness."""

    clusters: Table
    bins: list[dict]
    threshold: float
    overall: dict


def run_injection(p, *, name: str, version: str, progress: bool = True) -> InjectionResult:
    """Inject clusters into ``inject_detect.n_fields`` fields and score them with registered ``name`` v``version``."""
    from tqdm import tqdm

    from skysieve.catalog import load_pyfunc, resolve_model
    from skysieve.metrics import wilson_interval
    from skysieve.tasks.detect.dataset import stretch
    from skysieve.tasks.detect.evaluate import decode_maps, match_detections, predict_maps
    from skysieve.tasks.detect.report import kpc_per_pixel, nms_radius_arcsec
    from skysieve.tasks.detect.sim import field_centres, simulate_field

    cfg, s, e = p.inject_detect, p.simulate_detect, p.evaluate_detect
    ref = resolve_model(f"models:/{name}/{version}")
    threshold = float(ref.tags["threshold.cnn"])
    models = load_pyfunc(f"models:/{name}/{version}", "cluster detector").ensemble.models
    rng = np.random.default_rng(cfg.seed)
    lm, zb = np.asarray(cfg.log_m200_bins), np.asarray(cfg.z_bins)
    centres = field_centres(s, cfg.n_fields)
    rows, images = [], []
    for i in tqdm(range(cfg.n_fields), desc="inject", disable=not progress, unit="field"):
        injected = [(10 ** rng.uniform(lm[0], lm[-1]), rng.uniform(zb[0], zb[-1])) for _ in range(rng.integers(1, 3))]
        f = simulate_field(s, cosmo=p.cosmology, index=i, n_clusters=0, centre=tuple(centres[i]),
                           seed=int(np.random.SeedSequence([cfg.seed, i]).generate_state(1)[0]), clusters=injected)
        images.append(stretch(np.stack([f.images[b.name] for b in s.bands], axis=-1), kind=p.cutouts_detect.stretch,
                              softening=p.cutouts_detect.asinh_softening))
        rows += [{"image": i, "x_px": t["x_px"], "y_px": t["y_px"], "z": t["z"], "m200_msun": t["m200_msun"]}
                 for t in f.clusters]
    truth = Table(rows=rows)
    det = decode_maps(predict_maps(models, np.stack(images), tta=e.tta), stride=p.cutouts_detect.output_stride,
                      min_score=e.min_score, max_detections=e.max_detections, window=e.peak_window_px,
                      nms_px=nms_radius_arcsec(e, cosmo=p.cosmology) / (s.native_pixel_arcsec * s.bin))
    det = det[det["score"] >= threshold]
    kpp = kpc_per_pixel(np.asarray(truth["z"]), pixel_arcsec=s.native_pixel_arcsec * s.bin, cosmo=p.cosmology)
    m = match_detections(det, truth, kpc_per_px=kpp, match_kpc=e.match_kpc)
    recovered = np.zeros(len(truth), dtype=bool)
    recovered[m.det_cluster[m.det_cluster >= 0]] = True
    truth["recovered"] = recovered
    logm, z = np.log10(np.asarray(truth["m200_msun"])), np.asarray(truth["z"])
    bins = []
    for a, b in zip(lm[:-1], lm[1:], strict=True):
        for c, d in zip(zb[:-1], zb[1:], strict=True):
            sel = (logm >= a) & (logm < b) & (z >= c) & (z < d)
            k, n = int(recovered[sel].sum()), int(sel.sum())
            lo, hi = wilson_interval(k, n)
            bins.append({"log_m200_lo": float(a), "log_m200_hi": float(b), "z_lo": float(c), "z_hi": float(d),
                         "recovered": k, "n": n, "completeness": k / n if n else None, "lo": float(lo),
                         "hi": float(hi)})
    k, n = int(recovered.sum()), len(truth)
    lo, hi = wilson_interval(k, n)
    overall = {"recovered": k, "n": n, "completeness": k / n if n else None, "lo": float(lo), "hi": float(hi),
               "n_detections": len(det), "n_false": int((m.det_cluster < 0).sum())}
    return InjectionResult(truth, bins, threshold, overall)


def write_completeness(result: InjectionResult, out_dir: Path) -> None:
    """Write ``completeness.json``, ``completeness.md`` and ``injected.fits`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "completeness.json").write_text(json.dumps(
        {"threshold": result.threshold, "overall": result.overall, "bins": result.bins}, indent=1) + "\n")
    result.clusters.write(out_dir / "injected.fits")
    o = result.overall
    lines = [f"Injected {o['n']} clusters; recovered {o['recovered']} ({o['completeness']:.3f}, 95 % "
             f"{o['lo']:.3f}–{o['hi']:.3f}) at threshold {result.threshold:.3f}; "
             f"{o['n_false']} unmatched detections.",
             "", "| log M200 | z | recovered / n | completeness (95 %) |", "|---|---|---|---|"]
    for b in result.bins:
        c = "n/a" if b["completeness"] is None else f"{b['completeness']:.2f} ({b['lo']:.2f}–{b['hi']:.2f})"
        lines.append(f"| {b['log_m200_lo']:.2f}–{b['log_m200_hi']:.2f} | {b['z_lo']:.2f}–{b['z_hi']:.2f} | "
                     f"{b['recovered']}/{b['n']} | {c} |")
    (out_dir / "completeness.md").write_text("\n".join(lines) + "\n")


def log_completeness(result: InjectionResult, *, name: str, version: str, out: Path) -> str:
    """Log the completeness as an MLflow run tagged with the version, and as tags on the version itself."""
    import mlflow

    from skysieve._tracking import configure_mlflow, experiment_id

    configure_mlflow()
    o = result.overall
    with mlflow.start_run(experiment_id=experiment_id("detect"), run_name=f"inject-{name}-v{version}",
                          tags={"skysieve.model_name": name, "skysieve.model_version": str(version)}) as run:
        mlflow.log_metrics({"completeness": float(o["completeness"] or 0.0), "completeness_lo": o["lo"],
                            "completeness_hi": o["hi"], "n_injected": float(o["n"])})
        mlflow.log_artifacts(str(out), "inject")
    client = mlflow.MlflowClient()
    client.set_model_version_tag(name, str(version), "inject.completeness", f"{o['completeness']:.4f}")
    client.set_model_version_tag(name, str(version), "inject.completeness_95", f"{o['lo']:.4f}-{o['hi']:.4f}")
    client.set_model_version_tag(name, str(version), "inject.run_id", run.info.run_id)
    return run.info.run_id
