"""The paper's ablation in miniature, on a fixed synthetic benchmark (issue 7; docs/benchmark.md).

**The benchmark** (``BenchmarkSpec``, fixed; generated once into ``--data``, default
``data/synthetic-benchmark``, shared with ``configs/tiny-pretrain.yaml``): 240 procedural scenes (seed 2026,
40 frames of 160x120 each), split by scene into 208 train / 16 val / 16 test (disjoint), with up to 48
SQA3D-style situations per scene (3 situated questions each) and 64 object-grounding situations per scene.
The test split holds >= 500 localization situations (checked at build time; the counts go to
``results.json``). Scenes are prepared like real scans (all 40 frames, BEV targets on the tiny model's token
grid); the model sees 8 of them: at test time the uniform subset (frames 0, 5, 11, ..., 39), in training a
stratified random one per sample (``data.frame_sampling: random``).

**Baselines** (``loc3r.eval.baselines``), scored with ``loc3r.eval.score`` (SQA3D localization metric) on
every test situation: ``mean`` (training-mean position, uniform heading), ``random`` (uniform over the free
floor, uniform heading), ``campath`` (the centroid of the scene's prepared camera positions, uniform heading:
what the camera prior alone says about the room's middle), ``ffmean`` (the training mean taken in the
first-frame BEV frame the model predicts in, mapped back with each test scene's first pose: the best constant
for a model that has no camera prior and ignores its inputs), ``rule`` (the "nearest referenced object" oracle
reading the text with the generator's templates). Seeded baselines: mean ± 95 % Student-t CI over seeds; the
rule oracle: 95 % bootstrap over situations.

**Stage 0** (``configs/tiny-pretrain.yaml``): the pretrained tiny checkpoints, with the camera prior
(``--pretrained``, default ``runs/tiny-pretrain``) and without (``--pretrained-noprior``, default
``runs/tiny-pretrain-noprior``); ``--pretrain`` trains missing ones. Their held-out grounding accuracy and
ScanQA EM are reported before any fine-tuning.

**Variants** (``VARIANTS``; recipe overrides on ``configs/tiny-benchmark.yaml``), each fine-tuned under the
same budget (steps, batch size, learning rate; the data order depends only on the seed) with every seed:
``sitonly`` (no layout loss, no camera prior), ``layout`` (+ BEV loss), ``full`` (+ camera-pose prior),
``nosit`` (full without situation heads; QA only). Scored on the test split: Acc@0.5m/1.0m/15°/30°, median
errors, SQA3D EM@1 (mean ± 95 % t-CI over seeds). Runs are resumable (``<out>/runs/<variant>_seed<k>/
result.json``) and run ``--jobs`` at a time in single-threaded child processes.

**Worlds** (``--world``; ``WORLDS``): ``realistic`` is the benchmark above (the reference table); ``simple``
keeps 8 large furniture categories (3-8 objects a room, an extra never repeats a category), 360 scenes split
297 / 18 / 45 (>= 500 test situations again). Default paths get the suffix ``-simple``.

Run::

    .venv/bin/python benchmarks/synthetic_ablation.py --baselines-only   # data + baselines
    .venv/bin/python benchmarks/synthetic_ablation.py --pretrain         # + pretraining + the full table
    .venv/bin/python benchmarks/synthetic_ablation.py --quick            # 300 steps, seed 0 (~15 min)
    .venv/bin/python benchmarks/synthetic_ablation.py --world simple --pretrain   # the second table

The 16 test rooms are few: the table also gives Acc@1.0m with intervals over rooms × seeds
(``room_intervals``), and ``benchmarks/synthetic_heldout.py`` scores the finished runs on 72 more rooms
(``test72``) or chooses knobs on another 72 (``selection``).

Writes ``--out/results.json`` and ``--out/results.md`` (the table) and BEV pictures of a few test situations
per variant (``--out/pictures``); prints the table, then the key figures last, one ``name=value`` per line
(``full_acc1m=...``, ``sitonly_acc1m=...``, ``full_minus_sitonly_acc1m=...``, ``mean_acc1m=...``, ...).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

logger = logging.getLogger("synthetic_ablation")

RECIPE = "tiny-benchmark"
PRETRAIN_RECIPE = "tiny-pretrain"
#: Headline metric keys of ``loc3r.eval.score`` -> short names used in ``name=value`` lines.
METRIC_KEYS = {
    "Acc@0.5m": "acc05m",
    "Acc@1.0m": "acc1m",
    "Acc@15deg": "acc15deg",
    "Acc@30deg": "acc30deg",
    "median_pos_err_m": "medpos_m",
    "median_rot_err_deg": "medrot_deg",
    "EM@1": "em",
}
LOC_METRICS = ("Acc@0.5m", "Acc@1.0m", "Acc@15deg", "Acc@30deg")
MIN_TEST_SITUATIONS = 500


# ============================================================================================== benchmark
@dataclass(frozen=True)
class BenchmarkSpec:
    """The fixed synthetic benchmark (changing any field makes a different benchmark).

    Attributes:
        num_scenes: scenes generated; split by scene (``val_fraction`` / ``test_fraction``).
        seed: generator seed.
        frames_per_scene: rendered frames per scene.
        width, height: colour and depth image size, pixels.
        val_fraction, test_fraction: share of scenes in val / test.
        situations_per_scene: situations sampled per scene (scenes with few nameable objects give fewer).
        questions_per_situation: situated questions per situation.
        prepare_frames: frames per scene selected by ``prepare`` (the pool the model's 8 frames come from).
        grounding_per_scene: object-grounding situations per scene (the pretraining stage's data).
        min_test_situations: build fails when the test split has fewer localization situations.
        num_objects: (min, max) objects per room.
        object_categories: catalogue keys the rooms may hold (empty: all 29;
            ``SynthConfig.object_categories``).
        name: the world's name in ``WORLDS`` (``--world``).
    """

    num_scenes: int = 240
    seed: int = 2026
    frames_per_scene: int = 40
    width: int = 160
    height: int = 120
    val_fraction: float = 0.0667
    test_fraction: float = 0.0667
    situations_per_scene: int = 48
    questions_per_situation: int = 3
    prepare_frames: int = 40
    grounding_per_scene: int = 64
    min_test_situations: int = MIN_TEST_SITUATIONS
    num_objects: tuple[int, int] = (5, 20)
    object_categories: tuple[str, ...] = ()
    name: str = "realistic"


#: The benchmark worlds: ``realistic`` (the reference table in docs/benchmark.md: 29 categories, 5-20 objects
#: per room) and ``simple`` (8 large furniture categories, 3-8 objects, each extra a category the room
#: lacks -- the kind of world issue 7's calibration saw grounding form in; more rooms, as each holds fewer
#: situations).
WORLDS: dict[str, BenchmarkSpec] = {
    "realistic": BenchmarkSpec(),
    "simple": BenchmarkSpec(
        name="simple", num_scenes=360, val_fraction=0.05, test_fraction=0.125, num_objects=(3, 8),
        object_categories=("bed", "wardrobe", "sofa", "desk", "table", "bookshelf", "refrigerator",
                           "kitchen counter")),
}
#: Default paths of a world's data root, output folder and pretrained checkpoints:
#: ``data/synthetic-benchmark``, ``runs/synthetic_ablation``, ``runs/tiny-pretrain``,
#: ``runs/tiny-pretrain-noprior`` + this suffix.
WORLD_SUFFIX: dict[str, str] = {"realistic": "", "simple": "-simple"}


@dataclass(frozen=True)
class BenchmarkData:
    """Paths of a built benchmark.

    Attributes:
        root: data root (``synthetic/`` generated set, ``prepared/`` scenes, ``records/``).
        synth: the generated set.
        prepared: prepared scenes (exists only after ``prepare``).
        records: unified records JSONL: ``train_loc``, ``test_loc``, ``test_qa``, ``test_grounding``,
            ``train_grounding``, ``test_scanqa``.
        counts: situations / questions / scenes per split.
        spec: the benchmark it was built from.
    """

    root: Path
    synth: Path
    prepared: Path
    records: dict[str, Path]
    counts: dict[str, Any]
    spec: BenchmarkSpec = BenchmarkSpec()


def build_benchmark(spec: BenchmarkSpec, root: Path, prepare: bool = False, image_size: int = 128,
                    patch_size: int = 16, workers: int = 1) -> BenchmarkData:
    """Generate (resumably) the benchmark's synthetic set, convert its records, optionally prepare scenes.

    Args:
        spec: the benchmark.
        root: data root.
        prepare: also run ``prepare_scannet`` (needed for training / predicting, not for the baselines).
        image_size, patch_size: the model's token grid for BEV targets (tiny-pretrain recipe: 128, 16).
        workers: processes for generation / preparation.

    Raises:
        RuntimeError: fewer test situations than ``spec.min_test_situations``.
    """
    from loc3r.data.sources.convert import convert_to_jsonl, read_records_jsonl
    from loc3r.data.synthetic.config import SynthConfig
    from loc3r.data.synthetic.generate import generate_synthetic

    root = Path(root).resolve()
    synth = root / "synthetic"
    cfg = SynthConfig(out=synth, num_scenes=spec.num_scenes, seed=spec.seed,
                      frames_per_scene=spec.frames_per_scene, color_width=spec.width,
                      color_height=spec.height,
                      depth_width=spec.width, depth_height=spec.height, val_fraction=spec.val_fraction,
                      test_fraction=spec.test_fraction, situations_per_scene=spec.situations_per_scene,
                      questions_per_situation=spec.questions_per_situation, num_objects=spec.num_objects,
                      object_categories=spec.object_categories, workers=workers, progress=False)
    manifest_path = synth / "manifest.json"
    done = False
    if manifest_path.is_file():
        m = json.loads(manifest_path.read_text(encoding="utf-8"))
        done = bool(m.get("complete")) and m.get("config") == cfg.recorded()
    manifest = generate_synthetic(cfg) if not done else m
    from loc3r.data.synthetic.annotations.grounding import grounding_files_for_set

    grounding = grounding_files_for_set(synth, per_scene=spec.grounding_per_scene)
    sqa = synth / "annotations" / "sqa3d"
    rec_dir = root / "records"
    records = {"train_loc": rec_dir / "sqa3d_localization_train.jsonl",
               "test_loc": rec_dir / "sqa3d_localization_test.jsonl",
               "test_qa": rec_dir / "sqa3d_test.jsonl",
               "train_grounding": rec_dir / "grounding_train.jsonl",
               "test_grounding": rec_dir / "grounding_test.jsonl",
               "test_scanqa": rec_dir / "scanqa_test.jsonl"}
    convert_to_jsonl("sqa3d", [sqa / "v1_balanced_localization_train_scannetv2.json"], records["train_loc"])
    convert_to_jsonl("sqa3d", [sqa / "v1_balanced_localization_test_scannetv2.json"], records["test_loc"])
    convert_to_jsonl("sqa3d", [sqa / "v1_balanced_questions_test_scannetv2.json",
                               sqa / "v1_balanced_sqa_annotations_test_scannetv2.json"], records["test_qa"])
    convert_to_jsonl("sqa3d", [grounding["train"]], records["train_grounding"])
    convert_to_jsonl("sqa3d", [grounding["test"]], records["test_grounding"])
    scanqa_test = synth / "annotations" / "scanqa" / "ScanQA_v1.0_test.json"
    convert_to_jsonl("scanqa", [scanqa_test], records["test_scanqa"])
    counts = {"scenes": manifest["counts"]["splits"],
              "train_situations": len(read_records_jsonl(records["train_loc"])),
              "test_situations": len(read_records_jsonl(records["test_loc"])),
              "test_questions": len(read_records_jsonl(records["test_qa"])),
              "test_grounding": len(read_records_jsonl(records["test_grounding"]))}
    if counts["test_situations"] < spec.min_test_situations:
        n = counts["test_situations"]
        raise RuntimeError(f"the benchmark's test split has {n} situations, fewer than "
                           f"{spec.min_test_situations}: raise num_scenes or situations_per_scene")
    prepared = root / "prepared"
    if prepare:
        from loc3r.data.prepare import PrepareConfig, prepare_scannet

        report = prepare_scannet(PrepareConfig(
            scans_dir=synth / "scans", out_dir=prepared, num_frames=spec.prepare_frames, bev_targets=True,
            image_size=image_size, patch_size=patch_size, pool_stride=2, workers=workers, progress=False))
        if report.failed:
            raise RuntimeError(f"preparing the benchmark's scenes failed: {report.failed}")
    return BenchmarkData(root=root, synth=synth, prepared=prepared, records=records, counts=counts, spec=spec)


# ============================================================================================== baselines
def _headline(metrics: dict[str, Any]) -> dict[str, float | None]:
    return {k: metrics.get(k) for k in METRIC_KEYS if k in metrics}


def _loc_hits(per_sample: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Per-sample 0/1 hits of each accuracy metric (strict ``<``, as the official metric)."""
    inf = float("inf")
    pos = [s["pos_err_m"] if s["pos_err_m"] is not None else inf for s in per_sample]
    rot = [s["rot_err_deg"] if s["rot_err_deg"] is not None else inf for s in per_sample]
    return {"Acc@0.5m": [100.0 * (p < 0.5) for p in pos], "Acc@1.0m": [100.0 * (p < 1.0) for p in pos],
            "Acc@15deg": [100.0 * (r < 15) for r in rot], "Acc@30deg": [100.0 * (r < 30) for r in rot]}


def run_baselines(data: BenchmarkData, seeds: Sequence[int], out_dir: Path) -> dict[str, dict[str, Any]]:
    """Score the three baselines on the test split.

    Returns:
        ``{name: {"runs": [headline metrics per seed], "ci": {metric: MeanCI as dict}, "n": samples,
        "extra": {...}}}``; the prediction files are written under ``out_dir``.
    """
    from loc3r.data.sources.convert import read_records_jsonl
    from loc3r.eval.baselines import (
        camera_path_centre,
        first_frame_mean,
        prepared_cameras,
        random_free_space,
        rule_oracle,
        synthetic_scene_geometries,
        training_mean,
    )
    from loc3r.eval.predictions import PredictionsHeader, write_predictions
    from loc3r.eval.score import score_predictions
    from loc3r.eval.stats import bootstrap_ci, mean_ci

    test = read_records_jsonl(data.records["test_loc"])
    train = read_records_jsonl(data.records["train_loc"])
    scenes = synthetic_scene_geometries(data.synth, sorted({r.scene_id for r in test}))
    makers = {
        "mean": lambda seed: training_mean(test, train, seed=seed),
        "random": lambda seed: random_free_space(test, scenes, seed=seed),
        "rule": lambda seed: rule_oracle(test, scenes),
    }
    if (data.prepared / test[0].scene_id / "scene.json").is_file():  # needs the prepared camera poses
        cams = prepared_cameras(data.prepared, sorted({r.scene_id for r in test}), EVAL_FRAMES)
        makers["campath"] = lambda seed: camera_path_centre(test, cams, seed=seed)
        cams_all = {**cams, **prepared_cameras(data.prepared, sorted({r.scene_id for r in train}), 1)}
        makers["ffmean"] = lambda seed: first_frame_mean(test, train, cams_all, seed=seed)
    out: dict[str, dict[str, Any]] = {}
    for name, make in makers.items():
        runs, extra = [], {}
        for seed in (seeds if name != "rule" else seeds[:1]):
            preds = make(seed)
            header = PredictionsHeader.new("sqa3d-loc", {"baseline": name, "seed": seed})
            write_predictions(out_dir / f"baseline_{name}_seed{seed}.predictions.jsonl", header, preds)
            result = score_predictions(header, preds, test, "sqa3d-loc")
            runs.append(_headline(result["metrics"]))
            if name == "rule":
                extra["fallback"] = sum(p.extra.get("rule") == "fallback" for p in preds)
                hits = _loc_hits(result["per_sample"])
                ci = {k: dataclasses.asdict(bootstrap_ci(v, seed=0)) for k, v in hits.items()}
                for k in ("median_pos_err_m", "median_rot_err_deg"):  # one run: the value, no interval
                    if runs[-1].get(k) is not None:
                        ci[k] = dataclasses.asdict(mean_ci([runs[-1][k]]))
        if name != "rule":
            ci = {k: dataclasses.asdict(mean_ci([r[k] for r in runs]))
                  for k in runs[0] if runs[0][k] is not None}
        out[name] = {"runs": runs, "ci": ci, "n": len(test), "extra": extra}
    return out


# ============================================================================================== variants
@dataclass(frozen=True)
class Variant:
    """One ablation row.

    Attributes:
        key: short name (prefix of its ``name=value`` figures).
        title: table label.
        overrides: recipe overrides (dotted ``key=value``) on top of the common fine-tuning settings.
        camera_prior: whether the model takes camera-prior tokens (selects the pretrained checkpoint).
        localizes: whether the variant predicts poses (False: only QA is scored).
    """

    key: str
    title: str
    overrides: tuple[str, ...]
    camera_prior: bool
    localizes: bool = True


_NO_PRIOR = ("data.prior.backend=none", "data.prior.kwargs={}")
VARIANTS: tuple[Variant, ...] = (
    Variant("sitonly", "situation modelling only", _NO_PRIOR + ("model.config_overrides.lambda_bev=0",),
            camera_prior=False),
    Variant("layout", "+ layout reconstruction (BEV)", _NO_PRIOR, camera_prior=False),
    Variant("full", "+ camera-pose prior (full)", (), camera_prior=True),
    Variant("nosit", "full without situation heads",
            ("model.config_overrides.lambda_sit=0", "model.config_overrides.use_situation_heads=false"),
            camera_prior=True, localizes=False),
)


#: Frames a model sees at test time: the uniform subset of the prepared 40 (what training's held-out data and
#: ``data.num_frames`` use; without it ``predict`` would feed the whole prepared selection).
EVAL_FRAMES = 8


@dataclass(frozen=True)
class Budget:
    """What every variant gets (equal budgets; the data order depends only on the seed).

    Attributes:
        steps: optimiser steps.
        batch_size: per-device batch size.
        learning_rate: peak learning rate (cosine schedule, 3 % warm-up, as the recipe).
        num_frames: frames per sample.
        predict_limit: only the first N test records are predicted (None: all; for smoke tests).
        overrides: recipe overrides (dotted ``key=value``) given to every variant, before the variant's own
            (``--set``; e.g. loss weights for a world).
    """

    steps: int = 1000
    batch_size: int = 8
    learning_rate: float = 3e-4
    num_frames: int = EVAL_FRAMES
    predict_limit: int | None = None
    overrides: tuple[str, ...] = ()


def finetune_overrides(variant: Variant, data: BenchmarkData, budget: Budget, seed: int, run_dir: Path,
                       pretrained: Path | None) -> list[str]:
    """The recipe overrides of one fine-tuning run (common settings, then the variant's)."""
    common = [f"data.root={data.root}", f"data.prepared_dir={data.prepared}", "data.synthetic=null",
              f"data.num_frames={budget.num_frames}", "data.eval_sources=[]",
              f"training.output_dir={run_dir}", f"training.seed={seed}", f"training.max_steps={budget.steps}",
              f"training.per_device_train_batch_size={budget.batch_size}",
              f"training.learning_rate={budget.learning_rate}", "training.eval_strategy=no",
              "training.eval_on_start=false", "training.save_strategy=no", "training.report_to=none",
              "training.disable_tqdm=true", "training.dataloader_num_workers=0",
              "training.dataloader_persistent_workers=false", "training.logging_steps=50",
              "model.config_overrides.lambda_sem=0", "model.config_overrides.lambda_local=0"]
    if pretrained is not None:
        common += ["model.preset=pretrained", f"model.name_or_path={Path(pretrained).resolve()}"]
    else:  # from random initialisation: the tiny preset of the pretraining recipe
        common += ["model.preset=tiny", "model.config_overrides.bev_head_layer=1"]
    return common + list(budget.overrides) + list(variant.overrides)


def _predict_and_score(model_dir: Path, data: BenchmarkData, bench: str, key: str, seed: int,
                       limit: int | None, num_frames: int = EVAL_FRAMES) -> dict[str, Any]:
    from loc3r.eval.predict import PredictConfig, predict
    from loc3r.eval.score import ScoreOptions, score

    preds = model_dir / "eval" / f"{key}.predictions.jsonl"
    predict(PredictConfig(model=model_dir, benchmark=bench, data=data.prepared,
                          annotations=(data.records[key],), out=preds, overwrite=True, progress=False,
                          limit=limit, device="cpu", seed=seed, num_frames=num_frames))
    return score(preds, bench, annotations=[data.records[key]],
                 options=ScoreOptions(allow_missing=limit is not None))["metrics"]


def _weights_digest(model_dir: Path) -> str | None:
    """SHA-256 of a checkpoint's ``model.safetensors`` (a retrained checkpoint invalidates finished runs)."""
    import hashlib

    path = model_dir / "model.safetensors"
    if not path.is_file():
        return None
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def run_variant(variant: Variant, data: BenchmarkData, budget: Budget, seed: int, run_dir: Path,
                pretrained: Path | None = None) -> dict[str, Any]:
    """Fine-tune one variant with one seed, predict the test split, score it (resumable: a finished run's
    ``result.json`` is returned as is when its settings match).

    Returns:
        ``{"metrics": headline metrics (localization when the variant localizes, EM@1), "missing_poses"
        (localized records without a predicted pose), "steps", "elapsed_s", "pretrained", "settings"}``.
    """
    from loc3r.training.recipe import load_recipe
    from loc3r.training.train import train
    from loc3r.utils.io import atomic_write_text

    budget_settings = dataclasses.asdict(budget)
    if not budget.overrides:  # runs finished before the field existed stay reusable
        del budget_settings["overrides"]
    settings = {"variant": dataclasses.asdict(variant), "budget": budget_settings, "seed": seed,
                "pretrained": None if pretrained is None else str(Path(pretrained).resolve()),
                "pretrained_sha256": None if pretrained is None else _weights_digest(Path(pretrained))}
    settings = json.loads(json.dumps(settings))  # as stored (lists, not tuples)
    done = run_dir / "result.json"
    if done.is_file():
        old = json.loads(done.read_text(encoding="utf-8"))
        if old.get("settings") == settings:
            logger.info("%s seed %d: already done (%s)", variant.key, seed, done)
            return old
    t0 = time.time()
    recipe = load_recipe(RECIPE, finetune_overrides(variant, data, budget, seed, run_dir, pretrained))
    result = train(recipe)
    train_s = time.time() - t0
    metrics: dict[str, Any] = {}
    missing = None
    if variant.localizes:
        m = _predict_and_score(run_dir, data, "sqa3d-loc", "test_loc", seed, budget.predict_limit,
                               budget.num_frames)
        metrics.update(_headline(m))
        missing = m["missing_poses"]
    qa = _predict_and_score(run_dir, data, "sqa3d", "test_qa", seed, budget.predict_limit, budget.num_frames)
    metrics.update(_headline(qa))
    out = {"metrics": metrics, "missing_poses": missing, "steps": result.global_step,
           "train_s": round(train_s, 1), "elapsed_s": round(time.time() - t0, 1),
           "pretrained": settings["pretrained"], "settings": settings}
    atomic_write_text(done, json.dumps(out, indent=1) + "\n")
    return json.loads(done.read_text(encoding="utf-8"))


def _run_one_in_subprocess(args: tuple[str, int, str, str, str | None, str, str]) -> dict[str, Any]:
    """Run ``run_variant`` in a fresh single-threaded Python (parallel jobs on a many-core CPU)."""
    import os
    import subprocess
    import sys

    key, seed, data_root, budget_json, pretrained, run_dir, world = args
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", key, str(seed), "--data", data_root,
           "--world", world, "--budget-json", budget_json, "--run-dir", run_dir]
    if pretrained:
        cmd += ["--pretrained", pretrained]
    log = Path(run_dir).with_suffix(".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with open(log, "w", encoding="utf-8") as f:
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env).returncode
    if rc != 0:
        raise RuntimeError(f"{key} seed {seed} failed (exit {rc}); see {log}")
    return json.loads((Path(run_dir) / "result.json").read_text(encoding="utf-8"))


def run_variants(data: BenchmarkData, variants: Sequence[Variant], seeds: Sequence[int], budget: Budget,
                 out_dir: Path, pretrained: Path | None, pretrained_noprior: Path | None,
                 jobs: int = 1) -> dict[str, Any]:
    """Every variant with every seed (``jobs`` at a time); mean ± 95 % t-CI over seeds of each metric."""
    from concurrent.futures import ThreadPoolExecutor

    from loc3r.eval.stats import mean_ci

    tasks = []
    for v in variants:
        ckpt = pretrained if v.camera_prior else pretrained_noprior
        for s in seeds:
            tasks.append((v, s, ckpt, out_dir / "runs" / f"{v.key}_seed{s}"))
    if jobs <= 1:
        results = [run_variant(v, data, budget, s, rd, ckpt) for v, s, ckpt, rd in tasks]
    else:
        args = [(v.key, s, str(data.root), json.dumps(dataclasses.asdict(budget)),
                 None if ckpt is None else str(Path(ckpt).resolve()), str(rd), data.spec.name)
                for v, s, ckpt, rd in tasks]
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(_run_one_in_subprocess, args))
    out: dict[str, Any] = {}
    for v in variants:
        runs = [r for (tv, _, _, _), r in zip(tasks, results, strict=True) if tv.key == v.key]
        keys = [k for k in runs[0]["metrics"] if all(r["metrics"].get(k) is not None for r in runs)]
        out[v.key] = {"title": v.title, "runs": runs, "n": None,
                      "ci": {k: dataclasses.asdict(mean_ci([r["metrics"][k] for r in runs])) for k in keys}}
    return out


