"""Object-grounding situations for the tiny model's pretraining stage (issue 7), in SQA3D localization format.

A 2D video VLM such as LLaVA-Video already refers words to pixels before Loc3R fine-tuning; the tiny model
starts from random weights, so it first learns to *point at* named objects. Each item is a situation

    "Facing the bed, I am at the red chair."

whose pose is the named object's footprint centre (``Entity.xy``, aligned frame) and whose heading points from
there to the centre of the faced object: both are fully determined by the text and the scene, so a model that
grounds the two names is exactly right (no hidden ambiguity, unlike the benchmark's "in front of" poses).

Items are written as an SQA3D ``v1_balanced_localization_<split>_scannetv2.json`` file (same pose convention
as ``sqa3d.aligned_pose_to_sqa3d``), so the ordinary ``sqa3d`` reader, ``loc3r train`` and ``loc3r score`` use
them unchanged. Only entities with a referring name (``templates.referring_names``) are used.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from loc3r.utils.io import atomic_write_json

from ..world import World
from . import templates as T
from .relations import Entity, scene_entities
from .sqa3d import aligned_pose_to_sqa3d

__all__ = ["GROUNDING_TEMPLATES", "grounding_items", "write_grounding_file", "grounding_files_for_set"]

#: Wordings of one grounding situation: ``{A}`` = where the agent is, ``{B}`` = what it faces. The place comes
#: last, right before the ``<Pos>`` query token: in a 2-layer LM the query can then find it by recency instead
#: of parsing "at" vs "facing" (the benchmark's situations, anchor first, are learnt in fine-tuning).
GROUNDING_TEMPLATES: tuple[str, ...] = (
    "Facing the {B}, I am at the {A}.",
    "Looking at the {B}, I am standing by the {A}.",
    "I face the {B} and I am at the {A}.",
)


def grounding_items(world: World, entities: Sequence[Entity], rng: np.random.Generator,
                    center_raw: np.ndarray, per_scene: int,
                    min_distance_m: float = 0.5) -> list[dict[str, Any]]:
    """Grounding situations of one scene in SQA3D localization-entry format.

    Args:
        world: the scene.
        entities: ``scene_entities(world)``.
        rng: the only randomness (pair choice and wording).
        center_raw: [3] SQA3D origin (raw mesh bbox centre), raw frame.
        per_scene: items wanted; pairs (A, B) are drawn without replacement, so a scene with few named
            entities gives fewer.
        min_distance_m: pairs whose centres are closer than this are skipped (the heading would be unstable).

    Returns:
        ``[{"scene_id", "situation", "alternative_situation", "position", "rotation", "anchor_id",
        "facing_id"}]`` (the last two are extra keys the SQA3D reader keeps in ``Record.extra``).
    """
    names = T.referring_names(entities)
    named = [e for e in entities if e.entity_id in names]
    pairs = [(a, b) for a in named for b in named
             if a.entity_id != b.entity_id and float(np.linalg.norm(b.xy - a.xy)) >= min_distance_m]
    if not pairs:
        return []
    order = rng.permutation(len(pairs))[:per_scene]
    items = []
    for i in order:
        a, b = pairs[int(i)]
        d = b.xy - a.xy
        heading = math.atan2(float(d[1]), float(d[0]))
        position, rotation = aligned_pose_to_sqa3d(world, a.xy, heading, center_raw)
        text = T.pick(rng, GROUNDING_TEMPLATES).format(A=names[a.entity_id], B=names[b.entity_id])
        items.append({"scene_id": world.scene_id, "situation": text, "alternative_situation": [],
                      "position": position, "rotation": rotation, "anchor_id": int(a.entity_id),
                      "facing_id": int(b.entity_id)})
    return items


def write_grounding_file(path: str | Path, items: Sequence[dict[str, Any]]) -> Path:
    """Write items as an SQA3D localization file (``{"annotations": [...]}``), atomically."""
    path = Path(path)
    atomic_write_json(path, {"annotations": list(items)})
    return path


def grounding_files_for_set(synth_root: str | Path, out_dir: str | Path | None = None, per_scene: int = 64,
                            seed: int = 0) -> dict[str, Path]:
    """Grounding files for every split of a generated synthetic set (worlds re-created from its manifest).

    Args:
        synth_root: the folder ``generate_synthetic`` wrote (``manifest.json``, ``scans/``).
        out_dir: output folder (default ``<synth_root>/annotations/grounding``).
        per_scene: items per scene.
        seed: wording / pair-choice seed (each scene uses ``seed`` and its index).

    Returns:
        ``{split: path of v1_balanced_localization_<split>_scannetv2.json}``.

    Raises:
        DataError: missing or unreadable manifest.
    """
    from ..generate import read_set, scene_world

    root = Path(synth_root)
    cfg, scenes = read_set(root)
    out = Path(out_dir) if out_dir is not None else root / "annotations" / "grounding"
    by_split: dict[str, list[dict[str, Any]]] = {}
    for entry in scenes:
        world = scene_world(cfg, int(entry["index"]))
        rng = np.random.default_rng([seed, int(entry["index"])])
        items = grounding_items(world, scene_entities(world), rng, np.asarray(entry["center_raw"], float),
                                per_scene)
        by_split.setdefault(str(entry["split"]), []).extend(items)
    return {split: write_grounding_file(out / f"v1_balanced_localization_{split}_scannetv2.json", items)
            for split, items in sorted(by_split.items())}
