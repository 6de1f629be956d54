"""Reader and writer for ScanNet ``.sens`` files (version 4), decoding only the frames you ask for.

Layout (ScanNet ``SensReader/python/SensorData.py``; all little-endian)::

    header  uint32 version (= 4) | uint64 strlen | char[strlen] sensor_name
            float32[16] intrinsic_color | float32[16] extrinsic_color      (row-major 4x4)
            float32[16] intrinsic_depth | float32[16] extrinsic_depth
            int32 color_compression  {-1 unknown, 0 raw, 1 png, 2 jpeg}         (ScanNet: jpeg)
            int32 depth_compression  {-1 unknown, 0 raw_ushort, 1 zlib_ushort, 2 occi_ushort}  (ScanNet: zlib)
            uint32 color_width, color_height, depth_width, depth_height
            float32 depth_shift | uint64 num_frames
    frame   float32[16] camera_to_world | uint64 timestamp_color | uint64 timestamp_depth
            uint64 color_size_bytes | uint64 depth_size_bytes | color bytes | depth bytes
    tail    uint64 num_imu_frames + IMU records (ignored on read; written as 0 IMU frames)

Design choices:

* ``SensReader(path)`` reads the header and builds a per-frame offset index by *seeking over* the compressed
  blobs (96 bytes read per frame), so opening a 1.5 GB scan costs milliseconds and no decoding.
* Every read opens the file anew: a reader holds no file handle, is picklable and safe in DataLoader workers.
* Camera poses are returned as stored (raw ScanNet world, camera-to-world, OpenCV camera axes). Lost tracking
  is stored as ``-inf``; such poses are kept as they are and flagged by ``valid_pose_mask`` -- callers (see
  ``loc3r.data.scannet.scene``) drop them.
* Depth is returned as float32 metres (``uint16 / depth_shift``, 0 = invalid); ``read_depth_raw`` gives the
  stored uint16 values.

Example::

    reader = SensReader("scans/scene0000_00/scene0000_00.sens")
    frames = reader.read_frames([0, 10, 20])          # decodes exactly three frames
    frames[0].color.shape, frames[0].depth_m.shape    # (968, 1296, 3), (480, 640)
"""

from __future__ import annotations

import io
import logging
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from loc3r.utils.io import DataError, atomic_write

__all__ = [
    "SENS_VERSION",
    "COLOR_COMPRESSION",
    "DEPTH_COMPRESSION",
    "SensHeader",
    "SensFrame",
    "SensReader",
    "write_sens",
]

logger = logging.getLogger(__name__)

SENS_VERSION = 4
#: ``.sens`` colour compression codes (ScanNet ``COMPRESSION_TYPE_COLOR``).
COLOR_COMPRESSION = {-1: "unknown", 0: "raw", 1: "png", 2: "jpeg"}
#: ``.sens`` depth compression codes (ScanNet ``COMPRESSION_TYPE_DEPTH``).
DEPTH_COMPRESSION = {-1: "unknown", 0: "raw_ushort", 1: "zlib_ushort", 2: "occi_ushort"}
_COLOR_CODE = {v: k for k, v in COLOR_COMPRESSION.items()}
_DEPTH_CODE = {v: k for k, v in DEPTH_COMPRESSION.items()}

# struct layouts (little-endian, no padding)
_CALIB = struct.Struct("<64f")  # four row-major 4x4 float32 matrices
_CODES = struct.Struct("<ii4IfQ")  # compressions, sizes, depth_shift, num_frames
_FRAME = struct.Struct("<16f4Q")  # camera_to_world, timestamps, blob sizes (96 bytes)
_MAX_SENSOR_NAME = 1 << 16  # a longer name means a corrupt header


