"""Training-step time and peak memory of Loc3R vs the plain base VLM on the same inputs.

Run: ``.venv/bin/python benchmarks/bench_model_overhead.py [--preset tiny|small|gpu] [--steps N]``

Both models share the same weights (the base is a stock ``LlavaOnevisionForConditionalGeneration`` loaded with
Loc3R's base state dict), the same frames and the same text, the same frozen vision tower and trained
projector + LLM, and the same optimiser (AdamW). One training step = forward + backward + optimiser step.

* **base** — transformers' LLaVA-OneVision with its native video layout (T·n pooled tokens + 1 newline), LM
  loss.
* **loc3r (matched layout)** — Loc3R with the same newline layout (``newline_layout="one_token"``): what Loc3R
  adds is exactly T camera tokens (f_cam), the splicing, the BEV / position / orientation heads and their
  losses. ``overhead_ratio`` (printed last) = loc3r time / base time for this pair.
* **loc3r (paper layout)** — the default config (LLaVA-Video "grid" newlines: +R tokens per frame).

Timing: the variants are interleaved step by step and the median is reported (robust to a shared, noisy CPU).
Peak memory: on CUDA ``max_memory_allocated`` over a step; on CPU the growth of the process's peak resident
set (``VmHWM`` after resetting it) over a step, each variant in a fresh subprocess.

Presets: ``tiny`` (the CPU test preset, 4 frames of 64², a 4x4 grid), ``small`` (CPU, 8 frames of 384² /
patch 14 = 14x14 grid, ~1.7k tokens, LLM hidden 256 x 4 layers) and ``gpu`` (32 frames of 384² / patch 14 with
SigLIP-so400m dimensions and a Qwen2-0.5B-sized LLM in bf16, ~6.8k tokens; default when CUDA is available).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import statistics
import time

from _common import GPU_MODEL, TINY_MODEL, build_loc3r

PRESETS = {
    "tiny": dict(TINY_MODEL, frames=4, batch=2, prior_dim=8),
    "small": dict(
        frames=8,
        batch=1,
        image_size=384,
        patch_size=14,
        text_hidden_size=256,
        text_layers=4,
        vision_hidden_size=64,
        vision_layers=2,
        prior_dim=64,
        head=256,
        dtype="float32",
        base={},
    ),
    "gpu": dict(GPU_MODEL, frames=32, batch=1, prior_dim=768),
}


def build(preset: str, device: str, variant: str, seed: int = 0):
    """(model, batch, optimiser) of one variant: ``base`` | ``loc3r_matched`` | ``loc3r_paper``."""
    import numpy as np
    import torch
    from transformers import LlavaOnevisionForConditionalGeneration

    from loc3r.modeling.processing_loc3r import FrameTransform, Loc3RProcessor
    from loc3r.modeling.trainable import set_trainable

    p = PRESETS[preset]
    dtype = getattr(torch, p["dtype"])
    layout = "grid" if variant == "loc3r_paper" else "one_token"
    model, proc = build_loc3r(p, newline_layout=layout, seed=seed)
    rng = np.random.default_rng(seed)
    b, t = p["batch"], p["frames"]
    videos = [rng.integers(0, 256, (t, 96, 128, 3), dtype=np.uint8) for _ in range(b)]
    sits = ["I am sitting on the sofa facing the tv with a lamp on my left"] * b
    qs = ["what colour is the chair behind me?"] * b
    ans = ["the chair behind you is red"] * b
    g = torch.Generator().manual_seed(seed)
    cam = torch.randn(b, t, p["prior_dim"], generator=g)
    if variant == "base":
        net = LlavaOnevisionForConditionalGeneration(model.config.base_config)
        net.load_state_dict(model.vlm.base.state_dict())
        del model
        bproc = Loc3RProcessor(
            proc.tokenizer,
            FrameTransform(size=p["image_size"]),
            rows=proc.rows,
            cols=proc.cols,
            patch_size=proc.patch_size,
            newline_layout="one_token",
            use_camera=False,
        )
        batch = dict(bproc(videos, sits, qs, answers=ans))
        batch.pop("sit_mask")
        for prm in net.model.vision_tower.parameters():
            prm.requires_grad_(False)
    else:
        net = model
        set_trainable(net)
        batch = dict(proc(videos, sits, qs, answers=ans, camera_tokens=cam))
        rows, cols = proc.token_grid
        batch.update(
            bev_targets=torch.randn(b, t, rows, cols, 2, generator=g),
            bev_mask=torch.ones(b, t, rows, cols, dtype=torch.bool),
            pos_target=torch.randn(b, 2, generator=g),
            ori_target=torch.rand(b, generator=g) * 6 - 3,
        )
    net.to(device=device, dtype=dtype).train()
    batch = {
        k: (v.to(device=device, dtype=dtype) if v.is_floating_point() else v.to(device))
        for k, v in batch.items()
    }
    opt = torch.optim.AdamW([q for q in net.parameters() if q.requires_grad], lr=1e-5)
    return net, batch, opt


def step(net, batch, opt) -> None:
    """One training step."""
    out = net(**batch)
    out.loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_variants(preset: str, device: str, variants: list[str], steps: int, warmup: int):
    """(median step time in seconds, input length) per variant; the variants' steps are interleaved."""
    built = {v: build(preset, device, v) for v in variants}
    lengths = {v: int(built[v][1]["input_ids"].shape[1]) for v in variants}
    times: dict[str, list[float]] = {v: [] for v in variants}
    for i in range(warmup + steps):
        for v in variants:
            _sync(device)
            t0 = time.perf_counter()
            step(*built[v])
            _sync(device)
            if i >= warmup:
                times[v].append(time.perf_counter() - t0)
    return {v: statistics.median(ts) for v, ts in times.items()}, lengths


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(key + r":\s+(\d+)", f.read()).group(1))


