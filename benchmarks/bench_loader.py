"""Loader throughput vs model throughput on the tiny preset, and the peak RAM of a tiny training run.

    .venv/bin/python benchmarks/bench_loader.py [--data DIR] [--steps N] [--workers W]

Builds exactly what ``loc3r train configs/tiny-synthetic.yaml`` builds (synthetic set generated and prepared
into ``--data`` when missing, pose prior, mixture, collator) and measures:

* loader samples/s: the training DataLoader (the recipe's worker count, mixture sampler, collator) over one
  epoch, cold (empty clip caches) and warm (second epoch: clips cached in memory / on disk), and in the main
  process (0 workers) for reference;
* model samples/s: forward + backward + AdamW step of the tiny model on collated batches (the recipe's batch
  size and thread count);
* the ratio loader / model (the loader must be faster: > 1);
* peak memory of a tiny training run (``loc3r train`` in a subprocess, main process + loader workers, sampled
  every 50 ms): summed RSS (counts shared pages once per process) and summed PSS (shares them).

Key figures are printed last, one ``name=value`` per line.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

RECIPE = "configs/tiny-synthetic.yaml"


def _loader(train_ds, sampler, collator, workers: int, batch_size: int):
    from torch.utils.data import DataLoader

    return DataLoader(
        train_ds,
        batch_size=batch_size,
        sampler=sampler,
        collate_fn=collator,
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=False,
    )


def _time_epoch(loader, epoch: int) -> tuple[float, int]:
    loader.sampler.set_epoch(epoch)
    n, t0 = 0, time.perf_counter()
    for batch in loader:
        n += len(batch["sample_ids"])
    return n / (time.perf_counter() - t0), n


def _model_rate(model, batches, steps: int) -> float:
    import torch

    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)

    def step(b):
        out = model(**{k: v for k, v in b.items() if k != "sample_ids"})
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for b in batches[:3]:
        step(b)
    n, t0 = 0, time.perf_counter()
    for i in range(steps):
        b = batches[i % len(batches)]
        step(b)
        n += len(b["sample_ids"])
    return n / (time.perf_counter() - t0)


def _peak_memory_mb(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Run ``cmd``; peak over time of the summed RSS and PSS of the process and its children, MiB.

    RSS counts pages shared between the trainer and its loader workers (torch, forked data) once per
    process; PSS splits them, so the PSS sum is the better estimate of the RAM the run really needs.
    """
    import psutil

    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak_rss = peak_pss = 0
    stop = threading.Event()

    def sample():
        nonlocal peak_rss, peak_pss
        p = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                procs = [p, *p.children(recursive=True)]
                peak_rss = max(peak_rss, sum(q.memory_info().rss for q in procs))
                peak_pss = max(peak_pss, sum(getattr(q.memory_full_info(), "pss", 0) for q in procs))
            except psutil.Error:
                pass
            time.sleep(0.05)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    _, err = proc.communicate()
    stop.set()
    t.join()
    if proc.returncode != 0:
        raise RuntimeError(f"training run failed ({proc.returncode}):\n{err[-2000:]}")
    return peak_rss / 2**20, peak_pss / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None, help="data.root (default: a temporary folder)")
    ap.add_argument("--steps", type=int, default=40, help="timed model steps")
    ap.add_argument("--workers", type=int, default=None, help="loader workers (default: the recipe's)")
    ap.add_argument("--train-steps", type=int, default=60, help="steps of the RAM-measured training run")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_loader_") as d:
        run(args, Path(d))


def run(args: argparse.Namespace, tmp: Path) -> None:
    """Measure everything (module docstring) with scratch files under ``tmp``."""
    import torch

    from loc3r.training.collator import Loc3RCollator
    from loc3r.training.mixture import MixtureSampler
    from loc3r.training.recipe import load_recipe
    from loc3r.training.train import build_datasets, build_model, build_prior_backend, prepare_synthetic_data

    root = args.data or tmp / "data"
    recipe = load_recipe(RECIPE, [f"data.root={root}", f"data.cache_dir={tmp / 'clips'}"])
    t = recipe.training
    threads, bs = int(t.get("torch_num_threads") or 1), int(t["per_device_train_batch_size"])
    workers = int(t.get("dataloader_num_workers", 0)) if args.workers is None else args.workers
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    prepare_synthetic_data(recipe.data, recipe.model.tiny.image_size, recipe.model.tiny.patch_size)
    print(f"data ready in {time.perf_counter() - t0:.1f} s ({root})")

    backend = build_prior_backend(recipe.data.prior)
    model, processor = build_model(recipe.model, backend.token_dim)
    collator = Loc3RCollator(processor)

    train_ds, _, _ = build_datasets(recipe, processor, backend)
    loader = _loader(train_ds, MixtureSampler(train_ds, bs, seed=0), collator, workers, bs)
    cold, n = _time_epoch(loader, 0)
    warm, _ = _time_epoch(loader, 1)
    main_ds, _, _ = build_datasets(recipe, processor, backend)  # fresh memory caches, warm disk cache
    main_rate, _ = _time_epoch(_loader(main_ds, MixtureSampler(main_ds, bs, seed=0), collator, 0, bs), 0)
    print(f"loader: {n} samples per epoch, batch {bs}, {workers} worker(s)")

    batches = []
    for i, b in enumerate(_loader(main_ds, MixtureSampler(main_ds, bs, seed=0), collator, 0, bs)):
        batches.append(b)
        if i >= 15:
            break
    model_rate = _model_rate(model, batches, args.steps)

    cmd = [
        sys.executable,
        "-m",
        "loc3r",
        "train",
        RECIPE,
        f"data.root={root}",
        f"data.cache_dir={tmp / 'clips_run'}",
        f"training.output_dir={tmp / 'run'}",
        f"training.max_steps={args.train_steps}",
        "training.report_to=none",
        "training.disable_tqdm=true",
        "training.save_strategy=no",
    ]
    rss_mb, pss_mb = _peak_memory_mb(cmd, tmp)

    print(f"loader_samples_per_s_cold={cold:.1f}")
    print(f"loader_samples_per_s_warm={warm:.1f}")
    print(f"loader_samples_per_s_main_process={main_rate:.1f}")
    print(f"model_samples_per_s={model_rate:.1f}")
    print(f"model_steps_per_s={model_rate / bs:.2f}")
    print(f"loader_to_model_ratio_cold={cold / model_rate:.2f}")
    print(f"loader_to_model_ratio_warm={warm / model_rate:.2f}")
    print(f"train_peak_rss_sum_mb={rss_mb:.0f}")
    print(f"train_peak_pss_sum_mb={pss_mb:.0f}")
    print(f"train_steps_measured={args.train_steps}")


if __name__ == "__main__":
    main()