@dataclass(frozen=True)
class SensHeader:
    """Parsed ``.sens`` header (sizes in pixels, matrices row-major float64 4x4).

    Attributes:
        version: file version (always 4 here).
        sensor_name: e.g. ``"StructureSensor"``.
        intrinsic_color: [4, 4] colour intrinsics ``[[fx,0,cx,0],[0,fy,cy,0],[0,0,1,0],[0,0,0,1]]``.
        extrinsic_color: [4, 4] (identity in ScanNet).
        intrinsic_depth: [4, 4] depth intrinsics (for the ``depth_width x depth_height`` grid).
        extrinsic_depth: [4, 4] (identity in ScanNet).
        color_compression: ``"raw" | "png" | "jpeg" | "unknown"``.
        depth_compression: ``"raw_ushort" | "zlib_ushort" | "occi_ushort" | "unknown"``.
        color_width, color_height, depth_width, depth_height: image sizes in pixels.
        depth_shift: stored depth units per metre (1000 = millimetres).
        num_frames: number of frames the header declares.
    """

    version: int
    sensor_name: str
    intrinsic_color: np.ndarray
    extrinsic_color: np.ndarray
    intrinsic_depth: np.ndarray
    extrinsic_depth: np.ndarray
    color_compression: str
    depth_compression: str
    color_width: int
    color_height: int
    depth_width: int
    depth_height: int
    depth_shift: float
    num_frames: int


@dataclass(frozen=True, eq=False)
class SensFrame:
    """One decoded ``.sens`` frame.

    Attributes:
        index: frame index in the file (0-based; ScanNet's "original frame index").
        color: [H, W, 3] uint8 RGB (``color_height x color_width``), or None when not requested.
        depth_m: [h, w] float32 depth in metres (0 = invalid), or None when not requested.
        camera_to_world: [4, 4] float64 pose as stored (raw world; may hold ``-inf`` for lost tracking).
        timestamp_color, timestamp_depth: stored timestamps (sensor units).
    """

    index: int
    color: np.ndarray | None
    depth_m: np.ndarray | None
    camera_to_world: np.ndarray
    timestamp_color: int
    timestamp_depth: int


