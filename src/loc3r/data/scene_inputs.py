"""Record + scene -> model inputs: a scene's selected frames, what is known about them, and the prompt text.

Shared by inference (``loc3r eval`` / ``loc3r infer``) and training, so both feed the model the same way:

* ``load_prepared_scene(root, scene_id, num_frames)``: a scene written by ``loc3r prepare`` -> ``SceneInputs``
  (RGB uint8 frames of the selection, camera-to-world poses in the raw ScanNet world, colour intrinsics,
  ``axisAlignment``, the SQA3D centre = bounding-box centre of the raw mesh). With ``num_frames`` smaller than
  the prepared selection, ``select_uniform(..., anchor="endpoints")`` picks a fixed subset of it; the first
  prepared frame is always kept, so the first-frame BEV frame (and ``bev_targets.npz``) stays the same.
* ``load_frame_folder`` / ``load_video``: frames without poses (uniformly sampled; ``infer``).
* ``pose_to_bev(pose, scene)``: a record's ground-truth agent pose (SQA3D / aligned / raw / bev frame) in the
  scene's first-frame BEV frame -- the situation target of training and the ground truth of ``infer``'s map.
* ``question_text(record)``, ``situation_text(record)``: the benchmark prompt templates (VSI-Bench: the
  official lmms-eval prompts; the others: the question plus a short-answer instruction [G]).
* ``prior_tokens(scene, backend, cache)``: the camera-prior tokens of the selected frames (through the
  on-disk token cache when given).

Frames: ``frames[t]`` is frame ``frame_ids[t]`` (temporal order); poses are OpenCV camera-to-world (x right,
y down, z forward), metres; the BEV frame is ``loc3r.geometry.frames.BevFrame`` anchored at frame 0.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from loc3r.data.frame_selection import select_uniform
from loc3r.geometry.camera import intrinsics_3x3
from loc3r.geometry.frames import (
    BevFrame,
    aligned_to_raw_points,
    alignment_yaw,
    camera_heading,
    check_axis_alignment,
)
from loc3r.geometry.rotations import wrap_angle
from loc3r.geometry.transforms import check_rigid
from loc3r.utils.io import DataError, safe_join

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from loc3r.backends.base import PriorBackend
    from loc3r.backends.cache import TokenCache
    from loc3r.data.schema import Pose, Record

__all__ = [
    "PROMPT_VERSION",
    "SHORT_ANSWER_PROMPT",
    "VSIBENCH_PRE_PROMPT",
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "SceneInputs",
    "load_prepared_scene",
    "load_frame_folder",
    "load_video",
    "load_scene_inputs",
    "is_prepared_scene",
    "pose_to_bev",
    "question_text",
    "situation_text",
    "prior_tokens",
    "safe_scene_name",
]

#: Bumped whenever ``question_text`` changes (recorded in prediction headers).
PROMPT_VERSION = 1
#: Appended to SQA3D / ScanQA / Beacon3D questions (short-answer benchmarks) [G: LLaVA's short-answer prompt].
SHORT_ANSWER_PROMPT = "Answer the question using a single word or phrase."
#: VSI-Bench's default ``pre_prompt`` (thinking-in-space lmms-eval task, data_formats.md §4).
VSIBENCH_PRE_PROMPT = "These are frames of a video."
_VSI_NUMERICAL = "Please answer the question using a single word or phrase."
_VSI_MULTIPLE_CHOICE = "Answer with the option's letter from the given choices directly."
_SHORT_ANSWER_SOURCES = ("sqa3d", "scanqa", "beacon3d")

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
DEFAULT_SAMPLED_FRAMES = 32


@dataclass(frozen=True)
class SceneInputs:
    """The selected frames of one scene (or video) and what is known about them.

    Attributes:
        scene_id: scene id (ScanNet style for prepared scenes; the folder / file stem otherwise).
        frame_ids: [T] original frame indices, in temporal order.
        frames: uint8 [T, H, W, 3] RGB frames.
        poses_c2w: float64 [T, 4, 4] camera-to-world poses in the raw ScanNet world (OpenCV camera axes,
            metres), or None when unknown (a plain video).
        intrinsics: float64 [3, 3] pinhole intrinsics of ``frames`` (pixels), or None when unknown.
        axis_alignment: float64 [4, 4] ScanNet ``axisAlignment`` (raw -> aligned), or None.
        scene_center_raw: float64 [3] bounding-box centre of the raw mesh (the SQA3D frame's origin), or None.
        source: ``"prepared"`` | ``"frames"`` | ``"video"``.
        path: where it was loaded from.
    """

    scene_id: str
    frame_ids: tuple[int, ...]
    frames: np.ndarray
    poses_c2w: np.ndarray | None = None
    intrinsics: np.ndarray | None = None
    axis_alignment: np.ndarray | None = None
    scene_center_raw: np.ndarray | None = None
    source: str = "prepared"
    path: Path | None = None

    @property
    def num_frames(self) -> int:
        """T."""
        return int(self.frames.shape[0])

    @property
    def image_size_wh(self) -> tuple[int, int]:
        """(W, H) of the frames, pixels."""
        return int(self.frames.shape[2]), int(self.frames.shape[1])

    @property
    def has_poses(self) -> bool:
        """Whether camera poses are known."""
        return self.poses_c2w is not None

    @property
    def bev_frame(self) -> BevFrame | None:
        """The first-frame BEV frame (relative to the raw world), or None without poses."""
        return None if self.poses_c2w is None else BevFrame.from_first_pose(self.poses_c2w[0])

    def camera_path_bev(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Camera centres ``[T, 2]`` (metres) and viewing headings ``[T]`` (radians) in BEV, or None."""
        bev = self.bev_frame
        if bev is None:
            return None
        xy = bev.world_to_bev_xy(self.poses_c2w[:, :3, 3])
        heading = bev.world_to_bev_heading(camera_heading(self.poses_c2w))
        return xy, np.asarray(heading, dtype=np.float64).reshape(-1)


# --------------------------------------------------------------------------------------------- loading
def safe_scene_name(name: str) -> str:
    """``name`` with every character outside ``[A-Za-z0-9._-]`` replaced by ``_`` (a valid cache folder)."""
    out = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".-_")
    return out or "scene"


