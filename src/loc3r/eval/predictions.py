"""The predictions file: JSONL written by ``loc3r predict`` (or any model) and read by ``loc3r score``.

Format (UTF-8, one JSON object per line, no NaN/Infinity):

* line 1, the **header**::

    {"format": "loc3r-predictions", "version": 1, "benchmark": "sqa3d", "created": "2025-...Z",
     "loc3r_version": "0.1.0", "commit": "abc123" | null, "settings": {...generation config...}}

* then one line per sample::

    {"id": "220602000002", "benchmark": "sqa3d",
     "raw_output": "the piano.",          # the model's generated text (or null)
     "answer": "piano",                   # the text the benchmark scores (null -> raw_output is scored)
     "pose_bev": {"x": 0.4, "y": -1.2, "heading": 0.3} | [up to 3 such guesses] | null,
     "pose_dataset": {"x": .., "y": .., "heading": .., "frame": "sqa3d"} | [...] | null,
     "bev_anchor": {"first_frame_pose": [[4x4]], "world_frame": "raw", "axis_alignment": [[4x4]] | null,
                    "scene_center_raw": [3] | null} | null,
     "record": {...unified Record...} | null,   # ground truth embedded (optional)
     "extra": {...}}                             # anything else, kept verbatim

Poses: metres; ``heading`` is always the **facing heading** ``atan2(f_y, f_x)`` of the direction the agent
looks, in radians, in the pose's frame (for SQA3D the stored quaternion yaw is ``heading - pi``;
``loc3r.geometry.frames``). ``pose_bev`` is in the first-frame BEV frame; ``bev_anchor`` holds what maps it to
the dataset frame: the first selected frame's camera-to-world pose (in ``world_frame``: ``"raw"`` ScanNet or
``"aligned"``), the scene's ``axisAlignment`` (when needed) and the bounding-box centre of the raw mesh (for
SQA3D). ``pose_dataset``, when present, takes precedence over ``pose_bev``.

Writing is append-only (``PredictionWriter``: one flushed line per sample, so an interrupted run can be
resumed with ``resume=True``); ``write_predictions`` writes a whole file atomically. ``read_predictions``
validates every line and names ``<file>:<line>`` in its errors.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from loc3r import __version__
from loc3r.data.schema import Record
from loc3r.data.sources.convert import record_from_json
from loc3r.utils.io import DataError, atomic_write

__all__ = [
    "PREDICTIONS_FORMAT",
    "PREDICTIONS_VERSION",
    "POSE_FRAMES",
    "PredictionsHeader",
    "PosePrediction",
    "BevAnchor",
    "Prediction",
    "read_predictions",
    "write_predictions",
    "PredictionWriter",
]

PREDICTIONS_FORMAT = "loc3r-predictions"
PREDICTIONS_VERSION = 1
#: Frames a predicted pose can be expressed in.
POSE_FRAMES = ("bev", "sqa3d", "raw", "aligned")
_MAX_GUESSES = 3
_SAMPLE_KEYS = ("id", "benchmark", "raw_output", "answer", "pose_bev", "pose_dataset", "bev_anchor", "record",
                "extra")


def _dumps(obj: Any) -> str:
    try:
        return json.dumps(obj, ensure_ascii=False, allow_nan=False)
    except ValueError as e:
        raise ValueError(f"prediction is not valid JSON (NaN or infinity?): {e}") from e


def _number(v: Any, what: str, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise DataError(f"{where}: {what} must be a finite number, got {v!r}")
    return float(v)


def _matrix(v: Any, shape: tuple[int, ...], what: str, where: str) -> np.ndarray:
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise DataError(f"{where}: {what} must be a numeric array of shape {list(shape)}") from e
    if a.shape != shape or not np.all(np.isfinite(a)):
        raise DataError(f"{where}: {what} must be a finite array of shape {list(shape)}, "
                        f"got shape {list(a.shape)}")
    return a


def _as_list(a: np.ndarray | None) -> list | None:
    return None if a is None else np.asarray(a).tolist()


# --------------------------------------------------------------------------------------------- header
@dataclass(frozen=True)
class PredictionsHeader:
    """First line of a predictions file.

    Attributes:
        benchmark: benchmark name (``sqa3d``, ``sqa3d-loc``, ``scanqa``, ``vsibench``, ``msqa``, ``beacon3d``,
            ``synthetic``).
        settings: the generation settings (model, checkpoint, frames, decoding, ...), JSON-ready.
        commit: source revision the predictions were made with, if known.
        created: ISO-8601 UTC time of creation.
        loc3r_version: package version.
    """

    benchmark: str
    settings: dict[str, Any] = field(default_factory=dict)
    commit: str | None = None
    created: str = ""
    loc3r_version: str = __version__

    @classmethod
    def new(cls, benchmark: str, settings: dict[str, Any] | None = None,
            commit: str | None = None) -> "PredictionsHeader":
        """A header stamped with the current UTC time and package version."""
        now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return cls(benchmark=benchmark, settings=dict(settings or {}), commit=commit, created=now)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the header line)."""
        return {"format": PREDICTIONS_FORMAT, "version": PREDICTIONS_VERSION, "benchmark": self.benchmark,
                "created": self.created, "loc3r_version": self.loc3r_version, "commit": self.commit,
                "settings": self.settings}

    @classmethod
    def from_dict(cls, d: Any, where: str) -> "PredictionsHeader":
        """Validate a decoded header line.

        Raises:
            DataError: not a header, a newer format version, or a bad field.
        """
        if not isinstance(d, dict) or d.get("format") != PREDICTIONS_FORMAT:
            raise DataError(f"{where}: the first line must be the predictions header "
                            f"{{\"format\": \"{PREDICTIONS_FORMAT}\", \"version\": {PREDICTIONS_VERSION}, "
                            "\"benchmark\": ..., \"settings\": {...}}")
        if d.get("version") != PREDICTIONS_VERSION:
            raise DataError(f"{where}: unsupported predictions format version {d.get('version')!r} "
                            f"(this loc3r reads version {PREDICTIONS_VERSION})")
        if not isinstance(d.get("benchmark"), str) or not d["benchmark"]:
            raise DataError(f"{where}: header field 'benchmark' must be a non-empty string")
        settings = d.get("settings", {})
        if not isinstance(settings, dict):
            raise DataError(f"{where}: header field 'settings' must be an object")
        commit = d.get("commit")
        if commit is not None and not isinstance(commit, str):
            raise DataError(f"{where}: header field 'commit' must be a string or null")
        return cls(benchmark=d["benchmark"], settings=settings, commit=commit,
                   created=str(d.get("created", "")), loc3r_version=str(d.get("loc3r_version", "")))


