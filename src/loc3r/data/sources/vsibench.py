"""VSI-Bench readers: question rows (-> ``Record``s) and the per-scene meta info files.

Question rows (HF ``nyu-visionx/VSI-Bench`` ``test-00000-of-00001.parquet``, ``data_formats.md`` §4):
``{id: int, dataset: "arkitscenes"|"scannet"|"scannetpp", scene_name, question_type, question,
ground_truth: str, options: list[str] | null}``. Read from ``.parquet`` (needs the optional package
``pyarrow``, imported only then) or from ``.json`` (a list of row objects, e.g. pandas
``to_json(orient="records")``) / ``.jsonl`` (one row per line).

Meta info (``thinking-in-space`` ``data/meta_info/<dataset>_meta_info_val.json``): ``{scene: {room_size,
room_center, object_counts, object_bbox: {class: [{centroid, axesLengths, normalizedAxes, min, max}]},
video_path, dataset}}``. For ScanNet these coordinates appear to be in the SQA3D frame
(``data_formats.md`` §2.2).

Design choices:
  * ``scene_id`` = ``scene_name``; ``answers`` = ``[ground_truth]`` (the option letter for multiple choice);
    ``options`` kept; ``extra`` holds ``dataset``, ``answer_format`` (``"mca"`` multiple choice / ``"na"``
    numerical) and ``video_path`` = ``<dataset>/<scene_name>.mp4`` (the HF archive layout).
  * Rows are checked against the benchmark's rules: known ``question_type``; a multiple-choice ground truth
    is one of the options' letters; a numerical ground truth parses as a number.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from loc3r.data.schema import Record
from loc3r.data.sources.common import (
    PathLike,
    ReadResult,
    as_object,
    collect_records,
    get_number,
    get_number_list,
    get_optional_str,
    get_str,
    load_json,
    load_json_lines,
    top_level_list,
)
from loc3r.utils.io import DataError

__all__ = [
    "VSIBENCH_MCA_TYPES",
    "VSIBENCH_NA_TYPES",
    "MissingOptionalDependency",
    "read_vsibench",
    "read_vsibench_rows",
    "vsibench_row_to_record",
    "VsiObjectBox",
    "VsiSceneMeta",
    "read_vsibench_meta_info",
]

VSIBENCH_MCA_TYPES = (
    "object_rel_direction_easy",
    "object_rel_direction_medium",
    "object_rel_direction_hard",
    "object_rel_distance",
    "route_planning",
    "obj_appearance_order",
)
VSIBENCH_NA_TYPES = (
    "object_abs_distance",
    "object_counting",
    "object_size_estimation",
    "room_size_estimation",
)


class MissingOptionalDependency(ImportError):
    """An optional package needed for this input is not installed (the message says which and what to do)."""


# --------------------------------------------------------------------------------------------- rows
def _parquet_rows(path: Path) -> list[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq  # optional; only Parquet input needs it
    except ImportError as e:
        raise MissingOptionalDependency(
            f"{path}: reading .parquet files needs the optional package 'pyarrow' (pip install pyarrow); "
            "alternatively pass the rows as .json / .jsonl"
        ) from e
    try:
        return pq.read_table(path).to_pylist()
    except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid derives from ValueError
        raise DataError(f"{path}: cannot read Parquet file: {e}") from e


def read_vsibench_rows(path: PathLike) -> list[tuple[str, Any]]:
    """The raw question rows of one file, each with its location for error messages.

    Args:
        path: ``.parquet``, ``.json`` (list of row objects) or ``.jsonl``.

    Returns:
        [(where, row)], where ``where`` is ``"<file>: row <i>"`` or ``"<file>:<line>"``.

    Raises:
        FileNotFoundError: the file does not exist.
        MissingOptionalDependency: a ``.parquet`` file and no ``pyarrow``.
        DataError: unreadable file, wrong structure or unknown extension.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file")
        return [(f"{path}: row {i}", r) for i, r in enumerate(_parquet_rows(path))]
    if suffix == ".jsonl":
        return [(f"{path}:{lineno}", r) for lineno, r in load_json_lines(path)]
    if suffix == ".json":
        data = load_json(path)
        if isinstance(data, dict):
            raise DataError(f"{path}: expected a JSON list of row objects "
                            "(pandas: to_json(orient='records')), got a JSON object")
        return [(f"{path}: row {i}", r) for i, r in enumerate(top_level_list(data, path))]
    raise DataError(f"{path}: unknown VSI-Bench file type {suffix!r} (expected .parquet, .json or .jsonl)")


