r"""``loc3r infer``: localize a described agent in one scene and answer questions, with a BEV picture.

Run::

    loc3r infer --model runs/tiny --input prepared/scene9002_00 \
        --situation "I sit on the chair and the dresser is on my left." --question "What is behind me?" \
        --out infer_out/

Input (``loc3r.data.scene_inputs.load_scene_inputs``): a prepared scene folder (frames with known poses), a
folder of frames, or a video file (frames sampled uniformly). The camera-prior tokens come from
``resolve_prior_backend``: known poses feed the ``pose`` prior; without poses a model with a camera prior
needs CUT3R or VGGT (its width decides which), and a clear error names what is missing when neither is
installed or configured.

The video prefix is encoded once (``SceneSession``) and every question reuses it. Outputs (``InferResult``):

* the agent's position (x, y) and per-axis σ, metres, and facing heading (yaw from the BEV x axis, radians /
  degrees), in the first-frame BEV frame; with known poses also in the raw ScanNet world and, for prepared
  ScanNet-style scenes with a mesh centre, in the SQA3D frame (position, facing heading and SQA3D's
  quaternion yaw = heading - pi);
* one greedy answer per question;
* ``<out>/result.json`` and ``<out>/bev.png`` (``loc3r.eval.viz.plot_bev_map``: the layout head's cognitive
  map coloured by frame, the camera path, the predicted pose with its σ ellipses, the ground truth when
  known).

Ground truth: with ``annotations`` + ``record_id`` (unified records JSONL), the record's situation, question
and pose are used (the pose is mapped into the BEV frame with ``pose_to_bev``; needs a prepared scene).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from loc3r.data.scene_inputs import (
    SceneInputs,
    load_scene_inputs,
    pose_to_bev,
    prior_tokens,
    question_text,
)
from loc3r.data.schema import Record
from loc3r.utils.io import DataError, atomic_write_json, safe_join

__all__ = ["InferConfig", "InferResult", "infer", "find_record", "gt_token_positions", "object_centres_bev"]


@dataclass(frozen=True)
class InferConfig:
    """Settings of ``infer``.

    Attributes:
        model: model folder written by ``save_pretrained``.
        input: prepared scene folder, folder of frames, or video file.
        situation: situation text (None: the record's, else the pseudo-situation "I am standing in the room").
        questions: questions to answer (none: localization only, unless the record has a question).
        out_dir: folder for ``result.json`` and ``bev.png`` (None: nothing is written).
        num_frames: frames to use (None: the prepared selection, or 32 sampled from frames / video).
        annotations: unified-records JSONL file(s) holding ``record_id``.
        record_id: a record on this scene: its situation / question fill in missing ones, its pose is the
            ground truth.
        max_new_tokens: answer length (greedy decoding).
        backend: camera-prior backend or ``"auto"``.
        backend_kwargs: backend constructor arguments (``checkpoint=...`` for CUT3R / VGGT).
        prior_cache: on-disk prior-token cache folder, or None.
        device: ``"auto"``, ``"cpu"``, ``"cuda:0"``, ...
        dtype: ``"auto"``, ``"float32"``, ``"bfloat16"``, ``"float16"``.
        plot: write ``bev.png`` (needs ``out_dir``).
    """

    model: Path
    input: Path
    situation: str | None = None
    questions: tuple[str, ...] = ()
    out_dir: Path | None = None
    num_frames: int | None = None
    annotations: tuple[Path, ...] = ()
    record_id: str | None = None
    max_new_tokens: int = 32
    backend: str = "auto"
    backend_kwargs: Mapping[str, Any] = field(default_factory=dict)
    prior_cache: Path | None = None
    device: str = "auto"
    dtype: str = "auto"
    plot: bool = True

    def __post_init__(self) -> None:
        """Normalise paths and validate values."""
        object.__setattr__(self, "model", Path(self.model))
        object.__setattr__(self, "input", Path(self.input))
        object.__setattr__(self, "questions", tuple(self.questions))
        object.__setattr__(self, "annotations", tuple(Path(p) for p in self.annotations))
        object.__setattr__(self, "backend_kwargs", dict(self.backend_kwargs))
        if self.out_dir is not None:
            object.__setattr__(self, "out_dir", Path(self.out_dir))
        if self.prior_cache is not None:
            object.__setattr__(self, "prior_cache", Path(self.prior_cache))
        if self.record_id is not None and not self.annotations:
            raise ValueError("record_id needs the annotations file(s) that hold it")
        if self.num_frames is not None and self.num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {self.num_frames}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")


@dataclass
class InferResult:
    """What ``infer`` predicted (poses in metres / radians).

    Attributes:
        scene_id: scene id (folder / file stem for plain frames).
        source: ``"prepared"`` | ``"frames"`` | ``"video"``.
        frame_ids: the frames used.
        situation: the situation text used (None = the pseudo-situation).
        pose_bev: ``{"x", "y", "sigma_x", "sigma_y", "heading_rad", "heading_deg"}`` in the first-frame BEV
            frame, or None for a model without situation heads.
        pose_world: ``{"x", "y", "heading_rad", "frame": "raw"}`` in the raw world (poses known) or None.
        pose_sqa3d: ``{"x", "y", "heading_rad", "sqa3d_yaw_rad", "frame": "sqa3d"}`` or None.
        answers: ``[{"question", "answer"}]``.
        ground_truth: ``{"x", "y", "heading_rad", "position_error_m", "heading_error_deg"}`` in the BEV
            frame, or None.
        prior_backend: the backend description, or None.
        png: the BEV picture, or None.
        json: the result file, or None.
    """

    scene_id: str
    source: str
    frame_ids: list[int]
    situation: str | None
    pose_bev: dict[str, float] | None
    pose_world: dict[str, Any] | None = None
    pose_sqa3d: dict[str, Any] | None = None
    answers: list[dict[str, str]] = field(default_factory=list)
    ground_truth: dict[str, float] | None = None
    prior_backend: dict[str, Any] | None = None
    png: Path | None = None
    json: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = dict(self.__dict__)
        d["png"] = None if self.png is None else str(self.png)
        d["json"] = None if self.json is None else str(self.json)
        return d

    def format(self) -> str:
        """Human-readable summary."""
        lines = [
            f"scene {self.scene_id} ({self.source}, {len(self.frame_ids)} frames)",
            f"situation: {self.situation or '(pseudo-situation)'}",
        ]
        p = self.pose_bev
        if p is not None:
            lines.append(
                f"position (BEV): x={p['x']:.3f} m, y={p['y']:.3f} m, σ=({p['sigma_x']:.3f}, "
                f"{p['sigma_y']:.3f}) m; heading {p['heading_deg']:.1f}°"
            )
        if self.pose_world is not None:
            w = self.pose_world
            lines.append(
                f"position (raw world): x={w['x']:.3f} m, y={w['y']:.3f} m, "
                f"heading {math.degrees(w['heading_rad']):.1f}°"
            )
        if self.pose_sqa3d is not None:
            s = self.pose_sqa3d
            lines.append(
                f"position (SQA3D frame): x={s['x']:.3f} m, y={s['y']:.3f} m, "
                f"quaternion yaw {math.degrees(s['sqa3d_yaw_rad']):.1f}°"
            )
        if self.ground_truth is not None:
            g = self.ground_truth
            lines.append(
                f"ground truth (BEV): x={g['x']:.3f} m, y={g['y']:.3f} m, heading "
                f"{math.degrees(g['heading_rad']):.1f}°; error {g['position_error_m']:.2f} m, "
                f"{g['heading_error_deg']:.1f}°"
            )
        for qa in self.answers:
            lines.append(f"Q: {qa['question']}\nA: {qa['answer']}")
        if self.png is not None:
            lines.append(f"picture: {self.png}")
        if self.json is not None:
            lines.append(f"result: {self.json}")
        return "\n".join(lines)


def find_record(paths, record_id: str) -> Record:
    """The record with id ``record_id`` in unified-records JSONL file(s).

    Raises:
        DataError: not found.
    """
    from loc3r.data.sources.convert import read_records_jsonl

    for path in paths:
        for r in read_records_jsonl(path):
            if r.id == record_id:
                return r
    raise DataError(f"record {record_id!r} not found in {', '.join(map(str, paths))}")


def gt_token_positions(scene: SceneInputs) -> np.ndarray | None:
    """Valid ground-truth token BEV positions [N, 2] of the used frames from ``bev_targets.npz``, or None."""
    if scene.source != "prepared" or scene.path is None:
        return None
    path = safe_join(scene.path, "bev_targets.npz")
    if not path.is_file():
        return None
    with np.load(path) as z:
        ids = [int(i) for i in z["frame_ids"]]
        rows = [ids.index(i) for i in scene.frame_ids if i in ids]
        xy, valid = z["xy"][rows], z["valid"][rows]
    return xy[valid]


def object_centres_bev(scene: SceneInputs) -> list[tuple[str, np.ndarray]]:
    """(label, BEV centre [2] metres) of the objects in a prepared scene's ``instances.json`` (else [])."""
    bev = scene.bev_frame
    if scene.source != "prepared" or scene.path is None or bev is None:
        return []
    path = safe_join(scene.path, "instances.json")
    if not path.is_file():
        return []
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))["instances"]
        return [
            (str(r["label"]), bev.world_to_bev_xy(np.asarray(r["centroid"], dtype=np.float64))) for r in rows
        ]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise DataError(f"{path}: invalid instances file ({e})") from e


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


