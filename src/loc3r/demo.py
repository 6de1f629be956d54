"""``loc3r demo``: the whole system on the embedded synthetic world, in one command (minutes on 2 CPU cores).

Default (``model`` = the committed tiny checkpoint ``loc3r/checkpoints/tiny-benchmark-full``, the full
variant of the synthetic ablation, docs/benchmark.md):
  1. generate fresh procedural scenes (a seed the checkpoint never saw) in ScanNet's raw layout with SQA3D /
     ScanQA / VSI-Bench annotations and prepare them exactly as real scans are prepared (the rendering and
     preparation settings of ``configs/tiny-pretrain.yaml``, which the checkpoint was trained on);
  2. ``predict``: localize every SQA3D-style situation of these scenes (one forward pass each, the scene's
     video prefix encoded once) and answer the situated questions;
  3. ``score`` with the official metrics (Acc@0.5m/1.0m/15°/30°, EM/EM-R), next to the trivial baselines on
     the same situations (mean position + uniform heading; uniform over the free floor) and the rule oracle;
  4. ``infer`` on a few situations: bird's-eye pictures with the model's cognitive map, the predicted pose
     with its σ ellipses and the ground truth.

``train=True`` instead trains the tiny model from scratch with a recipe (``configs/tiny-synthetic.yaml``) on
the generated scenes and evaluates it on their test split: the pipeline end to end, at chance-level accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DemoConfig", "run_demo", "format_summary", "packaged_checkpoint"]

#: Recipe whose rendering / preparation settings the committed checkpoint was trained with.
DATA_RECIPE = "tiny-pretrain"


def packaged_checkpoint() -> Path:
    """Folder of the committed tiny checkpoint (full variant of the synthetic ablation)."""
    return Path(__file__).resolve().parent / "checkpoints" / "tiny-benchmark-full"


@dataclass(frozen=True)
class DemoConfig:
    """Settings of ``run_demo``.

    Attributes:
        out: output folder (``data/``, ``run/``, ``eval/``, ``pictures/`` and ``summary.json`` go under it).
        model: model folder to evaluate (None: the committed checkpoint; ignored with ``train``).
        train: train from scratch with ``recipe`` instead of evaluating a trained model.
        recipe: training recipe (a path or a packaged recipe name), only with ``train``.
        train_steps: optimiser steps (None: the recipe's own schedule), only with ``train``.
        num_scenes: synthetic scenes to generate (None: 12 for the checkpoint, the recipe's with ``train``).
        num_pictures: situations drawn as BEV pictures.
        seed: seed of the synthetic world (and of training).
        progress: show progress bars.
        extra_overrides: more ``key=value`` recipe overrides.
    """

    out: Path
    model: Path | None = None
    train: bool = False
    recipe: str = "tiny-synthetic"
    train_steps: int | None = None
    num_scenes: int | None = None
    num_pictures: int = 3
    seed: int = 7
    progress: bool = True
    extra_overrides: tuple[str, ...] = ()


def _records(data_root: Path, records_dir: Path, splits: tuple[str, ...]) -> dict[str, Path]:
    """Convert the synthetic set's SQA3D files of ``splits`` into unified records (localization and QA)."""
    from loc3r.data.sources.convert import convert_to_jsonl

    sqa = data_root / "synthetic" / "annotations" / "sqa3d"
    out = {"sqa3d-loc": records_dir / "sqa3d_localization.jsonl", "sqa3d": records_dir / "sqa3d.jsonl"}
    convert_to_jsonl("sqa3d", [sqa / f"v1_balanced_localization_{s}_scannetv2.json" for s in splits],
                     out["sqa3d-loc"])
    files = []
    for s in splits:
        files += [sqa / f"v1_balanced_questions_{s}_scannetv2.json",
                  sqa / f"v1_balanced_sqa_annotations_{s}_scannetv2.json"]
    convert_to_jsonl("sqa3d", files, out["sqa3d"])
    return out


def _baselines(data_root: Path, records: Path, out_dir: Path) -> dict[str, dict[str, Any]]:
    """Trivial baselines and the rule oracle, scored on the same localization records."""
    from loc3r.data.sources.convert import read_records_jsonl
    from loc3r.eval.baselines import random_free_space, rule_oracle, synthetic_scene_geometries, training_mean
    from loc3r.eval.predictions import PredictionsHeader, write_predictions
    from loc3r.eval.score import score_predictions

    recs = read_records_jsonl(records)
    scenes = synthetic_scene_geometries(data_root / "synthetic", sorted({r.scene_id for r in recs}))
    makers = {"mean of these positions + uniform heading": lambda: training_mean(recs, recs, seed=0),
              "uniform free floor": lambda: random_free_space(recs, scenes, seed=0),
              "rule oracle (text + scene geometry)": lambda: rule_oracle(recs, scenes)}
    out = {}
    for i, (name, make) in enumerate(makers.items()):
        preds = make()
        header = PredictionsHeader.new("sqa3d-loc", {"baseline": name})
        write_predictions(out_dir / f"baseline_{i}.predictions.jsonl", header, preds)
        out[name] = score_predictions(header, preds, recs, "sqa3d-loc")["metrics"]
    return out


def run_demo(cfg: DemoConfig) -> dict[str, Any]:
    """Run the demo stages; returns (and writes to ``out/summary.json``) a summary."""
    from loc3r.data.sources.convert import read_records_jsonl
    from loc3r.eval.infer import InferConfig, infer
    from loc3r.eval.predict import PredictConfig, predict
    from loc3r.eval.score import score
    from loc3r.training.recipe import load_recipe
    from loc3r.training.train import prepare_synthetic_data, train
    from loc3r.utils.io import atomic_write_json

    out = Path(cfg.out).resolve()
    data_root = out / "data"
    training = None
    if cfg.train:
        run_dir = out / "run"
        overrides = [f"data.root={data_root}", f"training.output_dir={run_dir}", f"training.seed={cfg.seed}",
                     f"data.synthetic.seed={cfg.seed}", "training.report_to=none",
                     f"training.disable_tqdm={not cfg.progress}"]
        if cfg.num_scenes is not None:
            overrides.append(f"data.synthetic.scenes={cfg.num_scenes}")
        if cfg.train_steps is not None:
            overrides.append(f"training.max_steps={cfg.train_steps}")
        recipe = load_recipe(cfg.recipe, [*overrides, *cfg.extra_overrides])
        training = train(recipe).summary()
        model = run_dir
        splits: tuple[str, ...] = ("test",)
    else:
        model = Path(cfg.model) if cfg.model is not None else packaged_checkpoint()
        if not (model / "config.json").is_file():
            raise FileNotFoundError(f"{model}: no model (config.json); pass --model DIR or --train")
        recipe = load_recipe(DATA_RECIPE, [f"data.root={data_root}", f"data.synthetic.seed={cfg.seed}",
                                           f"data.synthetic.scenes={cfg.num_scenes or 12}",
                                           "data.synthetic.grounding_per_scene=0", *cfg.extra_overrides])
        prepare_synthetic_data(recipe.data, recipe.model.tiny.image_size, recipe.model.tiny.patch_size)
        splits = ("train", "val", "test")  # every scene is new to the checkpoint

    records = _records(data_root, out / "records", splits)
    prepared = data_root / recipe.data.prepared_dir
    metrics = {}
    for bench, recs in records.items():
        preds = out / "eval" / f"{bench}.predictions.jsonl"
        predict(PredictConfig(model=model, benchmark=bench, data=prepared, annotations=(recs,), out=preds,
                              overwrite=True, progress=cfg.progress, num_frames=recipe.data.num_frames))
        metrics_json = out / "eval" / f"{bench}.metrics.json"
        metrics[bench] = score(preds, bench, annotations=[recs], out_json=metrics_json)
    baselines = _baselines(data_root, records["sqa3d-loc"], out / "eval")

    pictures = []
    loc_records = read_records_jsonl(records["sqa3d-loc"])
    for rec in loc_records[: cfg.num_pictures]:
        pic_dir = out / "pictures" / f"{rec.scene_id}_{rec.id}"
        infer(InferConfig(model=model, input=prepared / rec.scene_id, annotations=(records["sqa3d-loc"],),
                          record_id=rec.id, out_dir=pic_dir, num_frames=recipe.data.num_frames))
        pictures.append(str(pic_dir / "bev.png"))
    summary = {"out": str(out), "model": str(model), "training": training, "metrics": metrics,
               "baselines": baselines, "pictures": pictures}
    atomic_write_json(out / "summary.json", summary)
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    """Plain-text report of a ``run_demo`` result: training curves, the metrics tables, the pictures."""
    from loc3r.eval.score import format_score_table

    lines = [f"model: {summary['model']}"]
    t = summary.get("training")
    if t:
        lines += [f"trained {t['global_step']} steps in {t['elapsed_s']:.0f} s -> {t['output_dir']}",
                  f"{'loss term':<12}{'first':>9}{'last':>9}"]
        for name, c in t["loss_curves"].items():
            lines.append(f"{name:<12}{c['first']:>9.3f}{c['last']:>9.3f}")
    for bench, metrics in summary["metrics"].items():
        lines += ["", f"== {bench} (synthetic scenes the model never saw) ==", format_score_table(metrics)]
    keys = ("Acc@0.5m", "Acc@1.0m", "Acc@15deg", "Acc@30deg")
    rows = {"loc3r (this model)": summary["metrics"]["sqa3d-loc"]["metrics"], **summary.get("baselines", {})}
    w = max(len(name) for name in rows) + 2
    lines += ["", "== localization vs baselines on the same situations ==",
              f"{'':<{w}}" + "".join(f"{k:>11}" for k in keys)]
    for name, m in rows.items():
        lines.append(f"{name:<{w}}" + "".join(f"{m[k]:>11.1f}" for k in keys))
    lines += ["", "pictures: " + ", ".join(summary["pictures"])]
    return "\n".join(lines)