def evaluate_pretrained(ckpt: Path, data: BenchmarkData, seed: int = 0, limit: int | None = None
                        ) -> dict[str, Any]:
    """What the pretraining stage learned, on the held-out test scenes: object grounding (``sqa3d-loc`` metric
    on the grounding situations) and ScanQA-style object QA (EM@1), before any Loc3R fine-tuning."""
    ckpt = Path(ckpt)
    out: dict[str, Any] = {"checkpoint": str(ckpt)}
    summary = ckpt / "train_summary.json"
    if summary.is_file():
        s = json.loads(summary.read_text(encoding="utf-8"))
        out["train"] = {k: s.get(k) for k in ("global_step", "train_runtime_s", "elapsed_s") if k in s}
    out["grounding"] = _headline(_predict_and_score(ckpt, data, "sqa3d-loc", "test_grounding", seed, limit))
    out["scanqa"] = _headline(_predict_and_score(ckpt, data, "scanqa", "test_scanqa", seed, limit))
    return out


def grounding_mean_baseline(data: BenchmarkData, seed: int = 0) -> dict[str, Any]:
    """Training-mean baseline on the grounding test situations (the pretraining report's reference)."""
    from loc3r.data.sources.convert import read_records_jsonl
    from loc3r.eval.baselines import training_mean
    from loc3r.eval.predictions import PredictionsHeader
    from loc3r.eval.score import score_predictions

    test = read_records_jsonl(data.records["test_grounding"])
    train = read_records_jsonl(data.records["train_grounding"])
    preds = training_mean(test, train, seed=seed)
    header = PredictionsHeader.new("sqa3d-loc", {"baseline": "mean", "seed": seed})
    return _headline(score_predictions(header, preds, test, "sqa3d-loc")["metrics"])