# --------------------------------------------------------------------------------------------- sample
@dataclass(frozen=True)
class PosePrediction:
    """One pose guess.

    Attributes:
        x, y: position in metres, in ``frame``.
        heading: facing heading ``atan2(f_y, f_x)`` in radians, in ``frame``.
        frame: one of ``POSE_FRAMES``.
    """

    x: float
    y: float
    heading: float
    frame: str = "bev"

    def to_dict(self, with_frame: bool = True) -> dict[str, Any]:
        """JSON-ready dict."""
        d: dict[str, Any] = {"x": self.x, "y": self.y, "heading": self.heading}
        if with_frame:
            d["frame"] = self.frame
        return d

    @classmethod
    def from_dict(cls, d: Any, where: str, default_frame: str) -> "PosePrediction":
        """Validate one decoded pose object (``frame`` defaults to ``default_frame``).

        Raises:
            DataError: missing / non-finite fields, unknown keys (e.g. ``yaw``) or an unknown frame.
        """
        if not isinstance(d, dict):
            raise DataError(f"{where}: a pose must be an object {{x, y, heading}}, got {type(d).__name__}")
        unknown = sorted(set(d) - {"x", "y", "z", "heading", "frame"})
        if unknown:
            hint = (" (use 'heading': the facing direction in radians; SQA3D's quaternion yaw = heading - pi)"
                    if "yaw" in unknown else "")
            raise DataError(f"{where}: unknown pose field(s) {', '.join(unknown)}{hint}")
        for k in ("x", "y", "heading"):
            if k not in d:
                raise DataError(f"{where}: pose is missing '{k}'")
        frame = d.get("frame", default_frame)
        if frame not in POSE_FRAMES:
            raise DataError(f"{where}: unknown pose frame {frame!r} (known: {', '.join(POSE_FRAMES)})")
        return cls(x=_number(d["x"], "'x'", where), y=_number(d["y"], "'y'", where),
                   heading=_number(d["heading"], "'heading'", where), frame=frame)


