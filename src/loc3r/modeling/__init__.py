"""Loc3R-VLM model, configuration, processor, losses and presets.

Names are imported lazily (``from loc3r.modeling import loc3r_tiny`` imports torch/transformers only then), so
importing ``loc3r`` or the CLI stays cheap. Importing ``modeling_loc3r`` registers ``loc3r`` with
``AutoConfig`` / ``AutoModel`` / ``AutoModelForImageTextToText``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Loc3RConfig": "configuration_loc3r",
    "VideoTokenLayout": "configuration_loc3r",
    "video_token_layout": "configuration_loc3r",
    "Loc3RForConditionalGeneration": "modeling_loc3r",
    "Loc3RPreTrainedModel": "modeling_loc3r",
    "Loc3ROutput": "modeling_loc3r",
    "Localization": "modeling_loc3r",
    "register_auto_classes": "modeling_loc3r",
    "Loc3RProcessor": "processing_loc3r",
    "FrameTransform": "processing_loc3r",
    "loc3r_tiny": "builders",
    "loc3r_llava_video_7b": "builders",
    "loc3r_7b": "builders",
    "load_loc3r": "builders",
    "add_loc3r_tokens": "builders",
    "LLAVA_VIDEO_7B_HUB_ID": "builders",
    "TrainableParts": "trainable",
    "PAPER_TRAINABLE_PARTS": "trainable",
    "set_trainable": "trainable",
    "apply_lora": "trainable",
    "enable_gradient_checkpointing": "trainable",
    "build_tiny_tokenizer": "tokenizer_tiny",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'loc3r.modeling' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
