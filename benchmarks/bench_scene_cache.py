"""Per-query latency with and without the scene cache (``loc3r.eval.scene_cache``).

Run: ``.venv/bin/python benchmarks/bench_scene_cache.py [--preset small|tiny|gpu] [--repeats N]``

One scene, many queries (SQA3D has ~50 per scene). Without the cache every query runs the full prompt: the
vision tower over all frames, the camera projector and the LLM over system prompt + video block + situation +
question (``run_queries_uncached``). With the cache the video prefix is encoded once per scene
(``SceneSession.__init__``, reported as ``session_build_ms``) and each query runs only its suffix
(``"\\n{situation} <Pos><Ori> {question}..."``) over a batch-expanded view of the prefix KV cache. Both paths
then decode greedily with the same loop, so the decode steps cost the same in both.

Two query kinds are timed, one query per call (batch 1), each query a different situation / question:

* ``loc``: localization only (``<Pos>``/``<Ori>`` heads, no decoding) -- SQA3D localization;
* ``qa``: localization + ``--new-tokens`` greedy answer tokens (the untrained model never emits EOS early, so
  every answer has exactly that length; SQA3D answers are 1-3 words).

Timing: the cached and uncached calls are interleaved query by query and the median over ``--repeats``
rounds is reported (robust on a shared CPU). ``*_speedup`` = uncached / cached per-query time; the target
is >= 5x for each extra query on a cached scene.

Presets: ``tiny`` (the CPU test model: 4 frames of 64², ~100 prefix tokens), ``small`` (CPU default: 32
frames of 112² / patch 8 = 7x7 pooled tokens, ~1.8k prefix tokens, LLM hidden 256 x 4 layers), ``gpu`` (32
frames of 384² / patch 14 with SigLIP-so400m dimensions and a Qwen2-0.5B-sized LLM in bf16, ~6.8k prefix
tokens, the paper's token budget; default when CUDA is available).
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import GPU_MODEL, TINY_MODEL, build_loc3r

PRESETS = {
    "tiny": dict(TINY_MODEL, frames=4, prior_dim=13),
    "small": dict(
        frames=32,
        image_size=112,
        patch_size=8,
        text_hidden_size=256,
        text_layers=4,
        vision_hidden_size=64,
        vision_layers=2,
        prior_dim=13,
        head=256,
        dtype="float32",
        base={},
    ),
    "gpu": dict(GPU_MODEL, frames=32, prior_dim=768),
}

SITUATIONS = [
    "I am sitting on the chair with the desk in front of me and the window on my left.",
    "I am standing by the door, facing the bed.",
    "The wardrobe is behind me and I am looking at the lamp next to the sofa.",
    "I sit on the bed and the nightstand is at my right hand side.",
]
QUESTIONS = [
    "What is on my left?",
    "How many chairs are in front of me?",
    "Which way should I turn to face the window?",
    "What color is the table behind me?",
]


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    import numpy as np
    import torch

    from loc3r.eval.scene_cache import SceneSession, run_queries_uncached

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--preset", choices=sorted(PRESETS), default="gpu" if torch.cuda.is_available() else "small"
    )
    ap.add_argument("--repeats", type=int, default=5, help="rounds over the queries (median reported)")
    ap.add_argument("--new-tokens", type=int, default=4, help="answer tokens of the 'qa' queries")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    p = PRESETS[args.preset]
    device = torch.device("cuda" if torch.cuda.is_available() and args.preset == "gpu" else "cpu")
    model, processor = build_loc3r(p)
    model.to(device=device, dtype=getattr(torch, p["dtype"])).eval()
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (p["frames"], 240, 320, 3), dtype=np.uint8)
    cam = torch.randn(p["frames"], p["prior_dim"], generator=torch.Generator().manual_seed(0))

    def timed(fn):
        _sync(device)
        t0 = time.perf_counter()
        out = fn()
        _sync(device)
        return out, (time.perf_counter() - t0) * 1e3

    with torch.no_grad():
        session, _ = timed(lambda: SceneSession(model, processor, frames, cam))  # warm-up
        builds = [timed(lambda: SceneSession(model, processor, frames, cam))[1] for _ in range(3)]
        suffix_lens = [len(session.suffix_ids(s, q)) for s, q in zip(SITUATIONS, QUESTIONS, strict=True)]
        times: dict[str, list[float]] = {
            k: [] for k in ("loc_cached", "loc_uncached", "qa_cached", "qa_uncached")
        }
        for rnd in range(args.repeats + 1):  # round 0 = warm-up
            for s, q in zip(SITUATIONS, QUESTIONS, strict=True):
                for kind, n_new in (("loc", 0), ("qa", args.new_tokens)):
                    qq = "" if kind == "loc" else q
                    res_c, t_c = timed(lambda s=s, qq=qq, n=n_new: session.run([s], [qq], max_new_tokens=n))
                    res_u, t_u = timed(
                        lambda s=s, qq=qq, n=n_new: run_queries_uncached(
                            model, processor, frames, [s], [qq], cam, max_new_tokens=n
                        )
                    )
                    if rnd == 0:
                        assert res_c.answer_token_ids == res_u.answer_token_ids, "cached != uncached answers"
                        d = (res_c.localization.position_bev - res_u.localization.position_bev).abs().max()
                        assert float(d) < 1e-2, f"cached != uncached positions ({float(d)})"
                        continue
                    times[f"{kind}_cached"].append(t_c)
                    times[f"{kind}_uncached"].append(t_u)

    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"preset={args.preset} device={device} dtype={p['dtype']} frames={p['frames']} "
        f"prefix_tokens={session.prefix_len} suffix_tokens={min(suffix_lens)}-{max(suffix_lens)} "
        f"repeats={args.repeats} queries/round={len(SITUATIONS)}"
    )
    print(f"{'query':<28}{'uncached ms':>12}{'cached ms':>12}{'speedup':>9}")
    for kind, label in (("loc", "localization only"), ("qa", f"loc + {args.new_tokens}-token answer")):
        u, c = med[f"{kind}_uncached"], med[f"{kind}_cached"]
        print(f"{label:<28}{u:>12.2f}{c:>12.2f}{u / c:>8.1f}x")
    build = statistics.median(builds)
    n_break_even = build / max(med["loc_uncached"] - med["loc_cached"], 1e-9)
    print(
        f"session build (once per scene): {build:.2f} ms; pays off after {n_break_even:.2f} "
        "localization queries"
    )
    print(f"prefix_tokens={session.prefix_len}")
    print(f"session_build_ms={build:.3f}")
    print(f"loc_uncached_ms={med['loc_uncached']:.3f}")
    print(f"loc_cached_ms={med['loc_cached']:.3f}")
    print(f"qa_uncached_ms={med['qa_uncached']:.3f}")
    print(f"qa_cached_ms={med['qa_cached']:.3f}")
    print(f"loc_speedup={med['loc_uncached'] / med['loc_cached']:.2f}")
    print(f"qa_speedup={med['qa_uncached'] / med['qa_cached']:.2f}")


if __name__ == "__main__":
    main()