def _option_letters(options: list[str], where: str) -> list[str]:
    letters = []
    for opt in options:
        m = re.match(r"\s*([A-Z])\.", opt)
        if m is None:
            raise DataError(f"{where}: option {opt!r} does not start with a letter label like 'A.'")
        letters.append(m.group(1))
    return letters


def vsibench_row_to_record(row: Any, where: str) -> Record:
    """One VSI-Bench question row -> ``Record`` (see the module docstring for the mapping and the checks)."""
    row = as_object(row, where)
    rid = row.get("id")
    if isinstance(rid, bool) or not isinstance(rid, (int, str)) or rid == "":
        raise DataError(f"{where}: field 'id' must be an integer, got {rid!r}")
    where = f"{where} (id {rid})"
    qtype = get_str(row, "question_type", where)
    scene = get_str(row, "scene_name", where)
    dataset = get_str(row, "dataset", where)
    gt = get_str(row, "ground_truth", where)
    options = row.get("options")
    if options is not None and not (isinstance(options, list) and all(isinstance(o, str) for o in options)):
        raise DataError(f"{where}: field 'options' must be a list of strings or null, got {options!r}")
    if qtype in VSIBENCH_MCA_TYPES:
        if not options:
            raise DataError(f"{where}: multiple-choice question ({qtype}) without options")
        letters = _option_letters(options, where)
        if gt.strip() not in letters:
            raise DataError(f"{where}: ground_truth {gt!r} is not one of the option letters {letters}")
        answer_format = "mca"
    elif qtype in VSIBENCH_NA_TYPES:
        try:
            ok = math.isfinite(float(gt))
        except ValueError:
            ok = False
        if not ok:
            raise DataError(f"{where}: numerical question ({qtype}) with non-numeric ground_truth {gt!r}")
        answer_format = "na"
    else:
        known = VSIBENCH_MCA_TYPES + VSIBENCH_NA_TYPES
        raise DataError(f"{where}: unknown question_type {qtype!r} (known: {', '.join(known)})")
    return Record(
        id=str(rid),
        source="vsibench",
        task=qtype,
        scene_id=scene,
        question=get_str(row, "question", where),
        answers=[gt],
        options=list(options) if options is not None else None,
        extra={"dataset": dataset, "answer_format": answer_format, "video_path": f"{dataset}/{scene}.mp4"},
    )


def read_vsibench(paths: Sequence[PathLike], strict: bool = True) -> ReadResult:
    """Read VSI-Bench question files into records, in file order.

    Args:
        paths: ``.parquet`` / ``.json`` / ``.jsonl`` files of question rows.
        strict: raise on the first bad row (default); otherwise skip, count and list bad rows.

    Raises:
        FileNotFoundError: a path does not exist.
        MissingOptionalDependency: a ``.parquet`` input without ``pyarrow`` installed.
        DataError: unreadable file, or (strict) a bad row or a duplicate ``id``.
    """
    rows = (pair for path in paths for pair in read_vsibench_rows(path))
    return collect_records(rows, vsibench_row_to_record, strict, id_label="id")


# --------------------------------------------------------------------------------------------- meta info
Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class VsiObjectBox:
    """An oriented 3-D box of one object instance (metres, in the scene's meta-info frame).

    Attributes:
        centroid: [3] box centre.
        axes_lengths: [3] edge lengths along ``normalized_axes``.
        normalized_axes: three unit box axes (rows of the stored row-major 3x3 ``normalizedAxes``).
        min, max: [3] axis-aligned bounds.
    """

    centroid: Vec3
    axes_lengths: Vec3
    normalized_axes: tuple[Vec3, Vec3, Vec3]
    min: Vec3
    max: Vec3