class SensReader:
    """Random-access reader of a ScanNet ``.sens`` file (header + frame index; decoding on demand).

    Args:
        path: the ``.sens`` file.
        allow_truncated: when the file ends inside frame k (an interrupted download), keep frames ``0..k-1``
            instead of raising; ``truncated`` is then True and ``num_frames_declared`` holds the header count.

    Attributes:
        path: the file.
        header: the parsed ``SensHeader``.
        num_frames: number of complete, readable frames.
        num_frames_declared: number of frames the header declares.
        truncated: True when fewer frames are readable than declared (only with ``allow_truncated``).
        poses: [N, 4, 4] float64 camera-to-world poses as stored (raw world frame; non-finite kept).
        timestamps: [N, 2] uint64 (colour, depth) timestamps.

    Raises:
        FileNotFoundError: the file does not exist.
        DataError: wrong version, invalid compression code, corrupt or truncated file (naming file and frame).
    """

    def __init__(self, path: str | os.PathLike, allow_truncated: bool = False) -> None:
        """Parse the header and index the frames (no decoding)."""
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no .sens file at {self.path}")
        with open(self.path, "rb", buffering=0) as f:
            file_size = os.fstat(f.fileno()).st_size
            self.header, pos = self._read_header(f, file_size)
            self._build_index(f, pos, file_size, allow_truncated)

    # ------------------------------------------------------------------------------------------ parsing
    def _fail(self, msg: str) -> DataError:
        return DataError(f"{self.path}: {msg}")

    def _read_exact(self, f, n: int, what: str) -> bytes:
        data = f.read(n)
        if len(data) != n:
            raise self._fail(f"file is truncated inside the {what} (needed {n} bytes, got {len(data)})")
        return data

    def _read_header(self, f, file_size: int) -> tuple[SensHeader, int]:
        (version,) = struct.unpack("<I", self._read_exact(f, 4, "header"))
        if version != SENS_VERSION:
            raise self._fail(f"unsupported .sens version {version} (expected {SENS_VERSION})")
        (strlen,) = struct.unpack("<Q", self._read_exact(f, 8, "header"))
        if strlen > _MAX_SENSOR_NAME or strlen > file_size:
            raise self._fail(f"corrupt header: sensor name length {strlen}")
        name = self._read_exact(f, strlen, "header").decode("utf-8", errors="replace")
        calib = np.array(_CALIB.unpack(self._read_exact(f, _CALIB.size, "header")), dtype=np.float64)
        calib = calib.reshape(4, 4, 4)
        cc, dc, cw, ch, dw, dh, shift, n = _CODES.unpack(self._read_exact(f, _CODES.size, "header"))
        if cc not in COLOR_COMPRESSION:
            raise self._fail(f"invalid colour compression code {cc} (valid: {sorted(COLOR_COMPRESSION)})")
        if dc not in DEPTH_COMPRESSION:
            raise self._fail(f"invalid depth compression code {dc} (valid: {sorted(DEPTH_COMPRESSION)})")
        if not np.isfinite(shift) or shift <= 0:
            raise self._fail(f"invalid depth_shift {shift}")
        header = SensHeader(
            version=version,
            sensor_name=name,
            intrinsic_color=calib[0],
            extrinsic_color=calib[1],
            intrinsic_depth=calib[2],
            extrinsic_depth=calib[3],
            color_compression=COLOR_COMPRESSION[cc],
            depth_compression=DEPTH_COMPRESSION[dc],
            color_width=cw,
            color_height=ch,
            depth_width=dw,
            depth_height=dh,
            depth_shift=float(shift),
            num_frames=n,
        )
        return header, 4 + 8 + strlen + _CALIB.size + _CODES.size

    def _build_index(self, f, pos: int, file_size: int, allow_truncated: bool) -> None:
        declared = self.header.num_frames
        # A frame needs at least its 96-byte record, so a corrupt count cannot make us allocate wildly.
        cap = min(declared, max(0, (file_size - pos) // _FRAME.size))
        poses = np.empty((cap, 16), dtype=np.float64)
        stamps = np.empty((cap, 2), dtype=np.uint64)
        offsets = np.empty((cap, 3), dtype=np.int64)  # color offset, color size, depth size
        n_ok = 0
        problem = None
        for i in range(declared):
            if pos + _FRAME.size > file_size:
                problem = f"file is truncated at frame {i} of {declared} (frame record missing)"
                break
            f.seek(pos)
            rec = _FRAME.unpack(f.read(_FRAME.size))
            csize, dsize = rec[18], rec[19]
            end = pos + _FRAME.size + csize + dsize
            if end > file_size:
                problem = (
                    f"file is truncated at frame {i} of {declared} (its colour/depth data of "
                    f"{csize}+{dsize} bytes ends past the end of the file)"
                )
                break
            poses[i] = rec[:16]
            stamps[i] = rec[16:18]
            offsets[i] = (pos + _FRAME.size, csize, dsize)
            pos = end
            n_ok = i + 1
        if problem is not None:
            if not allow_truncated:
                raise self._fail(problem + "; pass allow_truncated=True to read the complete frames")
            logger.warning("%s: %s; keeping the %d complete frames", self.path, problem, n_ok)
        self.num_frames_declared = declared
        self.num_frames = n_ok
        self.truncated = n_ok < declared
        self.poses = poses[:n_ok].reshape(n_ok, 4, 4)
        self.timestamps = stamps[:n_ok]
        self._offsets = offsets[:n_ok]

    # ------------------------------------------------------------------------------------------ properties
    @property
    def intrinsic_color(self) -> np.ndarray:
        """[4, 4] float64 colour intrinsics (calibrated values from the header)."""
        return self.header.intrinsic_color

    @property
    def intrinsic_depth(self) -> np.ndarray:
        """[4, 4] float64 depth intrinsics."""
        return self.header.intrinsic_depth

    @property
    def color_size(self) -> tuple[int, int]:
        """(width, height) of the colour images in pixels."""
        return self.header.color_width, self.header.color_height

    @property
    def depth_size(self) -> tuple[int, int]:
        """(width, height) of the depth images in pixels."""
        return self.header.depth_width, self.header.depth_height

    @property
    def depth_shift(self) -> float:
        """Stored depth units per metre (1000: millimetres)."""
        return self.header.depth_shift

    @property
    def valid_pose_mask(self) -> np.ndarray:
        """[N] bool: poses whose 16 values are all finite (lost tracking is stored as ``-inf``).

        Rigidity is not checked here; ``loc3r.data.scannet.scene`` does the full check.
        """
        return np.isfinite(self.poses).all(axis=(1, 2))

    def __len__(self) -> int:
        """Number of readable frames."""
        return self.num_frames

    def __repr__(self) -> str:
        """Short description: path, frame count, sizes and compressions."""
        h = self.header
        return (
            f"SensReader({str(self.path)!r}, frames={self.num_frames}, "
            f"color={h.color_width}x{h.color_height} {h.color_compression}, "
            f"depth={h.depth_width}x{h.depth_height} {h.depth_compression})"
        )

    # ------------------------------------------------------------------------------------------ reading
    def _check_index(self, index: int) -> int:
        i = int(index)
        if i != index or not 0 <= i < self.num_frames:
            extra = f" (header declares {self.num_frames_declared}; file truncated)" if self.truncated else ""
            raise self._fail(f"frame {index} out of range: the file has {self.num_frames} frames{extra}")
        return i

    def _read_blobs(self, f, i: int, color: bool, depth: bool) -> tuple[bytes | None, bytes | None]:
        off, csize, dsize = (int(x) for x in self._offsets[i])
        cblob = dblob = None
        if color and depth:
            f.seek(off)
            both = f.read(csize + dsize)
            cblob, dblob = both[:csize], both[csize:]
        elif color:
            f.seek(off)
            cblob = f.read(csize)
        elif depth:
            f.seek(off + csize)
            dblob = f.read(dsize)
        return cblob, dblob

    def read_color_blob(self, index: int) -> bytes:
        """The stored (compressed) colour bytes of one frame, e.g. the original JPEG."""
        i = self._check_index(index)
        with open(self.path, "rb") as f:
            return self._read_blobs(f, i, True, False)[0]

    def read_depth_raw(self, index: int) -> np.ndarray:
        """[h, w] uint16 stored depth of one frame (units of ``1 / depth_shift`` metres; 0 = invalid)."""
        i = self._check_index(index)
        with open(self.path, "rb") as f:
            blob = self._read_blobs(f, i, False, True)[1]
        return _decode_depth(blob, self.header, f"{self.path}: frame {i}")

    def read_frames(
        self, indices: Iterable[int], color: bool = True, depth: bool = True
    ) -> list[SensFrame]:
        """Decode exactly the requested frames (in the order given; repeats allowed).

        Args:
            indices: frame indices in ``[0, num_frames)``.
            color: decode the colour images ([H, W, 3] uint8 RGB).
            depth: decode the depth images ([h, w] float32 metres).

        Returns:
            list of ``SensFrame``, one per requested index.

        Raises:
            DataError: index out of range, undecodable blob, or image of the wrong size (naming file, frame).
        """
        idx = [self._check_index(i) for i in indices]
        # Sorted reads keep the disk access sequential; results go back in request order.
        order = sorted(range(len(idx)), key=lambda k: idx[k])
        frames: list[SensFrame | None] = [None] * len(idx)
        with open(self.path, "rb") as f:
            for k in order:
                i = idx[k]
                cblob, dblob = self._read_blobs(f, i, color, depth)
                where = f"{self.path}: frame {i}"
                rgb = _decode_color(cblob, self.header, where) if color else None
                dep = None
                if depth:
                    dep = _decode_depth(dblob, self.header, where).astype(np.float32)
                    dep /= np.float32(self.header.depth_shift)
                frames[k] = SensFrame(
                    index=i,
                    color=rgb,
                    depth_m=dep,
                    camera_to_world=self.poses[i].copy(),
                    timestamp_color=int(self.timestamps[i, 0]),
                    timestamp_depth=int(self.timestamps[i, 1]),
                )
        return frames  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------- codecs
def _decode_color(blob: bytes, header: SensHeader, where: str) -> np.ndarray:
    """Decode one colour blob to [H, W, 3] uint8 RGB and check it against the header size."""
    w, h = header.color_width, header.color_height
    comp = header.color_compression
    if comp == "raw":
        if len(blob) != w * h * 3:
            raise DataError(f"{where}: raw colour has {len(blob)} bytes, header says {w}x{h}x3 = {w * h * 3}")
        return np.frombuffer(blob, dtype=np.uint8).reshape(h, w, 3).copy()
    if comp not in ("jpeg", "png"):
        raise DataError(f"{where}: colour compression {comp!r} is not supported (raw, png, jpeg are)")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(blob)) as im:
            rgb = np.asarray(im.convert("RGB"))
    except Exception as e:  # Pillow raises several types for corrupt data
        raise DataError(f"{where}: cannot decode {comp} colour image: {e}") from e
    if rgb.shape != (h, w, 3):
        raise DataError(f"{where}: colour image is {rgb.shape[1]}x{rgb.shape[0]}, header says {w}x{h}")
    return rgb


def _decode_depth(blob: bytes, header: SensHeader, where: str) -> np.ndarray:
    """Decode one depth blob to [h, w] uint16 and check it against the header size."""
    w, h = header.depth_width, header.depth_height
    comp = header.depth_compression
    if comp == "zlib_ushort":
        try:
            raw = zlib.decompress(blob)
        except zlib.error as e:
            raise DataError(f"{where}: cannot decompress zlib depth: {e}") from e
    elif comp == "raw_ushort":
        raw = blob
    else:
        raise DataError(f"{where}: depth compression {comp!r} is not supported (raw_ushort, zlib_ushort are)")
    if len(raw) != w * h * 2:
        raise DataError(
            f"{where}: depth has {len(raw)} bytes, header says {w}x{h} uint16 = {w * h * 2} bytes "
            "(wrong size)"
        )
    return np.frombuffer(raw, dtype="<u2").reshape(h, w).astype(np.uint16)


def _encode_color(img: np.ndarray | bytes, compression: str, quality: int, size: tuple[int, int], i: int):
    """Encode one colour frame (or pass pre-encoded bytes through) and check its size."""
    w, h = size
    if isinstance(img, (bytes, bytearray, memoryview)):
        if compression == "raw":
            if len(img) != w * h * 3:
                raise ValueError(f"frame {i}: raw colour bytes have length {len(img)}, expected {w * h * 3}")
            return bytes(img)
        from PIL import Image

        with Image.open(io.BytesIO(img)) as im:
            if im.size != (w, h):
                raise ValueError(f"frame {i}: pre-encoded colour image is {im.size}, expected {(w, h)}")
        return bytes(img)
    a = np.asarray(img)
    if a.dtype != np.uint8 or a.shape != (h, w, 3):
        raise ValueError(f"frame {i}: colour must be uint8 [{h}, {w}, 3], got {a.dtype} {a.shape}")
    if compression == "raw":
        return np.ascontiguousarray(a).tobytes()
    from PIL import Image

    buf = io.BytesIO()
    if compression == "jpeg":
        Image.fromarray(a).save(buf, format="JPEG", quality=quality)
    else:
        Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def _as_4x4(m, name: str) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    if m.shape == (3, 3):
        out = np.eye(4)
        out[:3, :3] = m
        return out
    if m.shape != (4, 4):
        raise ValueError(f"{name} must be 3x3 or 4x4, got {m.shape}")
    return m


def _image_size(img, i: int) -> tuple[int, int]:
    if isinstance(img, (bytes, bytearray, memoryview)):
        from PIL import Image

        with Image.open(io.BytesIO(img)) as im:
            return im.size
    a = np.asarray(img)
    if a.ndim < 2:
        raise ValueError(f"frame {i}: image must be 2-D or 3-D, got shape {a.shape}")
    return a.shape[1], a.shape[0]


def write_sens(
    path: str | os.PathLike,
    colors: Sequence[np.ndarray | bytes],
    depths_mm: Sequence[np.ndarray],
    poses: np.ndarray,
    intrinsic_color: np.ndarray,
    intrinsic_depth: np.ndarray,
    sensor_name: str = "StructureSensor",
    depth_shift: float = 1000.0,
    timestamps: np.ndarray | None = None,
    jpeg_quality: int = 90,
    *,
    extrinsic_color: np.ndarray | None = None,
    extrinsic_depth: np.ndarray | None = None,
    color_compression: str = "jpeg",
    depth_compression: str = "zlib_ushort",
    color_size: tuple[int, int] | None = None,
    depth_size: tuple[int, int] | None = None,
) -> None:
    """Write a version-4 ``.sens`` file atomically (temp file + rename), streaming frame by frame.

    Args:
        path: output file.
        colors: N colour frames, each [H, W, 3] uint8 RGB or pre-encoded bytes in ``color_compression``
            (e.g. JPEG bytes, written unchanged).
        depths_mm: N depth frames, each [h, w] uint16 in units of ``1 / depth_shift`` m (mm for 1000);
            0 = invalid.
        poses: [N, 4, 4] camera-to-world (raw world frame), stored as float32; ``-inf`` marks lost tracking.
        intrinsic_color: 3x3 or 4x4 colour intrinsics.
        intrinsic_depth: 3x3 or 4x4 depth intrinsics.
        sensor_name: header sensor name.
        depth_shift: depth units per metre.
        timestamps: [N] (used for colour and depth) or [N, 2] non-negative integers; default all 0.
        jpeg_quality: Pillow JPEG quality for frames given as arrays.
        extrinsic_color: 4x4 (default identity, as in ScanNet).
        extrinsic_depth: 4x4 (default identity, as in ScanNet).
        color_compression: ``"jpeg"`` (ScanNet), ``"png"`` or ``"raw"``.
        depth_compression: ``"zlib_ushort"`` (ScanNet) or ``"raw_ushort"``.
        color_size: (width, height); needed only when N = 0, otherwise checked against the frames.
        depth_size: (width, height); likewise.

    Raises:
        ValueError: inconsistent inputs (frame counts, image sizes or dtypes, matrix shapes).
    """
    if color_compression not in ("jpeg", "png", "raw"):
        raise ValueError(f"color_compression must be jpeg, png or raw, got {color_compression!r}")
    if depth_compression not in ("zlib_ushort", "raw_ushort"):
        raise ValueError(f"depth_compression must be zlib_ushort or raw_ushort, got {depth_compression!r}")
    poses = np.asarray(poses, dtype=np.float64)
    n = len(colors)
    if len(depths_mm) != n or poses.shape != (n, 4, 4):
        raise ValueError(
            f"need N colours, N depths and [N, 4, 4] poses; got {n}, {len(depths_mm)}, {poses.shape}"
        )
    if timestamps is None:
        stamps = np.zeros((n, 2), dtype=np.uint64)
    else:
        t = np.asarray(timestamps)
        if t.shape == (n,):
            t = np.stack([t, t], axis=1)
        if t.shape != (n, 2) or (t < 0).any():
            raise ValueError(f"timestamps must be [N] or [N, 2] non-negative, got shape {t.shape}")
        stamps = t.astype(np.uint64)
    if n:
        csize = _image_size(colors[0], 0)
        dsize = _image_size(depths_mm[0], 0)
        if color_size is not None and tuple(color_size) != csize:
            raise ValueError(f"color_size {color_size} does not match the first frame {csize}")
        if depth_size is not None and tuple(depth_size) != dsize:
            raise ValueError(f"depth_size {depth_size} does not match the first frame {dsize}")
    elif color_size is None or depth_size is None:
        raise ValueError("color_size and depth_size are required when writing 0 frames")
    else:
        csize, dsize = tuple(color_size), tuple(depth_size)
    calib = np.stack(
        [
            _as_4x4(intrinsic_color, "intrinsic_color"),
            _as_4x4(np.eye(4) if extrinsic_color is None else extrinsic_color, "extrinsic_color"),
            _as_4x4(intrinsic_depth, "intrinsic_depth"),
            _as_4x4(np.eye(4) if extrinsic_depth is None else extrinsic_depth, "extrinsic_depth"),
        ]
    )
    name = sensor_name.encode("utf-8")
    with atomic_write(path, "wb") as f:
        f.write(struct.pack("<IQ", SENS_VERSION, len(name)))
        f.write(name)
        f.write(calib.astype("<f4").tobytes())
        f.write(
            _CODES.pack(
                _COLOR_CODE[color_compression], _DEPTH_CODE[depth_compression],
                csize[0], csize[1], dsize[0], dsize[1], float(depth_shift), n,
            )
        )
        for i in range(n):
            cblob = _encode_color(colors[i], color_compression, jpeg_quality, csize, i)
            d = np.asarray(depths_mm[i])
            if d.dtype != np.uint16 or d.shape != (dsize[1], dsize[0]):
                raise ValueError(
                    f"frame {i}: depth must be uint16 [{dsize[1]}, {dsize[0]}], got {d.dtype} {d.shape}"
                )
            draw = np.ascontiguousarray(d, dtype="<u2").tobytes()
            dblob = zlib.compress(draw) if depth_compression == "zlib_ushort" else draw
            f.write(poses[i].astype("<f4").tobytes())
            f.write(struct.pack("<4Q", int(stamps[i, 0]), int(stamps[i, 1]), len(cblob), len(dblob)))
            f.write(cblob)
            f.write(dblob)
        f.write(struct.pack("<Q", 0))  # no IMU frames