def _cpu_peak_child(preset: str, variant: str, threads: int, q) -> None:
    import torch

    torch.set_num_threads(threads)
    net, batch, opt = build(preset, "cpu", variant)
    step(net, batch, opt)  # optimiser state and allocator pools exist from here on
    before = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak resident set size
    step(net, batch, opt)
    q.put((_status_kb("VmHWM") - before) / 1024.0)


def peak_memory_mb(preset: str, device: str, variant: str, threads: int = 1) -> float:
    """Extra memory a training step needs on top of the model, optimiser state and inputs, MiB."""
    if device.startswith("cuda"):
        import torch

        net, batch, opt = build(preset, device, variant)
        step(net, batch, opt)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step(net, batch, opt)
        torch.cuda.synchronize()
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
        del net, batch, opt
        torch.cuda.empty_cache()
        return peak
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=_cpu_peak_child, args=(preset, variant, threads, q))
    # Serve every allocation above 64 KiB by mmap, so freed tensors leave the resident set at once and the
    # peak resident set tracks the peak of live memory (set only for the child's start-up).
    saved = os.environ.get("MALLOC_MMAP_THRESHOLD_")
    os.environ["MALLOC_MMAP_THRESHOLD_"] = "65536"
    try:
        proc.start()
    finally:
        if saved is None:
            os.environ.pop("MALLOC_MMAP_THRESHOLD_", None)
        else:
            os.environ["MALLOC_MMAP_THRESHOLD_"] = saved
    value = q.get(timeout=600)
    proc.join()
    return value


def main(argv: list[str] | None = None) -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help="default: gpu when CUDA is available, else tiny",
    )
    parser.add_argument("--steps", type=int, default=None, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads for torch (default 1: stable timings on a shared machine)",
    )
    args = parser.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        torch.set_num_threads(args.threads)
    preset = args.preset or ("gpu" if device == "cuda" else "tiny")
    if preset == "gpu" and device != "cuda":
        parser.error("the gpu preset needs CUDA")
    steps = args.steps or {"tiny": 40, "small": 10, "gpu": 10}[preset]
    variants = ["base", "loc3r_matched", "loc3r_paper"]

    times, lengths = time_variants(preset, device, variants, steps, args.warmup)
    if device == "cuda":
        import gc

        gc.collect()
        torch.cuda.empty_cache()
    mem = {v: peak_memory_mb(preset, device, v, args.threads) for v in variants}
    print(f"device={torch.cuda.get_device_name() if device == 'cuda' else 'cpu'}")
    print(f"preset={preset}")
    for v in variants:
        print(f"seq_len_{v}={lengths[v]}")
    for v in variants:
        print(f"step_ms_{v}={times[v] * 1e3:.2f}")
    for v in variants:
        print(f"step_peak_mb_{v}={mem[v]:.1f}")
    print(f"memory_ratio={mem['loc3r_matched'] / max(mem['base'], 1e-9):.3f}")
    print(f"overhead_ratio_paper_layout={times['loc3r_paper'] / times['base']:.3f}")
    print(f"overhead_ratio={times['loc3r_matched'] / times['base']:.3f}")


if __name__ == "__main__":
    main()