def _guesses(v: Any, where: str, default_frame: str, bev: bool) -> tuple[PosePrediction, ...]:
    if v is None:
        return ()
    items = v if isinstance(v, list) else [v]
    if len(items) > _MAX_GUESSES:
        raise DataError(f"{where}: {len(items)} pose guesses, at most {_MAX_GUESSES} are allowed")
    out = tuple(PosePrediction.from_dict(p, f"{where}[{i}]", default_frame) for i, p in enumerate(items))
    if bev and any(p.frame != "bev" for p in out):
        raise DataError(f"{where}: 'pose_bev' guesses must be in the 'bev' frame")
    if not bev and any(p.frame == "bev" for p in out):
        raise DataError(f"{where}: 'pose_dataset' cannot be in the 'bev' frame "
                        "(use 'pose_bev' with 'bev_anchor')")
    if len({p.frame for p in out}) > 1:
        raise DataError(f"{where}: all guesses must use the same frame")
    return out


@dataclass(frozen=True)
class BevAnchor:
    """What maps a BEV prediction into the dataset frame (``localization.bev_to_dataset`` uses it).

    Attributes:
        first_frame_pose: [4, 4] camera-to-world pose of the first selected frame, in ``world_frame``.
        world_frame: ``"raw"`` (ScanNet ``.sens`` world) or ``"aligned"``.
        axis_alignment: [4, 4] ScanNet ``axisAlignment`` or None.
        scene_center_raw: [3] bounding-box centre of the raw ``_vh_clean_2.ply`` vertices, or None.
    """

    first_frame_pose: np.ndarray
    world_frame: str = "raw"
    axis_alignment: np.ndarray | None = None
    scene_center_raw: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"first_frame_pose": _as_list(self.first_frame_pose), "world_frame": self.world_frame,
                "axis_alignment": _as_list(self.axis_alignment),
                "scene_center_raw": _as_list(self.scene_center_raw)}

    @classmethod
    def from_dict(cls, d: Any, where: str) -> "BevAnchor":
        """Validate a decoded anchor (shapes and finiteness; rigidity is checked when it is used)."""
        if not isinstance(d, dict):
            raise DataError(f"{where}: must be an object, got {type(d).__name__}")
        unknown = sorted(set(d) - {"first_frame_pose", "world_frame", "axis_alignment", "scene_center_raw"})
        if unknown:
            raise DataError(f"{where}: unknown field(s) {', '.join(unknown)}")
        if "first_frame_pose" not in d:
            raise DataError(f"{where}: missing 'first_frame_pose'")
        world = d.get("world_frame", "raw")
        if world not in ("raw", "aligned"):
            raise DataError(f"{where}: 'world_frame' must be 'raw' or 'aligned', got {world!r}")
        A = d.get("axis_alignment")
        c = d.get("scene_center_raw")
        return cls(first_frame_pose=_matrix(d["first_frame_pose"], (4, 4), "'first_frame_pose'", where),
                   world_frame=world,
                   axis_alignment=None if A is None else _matrix(A, (4, 4), "'axis_alignment'", where),
                   scene_center_raw=None if c is None else _matrix(c, (3,), "'scene_center_raw'", where))