def draw_pictures(data: BenchmarkData, variants: Sequence[Variant], out_dir: Path, record_ids: Sequence[str],
                  seed: int = 0) -> dict[str, list[str]]:
    """BEV pictures (predicted vs true pose; the layout head's cognitive map where the model has one) of a few
    test situations for every localizing variant's seed-``seed`` model."""
    from loc3r.data.sources.convert import read_records_jsonl
    from loc3r.eval.infer import InferConfig, infer

    by_id = {r.id: r for r in read_records_jsonl(data.records["test_loc"])}
    out: dict[str, list[str]] = {}
    for v in variants:
        model = out_dir / "runs" / f"{v.key}_seed{seed}"
        if not v.localizes or not (model / "config.json").is_file():
            continue
        pngs = []
        for rid in record_ids:
            rec = by_id[rid]
            res = infer(InferConfig(model=model, input=data.prepared / rec.scene_id,
                                    annotations=(data.records["test_loc"],), record_id=rid,
                                    out_dir=out_dir / "pictures" / f"{v.key}_{rid}", device="cpu",
                                    num_frames=EVAL_FRAMES))
            if res.png is not None:
                pngs.append(str(res.png))
        out[v.key] = pngs
    return out


# ============================================================================================== report
def _cell(ci: dict[str, Any] | None, digits: int = 1) -> str:
    if ci is None:
        return "-"
    from loc3r.eval.stats import MeanCI, format_ci

    return format_ci(MeanCI(**ci), digits)