@dataclass(frozen=True)
class VsiSceneMeta:
    """Meta info of one VSI-Bench scene.

    Attributes:
        scene_id: scene name (``scene0251_00`` for ScanNet).
        dataset: ``scannet`` | ``scannetpp`` | ``arkitscenes`` (None when absent).
        room_size: floor area, square metres (the ``room_size_estimation`` ground truth).
        room_center: [3] room centre, metres (None when absent).
        video_path: path stored in the file (machine-specific; None when absent).
        object_counts: class -> number of instances.
        object_bbox: class -> instance boxes.
    """

    scene_id: str
    dataset: str | None
    room_size: float
    room_center: Vec3 | None
    video_path: str | None
    object_counts: dict[str, int]
    object_bbox: dict[str, tuple[VsiObjectBox, ...]]


def _vec3(item: dict[str, Any], key: str, where: str) -> Vec3:
    x, y, z = get_number_list(item, key, where, lengths=(3,))
    return (x, y, z)


def _object_box(raw: Any, where: str) -> VsiObjectBox:
    item = as_object(raw, where)
    axes = get_number_list(item, "normalizedAxes", where, lengths=(9,))
    lo, hi = _vec3(item, "min", where), _vec3(item, "max", where)
    if any(a > b for a, b in zip(lo, hi)):
        raise DataError(f"{where}: min {lo} exceeds max {hi}")
    lengths = _vec3(item, "axesLengths", where)
    if any(v < 0 for v in lengths):
        raise DataError(f"{where}: negative axesLengths {lengths}")
    return VsiObjectBox(
        centroid=_vec3(item, "centroid", where),
        axes_lengths=lengths,
        normalized_axes=(tuple(axes[0:3]), tuple(axes[3:6]), tuple(axes[6:9])),
        min=lo,
        max=hi,
    )


def _scene_meta(scene: str, raw: Any, where: str) -> VsiSceneMeta:
    item = as_object(raw, where)
    room_size = get_number(item, "room_size", where)
    if room_size <= 0:
        raise DataError(f"{where}: room_size must be positive, got {room_size}")
    counts = as_object(item.get("object_counts", {}), f"{where}: object_counts")
    for cls, n in counts.items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise DataError(f"{where}: object_counts[{cls!r}] must be a non-negative integer, got {n!r}")
    boxes: dict[str, tuple[VsiObjectBox, ...]] = {}
    for cls, lst in as_object(item.get("object_bbox", {}), f"{where}: object_bbox").items():
        if not isinstance(lst, list):
            raise DataError(f"{where}: object_bbox[{cls!r}] must be a list, got {type(lst).__name__}")
        boxes[cls] = tuple(_object_box(b, f"{where}: object_bbox[{cls!r}][{j}]") for j, b in enumerate(lst))
    return VsiSceneMeta(
        scene_id=scene,
        dataset=get_optional_str(item, "dataset", where),
        room_size=room_size,
        room_center=_vec3(item, "room_center", where) if item.get("room_center") is not None else None,
        video_path=get_optional_str(item, "video_path", where),
        object_counts=dict(counts),
        object_bbox=boxes,
    )


def read_vsibench_meta_info(path: PathLike) -> dict[str, VsiSceneMeta]:
    """Read a VSI-Bench meta info file (``<dataset>_meta_info_val.json``).

    Returns:
        ``{scene_id: VsiSceneMeta}`` in file order.

    Raises:
        FileNotFoundError: the file does not exist.
        DataError: a structural problem, naming the file, scene and field.
    """
    path = Path(path)
    data = as_object(load_json(path), str(path))
    return {scene: _scene_meta(scene, raw, f"{path}: {scene}") for scene, raw in data.items()}
