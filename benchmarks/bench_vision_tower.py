"""Training-step time of the synthetic benchmark's model with its random vision tower vs a pretrained SigLIP-base.

Run: ``.venv/bin/python benchmarks/bench_vision_tower.py [--steps N] [--batch B]``

What a run of the synthetic ablation with ``model.tiny.vision_tower`` (docs/benchmark.md) would cost per step:

* **random tower** — ``configs/tiny-pretrain.yaml`` as shipped: a 128-wide 3-layer SigLIP trained from scratch
  (``model.trainable.vision_tower: true``).
* **siglip-base** — the same recipe with ``model.tiny.vision_tower`` pointing at a checkpoint with the shapes of
  ``google/siglip-base-patch16-224`` (768 wide, 12 layers, 16-pixel patches; random weights written to a temporary
  folder, since none can be downloaded here), loaded through the real path (``loc3r.modeling.vision_tower``:
  position grid resized from 14x14 to 8x8 for 128² frames) and frozen (``model.trainable.vision_tower=false``, as
  the paper keeps SigLIP).

Both are built by ``loc3r.training.train.build_model`` from the recipe, take the same batch (8 frames of 128² per
sample, the pose prior's 10-d tokens, situation + question + answer text, position / orientation targets) and
train with AdamW. The variants alternate step by step; the median step is reported. ``step_time_ratio`` (printed
last) = siglip-base / random tower.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

RECIPE = Path(__file__).resolve().parents[1] / "configs" / "tiny-pretrain.yaml"
#: google/siglip-base-patch16-224's vision encoder.
SIGLIP_BASE = dict(image_size=224, patch_size=16, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                   num_attention_heads=12)
PRIOR_DIM = 10  # the pose backend in gravity mode


def build(variant: str, tower_dir: str | None):
    """(model, processor, optimiser) of ``random`` or ``siglip_base`` from the pretraining recipe."""
    import torch

    from loc3r.training.recipe import load_recipe
    from loc3r.training.train import build_model

    overrides = [] if variant == "random" else [f"model.tiny.vision_tower={tower_dir}",
                                                "model.trainable.vision_tower=false"]
    recipe = load_recipe(RECIPE, overrides)
    model, proc = build_model(recipe.model, prior_token_dim=PRIOR_DIM)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    return model, proc, opt


def make_batch(proc, batch: int, frames: int, seed: int = 0):
    import numpy as np
    import torch

    rng = np.random.default_rng(seed)
    videos = [rng.integers(0, 256, (frames, 120, 160, 3), dtype=np.uint8) for _ in range(batch)]
    inputs = proc(videos, ["I am sitting on the armchair facing the desk"] * batch,
                  ["what is on my left?"] * batch, answers=["a lamp"] * batch,
                  camera_tokens=torch.randn(batch, frames, PRIOR_DIM, generator=torch.Generator().manual_seed(seed)))
    targets = dict(pos_target=torch.zeros(batch, 2), ori_target=torch.zeros(batch))
    return inputs, targets


def step(model, opt, inputs, targets) -> float:
    t0 = time.perf_counter()
    out = model(**inputs, **targets)
    out.loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4, help="timed steps per variant (after one warm-up)")
    ap.add_argument("--batch", type=int, default=8, help="samples per step (the recipe's per-device batch)")
    ap.add_argument("--frames", type=int, default=8)
    args = ap.parse_args(argv)

    import torch
    from transformers import SiglipVisionConfig, SiglipVisionModel

    with tempfile.TemporaryDirectory() as tmp:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            SiglipVisionModel(SiglipVisionConfig(**SIGLIP_BASE)).save_pretrained(tmp)
        built = {v: build(v, tmp) for v in ("random", "siglip_base")}
    batches = {v: make_batch(built[v][1], args.batch, args.frames) for v in built}
    times: dict[str, list[float]] = {v: [] for v in built}
    for i in range(args.steps + 1):
        for v, (model, _, opt) in built.items():
            dt = step(model, opt, *batches[v])
            if i:
                times[v].append(dt)
    counts = {v: sum(p.numel() for p in m.vlm.base.model.vision_tower.parameters()) for v, (m, _, _) in built.items()}
    med = {v: statistics.median(t) for v, t in times.items()}
    print(f"{'variant':<12} {'vision params':>14} {'median step (s)':>16}  steps")
    for v in built:
        print(f"{v:<12} {counts[v]:>14,} {med[v]:>16.2f}  {', '.join(f'{t:.2f}' for t in times[v])}")
    figures = {
        "random_tower_step_s": round(med["random"], 3),
        "siglip_base_step_s": round(med["siglip_base"], 3),
        "step_time_ratio": round(med["siglip_base"] / med["random"], 2),
    }
    for k, v in figures.items():
        print(f"{k}={v}")
    return figures


if __name__ == "__main__":
    main()
