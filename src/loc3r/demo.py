"""``loc3r demo``: the whole system on the embedded synthetic world, in one command (< 10 min on 2 CPU cores).

Stages (each a plain library call that the tests also use):
  1. ``train`` with the committed recipe ``configs/tiny-synthetic.yaml`` (shortened): it generates the
     procedural scenes in ScanNet's raw layout with SQA3D / ScanQA / VSI-Bench annotations, prepares them
     exactly as real scans are prepared, and trains the tiny Loc3R model from scratch with every loss term;
  2. ``predict`` on the held-out *test* scenes: the situation of every SQA3D-style localization record is
     localized (one forward pass each, the scene's video prefix encoded once) and the situated questions
     answered;
  3. ``score`` with the official metrics (Acc@0.5m/1.0m/15°/30°, EM/EM-R), printed as a table;
  4. ``infer`` on a few test situations: bird's-eye pictures with the model's cognitive map, the predicted
     pose with its σ ellipses and the ground truth; plus the synthetic scenes' previews.
A tiny model trained from scratch for a few CPU minutes localizes far from the paper's 7B model (see the
README / docs/benchmark.md for what it reaches); the demo shows the complete, real pipeline end to end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DemoConfig", "run_demo", "format_summary"]


@dataclass(frozen=True)
class DemoConfig:
    """Settings of ``run_demo``.

    Attributes:
        out: output folder (``data/``, ``run/``, ``eval/``, ``pictures/`` and ``summary.json`` go under it).
        recipe: training recipe (a path or a packaged recipe name).
        train_steps: optimiser steps (None: the recipe's own schedule).
        num_scenes: synthetic scenes to generate (None: the recipe's; split train / val / test).
        num_pictures: test situations drawn as BEV pictures.
        seed: seed of the synthetic world and of training.
        progress: show progress bars.
        extra_overrides: more ``key=value`` recipe overrides.
    """

    out: Path
    recipe: str = "tiny-synthetic"
    train_steps: int | None = None
    num_scenes: int | None = None
    num_pictures: int = 3
    seed: int = 0
    progress: bool = True
    extra_overrides: tuple[str, ...] = ()


def _test_records(data_root: Path, records_dir: Path) -> dict[str, Path]:
    """Convert the synthetic test split's SQA3D files into unified records (localization and QA)."""
    from loc3r.data.sources.convert import convert_to_jsonl

    sqa = data_root / "synthetic" / "annotations" / "sqa3d"
    out = {}
    loc = sqa / "v1_balanced_localization_test_scannetv2.json"
    out["sqa3d-loc"] = records_dir / "sqa3d_localization_test.jsonl"
    convert_to_jsonl("sqa3d", [loc], out["sqa3d-loc"])
    out["sqa3d"] = records_dir / "sqa3d_test.jsonl"
    convert_to_jsonl("sqa3d", [sqa / "v1_balanced_questions_test_scannetv2.json",
                               sqa / "v1_balanced_sqa_annotations_test_scannetv2.json"], out["sqa3d"])
    return out


def run_demo(cfg: DemoConfig) -> dict[str, Any]:
    """Run the demo stages; returns (and writes to ``out/summary.json``) a summary."""
    from loc3r.data.sources.convert import read_records_jsonl
    from loc3r.eval.infer import InferConfig, infer
    from loc3r.eval.predict import PredictConfig, predict
    from loc3r.eval.score import score
    from loc3r.training.recipe import load_recipe
    from loc3r.training.train import train
    from loc3r.utils.io import atomic_write_json

    out = Path(cfg.out).resolve()
    data_root, run_dir = out / "data", out / "run"
    overrides = [f"data.root={data_root}", f"training.output_dir={run_dir}", f"training.seed={cfg.seed}",
                 f"data.synthetic.seed={cfg.seed}", "training.report_to=none",
                 f"training.disable_tqdm={not cfg.progress}"]
    if cfg.num_scenes is not None:
        overrides.append(f"data.synthetic.scenes={cfg.num_scenes}")
    if cfg.train_steps is not None:
        overrides.append(f"training.max_steps={cfg.train_steps}")
    recipe = load_recipe(cfg.recipe, [*overrides, *cfg.extra_overrides])
    result = train(recipe)
    training = result.summary()

    records = _test_records(data_root, out / "records")
    prepared = data_root / recipe.data.prepared_dir
    metrics = {}
    for bench, recs in records.items():
        preds = out / "eval" / f"{bench}.predictions.jsonl"
        predict(PredictConfig(model=run_dir, benchmark=bench, data=prepared, annotations=(recs,), out=preds,
                              overwrite=True, progress=cfg.progress))
        metrics_json = out / "eval" / f"{bench}.metrics.json"
        metrics[bench] = score(preds, bench, annotations=[recs], out_json=metrics_json)

    pictures = []
    loc_records = read_records_jsonl(records["sqa3d-loc"])
    for rec in loc_records[: cfg.num_pictures]:
        pic_dir = out / "pictures" / f"{rec.scene_id}_{rec.id}"
        infer(InferConfig(model=run_dir, input=prepared / rec.scene_id, annotations=(records["sqa3d-loc"],),
                          record_id=rec.id, out_dir=pic_dir))
        pictures.append(str(pic_dir / "bev.png"))
    summary = {"out": str(out), "training": training, "metrics": metrics, "pictures": pictures}
    atomic_write_json(out / "summary.json", summary)
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    """Plain-text report of a ``run_demo`` result: training curves, the metrics tables, the pictures."""
    from loc3r.eval.score import format_score_table

    t = summary["training"]
    lines = [f"trained {t['global_step']} steps in {t['elapsed_s']:.0f} s -> {t['output_dir']}",
             f"{'loss term':<12}{'first':>9}{'last':>9}"]
    for name, c in t["loss_curves"].items():
        lines.append(f"{name:<12}{c['first']:>9.3f}{c['last']:>9.3f}")
    for bench, metrics in summary["metrics"].items():
        lines += ["", f"== {bench} (synthetic test split) ==", format_score_table(metrics)]
    lines += ["", "pictures: " + ", ".join(summary["pictures"])]
    return "\n".join(lines)