def infer(cfg: InferConfig) -> InferResult:
    """Localize and answer on one scene (module docstring).

    Raises:
        DataError: invalid input / annotations, or a record of another scene.
        ValueError: a prior backend that does not fit the model or the input (e.g. no poses).
        MissingDependencyError: the needed CUT3R / VGGT (or OpenCV for videos) is not installed.
    """
    import torch

    from loc3r.eval.metrics.localization import bev_to_dataset
    from loc3r.eval.predict import load_model_for_inference, resolve_prior_backend
    from loc3r.eval.scene_cache import SceneSession
    from loc3r.geometry.frames import heading_to_sqa3d_yaw

    record = find_record(cfg.annotations, cfg.record_id) if cfg.record_id is not None else None
    scene = load_scene_inputs(cfg.input, cfg.num_frames)
    if record is not None and record.scene_id != scene.scene_id:
        raise DataError(f"record {record.id!r} is on scene {record.scene_id}, the input is {scene.scene_id}")
    situation = cfg.situation if cfg.situation is not None else (record.situation if record else None)
    situation = situation.strip() if situation and situation.strip() else None
    questions = list(cfg.questions)
    if not questions and record is not None and record.question.strip():
        questions = [question_text(record)]

    model, processor, _, _ = load_model_for_inference(cfg.model, cfg.device, cfg.dtype)
    backend = resolve_prior_backend(
        model.config, cfg.model, cfg.backend, cfg.backend_kwargs, have_poses=scene.has_poses
    )
    cache = None
    if backend is not None and cfg.prior_cache is not None:
        from loc3r.backends.cache import TokenCache

        cache = TokenCache(cfg.prior_cache)
    cam = None if backend is None else prior_tokens(scene, backend, cache)
    with torch.no_grad():
        session = SceneSession(model, processor, scene.frames, cam)
        res = session.run(
            [situation] * max(len(questions), 1),
            questions or [""],
            max_new_tokens=cfg.max_new_tokens if questions else 0,
        )

    result = InferResult(
        scene_id=scene.scene_id,
        source=scene.source,
        frame_ids=list(scene.frame_ids),
        situation=situation,
        pose_bev=None,
        prior_backend=None if backend is None else backend.describe(),
    )
    if questions:
        result.answers = [{"question": q, "answer": a} for q, a in zip(questions, res.answers, strict=True)]
    loc = res.localization
    xy = sigma = heading = None
    if loc is not None:
        xy = loc.position_bev[0].double().numpy()
        sigma = loc.sigma_bev[0].double().numpy()
        heading = float(loc.heading_bev[0])
        result.pose_bev = {
            "x": float(xy[0]),
            "y": float(xy[1]),
            "sigma_x": float(sigma[0]),
            "sigma_y": float(sigma[1]),
            "heading_rad": heading,
            "heading_deg": math.degrees(heading),
        }
        if scene.poses_c2w is not None:
            first = scene.poses_c2w[0]
            xy_w, h_w = bev_to_dataset(xy, np.array(heading), first, "raw")
            result.pose_world = {
                "x": float(xy_w[0]),
                "y": float(xy_w[1]),
                "heading_rad": float(h_w),
                "frame": "raw",
            }
            if scene.scene_center_raw is not None:
                xy_s, h_s = bev_to_dataset(
                    xy, np.array(heading), first, "sqa3d", scene_center_raw=scene.scene_center_raw
                )
                result.pose_sqa3d = {
                    "x": float(xy_s[0]),
                    "y": float(xy_s[1]),
                    "heading_rad": float(h_s),
                    "sqa3d_yaw_rad": float(heading_to_sqa3d_yaw(h_s)),
                    "frame": "sqa3d",
                }
    gt_xy = gt_heading = None
    if record is not None and record.pose is not None:
        gt_xy, gt_heading = pose_to_bev(record.pose, scene)
        result.ground_truth = {"x": float(gt_xy[0]), "y": float(gt_xy[1]), "heading_rad": gt_heading}
        if xy is not None:
            result.ground_truth["position_error_m"] = float(np.hypot(*(xy - gt_xy)))
            result.ground_truth["heading_error_deg"] = abs(math.degrees(_wrap(heading - gt_heading)))

    if cfg.out_dir is not None:
        if cfg.plot:
            path_bev = scene.camera_path_bev()
            tokens = None if session.bev_pred is None else session.bev_pred[..., :2].double().numpy()
            title = f"{scene.scene_id}: {situation or '(pseudo-situation)'}"
            result.png = _plot(
                cfg.out_dir / "bev.png",
                tokens,
                path_bev,
                xy,
                sigma,
                heading,
                gt_xy,
                gt_heading,
                gt_token_positions(scene),
                object_centres_bev(scene),
                title,
            )
        result.json = cfg.out_dir / "result.json"
        atomic_write_json(result.json, json.loads(json.dumps(result.to_dict())))
    return result


def _plot(path, tokens, path_bev, xy, sigma, heading, gt_xy, gt_heading, gt_tokens, objects, title) -> Path:
    from loc3r.eval.viz import plot_bev_map

    if len(title) > 90:
        title = title[:87] + "..."
    return plot_bev_map(
        path,
        token_xy=tokens,
        camera_xy=None if path_bev is None else path_bev[0],
        camera_heading=None if path_bev is None else path_bev[1],
        pred_xy=xy,
        pred_sigma=sigma,
        pred_heading=heading,
        gt_xy=gt_xy,
        gt_heading=gt_heading,
        gt_token_xy=gt_tokens,
        objects=objects,
        title=title,
    )
