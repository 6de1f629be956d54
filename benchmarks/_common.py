"""Model presets shared by the benchmarks (not a benchmark; imported as ``_common`` by the scripts here).

A preset is a dict of model sizes (the keys of ``TINY_MODEL``) plus per-benchmark input sizes; ``prior_dim``
(the camera-token width) is set by each benchmark. ``build_loc3r`` builds the random-weight Loc3R model and
its processor for one preset.
"""

from __future__ import annotations

from typing import Any

#: The CPU test model: 64² frames / patch 8, vision hidden 32 x 2 layers, LLM hidden 64 x 2 layers.
TINY_MODEL: dict[str, Any] = dict(
    image_size=64,
    patch_size=8,
    text_hidden_size=64,
    text_layers=2,
    vision_hidden_size=32,
    vision_layers=2,
    head=32,
    dtype="float32",
    base={},
)

#: 384² frames / patch 14 with SigLIP-so400m dimensions and a Qwen2-0.5B-sized LLM in bf16.
GPU_MODEL: dict[str, Any] = dict(
    image_size=384,
    patch_size=14,
    text_hidden_size=896,
    text_layers=24,
    vision_hidden_size=1152,
    vision_layers=27,
    head=896,
    dtype="bfloat16",
    base=dict(
        num_heads=14,
        num_kv_heads=2,
        text_intermediate_size=4864,
        vision_num_heads=16,
        vision_intermediate_size=4304,
    ),
)


def build_loc3r(preset: dict[str, Any], **overrides: Any):
    """``(model, processor)`` from ``loc3r_tiny`` with the sizes of ``preset`` (random weights, CPU, float32).

    Args:
        preset: the keys of ``TINY_MODEL`` (``dtype`` is not applied here) plus ``prior_dim``.
        **overrides: further ``loc3r_tiny`` arguments (``newline_layout``, ``seed``, ...).
    """
    from loc3r.modeling.builders import loc3r_tiny

    return loc3r_tiny(
        image_size=preset["image_size"],
        patch_size=preset["patch_size"],
        prior_token_dim=preset["prior_dim"],
        text_hidden_size=preset["text_hidden_size"],
        text_layers=preset["text_layers"],
        vision_hidden_size=preset["vision_hidden_size"],
        vision_layers=preset["vision_layers"],
        head_hidden_size=preset["head"],
        base_config_kwargs=preset["base"],
        **overrides,
    )
