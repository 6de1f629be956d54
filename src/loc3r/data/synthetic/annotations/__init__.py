"""Benchmark annotations generated from a synthetic world's geometry, in the real file formats.

Entry point: ``generate_annotations(world, rng, cfg)`` -> ``{"sqa3d_questions", "sqa3d_annotations",
"sqa3d_localization", "scanqa", "vsibench"}``, each a list of items in exactly the real per-item format
(SQA3D ``v1_balanced_*`` entries, ScanQA ``ScanQA_v1.0_*`` entries, VSI-Bench rows). Complete files are
written with ``write_sqa3d_files`` / ``write_scanqa_file`` / ``write_vsibench_file`` (or assembled by the
caller with ``sqa3d_file_headers``); the readers in ``loc3r.data.sources`` read them unchanged.

Modules: ``relations`` (geometric predicates), ``situations`` (agent poses + situation texts), ``sqa3d``,
``scanqa``, ``vsibench`` (per-benchmark questions and files), ``templates`` (all wording), ``config``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..world import World
from .config import AnnotationConfig
from .relations import opening_object_id, scene_entities
from .scanqa import scanqa_items, write_scanqa_file
from .situations import sample_situations
from .sqa3d import build_answer_dict, situated_questions, sqa3d_file_headers, sqa3d_items, write_sqa3d_files
from .vsibench import vsibench_rows, write_vsibench_file

__all__ = [
    "AnnotationConfig",
    "generate_annotations",
    "opening_object_id",
    "sqa3d_file_headers",
    "write_sqa3d_files",
    "write_scanqa_file",
    "write_vsibench_file",
    "build_answer_dict",
]


def generate_annotations(world: World, rng: np.random.Generator, cfg: Any = None, *, split: str = "train",
                         center_raw: np.ndarray | None = None,
                         first_seen: Mapping[int, int] | None = None) -> dict[str, list[dict]]:
    """All annotations of one scene.

    Args:
        world: the scene (aligned-frame geometry, ``axis_alignment``).
        rng: the only source of randomness: the same generator state gives the same output.
        cfg: ``AnnotationConfig``, a mapping of its fields, the generator's ``SynthConfig`` (uses
            ``situations_per_scene``, ``questions_per_situation`` and ``extra["annotations"]``) or None.
        split: split name used in ScanQA question ids.
        center_raw: [3] bounding-box centre of the raw mesh vertices (the SQA3D origin, raw frame); by default
            ``loc3r.data.synthetic.mesh.raw_mesh_bbox_center(world)``.
        first_seen: object id -> first frame index in which it is visible (enables VSI-Bench
            ``obj_appearance_order``); door/window ids are ``opening_object_id(world, k)``.

    Returns:
        ``{"sqa3d_questions": [...], "sqa3d_annotations": [...], "sqa3d_localization": [...],
        "scanqa": [...], "vsibench": [...]}``.
    """
    acfg = AnnotationConfig.from_any(cfg)
    if center_raw is None:
        from ..mesh import raw_mesh_bbox_center  # the scene mesh defines SQA3D's origin

        center_raw = raw_mesh_bbox_center(world)
    if first_seen is not None:  # JSON round trips turn the ids into strings
        first_seen = {int(k): int(v) for k, v in first_seen.items()}
    entities = scene_entities(world)
    situations = sample_situations(world, entities, rng, acfg)
    qa = [situated_questions(entities, s, rng, acfg) for s in situations]
    kept = [(s, pairs) for s, pairs in zip(situations, qa) if pairs]
    questions, annotations, localization = sqa3d_items(world, [s for s, _ in kept], [p for _, p in kept],
                                                       np.asarray(center_raw, dtype=np.float64))
    return {
        "sqa3d_questions": questions,
        "sqa3d_annotations": annotations,
        "sqa3d_localization": localization,
        "scanqa": scanqa_items(world, entities, rng, acfg, split=split),
        "vsibench": vsibench_rows(world, entities, rng, acfg, first_seen=first_seen),
    }
