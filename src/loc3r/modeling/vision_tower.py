"""A pretrained SigLIP vision encoder for the tiny preset, from a local folder or a hub id.

The tiny preset's vision tower is a randomly initialised SigLIP; the synthetic benchmark (docs/benchmark.md) found
its recognition of objects in unseen rooms to be the weak link. ``loc3r_tiny(vision_tower=...)`` (recipe field
``model.tiny.vision_tower``) swaps in the encoder of a stock transformers SigLIP checkpoint instead
(``google/siglip-base-patch16-224`` and the like: a ``siglip`` checkpoint, whose vision half is taken, or a
``siglip_vision_model`` one), at the recipe's frame size:

* width, depth, heads and patch size are the checkpoint's; the recipe's ``patch_size`` must equal its patch size
  (the token grid, and so the prepared BEV targets, depend on it);
* the learned position embeddings (a G x G grid, row-major) are resized to the recipe's grid
  ``image_size / patch_size`` by bicubic interpolation, as when a ViT is fine-tuned at another resolution;
* SigLIP's attention-pooling head is dropped (LLaVA-OneVision reads patch tokens, ``vision_use_head=False``);
* frames are normalised with the checkpoint's preprocessor mean / std where it has a preprocessor config.

Loading never runs remote code.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from .processing_loc3r import FrameTransform

if TYPE_CHECKING:
    from transformers import SiglipVisionConfig

__all__ = ["PretrainedVisionTower", "load_siglip_vision_tower", "resize_position_embeddings"]

#: ``model_type`` values whose vision encoder the tiny preset can take.
SIGLIP_MODEL_TYPES = ("siglip", "siglip_vision_model")
_POSITION_KEY = "embeddings.position_embedding.weight"
_HEAD_PREFIX = "head."


@dataclass
class PretrainedVisionTower:
    """What the tiny preset needs of a pretrained SigLIP encoder.

    Attributes:
        config: a ``SiglipVisionConfig`` at the recipe's ``image_size``, without the pooling head.
        state_dict: weights of ``SiglipVisionModel`` under its own keys (``vision_model.`` stripped as transformers
            5 names them: ``embeddings.*``, ``encoder.*``, ``post_layernorm.*``), position embeddings resized.
        frame_transform: the frame normalisation at ``image_size``.
    """

    config: SiglipVisionConfig
    state_dict: dict[str, torch.Tensor]
    frame_transform: FrameTransform


def resize_position_embeddings(weight: torch.Tensor, grid: int) -> torch.Tensor:
    """Resize a square grid of learned position embeddings.

    Args:
        weight: ``[G*G, D]``, the embedding of patch (row r, column c) at index ``r*G + c``.
        grid: the new side g.

    Returns:
        ``[g*g, D]`` in the same row-major order, bicubic (``align_corners=False``), in ``weight``'s dtype; a copy
        of ``weight`` when ``g == G``.

    Raises:
        ValueError: the number of rows is not a square, or ``grid`` < 1.
    """
    n, d = weight.shape
    side = math.isqrt(n)
    if side * side != n:
        raise ValueError(f"{n} position embeddings do not form a square grid")
    if grid < 1:
        raise ValueError(f"grid must be >= 1, got {grid}")
    if grid == side:
        return weight.detach().clone()
    x = weight.detach().float().reshape(side, side, d).permute(2, 0, 1)[None]
    y = F.interpolate(x, size=(grid, grid), mode="bicubic", align_corners=False)
    return y[0].permute(1, 2, 0).reshape(grid * grid, d).to(weight.dtype)


def _is_head(key: str) -> bool:
    return key.removeprefix("vision_model.").startswith(_HEAD_PREFIX)


def _read_config(path_or_hub_id: str):
    from transformers import AutoConfig

    try:
        cfg = AutoConfig.from_pretrained(path_or_hub_id, trust_remote_code=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"vision tower {path_or_hub_id!r}: cannot read its config.json ({e})") from e
    if cfg.model_type not in SIGLIP_MODEL_TYPES:
        raise ValueError(
            f"vision tower {path_or_hub_id!r} is a {cfg.model_type!r} checkpoint; the tiny preset takes a SigLIP "
            f"one (model_type {' or '.join(SIGLIP_MODEL_TYPES)})"
        )
    return cfg.vision_config if cfg.model_type == "siglip" else cfg


def _frame_transform(path_or_hub_id: str, image_size: int) -> FrameTransform:
    """The checkpoint's normalisation (its image preprocessor config, else its video one) at side ``image_size``."""
    found = FrameTransform.from_checkpoint(path_or_hub_id)  # video first, image last
    return dataclasses.replace(found[-1], size=image_size) if found else FrameTransform(size=image_size)


def load_siglip_vision_tower(path_or_hub_id: str, *, image_size: int, patch_size: int) -> PretrainedVisionTower:
    """Read a SigLIP checkpoint's vision encoder for frames of ``image_size`` pixels.

    Args:
        path_or_hub_id: a local folder or hub id of a transformers ``siglip`` or ``siglip_vision_model``
            checkpoint.
        image_size: the recipe's frame side S (pixels); a multiple of the checkpoint's patch size.
        patch_size: the recipe's patch size; must equal the checkpoint's.

    Raises:
        ValueError: unreadable or non-SigLIP checkpoint (naming it), or sizes that do not fit.
    """
    from transformers import SiglipVisionModel

    source = str(path_or_hub_id)
    vcfg = _read_config(source)
    if int(vcfg.patch_size) != int(patch_size):
        raise ValueError(
            f"vision tower {source!r} has {vcfg.patch_size}-pixel patches, the recipe {patch_size}: set "
            f"model.tiny.patch_size={vcfg.patch_size} (and an image_size that is a multiple of it)"
        )
    if image_size % patch_size:
        raise ValueError(f"image_size {image_size} is not a multiple of the patch size {patch_size}")
    tower, info = SiglipVisionModel.from_pretrained(
        source, trust_remote_code=False, dtype=torch.float32, output_loading_info=True
    )
    missing = sorted(k for k in info.get("missing_keys", ()) if not _is_head(k))
    if missing:  # transformers only warns; a half-random encoder would be a silent wrong result
        raise ValueError(f"vision tower {source!r}: the checkpoint lacks {len(missing)} weights, e.g. {missing[:3]}")
    state = {
        k.removeprefix("vision_model."): v.detach().clone() for k, v in tower.state_dict().items() if not _is_head(k)
    }
    state[_POSITION_KEY] = resize_position_embeddings(state[_POSITION_KEY], image_size // patch_size)
    config = type(vcfg).from_dict(vcfg.to_dict())
    config.image_size = int(image_size)
    config.vision_use_head = False
    return PretrainedVisionTower(config, state, _frame_transform(source, image_size))