def is_prepared_scene(path: str | Path) -> bool:
    """Whether ``path`` is a scene folder written by ``loc3r prepare`` (it holds ``scene.json``)."""
    return (Path(path) / "scene.json").is_file()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: not found (is this a scene folder written by `loc3r prepare`?)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: not valid JSON ({e})") from e


def _read_rgb(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError:
        raise DataError(f"{path}: frame image not found") from None
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"{path}: unreadable image ({e})") from e


def _read_pose(path: Path) -> np.ndarray:
    try:
        T = np.loadtxt(path, dtype=np.float64)
    except FileNotFoundError:
        raise DataError(f"{path}: camera pose not found") from None
    except ValueError as e:
        raise DataError(f"{path}: not a 4x4 text matrix ({e})") from e
    try:
        return check_rigid(T, name=str(path))
    except ValueError as e:
        raise DataError(str(e)) from e


def _matrix_or_none(value: Any, shape: tuple[int, int], what: str, where: Path) -> np.ndarray | None:
    if value is None:
        return None
    a = np.asarray(value, dtype=np.float64)
    if a.shape != shape or not np.all(np.isfinite(a)):
        raise DataError(f"{where}: '{what}' must be a finite {list(shape)} matrix, got shape {list(a.shape)}")
    return a


def _same_size(frames: list[np.ndarray], names: Sequence[str], where: Path) -> np.ndarray:
    hw = frames[0].shape[:2]
    for f, n in zip(frames, names, strict=True):
        if f.shape[:2] != hw:
            raise DataError(
                f"{where}: frame {n} is {f.shape[1]}x{f.shape[0]}, the first frame is "
                f"{hw[1]}x{hw[0]}; all frames of a video must have the same size"
            )
    return np.stack(frames)


