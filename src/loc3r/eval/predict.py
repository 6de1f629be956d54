r"""``loc3r eval``: run a Loc3R model over a benchmark and write the predictions JSONL (then ``loc3r score``).

Run::

    loc3r eval --model runs/tiny --benchmark sqa3d --data prepared/ --annotations records/sqa3d_test.jsonl \
        --out preds.jsonl
    loc3r score preds.jsonl

What it does (``predict(cfg)``):

1. Reads the annotation records (unified JSONL from ``loc3r data convert``) and keeps those the benchmark
   scores (``loc3r.eval.score.get_task(benchmark).examples``, so ``eval`` and ``score`` agree on the set).
2. Groups them by scene (scenes in sorted order, records in file order). Per scene: loads the prepared frames
   (``loc3r.data.scene_inputs.load_prepared_scene``: the fixed frame list of ``loc3r prepare``, optionally a
   fixed uniform subset), the camera-prior tokens (``prior_tokens``, through ``--prior-cache``), encodes the
   video prefix once (``SceneSession``; ``scene_cache=False`` runs the full prompt per query instead), then
   runs the queries in batches: localization from ``<Pos>``/``<Ori>`` and greedy answers.
3. Appends one line per record to the predictions file (``PredictionWriter``): id, raw output, the pose in
   the BEV frame and in the dataset frame, the BEV anchor (first-frame camera pose, axis alignment, SQA3D
   centre) and, by default, the record itself. The header holds the settings. An existing file is resumed:
   ids already there are skipped (its settings must match).

Determinism: greedy decoding, fixed frame lists, ``torch.manual_seed(seed)``, a fixed processing order.
Scenes that cannot be loaded are skipped, counted and reported (``PredictReport``); their records stay
unpredicted (``loc3r score`` then names them).

What is generated per benchmark: ``sqa3d-loc`` only localizes (no decoding); the others decode an answer for
every record with a question and report the pose for every record with a situation. Default answer lengths
(``DEFAULT_MAX_NEW_TOKENS``) are [G] except VSI-Bench's 16 (its lmms-eval setting).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from loc3r.data.scene_inputs import (
    PROMPT_VERSION,
    SceneInputs,
    load_prepared_scene,
    prior_tokens,
    question_text,
    situation_text,
)
from loc3r.data.schema import Record
from loc3r.eval.predictions import BevAnchor, PosePrediction, Prediction, PredictionsHeader, PredictionWriter
from loc3r.eval.score import BENCHMARKS
from loc3r.utils.io import DataError

if TYPE_CHECKING:  # pragma: no cover
    from loc3r.backends.base import PriorBackend

__all__ = [
    "DEFAULT_MAX_NEW_TOKENS",
    "PRIOR_SPEC_FILE",
    "PredictConfig",
    "PredictReport",
    "predict",
    "predict_with_report",
    "load_model_for_inference",
    "resolve_prior_backend",
    "model_fingerprint",
    "prediction_for",
]

logger = logging.getLogger(__name__)

#: Answer length per benchmark (tokens) [G, except VSI-Bench: lmms-eval's max_new_tokens=16].
DEFAULT_MAX_NEW_TOKENS: dict[str, int] = {
    "sqa3d-loc": 0,
    "sqa3d": 16,
    "scanqa": 32,
    "vsibench": 16,
    "msqa": 64,
    "beacon3d": 32,
    "synthetic": 16,
}
#: Optional file in a model folder naming the prior backend it was trained with:
#: ``{"name": "pose", "kwargs": {"mode": "relative"}}``. Read by ``resolve_prior_backend(name="auto")``.
PRIOR_SPEC_FILE = "prior_backend.json"
#: Backend guessed from the camera-token width when the model folder has no ``PRIOR_SPEC_FILE``.
_BACKEND_BY_DIM: dict[int, tuple[str, dict[str, Any]]] = {
    13: ("pose", {"mode": "relative"}),
    10: ("pose", {"mode": "gravity"}),
    768: ("cut3r", {}),
    2048: ("vggt", {}),
}


@dataclass(frozen=True)
class PredictConfig:
    """Settings of ``predict``.

    Attributes:
        model: model folder written by ``save_pretrained`` (model + processor).
        benchmark: one of ``loc3r.eval.score.BENCHMARKS``.
        data: the ``loc3r prepare`` output folder (one sub-folder per scene).
        annotations: unified-records JSONL file(s) (``loc3r data convert``).
        out: predictions JSONL (appended to / resumed when it exists, unless ``overwrite``).
        num_frames: frames per scene; None = the prepared selection; fewer = a fixed uniform subset of it.
        batch_size: queries per forward pass (does not change the outputs beyond float tolerance).
        max_new_tokens: answer length; None = ``DEFAULT_MAX_NEW_TOKENS[benchmark]``.
        scene_cache: encode each scene's video prefix once and reuse its KV cache (``SceneSession``);
            False = the full prompt per query (the reference path, slower).
        backend: camera-prior backend (``loc3r.backends``) or ``"auto"`` (``resolve_prior_backend``).
        backend_kwargs: constructor arguments of the backend (e.g. ``checkpoint``).
        prior_cache: folder of the on-disk prior-token cache (``TokenCache``), or None.
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda:0"``, ...
        dtype: ``"auto"`` (bfloat16 on CUDA, float32 on CPU), ``"float32"``, ``"bfloat16"``, ``"float16"``.
        seed: torch seed set before running.
        limit: only the first ``limit`` benchmark records (quick checks).
        embed_records: store each record in its prediction (``loc3r score`` then needs no annotations).
        overwrite: start a new file instead of resuming an existing one.
        progress: show a progress bar (stderr).
    """

    model: Path
    benchmark: str
    data: Path
    annotations: tuple[Path, ...]
    out: Path
    num_frames: int | None = None
    batch_size: int = 8
    max_new_tokens: int | None = None
    scene_cache: bool = True
    backend: str = "auto"
    backend_kwargs: Mapping[str, Any] = field(default_factory=dict)
    prior_cache: Path | None = None
    device: str = "auto"
    dtype: str = "auto"
    seed: int = 0
    limit: int | None = None
    embed_records: bool = True
    overwrite: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        """Normalise paths and validate values (``ValueError`` naming the field)."""
        for name in ("model", "data", "out"):
            object.__setattr__(self, name, Path(getattr(self, name)))
        anns = (self.annotations,) if isinstance(self.annotations, (str, os.PathLike)) else self.annotations
        object.__setattr__(self, "annotations", tuple(Path(p) for p in anns))
        if self.prior_cache is not None:
            object.__setattr__(self, "prior_cache", Path(self.prior_cache))
        object.__setattr__(self, "backend_kwargs", dict(self.backend_kwargs))
        if self.benchmark not in BENCHMARKS:
            raise ValueError(f"unknown benchmark {self.benchmark!r} (known: {', '.join(BENCHMARKS)})")
        if not self.annotations:
            raise ValueError("no annotation records given (records .jsonl from `loc3r data convert`)")
        if self.num_frames is not None and self.num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {self.num_frames}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.max_new_tokens is not None and self.max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be >= 0, got {self.max_new_tokens}")
        if self.limit is not None and self.limit < 0:
            raise ValueError(f"limit must be >= 0, got {self.limit}")

    @property
    def answer_tokens(self) -> int:
        """The effective answer length."""
        return DEFAULT_MAX_NEW_TOKENS[self.benchmark] if self.max_new_tokens is None else self.max_new_tokens


@dataclass
class PredictReport:
    """What a ``predict`` run did.

    Attributes:
        path: the predictions file.
        benchmark: benchmark name.
        records: benchmark records selected (after ``limit``).
        written: predictions written by this run.
        already_done: records found in the resumed file and skipped.
        skipped_scenes: scene id -> reason, for scenes that could not be loaded.
        skipped_records: records of those scenes (left without prediction).
        elapsed_s: wall time.
        settings: the header settings.
    """

    path: Path
    benchmark: str
    records: int = 0
    written: int = 0
    already_done: int = 0
    skipped_scenes: dict[str, str] = field(default_factory=dict)
    skipped_records: int = 0
    elapsed_s: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)

    def format(self) -> str:
        """One-paragraph human summary."""
        lines = [
            f"{self.benchmark}: wrote {self.written} predictions to {self.path} "
            f"({self.already_done} already there, {self.skipped_records} skipped; {self.records} records; "
            f"{self.elapsed_s:.1f} s)"
        ]
        for scene, why in sorted(self.skipped_scenes.items()):
            lines.append(f"  skipped scene {scene}: {why}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------- model
def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def model_fingerprint(model_dir: str | Path) -> dict[str, Any]:
    """Cheap identity of a saved model: absolute path, sha256 of ``config.json``, weight file sizes."""
    d = Path(model_dir).resolve()
    cfg = d / "config.json"
    weights = sorted(p for p in d.iterdir() if p.is_file() and p.suffix in (".safetensors", ".bin"))
    return {
        "path": str(d),
        "config_sha256": _sha256_file(cfg)[:16] if cfg.is_file() else None,
        "weights": {p.name: p.stat().st_size for p in weights},
    }


def load_model_for_inference(model_dir: str | Path, device: str = "auto", dtype: str = "auto"):
    """Load a saved Loc3R model + processor for inference.

    Args:
        model_dir: folder written by ``save_pretrained`` (model and processor).
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda:0"``, ...
        dtype: ``"auto"`` (bfloat16 on CUDA, float32 on CPU), ``"float32"``, ``"bfloat16"``, ``"float16"``.

    Returns:
        ``(model in eval mode on the device, processor, device name, dtype name)``.

    Raises:
        FileNotFoundError: no model folder / processor files.
        ValueError: unknown dtype.
    """
    import torch

    from loc3r.backends.base import resolve_device
    from loc3r.modeling.builders import load_loc3r

    d = Path(model_dir)
    if not (d / "config.json").is_file():
        raise FileNotFoundError(
            f"{d}: not a saved Loc3R model (no config.json; save it with save_pretrained)"
        )
    dev = resolve_device(device)
    if dtype == "auto":
        dtype = "bfloat16" if dev.type == "cuda" else "float32"
    if dtype not in ("float32", "bfloat16", "float16"):
        raise ValueError(f"dtype must be auto, float32, bfloat16 or float16, got {dtype!r}")
    model, processor = load_loc3r(d, dtype=getattr(torch, dtype))
    model.to(dev).eval()
    return model, processor, str(dev), dtype


def _read_prior_spec(model_dir: Path) -> tuple[str, dict[str, Any]] | None:
    path = model_dir / PRIOR_SPEC_FILE
    if not path.is_file():
        return None
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
        return str(spec["name"]), dict(spec.get("kwargs") or {})
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise DataError(f'{path}: expected {{"name": ..., "kwargs": {{...}}}} ({e})') from e


def resolve_prior_backend(
    config,
    model_dir: str | Path,
    name: str = "auto",
    kwargs: Mapping[str, Any] | None = None,
    have_poses: bool = True,
) -> PriorBackend | None:
    """The camera-prior backend that feeds a model, or None when the model has no camera prior.

    ``name="auto"``: the model folder's ``prior_backend.json`` if present, otherwise a guess from the token
    width (13 -> ``pose`` relative, 10 -> ``pose`` gravity, 768 -> ``cut3r``, 2048 -> ``vggt``). ``kwargs``
    are added to (and override) the spec's constructor arguments.

    Args:
        config: the model's ``Loc3RConfig``.
        model_dir: the model folder.
        name: backend name or ``"auto"``.
        kwargs: backend constructor arguments (``checkpoint=...`` for CUT3R / VGGT).
        have_poses: whether the frames come with camera poses (the ``pose`` backend needs them).

    Raises:
        ValueError: the backend does not fit the model (width, missing settings) or the input (no poses).
        MissingDependencyError: CUT3R / VGGT is not installed (the message says what to install).
    """
    from loc3r.backends.registry import make_backend
    from loc3r.utils.import_utils import INSTALL_HINTS, MissingDependencyError

    dim = int(config.prior_token_dim or 0)
    kwargs = dict(kwargs or {})
    if not dim:
        if name not in ("auto", "none"):
            raise ValueError(
                f"the model has no camera prior (prior_token_dim=0): backend {name!r} is not used"
            )
        return None
    if name == "none":
        raise ValueError(f"the model needs {dim}-d camera-prior tokens per frame; choose a prior backend")
    if name == "auto":
        spec = _read_prior_spec(Path(model_dir)) or _BACKEND_BY_DIM.get(dim)
        if spec is None:
            raise ValueError(
                f"the model needs {dim}-d camera-prior tokens and no backend is known for that width; "
                f"pass --backend NAME (and --backend-arg KEY=VALUE), or write "
                f"{Path(model_dir) / PRIOR_SPEC_FILE}"
            )
        name, kwargs = spec[0], {**spec[1], **kwargs}
    if name == "pose" and not have_poses:
        raise ValueError(
            f"the model's camera prior is the 'pose' backend ({dim}-d tokens from known camera poses), "
            "but these frames have no poses: use a prepared scene (loc3r prepare), or a model "
            "trained with the 'cut3r' or 'vggt' prior, which estimate the geometry from pixels"
        )
    if name == "cut3r" and "checkpoint" not in kwargs:
        raise MissingDependencyError(
            f"the model needs {dim}-d CUT3R camera tokens: pass the CUT3R weights and clone with "
            f"--backend-arg checkpoint=PATH [--backend-arg cut3r_root=PATH].\n{INSTALL_HINTS['dust3r']}"
        )
    try:
        backend = make_backend(name, **kwargs)
    except MissingDependencyError as e:
        raise MissingDependencyError(f"the model needs {dim}-d {name!r} camera tokens, but {e}") from e
    except TypeError as e:
        raise ValueError(f"prior backend {name!r}: {e} (pass settings with --backend-arg KEY=VALUE)") from e
    if backend.token_dim != dim:
        raise ValueError(
            f"prior backend {name!r} gives {backend.token_dim}-d tokens, the model expects {dim}-d"
        )
    return backend


def _source_commit() -> str | None:
    """The git commit of the loc3r checkout this code runs from (``+dirty`` when ``src/`` has local edits).

    None when the package is not inside its own git checkout (e.g. an installed wheel).
    """
    pkg = Path(__file__).resolve().parents[1]  # .../src/loc3r

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=pkg, capture_output=True, text=True, timeout=10)

    try:
        top = git("rev-parse", "--show-toplevel")
        if top.returncode != 0 or (Path(top.stdout.strip()) / "src" / "loc3r").resolve() != pkg:
            return None
        head = git("rev-parse", "HEAD")
        if head.returncode != 0 or not head.stdout.strip():
            return None
        dirty = git("status", "--porcelain", "--", str(pkg)).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty else "")


# --------------------------------------------------------------------------------------------- records
def _read_annotations(paths: Sequence[Path]) -> list[Record]:
    from loc3r.data.sources.convert import read_records_jsonl

    records: list[Record] = []
    first: dict[str, Path] = {}
    for path in paths:
        for r in read_records_jsonl(path):
            if r.id in first:
                raise DataError(
                    f"{path}: record id {r.id!r} is also in {first[r.id]} (prediction ids must be "
                    "unique within one predictions file)"
                )
            first[r.id] = path
            records.append(r)
    return records


def _by_scene(records: Sequence[Record]) -> list[tuple[str, list[Record]]]:
    groups: dict[str, list[Record]] = {}
    for r in records:
        groups.setdefault(r.scene_id, []).append(r)
    return sorted(groups.items())


def _needs_answer(record: Record, benchmark: str, max_new_tokens: int) -> bool:
    return benchmark != "sqa3d-loc" and max_new_tokens > 0 and bool((record.question or "").strip())


def _bev_anchor(scene: SceneInputs) -> BevAnchor | None:
    if scene.poses_c2w is None:
        return None
    return BevAnchor(
        first_frame_pose=scene.poses_c2w[0],
        world_frame="raw",
        axis_alignment=scene.axis_alignment,
        scene_center_raw=scene.scene_center_raw,
    )


def prediction_for(
    record: Record,
    benchmark: str,
    scene: SceneInputs,
    pose_bev: tuple[float, float, float] | None,
    sigma_bev: tuple[float, float] | None,
    answer: str | None,
    embed_record: bool = True,
) -> Prediction:
    """One predictions-file line.

    Args:
        record: the annotation record.
        benchmark: benchmark name.
        scene: the scene the prediction was made on (gives the BEV anchor).
        pose_bev: predicted ``(x, y, heading)`` in the first-frame BEV frame (metres, radians) or None.
        sigma_bev: predicted ``(σ_x, σ_y)`` metres (stored under ``extra``) or None.
        answer: the generated answer or None.
        embed_record: store the record in the prediction.

    Returns:
        A ``Prediction`` with the pose in the BEV frame, mapped to the record's dataset frame (or the SQA3D
        frame, else the raw world) when the scene has poses.
    """
    from loc3r.eval.metrics.localization import bev_to_dataset

    anchor = _bev_anchor(scene)
    poses_bev: tuple[PosePrediction, ...] = ()
    poses_dataset: tuple[PosePrediction, ...] = ()
    if pose_bev is not None:
        x, y, h = (float(v) for v in pose_bev)
        poses_bev = (PosePrediction(x, y, h, "bev"),)
        if anchor is not None:
            target = (
                record.pose.frame
                if record.pose is not None
                else ("sqa3d" if scene.scene_center_raw is not None else "raw")
            )
            if target != "bev":
                try:
                    xy_d, h_d = bev_to_dataset(
                        np.array([x, y]),
                        np.array(h),
                        anchor.first_frame_pose,
                        target,
                        world_frame="raw",
                        axis_alignment=anchor.axis_alignment,
                        scene_center_raw=anchor.scene_center_raw,
                    )
                    poses_dataset = (PosePrediction(float(xy_d[0]), float(xy_d[1]), float(h_d), target),)
                except ValueError as e:  # e.g. an 'aligned' record on a scene without axisAlignment
                    logger.debug("record %s: no dataset-frame pose (%s)", record.id, e)
    extra: dict[str, Any] = {"scene_id": scene.scene_id, "frame_ids": list(scene.frame_ids)}
    if sigma_bev is not None:
        extra["sigma_bev"] = [float(sigma_bev[0]), float(sigma_bev[1])]
    return Prediction(
        id=record.id,
        benchmark=benchmark,
        raw_output=answer,
        answer=None if answer is None else answer.strip(),
        pose_bev=poses_bev,
        pose_dataset=poses_dataset,
        bev_anchor=anchor if poses_bev else None,
        record=record if embed_record else None,
        extra=extra,
    )


# --------------------------------------------------------------------------------------------- driver
def _settings(cfg: PredictConfig, processor, device: str, dtype: str, backend) -> dict[str, Any]:
    from loc3r.eval.scene_cache import end_token_ids

    s = {
        "model": model_fingerprint(cfg.model),
        "data": str(cfg.data.resolve()),
        "annotations": [str(p.resolve()) for p in cfg.annotations],
        "frames": {
            "num_frames": cfg.num_frames,
            "selection": "prepared selection"
            if cfg.num_frames is None
            else "uniform (endpoints) subset of the prepared selection",
            "image_size": processor.frame_size,
        },
        "decoding": {
            "strategy": "greedy",
            "max_new_tokens": cfg.answer_tokens,
            "eos_token_ids": end_token_ids(processor),
        },
        "prompt": {"version": PROMPT_VERSION, "system": processor.system_prompt},
        "prior_backend": None if backend is None else backend.describe(),
        "scene_cache": cfg.scene_cache,
        "device": device.split(":")[0],
        "dtype": dtype,
        "seed": cfg.seed,
    }
    return json.loads(json.dumps(s))  # JSON-native, so a resumed header compares equal


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="query", disable=not enabled, file=sys.stderr)


def _chunks(items: list, n: int):
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _scene_predictions(
    model, processor, scene: SceneInputs, cam, records: Sequence[Record], cfg: PredictConfig
):
    """Yield ``(record, pose_bev (x, y, heading) | None, sigma (σx, σy) | None, answer | None)`` per record.

    The scene's video prefix is encoded once (``SceneSession``) unless ``cfg.scene_cache`` is False. Records
    without a question to decode go first, in batches without decoding; poses are reported only for records
    with a situation (a pseudo-situation has no ground truth).
    """
    from loc3r.eval.scene_cache import SceneSession, run_queries_uncached

    session = SceneSession(model, processor, scene.frames, cam) if cfg.scene_cache else None
    max_new = cfg.answer_tokens
    answered = [_needs_answer(r, cfg.benchmark, max_new) for r in records]
    groups = (
        (0, [r for r, a in zip(records, answered, strict=True) if not a]),
        (max_new, [r for r, a in zip(records, answered, strict=True) if a]),
    )
    for n_tokens, group in groups:
        for batch in _chunks(group, cfg.batch_size):
            sits = [situation_text(r) for r in batch]
            qs = [question_text(r) for r in batch]
            if session is not None:
                res = session.run(sits, qs, max_new_tokens=n_tokens)
            else:
                res = run_queries_uncached(
                    model, processor, scene.frames, sits, qs, cam, max_new_tokens=n_tokens
                )
            loc = res.localization
            for i, r in enumerate(batch):
                pose = sigma = None
                if loc is not None and sits[i] is not None:
                    x, y = loc.position_bev[i].tolist()
                    pose = (x, y, float(loc.heading_bev[i]))
                    sigma = tuple(loc.sigma_bev[i].tolist())
                yield r, pose, sigma, (res.answers[i] if res.answers is not None else None)


def predict_with_report(cfg: PredictConfig) -> PredictReport:
    """Run the model over the benchmark records and write the predictions file (module docstring).

    Returns:
        ``PredictReport``.

    Raises:
        FileNotFoundError: missing model / annotation files.
        DataError: invalid annotations, or an existing predictions file that cannot be resumed (other
            settings).
        ValueError: bad settings, or no benchmark record in the annotations.
        MissingDependencyError: the model's prior backend is not installed.
    """
    import torch

    from loc3r.eval.score import get_task

    t0 = time.monotonic()
    records = get_task(cfg.benchmark).examples(_read_annotations(cfg.annotations))
    if not records:
        raise ValueError(f"{', '.join(map(str, cfg.annotations))}: no {cfg.benchmark} records to predict")
    if cfg.limit is not None:
        records = records[: cfg.limit]
    torch.manual_seed(cfg.seed)
    model, processor, device, dtype = load_model_for_inference(cfg.model, cfg.device, cfg.dtype)
    backend = resolve_prior_backend(model.config, cfg.model, cfg.backend, cfg.backend_kwargs, have_poses=True)
    cache = None
    if backend is not None and cfg.prior_cache is not None:
        from loc3r.backends.cache import TokenCache

        cache = TokenCache(cfg.prior_cache)
    settings = _settings(cfg, processor, device, dtype, backend)
    header = PredictionsHeader.new(cfg.benchmark, settings, commit=_source_commit())
    report = PredictReport(path=cfg.out, benchmark=cfg.benchmark, records=len(records), settings=settings)
    if cfg.overwrite and cfg.out.exists():
        cfg.out.unlink()
    with PredictionWriter(cfg.out, header, resume=True) as writer:
        todo = [r for r in records if r.id not in writer.done_ids]
        report.already_done = len(records) - len(todo)
        with _progress(len(todo), f"eval {cfg.benchmark}", cfg.progress) as bar:
            for scene_id, recs in _by_scene(todo):
                try:
                    scene = load_prepared_scene(cfg.data, scene_id, cfg.num_frames)
                    cam = None if backend is None else prior_tokens(scene, backend, cache)
                except (DataError, OSError, ValueError) as e:
                    report.skipped_scenes[scene_id] = f"{type(e).__name__}: {e}"
                    report.skipped_records += len(recs)
                    logger.warning("scene %s skipped (%d records): %s", scene_id, len(recs), e)
                    bar.update(len(recs))
                    continue
                for r, pose, sigma, answer in _scene_predictions(model, processor, scene, cam, recs, cfg):
                    writer.write(
                        prediction_for(r, cfg.benchmark, scene, pose, sigma, answer, cfg.embed_records)
                    )
                    report.written += 1
                    bar.update(1)
    report.elapsed_s = round(time.monotonic() - t0, 3)
    return report


def predict(cfg: PredictConfig) -> Path:
    """Run ``predict_with_report`` and return the predictions file's path."""
    return predict_with_report(cfg).path
