"""Readers for the common exported ScanNet layouts, and an exporter to the SensReader layout.

Three layouts are read (``data_formats.md`` §1.5); all poses are camera-to-world in the **raw** ScanNet world,
depth is uint16 millimetres (0 = invalid), matrices are 4x4 text written with ``np.savetxt(fmt='%f')``:

``sensreader_export`` -- ScanNet's python ``SensReader/reader.py``::

    <dir>/color/<i>.jpg   <dir>/depth/<i>.png   <dir>/pose/<i>.txt      i = original frame index, not padded
    <dir>/intrinsic/intrinsic_color.txt, intrinsic_depth.txt (+ extrinsic_*.txt)

``posed_images`` -- EmbodiedScan / Video-3D LLM ``generate_image_scannet.py``::

    <dir>/00000.jpg  00000.png  00000.txt      name = original frame index zero-padded to 5 digits
    <dir>/intrinsic.txt (colour)   <dir>/depth_intrinsic.txt

``mmdet3d_posed_images`` -- mmdetection3d ``extract_posed_images.py``::

    <dir>/00000.jpg  00000.txt  intrinsic.txt  name = index in a random frame subset (NOT the original index)

  or its info pickle ``scannet_infos*.pkl`` (``intrinsics``, ``extrinsics`` = camera-to-world per
  ``img_paths``, ``annos.axis_align_matrix``), loaded only through
  ``loc3r.utils.io.restricted_pickle_load``. No depth.

A ``FolderLayout`` is cheap to build: it lists file names; poses are read on first use and images only when
asked for. ``loc3r.data.scannet.scene.load_scene`` wraps it into a ``Scene``.

``export_sensreader_layout`` writes the first layout from a ``.sens`` file (the stored JPEG bytes are copied
unchanged -- ScanNet's exporter re-encodes them -- depth as 16-bit PNG, matrices with ``%f``).
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from loc3r.utils.io import DataError, atomic_write_bytes, atomic_write_text, restricted_pickle_load, safe_join

__all__ = [
    "LAYOUTS",
    "FolderLayout",
    "detect_layout",
    "open_layout",
    "read_sensreader_export",
    "read_posed_images",
    "read_mmdet3d_posed_images",
    "read_mmdet3d_infos",
    "read_matrix_txt",
    "format_matrix_txt",
    "read_depth_png",
    "encode_depth_png",
    "export_sensreader_layout",
]

LAYOUTS = ("sensreader_export", "posed_images", "mmdet3d_posed_images")
_DIGITS_TXT = re.compile(r"^(\d+)\.txt$")


# ---------------------------------------------------------------------------------------------- file helpers
def read_matrix_txt(path: str | os.PathLike) -> np.ndarray:
    """Read a 4x4 matrix written as 16 whitespace-separated numbers (``-inf`` / ``nan`` allowed).

    Raises:
        FileNotFoundError: missing file.
        DataError: not exactly 16 numbers (naming the file).
    """
    path = Path(path)
    toks = path.read_text(encoding="ascii", errors="replace").split()
    try:
        vals = np.array(toks, dtype=np.float64)
    except ValueError as e:
        raise DataError(f"{path}: not a 4x4 matrix of numbers ({e})") from e
    if vals.size != 16:
        raise DataError(f"{path}: expected 16 numbers (a 4x4 matrix), got {vals.size}")
    return vals.reshape(4, 4)


def format_matrix_txt(m: np.ndarray) -> str:
    """Text of a 4x4 matrix exactly as ``np.savetxt(path, m, fmt='%f')`` writes it."""
    m = np.asarray(m, dtype=np.float64).reshape(4, 4)
    return "".join(" ".join(f"{x:f}" for x in row) + "\n" for row in m)


def read_depth_png(path: str | os.PathLike) -> np.ndarray:
    """Read a 16-bit depth PNG as [h, w] uint16 (raw stored units, mm for ScanNet).

    Raises:
        DataError: undecodable file, or not a single-channel 16-bit image.
    """
    from PIL import Image

    path = Path(path)
    try:
        with Image.open(path) as im:
            mode = im.mode
            arr = np.asarray(im)
    except FileNotFoundError:
        raise
    except Exception as e:
        raise DataError(f"{path}: cannot decode depth PNG: {e}") from e
    if mode.startswith("I;16") or (mode == "I" and arr.ndim == 2 and arr.min(initial=0) >= 0
                                    and arr.max(initial=0) <= 65535):
        return arr.astype(np.uint16)
    raise DataError(f"{path}: depth PNG must be single-channel 16-bit, got mode {mode!r}")


def encode_depth_png(depth: np.ndarray, compress_level: int = 6) -> bytes:
    """Encode [h, w] uint16 depth as a 16-bit grayscale PNG."""
    from PIL import Image

    d = np.asarray(depth)
    if d.dtype != np.uint16 or d.ndim != 2:
        raise ValueError(f"depth must be [h, w] uint16, got {d.dtype} {d.shape}")
    buf = io.BytesIO()
    Image.fromarray(d).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def _decode_color_file(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise DataError(f"{path}: colour image missing") from None
    except Exception as e:
        raise DataError(f"{path}: cannot decode colour image: {e}") from e


def _image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the image header only (Pillow opens lazily)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except FileNotFoundError:
        raise DataError(f"{path}: image missing") from None
    except Exception as e:
        raise DataError(f"{path}: cannot read image header: {e}") from e


# ---------------------------------------------------------------------------------------------- layout
@dataclass(eq=False)
class FolderLayout:
    """Frames of one scene stored as image/pose files (one of ``LAYOUTS``).

    Attributes:
        kind: ``"sensreader_export"`` | ``"posed_images"`` | ``"mmdet3d_posed_images"``.
        root: the scene folder.
        frame_index_kind: ``"original"`` (frame ids are ``.sens`` frame indices) or ``"subset"``
            (mmdetection3d: ids are positions in a random frame subset).
        K_color: [4, 4] float64 colour intrinsics.
        K_depth: [4, 4] float64 depth intrinsics, or None (no depth in the layout).
        depth_shift: stored depth units per metre (1000).
        expected_depth_size: (width, height) every depth image must have; None = that of the first frame.
    """

    kind: str
    root: Path
    frame_index_kind: str
    K_color: np.ndarray
    K_depth: np.ndarray | None
    _stems: dict[int, str]
    _pose_paths: dict[int, Path] | None = None  # None when poses come from an info pickle
    _color_paths: dict[int, Path] | None = None  # explicit paths (pickle); else derived from the stem
    _given_poses: np.ndarray | None = None
    depth_shift: float = 1000.0
    expected_depth_size: tuple[int, int] | None = None
    name: str = ""

    def __post_init__(self) -> None:
        """Default ``name`` (used in error messages) to the folder."""
        self.name = self.name or str(self.root)

    # -- frames and poses
    @cached_property
    def frame_ids(self) -> np.ndarray:
        """[M] int64 frame ids present in the layout, ascending (including frames with invalid poses)."""
        return np.array(sorted(self._stems), dtype=np.int64)

    @cached_property
    def poses(self) -> np.ndarray:
        """[M, 4, 4] float64 camera-to-world poses (raw world) of ``frame_ids``, as stored (may be inf)."""
        if self._given_poses is not None:
            return self._given_poses
        assert self._pose_paths is not None
        out = np.empty((len(self.frame_ids), 4, 4), dtype=np.float64)
        for k, fid in enumerate(self.frame_ids.tolist()):
            out[k] = read_matrix_txt(self._pose_paths[fid])
        return out

    def pose_location(self, fid: int) -> str:
        """Where the pose of frame ``fid`` comes from (for error messages)."""
        if self._pose_paths is not None and fid in self._pose_paths:
            return str(self._pose_paths[fid])
        return f"{self.name}: frame {fid}"

    # -- images
    @property
    def has_color(self) -> bool:
        """Whether colour images exist (checked on the first frame's file or folder)."""
        if self._color_paths is not None:
            return True
        return (self.root / "color").is_dir() if self.kind == "sensreader_export" else bool(self._stems)

    @property
    def has_depth(self) -> bool:
        """Whether the layout carries depth images."""
        if self.kind == "sensreader_export":
            return (self.root / "depth").is_dir() and self.K_depth is not None
        return self.kind == "posed_images" and self.K_depth is not None

    def color_path(self, fid: int) -> Path:
        """Path of the colour image of frame ``fid``."""
        if self._color_paths is not None:
            return self._color_paths[fid]
        stem = self._stems[fid]
        if self.kind == "sensreader_export":
            return self.root / "color" / f"{stem}.jpg"
        return self.root / f"{stem}.jpg"

    def depth_path(self, fid: int) -> Path:
        """Path of the depth PNG of frame ``fid``."""
        stem = self._stems[fid]
        if self.kind == "sensreader_export":
            return self.root / "depth" / f"{stem}.png"
        return self.root / f"{stem}.png"

    def _expected_depth_size(self) -> tuple[int, int]:
        if self.expected_depth_size is None:
            self.expected_depth_size = _image_size(self.depth_path(int(self.frame_ids[0])))
        return self.expected_depth_size

    def read(
        self, fids: Sequence[int], color: bool = True, depth: bool = True
    ) -> list[tuple[np.ndarray | None, np.ndarray | None]]:
        """Decode colour ([H, W, 3] uint8) and depth ([h, w] float32 metres) of the given frame ids.

        Raises:
            DataError: unknown frame id, missing/undecodable file, depth not 16-bit or of the wrong size.
        """
        if depth and not self.has_depth:
            raise DataError(f"{self.name}: this {self.kind} layout has no depth images")
        out = []
        for fid in fids:
            fid = int(fid)
            if fid not in self._stems:
                raise DataError(f"{self.name}: frame {fid} is not in this {self.kind} layout")
            rgb = _decode_color_file(self.color_path(fid)) if color else None
            dep = None
            if depth:
                path = self.depth_path(fid)
                if not path.is_file():
                    raise DataError(f"{path}: depth image missing")
                raw = read_depth_png(path)
                w, h = self._expected_depth_size()
                if raw.shape != (h, w):
                    raise DataError(
                        f"{path}: depth is {raw.shape[1]}x{raw.shape[0]}, expected {w}x{h} (wrong size)"
                    )
                dep = raw.astype(np.float32) / np.float32(self.depth_shift)
            out.append((rgb, dep))
        return out


def _list_pose_stems(folder: Path) -> dict[int, str]:
    stems: dict[int, str] = {}
    with os.scandir(folder) as it:
        for e in it:
            m = _DIGITS_TXT.match(e.name)
            if m:
                fid = int(m.group(1))
                if fid in stems:
                    raise DataError(f"{folder}: two pose files for frame {fid} ({stems[fid]}.txt, {e.name})")
                stems[fid] = m.group(1)
    return stems


def detect_layout(path: str | os.PathLike) -> str | None:
    """Which of ``LAYOUTS`` the folder holds, or None (checks file names only)."""
    p = Path(path)
    if not p.is_dir():
        return None
    if (p / "pose").is_dir() and (p / "intrinsic").is_dir():
        return "sensreader_export"
    if (p / "depth_intrinsic.txt").is_file():
        return "posed_images"
    if (p / "intrinsic.txt").is_file():
        return "mmdet3d_posed_images"
    return None


def read_sensreader_export(path: str | os.PathLike, depth_shift: float = 1000.0) -> FolderLayout:
    """Open a ScanNet python-SensReader export (``color/ depth/ pose/ intrinsic/``); see module docstring."""
    root = Path(path)
    intr = root / "intrinsic"
    if not (root / "pose").is_dir() or not intr.is_dir():
        raise FileNotFoundError(f"{root}: not a SensReader export (needs pose/ and intrinsic/ folders)")
    K_color = read_matrix_txt(intr / "intrinsic_color.txt")
    kd_path = intr / "intrinsic_depth.txt"
    K_depth = read_matrix_txt(kd_path) if kd_path.is_file() else None
    stems = _list_pose_stems(root / "pose")
    return FolderLayout(
        kind="sensreader_export", root=root, frame_index_kind="original", K_color=K_color, K_depth=K_depth,
        _stems=stems, _pose_paths={f: root / "pose" / f"{s}.txt" for f, s in stems.items()},
        depth_shift=depth_shift,
    )


def read_posed_images(path: str | os.PathLike, depth_shift: float = 1000.0) -> FolderLayout:
    """Open an EmbodiedScan / Video-3D LLM ``posed_images/<scene>`` folder (names = original frame index)."""
    root = Path(path)
    if not (root / "intrinsic.txt").is_file() or not (root / "depth_intrinsic.txt").is_file():
        raise FileNotFoundError(f"{root}: not an EmbodiedScan posed_images folder "
                                "(needs intrinsic.txt and depth_intrinsic.txt)")
    stems = _list_pose_stems(root)
    return FolderLayout(
        kind="posed_images", root=root, frame_index_kind="original",
        K_color=read_matrix_txt(root / "intrinsic.txt"),
        K_depth=read_matrix_txt(root / "depth_intrinsic.txt"),
        _stems=stems, _pose_paths={f: root / f"{s}.txt" for f, s in stems.items()}, depth_shift=depth_shift,
    )


def read_mmdet3d_posed_images(path: str | os.PathLike) -> FolderLayout:
    """Open an mmdetection3d ``posed_images/<scene>`` folder (``NNNNN.txt`` poses; ids = subset indices)."""
    root = Path(path)
    if not (root / "intrinsic.txt").is_file():
        raise FileNotFoundError(f"{root}: not an mmdetection3d posed_images folder (needs intrinsic.txt)")
    stems = _list_pose_stems(root)
    return FolderLayout(
        kind="mmdet3d_posed_images", root=root, frame_index_kind="subset",
        K_color=read_matrix_txt(root / "intrinsic.txt"), K_depth=None,
        _stems=stems, _pose_paths={f: root / f"{s}.txt" for f, s in stems.items()},
    )


def read_mmdet3d_infos(
    infos_pkl: str | os.PathLike, scene_id: str | None = None, data_root: str | os.PathLike | None = None
) -> tuple[FolderLayout, dict[str, Any]]:
    """Open one scene of an mmdetection3d ``scannet_infos*.pkl`` (restricted unpickler only).

    Args:
        infos_pkl: the info pickle (a list of scene dicts).
        scene_id: which scene (``point_cloud.lidar_idx``); may be omitted when the pickle holds one scene.
        data_root: folder the ``img_paths`` are relative to (default: the pickle's folder).

    Returns:
        (layout, info): the ``FolderLayout`` (ids = the numbers in the jpg names, poses = ``extrinsics``,
        ``K_color`` = ``intrinsics``) and the raw scene dict (``annos.axis_align_matrix`` etc.).

    Raises:
        DataError: unsafe/malformed pickle, unknown scene, or inconsistent ``img_paths`` / ``extrinsics``.
    """
    infos_pkl = Path(infos_pkl)
    root = Path(data_root) if data_root is not None else infos_pkl.parent
    infos = restricted_pickle_load(infos_pkl)
    if isinstance(infos, dict) and "data_list" in infos:
        infos = infos["data_list"]
    if not isinstance(infos, list):
        raise DataError(f"{infos_pkl}: expected a list of scene dicts, got {type(infos).__name__}")

    def sid(info: dict) -> str:
        return str(info.get("point_cloud", {}).get("lidar_idx", ""))

    if scene_id is None:
        if len(infos) != 1:
            raise DataError(f"{infos_pkl}: holds {len(infos)} scenes; pass scene_id")
        info = infos[0]
    else:
        matches = [i for i in infos if sid(i) == scene_id]
        if not matches:
            raise DataError(f"{infos_pkl}: no scene {scene_id!r}")
        info = matches[0]
    try:
        img_paths = [str(p) for p in info["img_paths"]]
        extr = np.asarray(info["extrinsics"], dtype=np.float64).reshape(-1, 4, 4)
        K = np.asarray(info["intrinsics"], dtype=np.float64).reshape(4, 4)
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(
            f"{infos_pkl}: scene {sid(info)!r} lacks img_paths/extrinsics/intrinsics ({e!r})"
        ) from e
    if len(img_paths) != len(extr):
        raise DataError(f"{infos_pkl}: {len(img_paths)} img_paths but {len(extr)} extrinsics")
    stems: dict[int, str] = {}
    color_paths: dict[int, Path] = {}
    poses: dict[int, np.ndarray] = {}
    for p, T in zip(img_paths, extr, strict=True):
        stem = Path(p).stem
        if not stem.isdigit():
            raise DataError(f"{infos_pkl}: image name {p!r} is not a frame number")
        fid = int(stem)
        if fid in stems:
            raise DataError(f"{infos_pkl}: frame {fid} listed twice")
        stems[fid] = stem
        color_paths[fid] = safe_join(root, p)
        poses[fid] = T
    ids = sorted(stems)
    layout = FolderLayout(
        kind="mmdet3d_posed_images",
        root=color_paths[ids[0]].parent if ids else root,
        frame_index_kind="subset", K_color=K, K_depth=None, _stems=stems, _color_paths=color_paths,
        _given_poses=np.stack([poses[f] for f in ids]) if ids else np.zeros((0, 4, 4)),
        name=f"{infos_pkl} [{sid(info)}]",
    )
    return layout, info


def open_layout(path: str | os.PathLike, kind: str | None = None) -> FolderLayout:
    """Open a layout folder, detecting its kind unless ``kind`` is given.

    Raises:
        FileNotFoundError: the folder is missing or holds none of ``LAYOUTS``.
    """
    p = Path(path)
    if not p.is_dir():
        raise FileNotFoundError(f"no scene folder at {p}")
    kind = kind or detect_layout(p)
    if kind == "sensreader_export":
        return read_sensreader_export(p)
    if kind == "posed_images":
        return read_posed_images(p)
    if kind == "mmdet3d_posed_images":
        return read_mmdet3d_posed_images(p)
    raise FileNotFoundError(
        f"{p}: no known ScanNet layout (expected <scene>.sens + <scene>.txt, a SensReader export with "
        "pose/ and intrinsic/, or posed_images with intrinsic.txt)"
    )


# ---------------------------------------------------------------------------------------------- export
def export_sensreader_layout(
    sens_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    frame_indices: Iterable[int] | None = None,
    *,
    color: bool = True,
    depth: bool = True,
    poses: bool = True,
    intrinsics: bool = True,
    png_compress_level: int = 1,
    allow_truncated: bool = False,
) -> int:
    """Export frames of a ``.sens`` file in the ScanNet python-SensReader layout.

    Writes ``color/<i>.jpg`` (the stored JPEG bytes, unchanged; other colour compressions are encoded to JPEG
    at quality 95), ``depth/<i>.png`` (16-bit PNG of the stored uint16 depth), ``pose/<i>.txt``
    (camera-to-world, ``%f``; lost tracking stays ``-inf``) and
    ``intrinsic/{intrinsic,extrinsic}_{color,depth}.txt``. Names are original frame indices without padding.
    Every file is written atomically.

    Args:
        sens_path: the ``.sens`` file.
        out_dir: output folder (created).
        frame_indices: frames to export (default all); duplicates are written once.
        color: write ``color/<i>.jpg``.
        depth: write ``depth/<i>.png``.
        poses: write ``pose/<i>.txt``.
        intrinsics: write ``intrinsic/*.txt``.
        png_compress_level: zlib level of the depth PNGs (0-9; 1 is ~4x faster than 6 for ~10% larger files).
        allow_truncated: export the complete frames of a truncated file.

    Returns:
        number of frames exported.
    """
    from PIL import Image

    from .sens import SensReader, _decode_color, _decode_depth

    reader = SensReader(sens_path, allow_truncated=allow_truncated)
    out = Path(out_dir)
    ids = range(reader.num_frames) if frame_indices is None else sorted({int(i) for i in frame_indices})
    ids = [reader._check_index(i) for i in ids]
    if intrinsics:
        h = reader.header
        for name, m in (("intrinsic_color", h.intrinsic_color), ("extrinsic_color", h.extrinsic_color),
                        ("intrinsic_depth", h.intrinsic_depth), ("extrinsic_depth", h.extrinsic_depth)):
            atomic_write_text(safe_join(out, "intrinsic", f"{name}.txt"), format_matrix_txt(m))
    with open(reader.path, "rb") as f:
        for i in ids:
            if poses:
                atomic_write_text(safe_join(out, "pose", f"{i}.txt"), format_matrix_txt(reader.poses[i]))
            if not (color or depth):
                continue
            cblob, dblob = reader._read_blobs(f, i, color, depth)
            where = f"{reader.path}: frame {i}"
            if color:
                if reader.header.color_compression == "jpeg":
                    jpg = cblob
                else:
                    buf = io.BytesIO()
                    Image.fromarray(_decode_color(cblob, reader.header, where)).save(buf, "JPEG", quality=95)
                    jpg = buf.getvalue()
                atomic_write_bytes(safe_join(out, "color", f"{i}.jpg"), jpg)
            if depth:
                raw = _decode_depth(dblob, reader.header, where)
                png = encode_depth_png(raw, png_compress_level)
                atomic_write_bytes(safe_join(out, "depth", f"{i}.png"), png)
    return len(ids)