def load_prepared_scene(root: str | Path, scene_id: str, num_frames: int | None = None) -> SceneInputs:
    """Load a prepared scene's selected frames, poses and metadata.

    Args:
        root: the ``loc3r prepare`` output folder (one sub-folder per scene).
        scene_id: the scene folder name (confined to ``root``).
        num_frames: frames to use; None = the whole prepared selection; fewer = a fixed uniform subset of it
            (``select_uniform`` with ``"endpoints"``: the first prepared frame is kept); more than prepared =
            all prepared frames.

    Returns:
        ``SceneInputs`` with poses in the raw ScanNet world and the colour intrinsics.

    Raises:
        DataError: missing / invalid files (named), or a pose that is not rigid.
        ValueError: ``num_frames < 1`` or an unsafe ``scene_id``.
    """
    if num_frames is not None and num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    scene_dir = safe_join(root, scene_id)
    meta_path = scene_dir / "scene.json"
    if not scene_dir.is_dir():
        raise DataError(f"{scene_dir}: prepared scene not found (run `loc3r prepare scannet` for {scene_id})")
    meta = _read_json(meta_path)
    try:
        indices = [int(i) for i in meta["frame_selection"]["indices"]]
        K = intrinsics_3x3(np.asarray(meta["K_color"], dtype=np.float64))
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(f"{meta_path}: missing or invalid frame_selection / K_color ({e})") from e
    if not indices:
        raise DataError(f"{meta_path}: the frame selection is empty")
    if num_frames is not None and num_frames < len(indices):
        indices = [int(i) for i in select_uniform(indices, num_frames, anchor="endpoints")]
    else:
        indices = sorted(indices)
    frames = [_read_rgb(safe_join(scene_dir, "color", f"{i}.jpg")) for i in indices]
    video = _same_size(frames, [str(i) for i in indices], scene_dir)
    size = meta.get("color_size")
    if size is not None and tuple(int(v) for v in size) != (video.shape[2], video.shape[1]):
        raise DataError(
            f"{scene_dir}: colour frames are {video.shape[2]}x{video.shape[1]}, scene.json says "
            f"color_size {size} (the intrinsics refer to that size)"
        )
    poses = np.stack([_read_pose(safe_join(scene_dir, "pose", f"{i}.txt")) for i in indices])
    A = _matrix_or_none(meta.get("axis_alignment"), (4, 4), "axis_alignment", meta_path)
    if A is not None:
        try:
            A = check_axis_alignment(A, name=f"{meta_path}: axis_alignment")
        except ValueError as e:
            raise DataError(str(e)) from e
    center = meta.get("mesh_bbox_center")
    if center is not None:
        center = np.asarray(center, dtype=np.float64).reshape(-1)
        if center.shape != (3,) or not np.all(np.isfinite(center)):
            raise DataError(
                f"{meta_path}: 'mesh_bbox_center' must be 3 finite numbers, got {meta['mesh_bbox_center']}"
            )
    return SceneInputs(
        scene_id=str(meta.get("scene_id", scene_id)),
        frame_ids=tuple(indices),
        frames=video,
        poses_c2w=poses,
        intrinsics=K,
        axis_alignment=A,
        scene_center_raw=center,
        source="prepared",
        path=scene_dir,
    )


def _natural_key(path: Path) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def _uniform_positions(n: int, k: int | None) -> list[int]:
    if n < 1:
        raise ValueError("no frames to sample from")
    if k is None or k >= n:
        return list(range(n))
    return [int(i) for i in select_uniform(np.arange(n), k, anchor="endpoints")]


def load_frame_folder(folder: str | Path, num_frames: int | None = DEFAULT_SAMPLED_FRAMES) -> SceneInputs:
    """Frames from a folder of images (sorted by name, numbers compared as numbers), uniformly sampled.

    Args:
        folder: a folder of ``IMAGE_EXTENSIONS`` files, one frame each, in temporal order by name.
        num_frames: frames to sample uniformly (first and last included); None = all.

    Returns:
        ``SceneInputs`` without poses or intrinsics; ``frame_ids`` are positions in the sorted file list.

    Raises:
        DataError: no images, an unreadable image, or images of different sizes.
    """
    folder = Path(folder)
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
        key=_natural_key,
    )
    if not files:
        raise DataError(f"{folder}: no image files ({', '.join(IMAGE_EXTENSIONS)})")
    pos = _uniform_positions(len(files), num_frames)
    frames = [_read_rgb(files[i]) for i in pos]
    video = _same_size(frames, [files[i].name for i in pos], folder)
    return SceneInputs(
        scene_id=safe_scene_name(folder.name),
        frame_ids=tuple(pos),
        frames=video,
        source="frames",
        path=folder,
    )


