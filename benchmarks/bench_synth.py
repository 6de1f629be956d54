"""Benchmark of the synthetic-scene generator (``loc3r synth``): rendering speed and whole-set generation
speed.

Measures, at 640x480 (ScanNet depth resolution):

* **rendered frames/s** of ``SceneRenderer.render`` along a demo scene's walk, and the same with a naive ray
  caster that tests every primitive against every ray (the baseline: no screen-rectangle culling) -- their
  ratio is what the culling buys;
* **the default demo set** (``SynthConfig()``: 4 scenes x 120 frames, annotations on) generated from scratch
  with 1 worker and with 2 workers: wall seconds, CPU seconds of the main process (1 worker), scenes/min and
  frames/s (rendering + JPEG + zlib + mesh + annotations + checksums). The issue's target is < 60 s on 2
  cores.

Run::

    .venv/bin/python benchmarks/bench_synth.py [--frames 120] [--scenes 4] [--render-frames 24] [--quick]

Timings on a shared machine are noisy: the renderer figures are medians over frames. Key figures are printed
last, one ``name=value`` per line.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def _render_fps(world, poses, K, width, height, naive: bool) -> float:
    import numpy as np

    from loc3r.data.synthetic.render import SceneRenderer

    r = SceneRenderer(world)
    if naive:  # baseline: every primitive against every ray
        n = len(r._corners)
        r._rects = lambda *a, **k: [(0, height, 0, width)] * n  # noqa: E731
    times = []
    for k, T in enumerate(poses):
        t0 = time.perf_counter()
        r.render(T, K, width, height, np.random.default_rng(k))
        times.append(time.perf_counter() - t0)
    return 1.0 / statistics.median(times)


def _generate(scenes: int, frames: int, workers: int) -> tuple[float, float]:
    from loc3r.data.synthetic.config import SynthConfig
    from loc3r.data.synthetic.generate import generate_synthetic

    with tempfile.TemporaryDirectory() as d:
        cfg = SynthConfig(
            out=Path(d) / "set", num_scenes=scenes, frames_per_scene=frames, workers=workers, progress=False
        )
        c0, t0 = time.process_time(), time.perf_counter()
        generate_synthetic(cfg)
        return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    """Run the benchmark and print the key figures last."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenes", type=int, default=4, help="scenes in the generated set (default 4, the demo)")
    ap.add_argument("--frames", type=int, default=120, help="frames per scene (default 120, the demo)")
    ap.add_argument("--render-frames", type=int, default=24, help="frames timed for the renderer figures")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--quick", action="store_true", help="1 scene x 24 frames, 8 render frames")
    args = ap.parse_args()
    if args.quick:
        args.scenes, args.frames, args.render_frames = 1, 24, 8

    from loc3r.data.synthetic.config import SynthConfig, scaled_intrinsics
    from loc3r.data.synthetic.generate import scene_poses, scene_world

    cfg = SynthConfig(frames_per_scene=args.render_frames)
    world = scene_world(cfg, 2)
    poses = scene_poses(cfg, 2, world)
    K = scaled_intrinsics(args.width, args.height)
    fps = _render_fps(world, poses, K, args.width, args.height, naive=False)
    naive = _render_fps(world, poses[: max(2, len(poses) // 3)], K, args.width, args.height, naive=True)
    print(
        f"renderer  {args.width}x{args.height}: {fps:.1f} frames/s (culled), {naive:.1f} frames/s (naive), "
        f"scene {world.scene_id} ({world.scene_type}, {len(world.objects)} objects)"
    )

    results = {}
    for workers in (1, 2):
        wall, cpu = _generate(args.scenes, args.frames, workers)
        results[workers] = (wall, cpu)
        n_frames = args.scenes * args.frames
        print(
            f"generate {args.scenes} scenes x {args.frames} frames, workers={workers}: {wall:.1f} s wall "
            f"({cpu:.1f} s CPU in the main process), {60 * args.scenes / wall:.2f} scenes/min, "
            f"{n_frames / wall:.1f} frames/s"
        )

    n_frames = args.scenes * args.frames
    w1, c1 = results[1]
    w2, _ = results[2]
    print(f"render_fps_{args.width}x{args.height}={fps:.2f}")
    print(f"render_naive_fps_{args.width}x{args.height}={naive:.2f}")
    print(f"render_speedup_vs_naive={fps / naive:.2f}")
    print(f"demo_seconds_workers1={w1:.2f}")
    print(f"demo_cpu_seconds_workers1={c1:.2f}")
    print(f"demo_scenes_per_min_workers1={60 * args.scenes / w1:.2f}")
    print(f"demo_frames_per_s_workers1={n_frames / w1:.2f}")
    print(f"demo_seconds_workers2={w2:.2f}")
    print(f"demo_scenes_per_min_workers2={60 * args.scenes / w2:.2f}")
    print(f"demo_frames_per_s_workers2={n_frames / w2:.2f}")
    print(f"parallel_speedup={w1 / w2:.2f}")


if __name__ == "__main__":
    main()
