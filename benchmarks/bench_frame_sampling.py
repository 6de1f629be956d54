"""Cost of two training options on the tiny preset: random frame subsets and the grounding-attention loss.

    .venv/bin/python benchmarks/bench_frame_sampling.py [--data DIR] [--steps N]

On the tiny synthetic set of ``configs/tiny-synthetic.yaml`` (generated and prepared into ``--data`` when
missing; 8 prepared frames per scene, 4 per sample here so that random subsets differ from the uniform one):

* loader samples/s in the main process with warm memory caches, ``data.frame_sampling`` uniform vs random
  (random keeps the whole prepared selection per scene in memory and slices it per sample);
* model steps/s (forward + backward + AdamW) on the same collated batches: sdpa attention without the
  grounding loss (the baseline) vs eager attention, and eager attention with ``lambda_ground`` and referent
  masks (attention weights of one layer are materialised).

Everything runs in this process, one thread, baseline first. Key figures are printed last, one
``name=value`` per line.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

RECIPE = "configs/tiny-synthetic.yaml"


def _loader_rate(train_ds, collator, batch_size: int, epochs: int = 3) -> float:
    from torch.utils.data import DataLoader

    from loc3r.training.mixture import MixtureSampler

    sampler = MixtureSampler(train_ds, batch_size, seed=0)
    loader = DataLoader(train_ds, batch_size=batch_size, sampler=sampler, collate_fn=collator, num_workers=0)
    sampler.set_epoch(0)
    for _ in loader:  # warm the memory caches
        pass
    n, t0 = 0, time.perf_counter()
    for e in range(1, epochs + 1):
        sampler.set_epoch(e)
        for batch in loader:
            n += len(batch["sample_ids"])
    return n / (time.perf_counter() - t0)


def _step_rate(model, batches, steps: int, ground: bool) -> float:
    import torch

    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step(b):
        inputs = {k: v for k, v in b.items() if k != "sample_ids"}
        if ground:  # a referent of 4 tokens per sample for <Pos> and <Ori>
            mask = torch.zeros_like(inputs["bev_mask"], dtype=torch.bool)
            mask[:, 0, :2, :2] = True
            inputs["ground_pos_mask"], inputs["ground_ori_mask"] = mask, mask.roll(1, dims=1)
        opt.zero_grad()
        model(**inputs).loss.backward()
        opt.step()

    for b in batches[:2]:
        step(b)
    t0 = time.perf_counter()
    for i in range(steps):
        step(batches[i % len(batches)])
    return steps / (time.perf_counter() - t0)


def run(args: argparse.Namespace, tmp: Path) -> None:
    """Measure everything (module docstring) with scratch files under ``tmp``."""
    import torch

    from loc3r.training.collator import Loc3RCollator
    from loc3r.training.recipe import load_recipe
    from loc3r.training.train import build_datasets, build_model, build_prior_backend, prepare_synthetic_data

    torch.set_num_threads(1)
    root = args.data or tmp / "data"
    base = [f"data.root={root}", "data.num_frames=4"]
    recipe = load_recipe(RECIPE, base)
    prepare_synthetic_data(recipe.data, recipe.model.tiny.image_size, recipe.model.tiny.patch_size)
    backend = build_prior_backend(recipe.data.prior)
    bs = int(recipe.training["per_device_train_batch_size"])

    model, processor = build_model(recipe.model, backend.token_dim)
    collator = Loc3RCollator(processor)
    uniform_ds, _, _ = build_datasets(recipe, processor, backend)
    uniform = _loader_rate(uniform_ds, collator, bs)
    random_ds, _, _ = build_datasets(load_recipe(RECIPE, base + ["data.frame_sampling=random"]), processor, backend)
    random = _loader_rate(random_ds, collator, bs)

    from torch.utils.data import DataLoader

    from loc3r.training.mixture import MixtureSampler

    batches = []
    for i, b in enumerate(DataLoader(uniform_ds, batch_size=bs, sampler=MixtureSampler(uniform_ds, bs, seed=0),
                                     collate_fn=collator)):
        batches.append(b)
        if i >= 7:
            break
    model.set_attn_implementation("sdpa")
    sdpa = _step_rate(model, batches, args.steps, ground=False)
    model.set_attn_implementation("eager")
    eager = _step_rate(model, batches, args.steps, ground=False)
    model.config.lambda_ground = 1.0
    grounded = _step_rate(model, batches, args.steps, ground=True)

    print(f"batch {bs}, 4 of 8 prepared frames per sample, {args.steps} timed steps per model setting")
    print(f"loader_samples_per_s_uniform={uniform:.1f}")
    print(f"loader_samples_per_s_random={random:.1f}")
    print(f"loader_random_to_uniform_ratio={random / uniform:.2f}")
    print(f"model_steps_per_s_sdpa={sdpa:.2f}")
    print(f"model_steps_per_s_eager={eager:.2f}")
    print(f"model_steps_per_s_eager_grounding={grounded:.2f}")
    print(f"grounding_step_time_ratio={sdpa / grounded:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None, help="data.root (default: a temporary folder)")
    ap.add_argument("--steps", type=int, default=30, help="timed model steps per setting")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_frames_") as d:
        run(args, Path(d))


if __name__ == "__main__":
    main()
