"""``loc3r demo``: the whole data path on the embedded synthetic world, in one command.

Stages (each a plain library call that the tests also use):
  1. ``generate_synthetic``: a few procedural scenes in ScanNet's raw layout with SQA3D/ScanQA/VSI-Bench
     annotations, plus bird's-eye preview PNGs;
  2. ``prepare_scannet``: the same export real ScanNet scans go through (32 uniformly selected frames, depth,
     poses, per-token BEV targets for LLaVA-Video's 14x14 token grid);
  3. ``convert_to_jsonl``: the benchmark files into unified records;
  4. a summary table of what was produced.
Model training, localization and scoring join this command as they land (see the README).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DemoConfig", "run_demo"]


@dataclass(frozen=True)
class DemoConfig:
    """Settings of ``run_demo``.

    Attributes:
        out: output folder (``synthetic/``, ``prepared/``, ``records/`` and ``summary.json`` go under it).
        num_scenes: synthetic scenes to generate.
        frames_per_scene: rendered frames per scene.
        num_frames: frames selected per scene by ``prepare`` (the paper: 32).
        seed: master seed of the synthetic world.
        workers: parallel processes for generation and preparation.
        progress: show progress bars.
    """

    out: Path
    num_scenes: int = 4
    frames_per_scene: int = 120
    num_frames: int = 32
    seed: int = 0
    workers: int = 2
    progress: bool = True


def _summarise_prepared(prepared_dir: Path, scene_id: str) -> dict[str, Any]:
    meta = json.loads((prepared_dir / scene_id / "scene.json").read_text())
    bev = np.load(prepared_dir / scene_id / "bev_targets.npz")
    xy, valid = bev["xy"], bev["valid"]
    pts = xy[valid]
    return {
        "scene_id": scene_id,
        "frames": len(meta["frame_selection"]["indices"]),
        "objects": len(json.loads((prepared_dir / scene_id / "instances.json").read_text())["instances"]),
        "token_grid": list(valid.shape[1:]),
        "valid_token_fraction": float(valid.mean()),
        "bev_extent_m": [float(pts[:, 0].max() - pts[:, 0].min()), float(pts[:, 1].max() - pts[:, 1].min())],
    }


def run_demo(cfg: DemoConfig) -> dict[str, Any]:
    """Run the demo stages and return (and write to ``out/summary.json``) a summary."""
    from loc3r.data.prepare import PrepareConfig, prepare_scannet
    from loc3r.data.sources.convert import convert_to_jsonl
    from loc3r.data.synthetic.config import SynthConfig
    from loc3r.data.synthetic.generate import generate_synthetic
    from loc3r.utils.io import atomic_write_json

    out = Path(cfg.out)
    synth_dir, prepared_dir, records_dir = out / "synthetic", out / "prepared", out / "records"
    manifest = generate_synthetic(
        SynthConfig(out=synth_dir, num_scenes=cfg.num_scenes, seed=cfg.seed, frames_per_scene=cfg.frames_per_scene,
                    workers=cfg.workers, progress=cfg.progress, preview=True)
    )
    report = prepare_scannet(
        PrepareConfig(scans_dir=synth_dir / "scans", out_dir=prepared_dir, num_frames=cfg.num_frames,
                      bev_targets=True, workers=cfg.workers, progress=cfg.progress)
    )
    if report.failed:
        raise RuntimeError(f"prepare failed for {sorted(report.failed)}: {report.failed}")
    records: dict[str, int] = {}
    ann = synth_dir / "annotations"
    for split in ("train", "val", "test"):
        sqa = sorted((ann / "sqa3d").glob(f"v1_balanced_*_{split}_scannetv2.json"))
        sqa = [p for p in sqa if "localization" not in p.name]
        for source, inputs in (("sqa3d", sqa), ("scanqa", [ann / "scanqa" / f"ScanQA_v1.0_{split}.json"]),
                               ("vsibench", [ann / "vsibench" / f"vsibench_{split}.json"])):
            if not all(p.exists() for p in inputs) or not inputs:
                continue
            summary = convert_to_jsonl(source, inputs, records_dir / f"{source}_{split}.jsonl")
            records[f"{source}_{split}"] = summary.written
    scenes = [_summarise_prepared(prepared_dir, s["scene_id"]) for s in manifest["scenes"]]
    result = {"out": str(out), "scenes": scenes, "records": records,
              "previews": sorted(str(p) for p in (synth_dir / "preview").glob("*.png"))}
    atomic_write_json(out / "summary.json", result)
    return result


def format_summary(result: dict[str, Any]) -> str:
    """Plain-text table of a ``run_demo`` result."""
    lines = [f"{'scene':<14}{'frames':>7}{'objects':>8}{'tokens/frame':>14}{'valid':>7}  BEV extent (m)"]
    for s in result["scenes"]:
        grid = f"{s['token_grid'][0]}x{s['token_grid'][1]}"
        lines.append(f"{s['scene_id']:<14}{s['frames']:>7}{s['objects']:>8}{grid:>14}"
                     f"{s['valid_token_fraction']:>7.0%}  {s['bev_extent_m'][0]:.1f} x {s['bev_extent_m'][1]:.1f}")
    lines.append("records: " + ", ".join(f"{k} {v}" for k, v in sorted(result["records"].items())))
    lines.append("pictures: " + ", ".join(result["previews"]))
    return "\n".join(lines)
