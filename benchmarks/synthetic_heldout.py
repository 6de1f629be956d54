"""Score finished runs of the synthetic ablation on more held-out rooms (issue 7; docs/benchmark.md).

The benchmark's 16 validation and 16 test rooms (``synthetic_ablation.BenchmarkSpec``) proved too few: one
variant's validation Acc@1.0m moved by ± 5 points from seed to seed, and the rooms themselves vary more than
the seeds (an interval over seeds does not see which rooms were drawn). This script builds **held-out sets**
from the benchmark's generator settings with other seeds (``HELDOUT``; 80 rooms each, of which the 72 of the
generator's test split are used, ~2,400 situations; none of their rooms is trained on):

* ``selection`` (seed 2027): for choosing knobs (e.g. the fine-tuning λ_BEV); never reported as a result;
* ``test72`` (seed 2028): a second, larger test set for the finished table.

It scores each run on one of them, with the two constants a model competes with (the benchmark's training
mean, in the dataset frame and in the first-frame frame).

Each ``--group NAME=GLOB`` names the run folders of one setting (``runs/x/runs/layout_seed*``); the groups are
reported as mean ± 95 % Student-t interval over their runs, with the in-view / out-of-view split of
``synthetic_ablation.view_breakdown``. Predictions are cached in each run's ``eval/<set>_loc.*``.

Run::

    .venv/bin/python benchmarks/synthetic_heldout.py --heldout selection \
        --group layout_bev0.5='runs/synthetic_ablation-v2/runs/layout_seed*' \
        --group layout_bev0.05='runs/probe7/bev005/runs/layout_seed*'

Each group's Acc@1.0m also gets a 95 % interval over rooms and seeds
(``loc3r.eval.stats.cluster_bootstrap_ci``: the rooms are a draw too) and its paired difference from the
two constants; ``--compare A-B`` adds the paired difference of two groups. ``--qa`` also scores every group's
answers to the set's situated questions (EM@1); ``--qa-group NAME=GLOB`` adds runs scored on those only (the
variant without situation heads). Prints the table, then
``name=value`` lines (``<set>_<group>_acc1m=...``, ``<set>_<A>_minus_<B>_acc1m_low=...``).
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_ablation import (  # noqa: E402
    EVAL_FRAMES,
    BenchmarkData,
    BenchmarkSpec,
    acc1m_hits,
    build_benchmark,
    room_intervals,
)

logger = logging.getLogger("synthetic_heldout")

#: Held-out sets: the realistic world's generator with other seeds; each one's "test" split (72 of 80 rooms)
#: is what is scored. ``selection`` chooses knobs, ``test72`` reports.
HELDOUT: dict[str, BenchmarkSpec] = {
    name: BenchmarkSpec(name=name, num_scenes=80, seed=seed, val_fraction=0.05, test_fraction=0.9)
    for name, seed in (("selection", 2027), ("test72", 2028))
}


def score_run(run_dir: Path, sel: BenchmarkData, in_view: dict[str, bool], seed: int = 0) -> dict[str, Any]:
    """Predict (cached per set name) and score one fine-tuned run on a held-out set's test rooms.

    Returns:
        ``{"Acc@0.5m", "Acc@1.0m", "Acc@15deg", "Acc@30deg", "median_pos_err_m", "median_rot_err_deg",
        "in_view", "out_of_view", ...}`` (percent, metres, degrees) and ``"_hits"``: ``{record id: 100.0 or
        0.0}``, the Acc@1.0m hit of each situation.
    """
    from loc3r.eval.score import score

    preds = _cached_predictions(run_dir, sel, "sqa3d-loc", "test_loc", "loc", seed)
    return _summary(score(preds, "sqa3d-loc", annotations=[sel.records["test_loc"]]), in_view)


def score_qa(run_dir: Path, sel: BenchmarkData, seed: int = 0) -> float:
    """Predict (cached per set name) and score one run's answers to the held-out set's situated questions.

    Returns:
        EM@1, percent (SQA3D's exact match of the top answer).
    """
    from loc3r.eval.score import score

    preds = _cached_predictions(run_dir, sel, "sqa3d", "test_qa", "qa", seed)
    return float(score(preds, "sqa3d", annotations=[sel.records["test_qa"]])["metrics"]["EM@1"])


def _cached_predictions(run_dir: Path, sel: BenchmarkData, bench: str, records: str, tag: str, seed: int
                        ) -> Path:
    """``run_dir/eval/<set>_<tag>.predictions.jsonl``: the run's predictions on the set's ``records``,
    predicted (8 uniform frames) only when the file is missing."""
    from loc3r.eval.predict import PredictConfig, predict

    preds = run_dir / "eval" / f"{sel.spec.name}_{tag}.predictions.jsonl"
    if not preds.is_file():
        predict(PredictConfig(model=run_dir, benchmark=bench, data=sel.prepared,
                              annotations=(sel.records[records],), out=preds, overwrite=True,
                              progress=False, device="cpu", seed=seed, num_frames=EVAL_FRAMES))
    return preds


def _summary(result: dict[str, Any], in_view: dict[str, bool]) -> dict[str, Any]:
    from loc3r.eval.breakdown import accuracy_by_view

    m = result["metrics"]
    out = {k: m[k] for k in ("Acc@0.5m", "Acc@1.0m", "Acc@15deg", "Acc@30deg", "median_pos_err_m",
                             "median_rot_err_deg")}
    out.update(accuracy_by_view(result["per_sample"], in_view))
    out["_hits"] = acc1m_hits(result["per_sample"])
    return out


def baselines(bench: BenchmarkData, sel: BenchmarkData, in_view: dict[str, bool]
              ) -> dict[str, dict[str, Any]]:
    """The benchmark's training mean (dataset frame) and its first-frame-frame version, on a held-out set."""
    from loc3r.data.sources.convert import read_records_jsonl
    from loc3r.eval.baselines import first_frame_mean, prepared_cameras, training_mean
    from loc3r.eval.predictions import PredictionsHeader
    from loc3r.eval.score import score_predictions

    test = read_records_jsonl(sel.records["test_loc"])
    train = read_records_jsonl(bench.records["train_loc"])
    # both sets number their rooms from scene9000_00: the training rooms' cameras get their own keys
    train = [dataclasses.replace(r, scene_id=f"benchmark/{r.scene_id}") for r in train]
    cams = prepared_cameras(sel.prepared, sorted({r.scene_id for r in test}), 1)
    bench_cams = prepared_cameras(bench.prepared, sorted({r.scene_id[len("benchmark/"):] for r in train}), 1)
    cams.update({f"benchmark/{k}": v for k, v in bench_cams.items()})
    out = {}
    for name, preds in (("mean", training_mean(test, train, seed=0)),
                        ("ffmean", first_frame_mean(test, train, cams, seed=0))):
        header = PredictionsHeader.new("sqa3d-loc", {"baseline": name, "seed": 0})
        out[name] = _summary(score_predictions(header, preds, test, "sqa3d-loc"), in_view)
    return out


def aggregate(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean and 95 % t half-interval over runs of every figure."""
    from loc3r.eval.stats import mean_ci

    out: dict[str, Any] = {"n_runs": len(runs)}
    for k in (k for k in runs[0] if not k.startswith("_")):
        vals = [r[k] for r in runs if r.get(k) is not None]
        if not vals:
            continue
        ci = mean_ci(vals)
        out[k] = round(ci.mean, 2)
        out[f"{k}_half_ci"] = None if math.isnan(ci.half_width) else round(ci.half_width, 2)
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    from loc3r.data.scene_inputs import load_prepared_scene
    from loc3r.data.sources.convert import read_records_jsonl
    from loc3r.eval.baselines import prepared_cameras
    from loc3r.eval.breakdown import first_view_mask, half_fov_deg

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--group", action="append", default=[], metavar="NAME=GLOB",
                   help="run folders of one setting (repeatable)")
    p.add_argument("--data", type=Path, default=Path("data/synthetic-benchmark"),
                   help="the benchmark's root")
    p.add_argument("--heldout", choices=sorted(HELDOUT), required=True, help="which held-out set")
    p.add_argument("--root", type=Path, default=None,
                   help="the held-out set's root (default data/synthetic-<set>; built when missing)")
    p.add_argument("--qa", action="store_true", help="also score every group's situated-question EM@1")
    p.add_argument("--qa-group", action="append", default=[], metavar="NAME=GLOB",
                   help="run folders scored on the situated questions only (e.g. the variant without "
                        "situation heads)")
    p.add_argument("--compare", action="append", default=[], metavar="A-B",
                   help="paired Acc@1.0m difference of two groups (or baseline_mean / baseline_ffmean)")
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    names = [g.partition("=")[0] for g in args.group]
    if any("-" in n or not n for n in names + [g.partition("=")[0] for g in args.qa_group]):
        p.error("group names must be non-empty and without '-' (it separates the sides of --compare)")
    for pair in args.compare:  # checked before any scoring
        a, _, b = pair.partition("-")
        if not {a, b} <= set(names) | {"baseline_mean", "baseline_ffmean"}:
            p.error(f"--compare {pair}: both sides must be --group names or baseline_mean / baseline_ffmean")

    bench = build_benchmark(BenchmarkSpec(), args.data)
    spec = HELDOUT[args.heldout]
    sel = build_benchmark(spec, args.root or Path(f"data/synthetic-{args.heldout}"), prepare=True,
                          workers=args.workers)
    test = read_records_jsonl(sel.records["test_loc"])
    cams = prepared_cameras(sel.prepared, sorted({r.scene_id for r in test}), EVAL_FRAMES)
    first = load_prepared_scene(sel.prepared, test[0].scene_id, 1)
    in_view = first_view_mask(test, cams, half_fov_deg(first.frames.shape[2], float(first.intrinsics[0, 0])))
    per_run = {f"baseline_{k}": [v] for k, v in baselines(bench, sel, in_view).items()}
    rows: dict[str, Any] = {k: aggregate(v) for k, v in per_run.items()}
    for group in args.group + args.qa_group:
        name, _, pattern = group.partition("=")
        dirs = sorted(Path(d) for d in glob.glob(pattern) if (Path(d) / "model.safetensors").is_file())
        if not dirs:
            raise SystemExit(f"--group {group}: no finished run folder matches")
        localizes = group in args.group
        runs = []
        for d in dirs:
            runs.append(score_run(d, sel, in_view) if localizes else {})
            if args.qa or not localizes:
                runs[-1]["EM@1"] = score_qa(d, sel)
            shown = {k: v for k, v in runs[-1].items() if k in ("Acc@1.0m", "EM@1")}
            logger.info("%s %s: %s", name, d, shown)
        if localizes:
            per_run[name] = runs
        rows[name] = {**aggregate(runs), "runs": [str(d) for d in dirs]}
    ids, rooms = [r.id for r in test], [r.scene_id for r in test]
    hits = {name: [[run["_hits"][i] for i in ids] for run in runs] for name, runs in per_run.items()}
    pairs = [(g, f"baseline_{base}") for g in rows for base in ("mean", "ffmean") if g != f"baseline_{base}"]
    pairs += [tuple(pair.partition("-")[::2]) for pair in args.compare]
    by_room = room_intervals(hits, rooms, pairs)  # intervals over rooms and seeds; differences paired
    for name in hits:
        rows[name]["Acc@1.0m_rooms_ci"] = by_room["rows"][name][1:]
        for base in ("mean", "ffmean"):
            if f"{name}-baseline_{base}" in by_room["pairs"]:
                rows[name][f"minus_{base}"] = by_room["pairs"][f"{name}-baseline_{base}"]
    diffs = {f"{a}-{b}": by_room["pairs"][f"{a}-{b}"] for a, b in pairs[len(pairs) - len(args.compare):]}
    counts = {"rooms": len(set(rooms)), "situations": len(test), "in_view": sum(in_view.values())}
    if args.qa or args.qa_group:
        counts["questions"] = len(read_records_jsonl(sel.records["test_qa"]))
    result = {"heldout": dataclasses.asdict(spec), "counts": counts, "rows": rows, "differences": diffs}
    if args.out is not None:
        from loc3r.utils.io import atomic_write_text

        atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(f"{args.heldout} rooms: {counts}")
    print("| setting | runs | Acc@1.0m (seeds) | Acc@1.0m 95 % CI over rooms × seeds | − training mean | "
          "− first-frame mean | Acc@0.5m | Acc@15deg | Acc@30deg | median pos err (m) | median yaw err (°) "
          "| in view | out of view | EM@1 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        def cell(k: str, r: dict[str, Any] = r) -> str:
            h = r.get(f"{k}_half_ci")
            v = r.get(k)
            return "-" if v is None else (f"{v:.2f}" if h is None else f"{v:.2f} ± {h:.2f}")
        def diff(k: str, r: dict[str, Any] = r) -> str:
            return "-" if k not in r else "{:+.1f} [{:+.1f}, {:+.1f}]".format(*r[k])
        rci = "-" if "Acc@1.0m_rooms_ci" not in r else "[{:.1f}, {:.1f}]".format(*r["Acc@1.0m_rooms_ci"])
        print(f"| {name} | {r.get('n_runs', 1)} | {cell('Acc@1.0m')} | {rci} "
              f"| {diff('minus_mean')} | {diff('minus_ffmean')} | {cell('Acc@0.5m')} | {cell('Acc@15deg')} "
              f"| {cell('Acc@30deg')} | {cell('median_pos_err_m')} | {cell('median_rot_err_deg')} "
              f"| {cell('in_view')} | {cell('out_of_view')} | {cell('EM@1')} |")
    for k, (m, lo, hi) in diffs.items():
        print(f"{k}: {m:+.2f} [{lo:+.2f}, {hi:+.2f}] (Acc@1.0m, paired over rooms × seeds)")
    for name, r in rows.items():
        if "Acc@1.0m" in r:
            print(f"{args.heldout}_{name}_acc1m={r['Acc@1.0m']}")
        if "EM@1" in r:
            print(f"{args.heldout}_{name}_em={r['EM@1']}")
        if "minus_mean" in r:
            print(f"{args.heldout}_{name}_minus_mean_acc1m_low={r['minus_mean'][1]}")
    for k, (m, lo, _) in diffs.items():
        print(f"{args.heldout}_{k.replace('-', '_minus_')}_acc1m={m}")
        print(f"{args.heldout}_{k.replace('-', '_minus_')}_acc1m_low={lo}")
    return result


if __name__ == "__main__":
    main()