def markdown_table(rows: dict[str, dict[str, Any]], labels: dict[str, str]) -> str:
    """One row per baseline / variant: mean ± 95 % CI of each metric."""
    cols = list(METRIC_KEYS)
    lines = ["| method | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for key, row in rows.items():
        cells = [_cell(row["ci"].get(c), 2 if c.startswith("median") else 1) for c in cols]
        lines.append(f"| {labels.get(key, key)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def key_figures(rows: dict[str, dict[str, Any]]) -> dict[str, float]:
    """``{"<row>_<metric>": mean}`` plus ratios / differences against the training-mean baseline."""
    out: dict[str, float] = {}
    for key, row in rows.items():
        for metric, ci in row["ci"].items():
            out[f"{key}_{METRIC_KEYS[metric]}"] = round(float(ci["mean"]), 3)
    base = out.get("mean_acc1m")
    for key in rows:
        if key != "mean" and base and f"{key}_acc1m" in out:
            out[f"{key}_over_mean_acc1m"] = round(out[f"{key}_acc1m"] / base, 3)
    if "rule_acc1m" in out and base is not None:
        out["headroom_acc1m"] = round(out["rule_acc1m"] - base, 3)
    return out


def _row_prediction_files(out_dir: Path, key: str, seeds: Sequence[int]) -> list[Path]:
    """The existing test-split prediction files of one row under ``out_dir``: a baseline's
    (``predictions/baseline_<key>_seed<s>``) or a variant's (``runs/<key>_seed<s>/eval/test_loc``)."""
    paths = [out_dir / "predictions" / f"baseline_{key}_seed{s}.predictions.jsonl" for s in seeds]
    paths += [out_dir / "runs" / f"{key}_seed{s}" / "eval" / "test_loc.predictions.jsonl" for s in seeds]
    return [p for p in paths if p.is_file()]


def view_breakdown(data: BenchmarkData, out_dir: Path, keys: Sequence[str], seeds: Sequence[int]
                   ) -> dict[str, Any]:
    """Acc@1.0m inside / outside the first frame's horizontal view (``loc3r.eval.breakdown``) for every row
    whose prediction files exist under ``out_dir`` (baselines: ``predictions/``, variants: ``runs/``),
    averaged over seeds (with the half-width of the 95 % t-interval over seeds; None for one run).

    A model without a camera prior can place the agent from the first frame alone only in view; out of view it
    must also infer the camera's motion. Returns ``{"half_fov_deg", "n_in_view", "n_out_of_view", "rows":
    {key: {"in_view", "out_of_view", "in_view_half_ci", "out_of_view_half_ci"}}}``.
    """
    import math

    from loc3r.data.scene_inputs import load_prepared_scene
    from loc3r.data.sources.convert import read_records_jsonl
    from loc3r.eval.baselines import prepared_cameras
    from loc3r.eval.breakdown import accuracy_by_view, first_view_mask, half_fov_deg
    from loc3r.eval.score import score
    from loc3r.eval.stats import mean_ci

    test = read_records_jsonl(data.records["test_loc"])
    cams = prepared_cameras(data.prepared, sorted({r.scene_id for r in test}), EVAL_FRAMES)
    first = load_prepared_scene(data.prepared, test[0].scene_id, 1)  # every scene has the same camera
    fov = half_fov_deg(first.frames.shape[2], float(first.intrinsics[0, 0]))
    in_view = first_view_mask(test, cams, fov)
    rows: dict[str, Any] = {}
    annotations = [data.records["test_loc"]]
    for key in keys:
        splits = [accuracy_by_view(score(p, "sqa3d-loc", annotations=annotations)["per_sample"], in_view)
                  for p in _row_prediction_files(out_dir, key, seeds)]
        if splits:
            rows[key] = {}
            for side in ("in_view", "out_of_view"):
                vals = [sp[side] for sp in splits if sp[side] is not None]
                ci = mean_ci(vals) if vals else None
                rows[key][side] = None if ci is None else round(ci.mean, 2)
                rows[key][f"{side}_half_ci"] = (None if ci is None or math.isnan(ci.half_width)
                                                else round(ci.half_width, 2))
    n_in = sum(in_view.values())
    return {"half_fov_deg": round(fov, 2), "n_in_view": n_in, "n_out_of_view": len(in_view) - n_in,
            "rows": rows}


def acc1m_hits(per_sample: Sequence[dict[str, Any]]) -> dict[str, float]:
    """``{record id: 100.0 or 0.0}``: each situation's Acc@1.0m hit (strict ``<``, as the official metric)."""
    return {s["id"]: 100.0 * (s["pos_err_m"] is not None and s["pos_err_m"] < 1.0) for s in per_sample}


#: Paired Acc@1.0m differences reported with intervals over rooms and seeds (``room_intervals``).
ROOM_PAIRS = (("full", "sitonly"), ("layout", "sitonly"), ("full", "layout"), ("sitonly", "mean"),
              ("layout", "mean"), ("full", "mean"), ("sitonly", "ffmean"), ("layout", "ffmean"),
              ("full", "ffmean"))


def room_intervals(hits: dict[str, list[list[float]]], rooms: Sequence[str],
                   pairs: Sequence[tuple[str, str]] = ROOM_PAIRS) -> dict[str, Any]:
    """Acc@1.0m of each row and paired differences, with 95 % intervals over rooms and seeds.

    The test rooms are a draw too: an interval over seeds alone does not see which rooms were drawn
    (``loc3r.eval.stats.cluster_bootstrap_ci``: rooms and runs resampled; differences paired on the same
    rooms).

    Args:
        hits: row key -> [runs][n] per-situation Acc@1.0m hits (0/100), the situations in ``rooms``' order.
        rooms: [n] scene id of each situation.
        pairs: (a, b) differences a - b, for the pairs whose rows are both present.

    Returns:
        ``{"rows": {key: [mean, low, high]}, "pairs": {"a-b": [mean, low, high]}, "n_rooms": int}``.
    """
    from loc3r.eval.stats import cluster_bootstrap_ci

    def triple(ci: Any) -> list[float]:
        return [round(ci.mean, 2), round(ci.low, 2), round(ci.high, 2)]

    rows = {k: triple(cluster_bootstrap_ci(v, rooms)) for k, v in hits.items()}
    diffs = {f"{a}-{b}": triple(cluster_bootstrap_ci(hits[a], rooms, minus=hits[b]))
             for a, b in pairs if a in hits and b in hits}
    return {"rows": rows, "pairs": diffs, "n_rooms": len(set(rooms))}


def situation_hits(data: BenchmarkData, out_dir: Path, keys: Sequence[str], seeds: Sequence[int]
              ) -> tuple[dict[str, list[list[float]]], list[str]]:
    """Per-situation Acc@1.0m hits of every row with prediction files under ``out_dir`` (as
    ``view_breakdown``), and the scene id of each test situation."""
    from loc3r.data.sources.convert import read_records_jsonl
    from loc3r.eval.score import score

    test = read_records_jsonl(data.records["test_loc"])
    ids = [r.id for r in test]
    hits: dict[str, list[list[float]]] = {}
    for key in keys:
        runs = [acc1m_hits(score(p, "sqa3d-loc", annotations=[data.records["test_loc"]])["per_sample"])
                for p in _row_prediction_files(out_dir, key, seeds)]
        if runs:
            hits[key] = [[h[i] for i in ids] for h in runs]
    return hits, [r.scene_id for r in test]


BASELINE_LABELS = {"mean": "training mean + uniform yaw", "random": "uniform free space",
                   "campath": "camera-path centre + uniform yaw",
                   "ffmean": "training mean in the first-frame frame + uniform yaw",
                   "rule": "rule oracle (text + scene)"}


def ensure_pretrained(data: BenchmarkData, path: Path, camera_prior: bool, train_missing: bool) -> Path:
    """The pretrained tiny checkpoint at ``path``.

    Trained with ``configs/tiny-pretrain.yaml`` when missing and ``train_missing`` (``--pretrain``), else a
    clear error with the command that makes it.
    """
    path = Path(path)
    if (path / "config.json").is_file():
        return path
    overrides = [f"training.output_dir={path}", f"data.root={data.root}", "data.synthetic=null"]
    if not camera_prior:
        overrides += list(_NO_PRIOR)
    if not train_missing:
        raise FileNotFoundError(
            f"no pretrained tiny checkpoint at {path}: run `loc3r train configs/{PRETRAIN_RECIPE}.yaml "
            + " ".join(overrides[:1] + overrides[3:]) + "` or pass --pretrain")
    from loc3r.training.recipe import load_recipe
    from loc3r.training.train import train

    logger.info("pretraining %s (%s camera prior)", path, "with" if camera_prior else "without")
    train(load_recipe(PRETRAIN_RECIPE, overrides))
    return path


#: Test situations drawn in docs/benchmark.md (fixed; the first three of the test split's first two scenes).
PICTURE_RECORDS = 3


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--world", choices=sorted(WORLDS), default="realistic",
                    help="benchmark world (WORLDS; default paths get WORLD_SUFFIX)")
    ap.add_argument("--out", type=Path, default=None, help="default runs/synthetic_ablation[-WORLD]")
    ap.add_argument("--data", type=Path, default=None,
                    help="benchmark data root (default data/synthetic-benchmark[-WORLD], shared with "
                         "configs/tiny-pretrain.yaml)")
    ap.add_argument("--quick", action="store_true", help="short fine-tunings, seed 0 only (~15 min, 2 cores)")
    ap.add_argument("--baselines-only", action="store_true", help="build the data and score the baselines")
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 1 2 (quick: 0)")
    ap.add_argument("--steps", type=int, default=None, help="fine-tuning steps (default 1000, quick 300)")
    ap.add_argument("--variants", nargs="+", default=[v.key for v in VARIANTS])
    ap.add_argument("--pretrained", type=Path, default=None,
                    help="tiny checkpoint with a camera prior (default runs/tiny-pretrain[-WORLD])")
    ap.add_argument("--pretrained-noprior", type=Path, default=None,
                    help="tiny checkpoint without a camera prior "
                         "(default runs/tiny-pretrain[-WORLD]-noprior)")
    ap.add_argument("--from-scratch", action="store_true", help="fine-tune from random weights")
    ap.add_argument("--pretrain", action="store_true", help="train missing pretrained checkpoints first")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="recipe override for every variant's fine-tuning (repeatable; a variant's own wins)")
    ap.add_argument("--jobs", type=int, default=2, help="fine-tunings run in parallel (1 thread each)")
    ap.add_argument("--workers", type=int, default=1, help="processes for data generation / preparation")
    ap.add_argument("--no-pictures", action="store_true")
    # internal: one fine-tuning in a child process
    ap.add_argument("--one", nargs=2, metavar=("VARIANT", "SEED"), help=argparse.SUPPRESS)
    ap.add_argument("--budget-json", help=argparse.SUPPRESS)
    ap.add_argument("--run-dir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    spec = WORLDS[args.world]
    suffix = WORLD_SUFFIX[args.world]
    args.data = args.data or Path(f"data/synthetic-benchmark{suffix}")
    args.out = args.out or Path(f"runs/synthetic_ablation{suffix}")
    if not args.one:
        args.pretrained = args.pretrained or Path(f"runs/tiny-pretrain{suffix}")
    args.pretrained_noprior = args.pretrained_noprior or Path(f"runs/tiny-pretrain{suffix}-noprior")

    if args.one:  # child process of run_variants(jobs > 1)
        import torch

        torch.set_num_threads(1)
        data = build_benchmark(spec, args.data)
        variant = next(v for v in VARIANTS if v.key == args.one[0])
        b = json.loads(args.budget_json)
        budget = Budget(**{**b, "overrides": tuple(b.get("overrides", ()))})
        pre = args.pretrained if args.pretrained and str(args.pretrained) != "None" else None
        return run_variant(variant, data, budget, int(args.one[1]), args.run_dir, pre)

    seeds = args.seeds or ([0] if args.quick else [0, 1, 2])
    if len(seeds) < 3 and not args.quick:
        logger.warning("fewer than 3 seeds: the CIs are wide or undefined")
    t0 = time.time()
    out = args.out.resolve()
    data = build_benchmark(spec, args.data, prepare=not args.baselines_only, workers=args.workers)
    logger.info("benchmark ready in %.0f s: %s", time.time() - t0, data.counts)
    (out / "predictions").mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, Any]] = dict(run_baselines(data, seeds, out / "predictions"))
    labels = dict(BASELINE_LABELS)
    budget = None
    pretraining: dict[str, Any] = {}
    pictures: dict[str, list[str]] = {}
    chosen = [v for v in VARIANTS if v.key in args.variants]
    if not args.baselines_only:
        budget = Budget(steps=args.steps or (300 if args.quick else 1000), overrides=tuple(args.set))
        pre = pre_np = None
        if not args.from_scratch:
            if any(v.camera_prior for v in chosen):
                pre = ensure_pretrained(data, args.pretrained, True, args.pretrain)
            if any(not v.camera_prior for v in chosen):
                pre_np = ensure_pretrained(data, args.pretrained_noprior, False, args.pretrain)
            limit = 64 if args.quick else None
            pretraining = {"grounding_mean_baseline": grounding_mean_baseline(data)}
            for name, ckpt in (("prior", pre), ("noprior", pre_np)):
                if ckpt is not None:
                    pretraining[name] = evaluate_pretrained(ckpt, data, limit=limit)
        t1 = time.time()
        rows.update(run_variants(data, chosen, seeds, budget, out, pre, pre_np, jobs=args.jobs))
        logger.info("fine-tunings done in %.0f s", time.time() - t1)
        labels.update({v.key: v.title for v in VARIANTS})
        if not args.no_pictures:
            from loc3r.data.sources.convert import read_records_jsonl

            test = read_records_jsonl(data.records["test_loc"])
            ids = [r.id for r in test[:PICTURE_RECORDS]]
            pictures = draw_pictures(data, chosen, out, ids, seed=seeds[0])
    table = markdown_table(rows, labels)
    figures = key_figures(rows)
    for name in ("prior", "noprior"):
        g = pretraining.get(name, {}).get("grounding", {})
        if g.get("Acc@1.0m") is not None:
            figures[f"pretrain_{name}_grounding_acc1m"] = round(float(g["Acc@1.0m"]), 3)
            figures[f"pretrain_{name}_grounding_acc30deg"] = round(float(g["Acc@30deg"]), 3)
    if pretraining.get("grounding_mean_baseline"):
        figures["grounding_mean_acc1m"] = round(float(pretraining["grounding_mean_baseline"]["Acc@1.0m"]), 3)
    for a, b in (("full", "sitonly"), ("layout", "sitonly"), ("full", "layout"), ("sitonly", "mean"),
                 ("layout", "mean"), ("full", "mean"), ("sitonly", "ffmean"), ("layout", "ffmean")):
        for m in ("acc1m", "acc30deg"):
            if f"{a}_{m}" in figures and f"{b}_{m}" in figures:
                figures[f"{a}_minus_{b}_{m}"] = round(figures[f"{a}_{m}"] - figures[f"{b}_{m}"], 3)
    by_view = None
    if not args.baselines_only or (data.prepared / "prepare_report.json").is_file():
        by_view = view_breakdown(data, out, list(rows), seeds)
        for key, v in by_view["rows"].items():
            figures[f"{key}_acc1m_in_view"] = v["in_view"]
            figures[f"{key}_acc1m_out_of_view"] = v["out_of_view"]
    by_room = None
    if not args.baselines_only or (data.prepared / "prepare_report.json").is_file():
        by_room = room_intervals(*situation_hits(data, out, list(rows), seeds))
        for pair, (_, lo, hi) in by_room["pairs"].items():
            figures[f"{pair.replace('-', '_minus_')}_acc1m_rooms_low"] = lo
            figures[f"{pair.replace('-', '_minus_')}_acc1m_rooms_high"] = hi
    figures["test_situations"] = data.counts["test_situations"]
    figures["elapsed_s"] = round(time.time() - t0, 1)
    results = {"spec": dataclasses.asdict(spec), "counts": data.counts, "seeds": seeds,
               "budget": None if budget is None else dataclasses.asdict(budget),
               "pretraining": pretraining, "pictures": pictures, "rows": rows, "by_view": by_view,
               "by_room": by_room, "figures": figures}
    from loc3r.utils.io import atomic_write_text

    atomic_write_text(out / "results.json", json.dumps(results, indent=1, default=str) + "\n")
    header = (f"# Synthetic ablation\n\n{data.counts['test_situations']} test situations in "
              f"{data.counts['scenes']['test']} test scenes; mean ± 95 % CI (t over seeds {seeds}; "
              "bootstrap over situations for the deterministic rule oracle).\n\n")
    if by_view and by_view["rows"]:
        table += (f"\n\nAcc@1.0m by where the true position lies: inside the first frame's horizontal view "
                  f"(±{by_view['half_fov_deg']}°, {by_view['n_in_view']} situations) or outside it "
                  f"({by_view['n_out_of_view']}):\n\n| method | in view | out of view |\n|---|---|---|\n")
        def cell(v: dict, side: str) -> str:
            return "-" if v[side] is None else (
                f"{v[side]:.1f}" + ("" if v[f"{side}_half_ci"] is None else f" ± {v[f'{side}_half_ci']:.1f}"))

        table += "\n".join(f"| {labels.get(k, k)} | {cell(v, 'in_view')} | {cell(v, 'out_of_view')} |"
                            for k, v in by_view["rows"].items())
    if by_room and by_room["rows"]:
        table += (f"\n\nAcc@1.0m with 95 % intervals over the {by_room['n_rooms']} test rooms and the seeds "
                  "(two-stage bootstrap; differences paired on the same rooms):\n\n"
                  "| row or difference | Acc@1.0m | 95 % interval |\n|---|---|---|\n")
        table += "\n".join(f"| {labels.get(k, k)} | {m:.1f} | [{lo:.1f}, {hi:.1f}] |"
                            for k, (m, lo, hi) in by_room["rows"].items()) + "\n"
        table += "\n".join(f"| {p.replace('-', ' − ')} | {m:+.1f} | [{lo:+.1f}, {hi:+.1f}] |"
                            for p, (m, lo, hi) in by_room["pairs"].items())
    atomic_write_text(out / "results.md", header + table + "\n")
    print(header + table)
    print()
    for k, v in figures.items():
        print(f"{k}={v}")
    return results


if __name__ == "__main__":
    main()