@dataclass(frozen=True)
class Prediction:
    """One sample's prediction (see the module docstring for the JSON form).

    Attributes:
        id: sample id (the annotation record's ``id``).
        benchmark: benchmark name.
        raw_output: generated text, or None.
        answer: text to score, or None (then ``raw_output`` is scored).
        pose_bev: up to 3 guesses in the BEV frame.
        pose_dataset: up to 3 guesses in a dataset frame (precedence over ``pose_bev``).
        bev_anchor: mapping of ``pose_bev`` to the dataset frame, or None.
        record: embedded ground truth, or None.
        extra: other fields, kept verbatim.
    """

    id: str
    benchmark: str
    raw_output: str | None = None
    answer: str | None = None
    pose_bev: tuple[PosePrediction, ...] = ()
    pose_dataset: tuple[PosePrediction, ...] = ()
    bev_anchor: BevAnchor | None = None
    record: Record | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str | None:
        """The answer text to score: ``answer``, else ``raw_output``, else None."""
        return self.answer if self.answer is not None else self.raw_output

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (one sample line)."""
        return {
            "id": self.id, "benchmark": self.benchmark, "raw_output": self.raw_output, "answer": self.answer,
            "pose_bev": [p.to_dict(with_frame=False) for p in self.pose_bev] or None,
            "pose_dataset": [p.to_dict() for p in self.pose_dataset] or None,
            "bev_anchor": None if self.bev_anchor is None else self.bev_anchor.to_dict(),
            "record": None if self.record is None else self.record.to_dict(),
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, d: Any, where: str) -> "Prediction":
        """Validate one decoded sample line.

        Raises:
            DataError: naming ``where`` and the problem.
        """
        if not isinstance(d, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(d).__name__}")
        unknown = sorted(set(d) - set(_SAMPLE_KEYS))
        if unknown:
            raise DataError(f"{where}: unknown field(s) {', '.join(unknown)} "
                            "(put custom fields under 'extra')")
        sid = d.get("id")
        if isinstance(sid, int) and not isinstance(sid, bool):
            sid = str(sid)
        if not isinstance(sid, str) or not sid:
            raise DataError(f"{where}: field 'id' must be a non-empty string, got {d.get('id')!r}")
        where = f"{where} (id {sid})"
        bench = d.get("benchmark")
        if not isinstance(bench, str) or not bench:
            raise DataError(f"{where}: field 'benchmark' must be a non-empty string")
        for key in ("raw_output", "answer"):
            if d.get(key) is not None and not isinstance(d[key], str):
                raise DataError(f"{where}: field '{key}' must be a string or null, got {d[key]!r}")
        extra = d.get("extra") or {}
        if not isinstance(extra, dict):
            raise DataError(f"{where}: field 'extra' must be an object")
        record = None
        if d.get("record") is not None:
            record = record_from_json(d["record"], f"{where}: record")
            if record.id != sid:
                raise DataError(f"{where}: embedded record has id {record.id!r}, not {sid!r}")
        return cls(
            id=sid, benchmark=bench, raw_output=d.get("raw_output"), answer=d.get("answer"),
            pose_bev=_guesses(d.get("pose_bev"), f"{where}: pose_bev", "bev", bev=True),
            pose_dataset=_guesses(d.get("pose_dataset"), f"{where}: pose_dataset", "sqa3d", bev=False),
            bev_anchor=None if d.get("bev_anchor") is None else BevAnchor.from_dict(d["bev_anchor"],
                                                                                    f"{where}: bev_anchor"),
            record=record, extra=extra,
        )


# --------------------------------------------------------------------------------------------- reading
def _read_lines(path: Path) -> tuple[list[tuple[int, str]], bool]:
    """Non-blank lines with their numbers, and whether the file ends with an incomplete line (no newline)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    except IsADirectoryError as e:
        raise DataError(f"{path}: is a directory, expected a predictions .jsonl file") from e
    parts = text.split("\n")
    truncated = bool(parts[-1].strip())
    return [(i, line) for i, line in enumerate(parts, start=1) if line.strip()], truncated


def _parse(
    path: Path, lines: list[tuple[int, str]], truncated: bool
) -> tuple[PredictionsHeader, list[Prediction]]:
    if not lines:
        raise DataError(f"{path}: empty predictions file (expected a header line)")
    decoded = []
    for lineno, line in lines:
        try:
            decoded.append((lineno, json.loads(line)))
        except json.JSONDecodeError as e:
            hint = (" (the file ends with an incomplete line: was the run interrupted? resume it, or delete "
                    "that line)" if truncated and lineno == lines[-1][0] else "")
            raise DataError(f"{path}:{lineno}: invalid JSON at column {e.colno}: {e.msg}{hint}") from e
    header = PredictionsHeader.from_dict(decoded[0][1], f"{path}:{decoded[0][0]}")
    preds: list[Prediction] = []
    seen: dict[str, int] = {}
    for lineno, obj in decoded[1:]:
        where = f"{path}:{lineno}"
        if isinstance(obj, dict) and obj.get("format") == PREDICTIONS_FORMAT:
            raise DataError(f"{where}: a second header line (files cannot be concatenated)")
        p = Prediction.from_dict(obj, where)
        if p.benchmark != header.benchmark:
            raise DataError(f"{where}: benchmark {p.benchmark!r} differs from the header's "
                            f"{header.benchmark!r}")
        if p.id in seen:
            raise DataError(f"{where}: duplicate id {p.id!r} (first at line {seen[p.id]})")
        seen[p.id] = lineno
        preds.append(p)
    return header, preds