def load_video(path: str | Path, num_frames: int | None = DEFAULT_SAMPLED_FRAMES) -> SceneInputs:
    """Frames sampled uniformly (first and last included) from a video file, decoded with OpenCV.

    Args:
        path: a video file OpenCV can read (``opencv-python-headless``, imported here).
        num_frames: frames to sample; None = all.

    Returns:
        ``SceneInputs`` without poses; ``frame_ids`` are frame numbers in the video.

    Raises:
        DataError: the file cannot be opened or holds no frame.
        MissingDependencyError: OpenCV is not installed.
    """
    from loc3r.utils.import_utils import require_package

    require_package("cv2", feature="reading video files", hint="pip install opencv-python-headless")
    import cv2

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: video file not found")

    def _open():
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            raise DataError(f"{path}: OpenCV cannot open this video")
        return cap

    cap = _open()
    n = 0
    while cap.grab():  # count decodable frames (CAP_PROP_FRAME_COUNT is an estimate for many containers)
        n += 1
    cap.release()
    if n == 0:
        raise DataError(f"{path}: no decodable frame")
    wanted = _uniform_positions(n, num_frames)
    want = set(wanted)
    frames: list[np.ndarray] = []
    cap = _open()
    try:
        for i in range(wanted[-1] + 1):
            if not cap.grab():
                raise DataError(f"{path}: frame {i} could not be decoded on the second pass")
            if i in want:
                ok, bgr = cap.retrieve()
                if not ok:
                    raise DataError(f"{path}: frame {i} could not be decoded")
                frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    finally:
        cap.release()
    video = _same_size(frames, [str(i) for i in wanted], path)
    return SceneInputs(
        scene_id=safe_scene_name(path.stem), frame_ids=tuple(wanted), frames=video, source="video", path=path
    )


def load_scene_inputs(path: str | Path, num_frames: int | None = None) -> SceneInputs:
    """A prepared scene folder, a folder of frames or a video file -> ``SceneInputs``.

    Args:
        path: prepared scene folder (holds ``scene.json``), image folder or video file.
        num_frames: frames to use (None: the prepared selection, or 32 sampled from frames / video).

    Raises:
        DataError: the path is none of these, or its content is invalid.
    """
    path = Path(path)
    if path.is_dir() and is_prepared_scene(path):
        return load_prepared_scene(path.parent, path.name, num_frames)
    if path.is_dir():
        return load_frame_folder(path, num_frames or DEFAULT_SAMPLED_FRAMES)
    if path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS:
        return load_video(path, num_frames or DEFAULT_SAMPLED_FRAMES)
    if not path.exists():
        raise DataError(f"{path}: not found")
    raise DataError(
        f"{path}: not a prepared scene folder (scene.json), a folder of images or a video file "
        f"({', '.join(VIDEO_EXTENSIONS)})"
    )


