"""Model presets as spec-sheet builders: the tiny CPU preset and LLaVA-Video-7B-Qwen2 (the paper's base).

* ``loc3r_tiny()`` — the same classes with random weights and a few hundred thousand parameters: SigLIP vision
  (64² frames, patch 8 -> 8x8 patches -> 4x4 pooled tokens per frame, hidden 32, 2 layers), Qwen2 text
  (hidden 64, 2 layers, 4 heads), the deterministic tiny tokenizer (``tokenizer_tiny.py``), camera-prior width
  8. For CPU tests, the demo and the synthetic benchmark. Deterministic for a given ``seed``. With
  ``vision_tower=PATH_OR_HUB_ID`` its vision encoder is a pretrained SigLIP instead (``vision_tower.py``).
* ``loc3r_llava_video_7b(path_or_hub_id)`` — loads the stock transformers LLaVA-OneVision checkpoint of
  LLaVA-Video-7B-Qwen2 (``llava-hf/LLaVA-Video-7B-Qwen2-hf`` layout) with ``from_pretrained`` (never
  ``trust_remote_code``), adds ``<Pos>``, ``<Ori>``, ``<cam>`` to the tokenizer and the embeddings, and wraps
  it.
* ``load_loc3r(directory)`` — a saved Loc3R model + processor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from loc3r.constants import CAM_TOKEN, ORI_TOKEN, POS_TOKEN

from .configuration_loc3r import Loc3RConfig
from .modeling_loc3r import Loc3RForConditionalGeneration
from .processing_loc3r import FrameTransform, Loc3RProcessor

__all__ = [
    "LLAVA_VIDEO_7B_HUB_ID",
    "tiny_base_config",
    "loc3r_tiny",
    "loc3r_llava_video_7b",
    "loc3r_7b",
    "add_loc3r_tokens",
    "add_camera_prior",
    "load_loc3r",
]

LLAVA_VIDEO_7B_HUB_ID = "llava-hf/LLaVA-Video-7B-Qwen2-hf"


def tiny_base_config(
    tokenizer,
    *,
    image_size: int = 64,
    patch_size: int = 8,
    vision_hidden_size: int = 32,
    vision_layers: int = 2,
    text_hidden_size: int = 64,
    text_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    text_intermediate_size: int | None = None,
    vision_intermediate_size: int | None = None,
    vision_num_heads: int | None = None,
    vision_config=None,
):
    """The tiny LLaVA-OneVision configuration (SigLIP + Qwen2) for a tokenizer with the placeholder tokens.

    MLP widths default to twice the hidden sizes; ``vision_num_heads`` defaults to ``num_heads``. A given
    ``vision_config`` (a ``SiglipVisionConfig``, e.g. a pretrained encoder's) is used as it is, and the other
    vision arguments are ignored.
    """
    from transformers import LlavaOnevisionConfig, Qwen2Config, SiglipVisionConfig

    vocab = tokenizer.get_vocab()
    text = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=text_hidden_size,
        intermediate_size=text_intermediate_size or 2 * text_hidden_size,
        num_hidden_layers=text_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    vision = vision_config or SiglipVisionConfig(
        image_size=image_size,
        patch_size=patch_size,
        hidden_size=vision_hidden_size,
        intermediate_size=vision_intermediate_size or 2 * vision_hidden_size,
        num_hidden_layers=vision_layers,
        num_attention_heads=vision_num_heads or num_heads,
        vision_use_head=False,
    )
    return LlavaOnevisionConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=vocab["<image>"],
        video_token_index=vocab["<video>"],
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        tie_word_embeddings=False,
    )


def loc3r_tiny(
    *,
    image_size: int = 64,
    patch_size: int = 8,
    prior_token_dim: int | None = 8,
    text_hidden_size: int = 64,
    text_layers: int = 2,
    vision_hidden_size: int = 32,
    vision_layers: int = 2,
    head_hidden_size: int = 32,
    seed: int = 0,
    vision_tower: str | None = None,
    base_config_kwargs: dict[str, Any] | None = None,
    **config_overrides: Any,
) -> tuple[Loc3RForConditionalGeneration, Loc3RProcessor]:
    """The tiny preset (random weights, deterministic for ``seed``).

    Args:
        image_size: frame side S of the vision tower (default 64).
        patch_size: SigLIP patch size (default 8: 8x8 patches -> a 4x4 pooled grid per frame).
        prior_token_dim: camera-prior token width (0/None: no camera prior).
        text_hidden_size: Qwen2 width (4 heads, 2 KV heads, MLP 2x width).
        text_layers: Qwen2 depth.
        vision_hidden_size: SigLIP width.
        vision_layers: SigLIP depth.
        head_hidden_size: width of f_cam, f_pos and f_ori.
        seed: weight-initialisation seed (the global RNG state is left untouched).
        vision_tower: a local folder or hub id of a SigLIP checkpoint whose pretrained encoder replaces the random
            one (``loc3r.modeling.vision_tower``): its width, depth and heads replace ``vision_hidden_size`` /
            ``vision_layers``, its position embeddings are resized to ``image_size / patch_size`` patches a side,
            and frames are normalised as its preprocessor says. ``patch_size`` must be its patch size.
        base_config_kwargs: extra ``tiny_base_config`` arguments (head counts, MLP widths).
        **config_overrides: any other ``Loc3RConfig`` field (``newline_layout``, ``bev_head_layer``,
            ``lambda_*``, ...).

    Returns:
        (model in eval mode, float32, on CPU; the matching processor).
    """
    from .tokenizer_tiny import build_tiny_tokenizer

    tok = build_tiny_tokenizer()
    vocab = tok.get_vocab()
    pretrained = None
    if vision_tower:
        from .vision_tower import load_siglip_vision_tower

        pretrained = load_siglip_vision_tower(vision_tower, image_size=image_size, patch_size=patch_size)
    fields: dict[str, Any] = dict(
        base_config=tiny_base_config(
            tok,
            vision_config=pretrained.config if pretrained else None,
            image_size=image_size,
            patch_size=patch_size,
            vision_hidden_size=vision_hidden_size,
            vision_layers=vision_layers,
            text_hidden_size=text_hidden_size,
            text_layers=text_layers,
            **(base_config_kwargs or {}),
        ),
        pos_token_id=vocab[POS_TOKEN],
        ori_token_id=vocab[ORI_TOKEN],
        cam_token_id=vocab[CAM_TOKEN],
        prior_token_dim=prior_token_dim,
        camera_projector_hidden_size=head_hidden_size,
        pos_head_hidden_size=head_hidden_size,
        ori_head_hidden_size=head_hidden_size,
    )
    fields.update(config_overrides)
    config = Loc3RConfig(**fields)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Loc3RForConditionalGeneration(config)
    frame_transform = FrameTransform(size=image_size)
    if pretrained:
        model.vlm.base.model.vision_tower.load_state_dict(pretrained.state_dict, strict=True)
        frame_transform = pretrained.frame_transform
    model.eval()
    processor = Loc3RProcessor.from_config(config, tok, frame_transform)
    return model, processor


def add_loc3r_tokens(tokenizer, base_model, *, use_camera: bool = True) -> dict[str, int]:
    """Add ``<Pos>``, ``<Ori>`` (and ``<cam>``) to a tokenizer and give them embedding rows in the base.

    New rows of the input embedding and of the LM head are set to the mean of the rows of the tokens that
    existed before (``mean_resizing``); the matrix is only grown when the tokenizer outgrows it (Qwen2
    checkpoints carry spare rows).

    Returns:
        ``{"pos_token_id", "ori_token_id", "cam_token_id"}`` (``cam_token_id`` None without a camera prior).
    """
    from tokenizers import AddedToken

    wanted = [POS_TOKEN, ORI_TOKEN] + ([CAM_TOKEN] if use_camera else [])
    old_len = len(tokenizer)
    vocab = tokenizer.get_vocab()
    new = [t for t in wanted if t not in vocab]
    if new:
        tokenizer.add_tokens(
            [AddedToken(t, special=True, normalized=False) for t in new], special_tokens=True
        )
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in wanted}
    emb = base_model.get_input_embeddings()
    if len(tokenizer) > emb.num_embeddings:
        base_model.resize_token_embeddings(len(tokenizer), mean_resizing=False)  # new rows are set just below
    new_ids = [ids[t] for t in new]
    if new_ids:
        with torch.no_grad():
            for w in {base_model.get_input_embeddings().weight, base_model.get_output_embeddings().weight}:
                ref = min(old_len, w.shape[0])
                w[new_ids] = w[:ref].float().mean(0).to(w.dtype)
    return {
        "pos_token_id": ids[POS_TOKEN],
        "ori_token_id": ids[ORI_TOKEN],
        "cam_token_id": ids[CAM_TOKEN] if use_camera else None,
    }


def add_camera_prior(
    model: Loc3RForConditionalGeneration,
    processor: Loc3RProcessor,
    prior_token_dim: int,
    seed: int = 0,
) -> Loc3RProcessor:
    """Give a Loc3R model trained without a camera prior one, in place: a fresh ``f_cam`` and a ``<cam>`` token.

    What the paper does to LLaVA-Video (the camera projector is new in Loc3R fine-tuning), for a Loc3R checkpoint
    saved without a prior: e.g. one pretraining checkpoint shared by variants with and without the prior. The
    ``<cam>`` token is added to the tokenizer when it lacks one (its embedding row set to the mean of the existing
    rows, ``add_loc3r_tokens``); ``f_cam`` (``camera_projector_hidden_size`` wide, default the LLM width) is
    initialised from ``seed``; every other weight is untouched.

    Args:
        model: a model whose config has no camera prior (``prior_token_dim`` 0/None).
        processor: its processor (its tokenizer gains ``<cam>`` when missing).
        prior_token_dim: width of the camera-prior tokens the backend gives (> 0).
        seed: initialisation seed of ``f_cam``.

    Returns:
        The processor for the changed model (frames now carry a camera token).

    Raises:
        ValueError: the model already has a camera prior, or ``prior_token_dim`` is not positive.
    """
    from .modeling_loc3r import CameraTokenProjector

    config = model.config
    if config.use_camera_prior:
        raise ValueError(f"the model already has a camera prior (prior_token_dim={config.prior_token_dim})")
    if int(prior_token_dim) <= 0:
        raise ValueError(f"prior_token_dim must be > 0, got {prior_token_dim}")
    ids = add_loc3r_tokens(processor.tokenizer, model.vlm.base, use_camera=True)
    if (ids["pos_token_id"], ids["ori_token_id"]) != (config.pos_token_id, config.ori_token_id):
        raise ValueError(
            f"the tokenizer's <Pos>/<Ori> ids {ids['pos_token_id']}/{ids['ori_token_id']} differ from the "
            f"model config's {config.pos_token_id}/{config.ori_token_id}"
        )
    d = model.vlm.hidden_size
    config.prior_token_dim = int(prior_token_dim)
    config.cam_token_id = ids["cam_token_id"]
    config.camera_projector_hidden_size = config.camera_projector_hidden_size or d
    config._validate()
    ref = next(model.parameters())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        projector = CameraTokenProjector(config.prior_token_dim, config.camera_projector_hidden_size, d,
                                         config.head_act)
    model.camera_projector = projector.to(device=ref.device, dtype=ref.dtype)
    model._layout_cache.clear()
    new = Loc3RProcessor.from_config(config, processor.tokenizer, processor.frame_transform)
    new.check_compatible(config)
    return new


def _attn_implementations(config) -> list[tuple[Any, Any]]:
    """(config, attention implementation) for a config and all its nested sub-configs."""
    out = [(config, config._attn_implementation)]
    for key in getattr(config, "sub_configs", {}) or {}:
        sub = getattr(config, key, None)
        if sub is not None:
            out += _attn_implementations(sub)
    return out


def _frame_transform_from_checkpoint(path_or_hub_id: str, image_size: int) -> FrameTransform:
    """The checkpoint's video (else image) preprocessor transform of side ``image_size``, else the default."""
    for ft in FrameTransform.from_checkpoint(path_or_hub_id):
        if ft.size == image_size:
            return ft
    return FrameTransform(size=image_size)


def loc3r_llava_video_7b(
    path_or_hub_id: str = LLAVA_VIDEO_7B_HUB_ID,
    *,
    dtype: torch.dtype = torch.bfloat16,
    prior_token_dim: int | None = 768,
    attn_implementation: str | None = None,
    device_map: Any = None,
    **config_overrides: Any,
) -> tuple[Loc3RForConditionalGeneration, Loc3RProcessor]:
    """Loc3R on LLaVA-Video-7B-Qwen2 (transformers' LLaVA-OneVision classes), heads freshly initialised.

    Returns (model in eval mode, processor). Call ``set_trainable`` / ``model.train()`` before training.

    Args:
        path_or_hub_id: a local directory or hub id of a transformers-format LLaVA-OneVision checkpoint.
        dtype: weight dtype of the whole model (heads included).
        prior_token_dim: camera-prior token width (CUT3R: 768; 0/None: no camera prior).
        attn_implementation: passed to ``from_pretrained`` (``"sdpa"``, ``"flash_attention_2"``, ...).
        device_map: passed to ``from_pretrained``.
        **config_overrides: other ``Loc3RConfig`` fields.
    """
    from transformers import AutoTokenizer, LlavaOnevisionForConditionalGeneration

    kwargs: dict[str, Any] = {"dtype": dtype}
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    if device_map is not None:
        kwargs["device_map"] = device_map
    base = LlavaOnevisionForConditionalGeneration.from_pretrained(
        path_or_hub_id, trust_remote_code=False, **kwargs
    )
    tok = AutoTokenizer.from_pretrained(path_or_hub_id, trust_remote_code=False)
    if tok.pad_token_id is None:
        tok.pad_token = "<|endoftext|>"
    if tok.eos_token != "<|im_end|>" and "<|im_end|>" in tok.get_vocab():
        tok.eos_token = "<|im_end|>"
    ids = add_loc3r_tokens(tok, base, use_camera=bool(prior_token_dim))
    # Building a config resets the attention implementation of its sub-configs; keep what the base was loaded
    # with.
    attn = _attn_implementations(base.config)
    config = Loc3RConfig(base_config=base.config, prior_token_dim=prior_token_dim, **ids, **config_overrides)
    for cfg, value in attn:
        cfg._attn_implementation_internal = value
    config._attn_implementation_internal = base.config.get_text_config()._attn_implementation
    model = Loc3RForConditionalGeneration(config, base_model=base)
    device = base.get_input_embeddings().weight.device
    for m in (model.camera_projector, model.bev_head, model.pos_head, model.ori_head):
        if m is not None:
            m.to(device=device, dtype=dtype)
    model.eval()
    ft = _frame_transform_from_checkpoint(path_or_hub_id, base.config.vision_config.image_size)
    return model, Loc3RProcessor.from_config(config, tok, ft)


#: The paper's model (style guide name).
loc3r_7b = loc3r_llava_video_7b


def load_loc3r(
    directory: str | Path, **from_pretrained_kwargs: Any
) -> tuple[Loc3RForConditionalGeneration, Loc3RProcessor]:
    """Load a model and processor saved with ``save_pretrained`` into one directory (no remote code)."""
    model = Loc3RForConditionalGeneration.from_pretrained(str(directory), **from_pretrained_kwargs)
    processor = Loc3RProcessor.from_pretrained(directory)
    processor.check_compatible(model.config)
    return model, processor
