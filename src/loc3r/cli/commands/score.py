"""``loc3r score``: score a predictions file against benchmark annotations (separate from generation).

``loc3r score preds.jsonl --benchmark sqa3d --annotations records.jsonl [--out metrics.json]`` prints a table
and writes the full result (metrics, breakdowns, per-sample scores) as JSON, atomically. Without
``--annotations`` the ground truth embedded in the predictions is used. The work is done by
``loc3r.eval.score.score``; this module only parses arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from loc3r.eval.score import BENCHMARKS


def default_out_path(preds: Path, benchmark: str) -> Path:
    """``<dir>/<preds stem>.<benchmark>.metrics.json`` next to the predictions file."""
    return preds.with_name(f"{preds.stem}.{benchmark}.metrics.json")


def _run(args: argparse.Namespace) -> int:
    from loc3r.eval.predictions import read_predictions
    from loc3r.eval.score import ScoreOptions, format_score_table, score
    from loc3r.utils.import_utils import MissingDependencyError

    benchmark = args.benchmark or read_predictions(args.preds)[0].benchmark
    judge = None
    if args.judge:
        from loc3r.eval.metrics.llm_judge import DEFAULT_SYSTEM_PROMPT, judge_from_env

        prompt = args.judge_prompt.read_text(encoding="utf-8") if args.judge_prompt else DEFAULT_SYSTEM_PROMPT
        cache = args.judge_cache or args.preds.with_name(f"{args.preds.stem}.judge_cache.jsonl")
        judge = judge_from_env(cache, system_prompt=prompt)
    options = ScoreOptions(strict=not args.non_strict, caption_metrics=not args.no_caption_metrics,
                           caption_tokenizer=args.caption_tokenizer, meteor=not args.no_meteor, judge=judge,
                           allow_missing=args.allow_missing)
    out = args.out or default_out_path(args.preds, benchmark)
    try:
        result = score(args.preds, benchmark, annotations=args.annotations, out_json=out, options=options)
    except (MissingDependencyError, RuntimeError) as e:
        print(f"loc3r score: error: {e}", file=sys.stderr)
        return 1
    print(format_score_table(result))
    print(f"wrote {out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``score`` to the top-level subparsers."""
    p = subparsers.add_parser(
        "score", help="score a predictions file (metrics table + JSON)",
        description="Score predictions (JSONL from `loc3r predict`) against benchmark annotations (records "
        "JSONL from `loc3r data convert`, or the records embedded in the predictions). Prints a table and "
        "writes the metrics, breakdowns and per-sample scores as JSON.")
    p.add_argument("preds", type=Path, help="predictions .jsonl")
    p.add_argument("--benchmark", choices=BENCHMARKS, help="benchmark to score (default: the file header's)")
    p.add_argument("--annotations", nargs="+", type=Path, metavar="FILE",
                   help="unified-records .jsonl file(s); default: records embedded in the predictions")
    p.add_argument("--out", type=Path, help="metrics JSON (default: <preds stem>.<benchmark>.metrics.json)")
    p.add_argument("--allow-missing", action="store_true",
                   help="score only the annotated samples that have a prediction instead of failing")
    p.add_argument("--non-strict", action="store_true",
                   help="localization thresholds with <= (View2Cap/SIG3D) instead of SQA3D's strict <")
    p.add_argument("--caption-tokenizer", choices=("ptb", "clean"), default="ptb",
                   help="ScanQA captioning metrics: 'ptb' = official (PTB tokenizer, Java), "
                   "'clean' = LEO (clean_answer, no tokenizer)")
    p.add_argument("--no-meteor", action="store_true", help="skip METEOR (needs Java)")
    p.add_argument("--no-caption-metrics", action="store_true", help="skip BLEU/METEOR/ROUGE-L/CIDEr")
    p.add_argument("--judge", action="store_true",
                   help="MSQA/Beacon3D: grade non-exact answers with an LLM (needs LOC3R_JUDGE_ENDPOINT, "
                   "LOC3R_JUDGE_API_KEY, optional LOC3R_JUDGE_MODEL); replies are cached")
    p.add_argument("--judge-cache", type=Path,
                   help="judge reply cache (default: <preds stem>.judge_cache.jsonl)")
    p.add_argument("--judge-prompt", type=Path, help="text file with the judge's system prompt")
    p.set_defaults(func=_run)