# --------------------------------------------------------------------------------------------- poses
def pose_to_bev(pose: Pose, scene: SceneInputs) -> tuple[np.ndarray, float]:
    """A record's agent pose in the scene's first-frame BEV frame.

    Frames (``loc3r.geometry.frames``): ``sqa3d`` (raw axes, origin at ``scene_center_raw``), ``aligned``
    (through ``axis_alignment``), ``raw``, ``bev`` (returned as is).

    Args:
        pose: the ground-truth pose (``Pose.heading`` is the facing heading in its frame).
        scene: the scene (needs poses; and the centre / alignment its frame requires).

    Returns:
        ``(xy [2] metres, facing heading radians in [-pi, pi))`` in the BEV frame.

    Raises:
        DataError: the scene lacks what the mapping needs (poses, centre, alignment) or the frame is unknown.
    """
    xy = np.array([pose.x, pose.y], dtype=np.float64)
    if pose.frame == "bev":
        return xy, float(wrap_angle(pose.heading))
    bev = scene.bev_frame
    if bev is None:
        raise DataError(
            f"scene {scene.scene_id}: camera poses are unknown, so a {pose.frame!r} pose cannot be "
            "placed in the first-frame BEV frame"
        )
    heading_raw = pose.heading
    if pose.frame == "sqa3d":
        if scene.scene_center_raw is None:
            raise DataError(
                f"scene {scene.scene_id}: no mesh bounding-box centre (the SQA3D origin) in "
                "scene.json; prepare the scene from a scan with its _vh_clean_2.ply mesh"
            )
        xy_raw = xy + scene.scene_center_raw[:2]
    elif pose.frame == "aligned":
        if scene.axis_alignment is None:
            raise DataError(
                f"scene {scene.scene_id}: no axisAlignment, so an 'aligned' pose cannot be mapped"
            )
        xy_raw = aligned_to_raw_points(np.array([pose.x, pose.y, pose.z]), scene.axis_alignment)[:2]
        heading_raw = pose.heading - alignment_yaw(scene.axis_alignment)
    elif pose.frame == "raw":
        xy_raw = xy
    else:
        raise DataError(f"scene {scene.scene_id}: unknown pose frame {pose.frame!r}")
    return bev.world_to_bev_xy(xy_raw), float(bev.world_to_bev_heading(heading_raw))


# --------------------------------------------------------------------------------------------- prompts
def situation_text(record: Record) -> str | None:
    """The record's situation text, or None (the processor then uses the pseudo-situation)."""
    s = record.situation
    return s.strip() if s and s.strip() else None


def question_text(record: Record) -> str:
    r"""The question as the model sees it (benchmark prompt templates; ``PROMPT_VERSION``).

    * VSI-Bench (thinking-in-space lmms-eval, data_formats.md §4): numerical
      ``"These are frames of a video.\n{q}\nPlease answer the question using a single word or phrase."``;
      multiple choice ``"These are frames of a video.\n{q}\nOptions:\n{options}\nAnswer with the option's
      letter from the given choices directly."``.
    * SQA3D, ScanQA, Beacon3D: ``"{q}\nAnswer the question using a single word or phrase."`` [G].
    * MSQA and anything else: the question as is (MSQA answers are sentences).
    * A record without a question (SQA3D localization): ``""``.
    """
    q = (record.question or "").strip()
    if not q:
        return ""
    if record.source == "vsibench":
        if record.options:
            return "\n".join(
                [VSIBENCH_PRE_PROMPT, q, "Options:\n" + "\n".join(record.options), _VSI_MULTIPLE_CHOICE]
            )
        return "\n".join([VSIBENCH_PRE_PROMPT, q, _VSI_NUMERICAL])
    if record.source in _SHORT_ANSWER_SOURCES:
        return f"{q}\n{SHORT_ANSWER_PROMPT}"
    return q


# --------------------------------------------------------------------------------------------- prior tokens
def prior_tokens(scene: SceneInputs, backend: PriorBackend, cache: TokenCache | None = None) -> torch.Tensor:
    """Camera-prior tokens of the scene's frames, float32 ``[T, D]`` (row t = ``frame_ids[t]``).

    Args:
        scene: the frames (and poses / intrinsics for backends that need them).
        backend: a prior backend (``loc3r.backends.make_backend``).
        cache: optional on-disk token cache (keyed by scene id, frame ids, backend, weights, preprocessing).

    Raises:
        DataError: the backend needs poses / intrinsics the scene does not have.
    """
    if backend.needs_poses and (scene.poses_c2w is None or scene.intrinsics is None):
        raise DataError(
            f"scene {scene.scene_id} ({scene.source}): the {backend.name!r} prior backend needs camera "
            "poses and intrinsics, which are unknown here"
        )

    def inputs() -> dict[str, Any]:
        return {
            "frames": scene.frames if backend.needs_pixels else None,
            "poses_c2w": scene.poses_c2w,
            "intrinsics": scene.intrinsics,
            "image_size_wh": scene.image_size_wh,
        }

    if cache is None:
        return backend.encode(**inputs())
    from loc3r.backends.cache import encode_cached

    return encode_cached(cache, backend, safe_scene_name(scene.scene_id), scene.frame_ids, inputs)
