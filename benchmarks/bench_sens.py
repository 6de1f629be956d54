"""Benchmark of the ``.sens`` reader: indexing, full vs selective decoding, and SensReader-layout export.

Writes a synthetic ``.sens`` (default 300 frames, 640x480 colour and depth, smooth-but-noisy content that
compresses like real frames) into a temporary folder and measures:

* header + frame index time (``SensReader(path)``: seeks only, no decoding);
* decoding every frame (frames/s) -- the baseline, what a reader that decodes the whole stream pays;
* decoding 32 evenly spaced frames (``read_frames``) and its time ratio to decoding all
  (ideal: 32 / num_frames);
* exporting all frames to the ScanNet SensReader layout (frames/s).

Run::

    .venv/bin/python benchmarks/bench_sens.py [--frames 300] [--width 640 --height 480] [--select 32]

Key figures are printed last, one ``name=value`` per line.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from loc3r.data.scannet.layouts import export_sensreader_layout
from loc3r.data.scannet.sens import SensReader, write_sens


def synth_frames(n: int, w: int, h: int, seed: int = 0):
    """Colour: moving gradients + blocks + mild noise; depth: tilted planes in mm with noise and holes."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    colors, depths, poses = [], [], []
    for i in range(n):
        r = (xx * 0.3 + i * 2) % 256
        g = (yy * 0.4 + 128 * np.sin(xx / 40.0 + i * 0.05) + 128) % 256
        b = ((xx // 64 + yy // 64 + i // 10) % 2) * 160 + 40
        img = np.stack([r, g, b], -1) + rng.normal(0, 3, size=(h, w, 3))
        colors.append(np.clip(img, 0, 255).astype(np.uint8))
        d = 1500 + 2.0 * xx + 1.5 * yy + 300 * np.sin(i * 0.1) + rng.normal(0, 4, size=(h, w))
        d = d.astype(np.uint16)
        d[rng.random((h, w)) < 0.05] = 0
        depths.append(d)
        T = np.eye(4)
        c, s = np.cos(0.02 * i), np.sin(0.02 * i)
        T[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
        T[:3, 3] = (0.01 * i, 0.0, 1.5)
        poses.append(T)
    return colors, depths, np.stack(poses)


def timed(fn, repeat: int = 1) -> float:
    """Best wall time of ``repeat`` calls, seconds."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--select", type=int, default=32)
    args = ap.parse_args()
    n, w, h = args.frames, args.width, args.height
    K = np.array([[577.0, 0, w / 2 - 0.5, 0], [0, 578.0, h / 2 - 0.5, 0], [0, 0, 1, 0], [0, 0, 0, 1]])

    with tempfile.TemporaryDirectory(prefix="bench_sens_") as tmp:
        path = Path(tmp) / "scene_bench.sens"
        colors, depths, poses = synth_frames(n, w, h)
        write_s = timed(lambda: write_sens(path, colors, depths, poses, K, K, jpeg_quality=90))
        size_mb = path.stat().st_size / 1e6
        colors = depths = None  # free the frames before timing the reader  # noqa: F841

        index_s = timed(lambda: SensReader(path), repeat=5)
        reader = SensReader(path)
        all_s = timed(lambda: reader.read_frames(range(n)))
        sel = np.linspace(0, n - 1, args.select).round().astype(int).tolist()
        sel_s = timed(lambda: reader.read_frames(sel), repeat=3)
        export_dir = Path(tmp) / "export"
        export_s = timed(lambda: export_sensreader_layout(path, export_dir))

    print(f"synthetic .sens: {n} frames, colour {w}x{h} JPEG q90, depth {w}x{h} zlib, {size_mb:.1f} MB; "
          f"written in {write_s:.2f} s")
    print(f"header + index: {index_s * 1e3:.2f} ms ({index_s / n * 1e6:.1f} us/frame)")
    print(f"decode all {n} frames (colour + depth): {all_s:.2f} s = {n / all_s:.1f} frames/s  [baseline]")
    print(f"decode {len(sel)} selected frames: {sel_s:.3f} s; ideal ratio {len(sel) / n:.3f}")
    print(f"export SensReader layout (all frames): {export_s:.2f} s")
    print(f"file_mb={size_mb:.1f}")
    print(f"write_fps={n / write_s:.1f}")
    print(f"index_ms={index_s * 1e3:.2f}")
    print(f"decode_fps={n / all_s:.1f}")
    print(f"selected_{len(sel)}_s={sel_s:.3f}")
    print(f"selected_vs_all_time_ratio={sel_s / all_s:.3f}")
    print(f"export_fps={n / export_s:.1f}")


if __name__ == "__main__":
    main()
