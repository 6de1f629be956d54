"""The paper's ablation in miniature, on a fixed synthetic benchmark (issue 7).

**The benchmark** (``BenchmarkSpec``, fixed; generated once into ``--out/data`` and reused): 64 procedural
scenes (seed 2026, 60 frames of 160x120 each), split by scene into 40 train / 8 val / 16 test (disjoint), with
up to 48 SQA3D-style situations per scene (3 situated questions each). The test split holds >= 500
localization situations (checked at build time; the exact counts are printed and written to
``results.json``). Scenes are prepared like real scans (8 frames per scene, BEV targets on the tiny model's
token grid) only when models are trained.

**Baselines** (``loc3r.eval.baselines``), scored with ``loc3r.eval.score`` (SQA3D localization metric) on
every test situation:

* ``mean``: the training split's mean SQA3D-frame position with a uniform random heading;
* ``random``: uniform over the scene's free floor, uniform heading;
* ``rule``: the "nearest referenced object" oracle reading the situation text with the generator's templates.

Seeded baselines are run with every seed and reported as mean ± 95 % Student-t CI over seeds; the
deterministic rule oracle with a 95 % percentile-bootstrap CI over test situations (its medians without one).

**Variants** (``VARIANTS``; data: recipe overrides on ``configs/tiny-synthetic.yaml``), each fine-tuned under
the same budget (optimiser steps, batch size, learning rate) with every seed, from a pretrained tiny
checkpoint when one is given (``--pretrained`` with a camera prior, ``--pretrained-noprior`` without; a
checkpoint's prior width must match the variant's), else from random initialisation (reported as such):

* ``sitonly``: situation modelling only (no layout loss, no camera prior);
* ``layout``: + layout reconstruction (BEV loss), no camera prior;
* ``full``: + camera-pose prior (the full model);
* ``nosit``: the full model without situation heads (QA only; no pose is predicted).

Each is scored on the test split: Acc@0.5m/1.0m/15°/30°, median errors, SQA3D EM@1 (mean ± 95 % t-CI over
seeds).

Run::

    .venv/bin/python benchmarks/synthetic_ablation.py --quick --baselines-only   # ~1-2 min: data + baselines
    .venv/bin/python benchmarks/synthetic_ablation.py --quick                    # + short fine-tunings
    .venv/bin/python benchmarks/synthetic_ablation.py --pretrained runs/tiny-pretrain \
        --pretrained-noprior runs/tiny-pretrain-noprior                           # the full budget

Writes ``--out/results.json`` and ``--out/results.md`` (the table); prints the table and then the key figures
last, one ``name=value`` per line (``rule_acc1m=...``, ``mean_acc1m=...``, ``full_acc1m=...``,
``sitonly_acc1m=...``, ratios against the training-mean baseline measured in the same run).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

logger = logging.getLogger("synthetic_ablation")

RECIPE = "tiny-synthetic"
#: Headline metric keys of ``loc3r.eval.score`` -> short names used in ``name=value`` lines.
METRIC_KEYS = {
    "Acc@0.5m": "acc05m",
    "Acc@1.0m": "acc1m",
    "Acc@15deg": "acc15deg",
    "Acc@30deg": "acc30deg",
    "median_pos_err_m": "medpos_m",
    "median_rot_err_deg": "medrot_deg",
    "EM@1": "em",
}
LOC_METRICS = ("Acc@0.5m", "Acc@1.0m", "Acc@15deg", "Acc@30deg")
MIN_TEST_SITUATIONS = 500


# ============================================================================================== benchmark
@dataclass(frozen=True)
class BenchmarkSpec:
    """The fixed synthetic benchmark (changing any field makes a different benchmark).

    Attributes:
        num_scenes: scenes generated; split by scene (``val_fraction`` / ``test_fraction``).
        seed: generator seed.
        frames_per_scene: rendered frames per scene.
        width, height: colour and depth image size, pixels.
        val_fraction, test_fraction: share of scenes in val / test.
        situations_per_scene: situations sampled per scene (scenes with few nameable objects give fewer).
        questions_per_situation: situated questions per situation.
        prepare_frames: frames per scene selected by ``prepare`` (the model's video).
        min_test_situations: build fails when the test split has fewer localization situations.
    """

    num_scenes: int = 64
    seed: int = 2026
    frames_per_scene: int = 60
    width: int = 160
    height: int = 120
    val_fraction: float = 0.125
    test_fraction: float = 0.25
    situations_per_scene: int = 48
    questions_per_situation: int = 3
    prepare_frames: int = 8
    min_test_situations: int = MIN_TEST_SITUATIONS


@dataclass(frozen=True)
class BenchmarkData:
    """Paths of a built benchmark.

    Attributes:
        root: data root (``synthetic/`` generated set, ``prepared/`` scenes, ``records/``).
        synth: the generated set.
        prepared: prepared scenes (exists only after ``prepare``).
        records: unified records JSONL: ``train_loc``, ``test_loc``, ``test_qa``.
        counts: situations / questions / scenes per split.
    """

    root: Path
    synth: Path
    prepared: Path
    records: dict[str, Path]
    counts: dict[str, Any]


def build_benchmark(spec: BenchmarkSpec, root: Path, prepare: bool = False, image_size: int = 64,
                    patch_size: int = 8, workers: int = 1) -> BenchmarkData:
    """Generate (resumably) the benchmark's synthetic set, convert its records, optionally prepare scenes.

    Args:
        spec: the benchmark.
        root: data root.
        prepare: also run ``prepare_scannet`` (needed for training / predicting, not for the baselines).
        image_size, patch_size: the model's token grid for BEV targets (tiny recipe: 64, 8).
        workers: processes for generation / preparation.

    Raises:
        RuntimeError: fewer test situations than ``spec.min_test_situations``.
    """
    from loc3r.data.sources.convert import convert_to_jsonl, read_records_jsonl
    from loc3r.data.synthetic.config import SynthConfig
    from loc3r.data.synthetic.generate import generate_synthetic

    root = Path(root).resolve()
    synth = root / "synthetic"
    cfg = SynthConfig(out=synth, num_scenes=spec.num_scenes, seed=spec.seed,
                      frames_per_scene=spec.frames_per_scene, color_width=spec.width,
                      color_height=spec.height,
                      depth_width=spec.width, depth_height=spec.height, val_fraction=spec.val_fraction,
                      test_fraction=spec.test_fraction, situations_per_scene=spec.situations_per_scene,
                      questions_per_situation=spec.questions_per_situation, workers=workers, progress=False)
    manifest_path = synth / "manifest.json"
    done = False
    if manifest_path.is_file():
        m = json.loads(manifest_path.read_text(encoding="utf-8"))
        done = bool(m.get("complete")) and m.get("config") == cfg.recorded()
    manifest = generate_synthetic(cfg) if not done else m
    sqa = synth / "annotations" / "sqa3d"
    rec_dir = root / "records"
    records = {"train_loc": rec_dir / "sqa3d_localization_train.jsonl",
               "test_loc": rec_dir / "sqa3d_localization_test.jsonl",
               "test_qa": rec_dir / "sqa3d_test.jsonl"}
    convert_to_jsonl("sqa3d", [sqa / "v1_balanced_localization_train_scannetv2.json"], records["train_loc"])
    convert_to_jsonl("sqa3d", [sqa / "v1_balanced_localization_test_scannetv2.json"], records["test_loc"])
    convert_to_jsonl("sqa3d", [sqa / "v1_balanced_questions_test_scannetv2.json",
                               sqa / "v1_balanced_sqa_annotations_test_scannetv2.json"], records["test_qa"])
    counts = {"scenes": manifest["counts"]["splits"],
              "train_situations": len(read_records_jsonl(records["train_loc"])),
              "test_situations": len(read_records_jsonl(records["test_loc"])),
              "test_questions": len(read_records_jsonl(records["test_qa"]))}
    if counts["test_situations"] < spec.min_test_situations:
        n = counts["test_situations"]
        raise RuntimeError(f"the benchmark's test split has {n} situations, fewer than "
                           f"{spec.min_test_situations}: raise num_scenes or situations_per_scene")
    prepared = root / "prepared"
    if prepare:
        from loc3r.data.prepare import PrepareConfig, prepare_scannet

        report = prepare_scannet(PrepareConfig(
            scans_dir=synth / "scans", out_dir=prepared, num_frames=spec.prepare_frames, bev_targets=True,
            image_size=image_size, patch_size=patch_size, pool_stride=2, workers=workers, progress=False))
        if report.failed:
            raise RuntimeError(f"preparing the benchmark's scenes failed: {report.failed}")
    return BenchmarkData(root=root, synth=synth, prepared=prepared, records=records, counts=counts)


# ============================================================================================== baselines
def _headline(metrics: dict[str, Any]) -> dict[str, float | None]:
    return {k: metrics.get(k) for k in METRIC_KEYS if k in metrics}


def _loc_hits(per_sample: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Per-sample 0/1 hits of each accuracy metric (strict ``<``, as the official metric)."""
    inf = float("inf")
    pos = [s["pos_err_m"] if s["pos_err_m"] is not None else inf for s in per_sample]
    rot = [s["rot_err_deg"] if s["rot_err_deg"] is not None else inf for s in per_sample]
    return {"Acc@0.5m": [100.0 * (p < 0.5) for p in pos], "Acc@1.0m": [100.0 * (p < 1.0) for p in pos],
            "Acc@15deg": [100.0 * (r < 15) for r in rot], "Acc@30deg": [100.0 * (r < 30) for r in rot]}


def run_baselines(data: BenchmarkData, seeds: Sequence[int], out_dir: Path) -> dict[str, dict[str, Any]]:
    """Score the three baselines on the test split.

    Returns:
        ``{name: {"runs": [headline metrics per seed], "ci": {metric: MeanCI as dict}, "n": samples,
        "extra": {...}}}``; the prediction files are written under ``out_dir``.
    """
    from loc3r.data.sources.convert import read_records_jsonl
    from loc3r.eval.baselines import random_free_space, rule_oracle, synthetic_scene_geometries, training_mean
    from loc3r.eval.predictions import PredictionsHeader, write_predictions
    from loc3r.eval.score import score_predictions
    from loc3r.eval.stats import bootstrap_ci, mean_ci

    test = read_records_jsonl(data.records["test_loc"])
    train = read_records_jsonl(data.records["train_loc"])
    scenes = synthetic_scene_geometries(data.synth, sorted({r.scene_id for r in test}))
    makers = {
        "mean": lambda seed: training_mean(test, train, seed=seed),
        "random": lambda seed: random_free_space(test, scenes, seed=seed),
        "rule": lambda seed: rule_oracle(test, scenes),
    }
    out: dict[str, dict[str, Any]] = {}
    for name, make in makers.items():
        runs, extra = [], {}
        for seed in (seeds if name != "rule" else seeds[:1]):
            preds = make(seed)
            header = PredictionsHeader.new("sqa3d-loc", {"baseline": name, "seed": seed})
            write_predictions(out_dir / f"baseline_{name}_seed{seed}.predictions.jsonl", header, preds)
            result = score_predictions(header, preds, test, "sqa3d-loc")
            runs.append(_headline(result["metrics"]))
            if name == "rule":
                extra["fallback"] = sum(p.extra.get("rule") == "fallback" for p in preds)
                hits = _loc_hits(result["per_sample"])
                ci = {k: dataclasses.asdict(bootstrap_ci(v, seed=0)) for k, v in hits.items()}
                for k in ("median_pos_err_m", "median_rot_err_deg"):  # one run: the value, no interval
                    if runs[-1].get(k) is not None:
                        ci[k] = dataclasses.asdict(mean_ci([runs[-1][k]]))
        if name != "rule":
            ci = {k: dataclasses.asdict(mean_ci([r[k] for r in runs]))
                  for k in runs[0] if runs[0][k] is not None}
        out[name] = {"runs": runs, "ci": ci, "n": len(test), "extra": extra}
    return out


# ============================================================================================== variants
@dataclass(frozen=True)
class Variant:
    """One ablation row.

    Attributes:
        key: short name (prefix of its ``name=value`` figures).
        title: table label.
        overrides: recipe overrides (dotted ``key=value``) on top of the common fine-tuning settings.
        camera_prior: whether the model takes camera-prior tokens (selects the pretrained checkpoint).
        localizes: whether the variant predicts poses (False: only QA is scored).
    """

    key: str
    title: str
    overrides: tuple[str, ...]
    camera_prior: bool
    localizes: bool = True


VARIANTS: tuple[Variant, ...] = (
    Variant("sitonly", "situation modelling only",
            ("data.prior.backend=none", "data.prior.kwargs={}", "model.config_overrides.lambda_bev=0",
             "model.config_overrides.use_bev_head=false"), camera_prior=False),
    Variant("layout", "+ layout reconstruction (BEV)",
            ("data.prior.backend=none", "data.prior.kwargs={}"), camera_prior=False),
    Variant("full", "+ camera-pose prior (full)", (), camera_prior=True),
    Variant("nosit", "full without situation heads",
            ("model.config_overrides.lambda_sit=0", "model.config_overrides.use_situation_heads=false"),
            camera_prior=True, localizes=False),
)


@dataclass(frozen=True)
class Budget:
    """What every variant gets (equal budgets).

    Attributes:
        steps: optimiser steps.
        batch_size: per-device batch size.
        learning_rate: peak learning rate.
        num_frames: frames per sample.
        predict_limit: only the first N test records are predicted (None: all; for smoke tests).
    """

    steps: int = 600
    batch_size: int = 8
    learning_rate: float = 1e-3
    num_frames: int = 8
    predict_limit: int | None = None


def finetune_overrides(variant: Variant, data: BenchmarkData, budget: Budget, seed: int, run_dir: Path,
                       pretrained: Path | None) -> list[str]:
    """The recipe overrides of one fine-tuning run (common settings, then the variant's)."""
    common = [f"data.root={data.root}", "data.synthetic=null", "data.prepared_dir=prepared",
              f"data.num_frames={budget.num_frames}", "data.eval_sources=[]",
              f"training.output_dir={run_dir}", f"training.seed={seed}", f"training.max_steps={budget.steps}",
              f"training.per_device_train_batch_size={budget.batch_size}",
              f"training.learning_rate={budget.learning_rate}", "training.eval_strategy=no",
              "training.eval_on_start=false", "training.save_strategy=no", "training.report_to=none",
              "training.disable_tqdm=true", "training.dataloader_num_workers=0",
              "training.dataloader_persistent_workers=false"]
    if pretrained is not None:
        common += ["model.preset=pretrained", f"model.name_or_path={Path(pretrained).resolve()}"]
    return common + list(variant.overrides)


def run_variant(variant: Variant, data: BenchmarkData, budget: Budget, seed: int, run_dir: Path,
                pretrained: Path | None = None) -> dict[str, Any]:
    """Fine-tune one variant with one seed, predict the test split, score it.

    Returns:
        ``{"metrics": headline metrics (localization when the variant localizes, EM@1), "missing_poses"
        (localized records without a predicted pose), "steps", "elapsed_s", "pretrained"}``.
    """
    from loc3r.eval.predict import PredictConfig, predict
    from loc3r.eval.score import ScoreOptions, score
    from loc3r.training.recipe import load_recipe
    from loc3r.training.train import train

    t0 = time.time()
    recipe = load_recipe(RECIPE, finetune_overrides(variant, data, budget, seed, run_dir, pretrained))
    result = train(recipe)
    metrics: dict[str, Any] = {}
    missing = None
    benches = (("sqa3d-loc", "test_loc"),) if variant.localizes else ()
    for bench, key in benches + (("sqa3d", "test_qa"),):
        preds = run_dir / "eval" / f"{bench}.predictions.jsonl"
        predict(PredictConfig(model=run_dir, benchmark=bench, data=data.prepared,
                              annotations=(data.records[key],), out=preds, overwrite=True, progress=False,
                              limit=budget.predict_limit, device="cpu", seed=seed))
        res = score(preds, bench, annotations=[data.records[key]],
                    options=ScoreOptions(allow_missing=budget.predict_limit is not None))
        metrics.update(_headline(res["metrics"]))
        if bench == "sqa3d-loc":
            missing = res["metrics"]["missing_poses"]
    return {"metrics": metrics, "missing_poses": missing if variant.localizes else None,
            "steps": result.global_step, "elapsed_s": time.time() - t0,
            "pretrained": None if pretrained is None else str(pretrained)}


def run_variants(data: BenchmarkData, variants: Sequence[Variant], seeds: Sequence[int], budget: Budget,
                 out_dir: Path, pretrained: Path | None, pretrained_noprior: Path | None) -> dict[str, Any]:
    """Every variant with every seed; mean ± 95 % t-CI over seeds of each metric."""
    from loc3r.eval.stats import mean_ci

    out: dict[str, Any] = {}
    for v in variants:
        ckpt = pretrained if v.camera_prior else pretrained_noprior
        runs = [run_variant(v, data, budget, s, out_dir / "runs" / f"{v.key}_seed{s}", ckpt) for s in seeds]
        keys = [k for k in runs[0]["metrics"] if all(r["metrics"].get(k) is not None for r in runs)]
        out[v.key] = {"title": v.title, "runs": runs, "n": None,
                      "ci": {k: dataclasses.asdict(mean_ci([r["metrics"][k] for r in runs])) for k in keys}}
    return out


# ============================================================================================== report
def _cell(ci: dict[str, Any] | None, digits: int = 1) -> str:
    if ci is None:
        return "-"
    from loc3r.eval.stats import MeanCI, format_ci

    return format_ci(MeanCI(**ci), digits)


def markdown_table(rows: dict[str, dict[str, Any]], labels: dict[str, str]) -> str:
    """One row per baseline / variant: mean ± 95 % CI of each metric."""
    cols = list(METRIC_KEYS)
    lines = ["| method | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for key, row in rows.items():
        cells = [_cell(row["ci"].get(c), 2 if c.startswith("median") else 1) for c in cols]
        lines.append(f"| {labels.get(key, key)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def key_figures(rows: dict[str, dict[str, Any]]) -> dict[str, float]:
    """``{"<row>_<metric>": mean}`` plus ratios / differences against the training-mean baseline."""
    out: dict[str, float] = {}
    for key, row in rows.items():
        for metric, ci in row["ci"].items():
            out[f"{key}_{METRIC_KEYS[metric]}"] = round(float(ci["mean"]), 3)
    base = out.get("mean_acc1m")
    for key in rows:
        if key != "mean" and base and f"{key}_acc1m" in out:
            out[f"{key}_over_mean_acc1m"] = round(out[f"{key}_acc1m"] / base, 3)
    if "rule_acc1m" in out and base is not None:
        out["headroom_acc1m"] = round(out["rule_acc1m"] - base, 3)
    return out


BASELINE_LABELS = {"mean": "training mean + uniform yaw", "random": "uniform free space",
                   "rule": "rule oracle (text + scene)"}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("runs/synthetic_ablation"))
    ap.add_argument("--quick", action="store_true", help="short fine-tunings (~15 min on 2 CPU cores)")
    ap.add_argument("--baselines-only", action="store_true", help="build the data and score the baselines")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=None, help="fine-tuning steps (default: 600, quick: 40)")
    ap.add_argument("--variants", nargs="+", default=[v.key for v in VARIANTS])
    ap.add_argument("--pretrained", type=Path, default=None, help="tiny checkpoint with a camera prior")
    ap.add_argument("--pretrained-noprior", type=Path, default=None, help="tiny checkpoint without prior")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if len(args.seeds) < 3:
        logger.warning("fewer than 3 seeds: the CIs are wide or undefined")

    t0 = time.time()
    out = args.out.resolve()
    spec = BenchmarkSpec()
    data = build_benchmark(spec, out / "data", prepare=not args.baselines_only, workers=args.workers)
    logger.info("benchmark ready in %.0f s: %s", time.time() - t0, data.counts)
    (out / "predictions").mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, Any]] = dict(run_baselines(data, args.seeds, out / "predictions"))
    labels = dict(BASELINE_LABELS)
    budget = None
    if not args.baselines_only:
        budget = Budget(steps=args.steps or (40 if args.quick else 600))
        chosen = [v for v in VARIANTS if v.key in args.variants]
        rows.update(run_variants(data, chosen, args.seeds, budget, out, args.pretrained,
                                 args.pretrained_noprior))
        labels.update({v.key: v.title for v in VARIANTS})
    table = markdown_table(rows, labels)
    figures = key_figures(rows)
    figures["test_situations"] = data.counts["test_situations"]
    figures["elapsed_s"] = round(time.time() - t0, 1)
    results = {"spec": dataclasses.asdict(spec), "counts": data.counts, "seeds": args.seeds,
               "budget": None if budget is None else dataclasses.asdict(budget),
               "pretrained": {"prior": str(args.pretrained) if args.pretrained else None,
                              "noprior": str(args.pretrained_noprior) if args.pretrained_noprior else None},
               "rows": rows, "figures": figures}
    from loc3r.utils.io import atomic_write_text

    atomic_write_text(out / "results.json", json.dumps(results, indent=1, default=str) + "\n")
    header = (f"# Synthetic ablation\n\n{data.counts['test_situations']} test situations in "
              f"{data.counts['scenes']['test']} test scenes; mean ± 95 % CI (t over seeds {args.seeds}; "
              "bootstrap over situations for the deterministic rule oracle).\n\n")
    atomic_write_text(out / "results.md", header + table + "\n")
    print(header + table)
    print()
    for k, v in figures.items():
        print(f"{k}={v}")
    return results


if __name__ == "__main__":
    main()