def read_predictions(path: str | os.PathLike) -> tuple[PredictionsHeader, list[Prediction]]:
    """Read and validate a predictions file.

    Returns:
        ``(header, predictions)`` in file order.

    Raises:
        FileNotFoundError: no such file.
        DataError: naming ``<file>:<line>``: no header, invalid JSON (including an incomplete last line), a
            bad field, a benchmark different from the header's, or a duplicate id.
    """
    path = Path(path)
    lines, truncated = _read_lines(path)
    return _parse(path, lines, truncated)


# --------------------------------------------------------------------------------------------- writing
def write_predictions(
    path: str | os.PathLike, header: PredictionsHeader, predictions: Iterable[Prediction]
) -> int:
    """Write a whole predictions file atomically; returns the number of samples written.

    Raises:
        ValueError: a sample of another benchmark, a duplicate id, or a non-finite number.
    """
    seen: set[str] = set()
    with atomic_write(path, "w") as f:
        f.write(_dumps(header.to_dict()) + "\n")
        for p in predictions:
            _check_sample(p, header, seen)
            f.write(_dumps(p.to_dict()) + "\n")
            seen.add(p.id)
    return len(seen)


def _check_sample(p: Prediction, header: PredictionsHeader, seen: set[str]) -> None:
    if p.benchmark != header.benchmark:
        raise ValueError(f"prediction {p.id!r} is for benchmark {p.benchmark!r}, "
                         f"the file for {header.benchmark!r}")
    if p.id in seen:
        raise ValueError(f"prediction {p.id!r} was already written")


class PredictionWriter:
    """Append predictions to a JSONL file one flushed line at a time (resumable).

    A new file starts with the header. With ``resume=True`` an existing file is continued: its header must
    have the same benchmark and settings, an incomplete last line (a run killed mid-write) is cut off, and
    ``done_ids`` lists the samples already there so the caller can skip them.

    Args:
        path: the ``.jsonl`` file.
        header: header of the run.
        resume: continue an existing file instead of refusing to touch it.

    Raises:
        FileExistsError: the file exists and ``resume`` is False.
        DataError: (resume) the existing file is invalid or was made with another benchmark / settings.

    Example::

        with PredictionWriter("preds.jsonl", PredictionsHeader.new("sqa3d", cfg), resume=True) as w:
            for rec in records:
                if rec.id not in w.done_ids:
                    w.write(Prediction(id=rec.id, benchmark="sqa3d", raw_output=text, answer=text.strip()))
    """

    def __init__(self, path: str | os.PathLike, header: PredictionsHeader, resume: bool = False) -> None:
        self.path = Path(path)
        self.header = header
        self.done_ids: set[str] = set()
        if self.path.exists():
            if not resume:
                raise FileExistsError(f"{self.path} exists; resume it (resume=True) or choose another path")
            self._prepare_resume()
        else:
            with atomic_write(self.path, "w") as f:
                f.write(_dumps(header.to_dict()) + "\n")
        self._f = open(self.path, "a", encoding="utf-8")

    def _prepare_resume(self) -> None:
        raw = self.path.read_bytes()
        cut = raw.rfind(b"\n") + 1
        if cut < len(raw):  # drop the incomplete last line of an interrupted run
            with open(self.path, "r+b") as f:
                f.truncate(cut)
        old, preds = read_predictions(self.path)
        if old.benchmark != self.header.benchmark or old.settings != self.header.settings:
            raise DataError(f"{self.path}: cannot resume: it was written for benchmark {old.benchmark!r} "
                            f"with other settings ({old.settings}) than this run "
                            f"({self.header.benchmark!r}, {self.header.settings})")
        self.done_ids = {p.id for p in preds}

    def write(self, prediction: Prediction) -> None:
        """Append one sample (flushed and fsynced, so a crash loses at most the line being written).

        Raises:
            ValueError: another benchmark, an id already written, or a non-finite number.
        """
        _check_sample(prediction, self.header, self.done_ids)
        self._f.write(_dumps(prediction.to_dict()) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())
        self.done_ids.add(prediction.id)

    def close(self) -> None:
        """Close the file."""
        if not self._f.closed:
            self._f.close()

    def __enter__(self) -> "PredictionWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
