"""Loc3R-VLM: the whole forward path in one file (method.md §2–§5).

Design (each [G] choice is a ``Loc3RConfig`` field):

* The base VLM (LLaVA-Video-7B-Qwen2 through transformers' LLaVA-OneVision classes) sits behind a small
  adapter (``base_adapter.py``); this file never reaches into its internals.
* The processor writes, per video, one contiguous block of placeholder ids laid out by
  ``Loc3RConfig.video_token_layout``: per frame ``<cam>`` (camera slot) then ``<video>`` ids for the pooled
  patch tokens and the newline tokens. ``forward`` checks that block loudly, then replaces it by
  ``[f_cam(z_t), v_t(0,0), ..., (newline) ...]`` and records for every position its kind (text / camera /
  vision with (frame, row, col) / newline), so BEV targets line up with vision tokens exactly.
* Heads read the LLM's final hidden states: ``BEVHead`` (linear, every pooled patch token; its input layer is
  ``bev_head_layer``), ``PositionHead`` (2-layer MLP on ``<Pos>``), ``OrientationHead`` (2-layer MLP on
  ``<Ori>``, 36 bin logits).
* Loss: ``L = CE + λ_BEV·L_BEV + λ_sit·(L_pos + λ_ori·L_ori)`` with the pure functions of ``losses.py``.

Frames and units of every output are documented on ``Loc3ROutput``. Positions are BEV metres in the
first-frame, gravity-aligned frame; headings are radians in [-π, π) from the BEV x axis (see
``loc3r.geometry.frames``).

Usage (tiny preset, CPU)::

    from loc3r.modeling import loc3r_tiny
    model, processor = loc3r_tiny()
    loc = model.localize(frames, ["I am facing the red chair"], processor=processor, camera_tokens=cam)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModel, GenerationMixin, PreTrainedModel
from transformers.activations import ACT2FN
from transformers.modeling_outputs import ModelOutput

from loc3r.geometry.bins import bin_centers, circular_soft_argmax

from .base_adapter import VLMAdapter, build_adapter
from .configuration_loc3r import SLOT_CAMERA, SLOT_NEWLINE, SLOT_VISION, Loc3RConfig, VideoTokenLayout
from .losses import (
    bev_loss,
    causal_lm_loss,
    combine_losses,
    grounding_attention_loss,
    orientation_kl,
    position_loss,
    semantic_loss,
)

__all__ = [
    "CameraTokenProjector",
    "BEVHead",
    "PositionHead",
    "OrientationHead",
    "Loc3ROutput",
    "Localization",
    "Loc3RPreTrainedModel",
    "Loc3RForConditionalGeneration",
]


# ============================================================================================== modules
class CameraTokenProjector(nn.Module):
    """f_cam: a 2-layer MLP mapping a camera-prior token [.., D_prior] to the LLM embedding space [.., D]."""

    def __init__(self, prior_dim: int, hidden_size: int, out_size: int, act: str = "gelu"):
        super().__init__()
        self.linear_1 = nn.Linear(prior_dim, hidden_size)
        self.act = ACT2FN[act]
        self.linear_2 = nn.Linear(hidden_size, out_size)

    def forward(self, camera_tokens: torch.Tensor) -> torch.Tensor:
        """[.., D_prior] -> [.., D]."""
        return self.linear_2(self.act(self.linear_1(camera_tokens)))


class BEVHead(nn.Module):
    """f_proj: one linear layer, hidden state [.., D] -> (x, y, raw_σx, raw_σy) [.., 4] (method.md §3)."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.proj = nn.Linear(hidden_size, 4)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """[.., D] hidden states -> raw outputs [.., K]."""
        return self.proj(hidden_states)


class PositionHead(nn.Module):
    """f_pos: 2-layer MLP on the ``<Pos>`` hidden state -> (x, y, raw σ).

    One σ output per axis (4 outputs) or one shared by both axes (3 outputs).
    """

    def __init__(self, hidden_size: int, mlp_size: int, isotropic: bool = False, act: str = "gelu"):
        super().__init__()
        self.linear_1 = nn.Linear(hidden_size, mlp_size)
        self.act = ACT2FN[act]
        self.linear_2 = nn.Linear(mlp_size, 3 if isotropic else 4)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """[.., D] hidden states -> raw outputs [.., K]."""
        return self.linear_2(self.act(self.linear_1(hidden_states)))


class OrientationHead(nn.Module):
    """f_ori: 2-layer MLP on the ``<Ori>`` hidden state -> ``num_bins`` orientation logits."""

    def __init__(self, hidden_size: int, mlp_size: int, num_bins: int, act: str = "gelu"):
        super().__init__()
        self.linear_1 = nn.Linear(hidden_size, mlp_size)
        self.act = ACT2FN[act]
        self.linear_2 = nn.Linear(mlp_size, num_bins)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """[.., D] hidden states -> raw outputs [.., K]."""
        return self.linear_2(self.act(self.linear_1(hidden_states)))


# ============================================================================================== outputs
@dataclass
class Loc3ROutput(ModelOutput):
    """Outputs of ``Loc3RForConditionalGeneration.forward``.

    B = batch, L = sequence length, V = vocabulary, T = frames, R x C = pooled token grid of a frame,
    N_b = ``num_ori_bins``. Positions are metres in the first-frame gravity-aligned BEV frame; headings
    radians.

    Attributes:
        loss: [] total ``L_CE + λ_BEV·L_BEV + λ_sit·(L_pos + λ_ori·L_ori)`` over the terms that have targets
            and a non-zero weight; None when no target was given.
        logits: [B, L', V] next-token logits (L' = L, or ``logits_to_keep`` last positions).
        loss_ce: [] answer-token cross-entropy (None without ``labels``).
        loss_bev: [] L_BEV, Gaussian NLL per supervised token (None without ``bev_targets``).
        loss_pos: [] L_pos, Gaussian NLL of the agent position (None without ``pos_target``).
        loss_ori: [] L_ori, KL(wrapped-Gaussian target ‖ softmax(ori_logits)).
        loss_sit: [] L_pos + λ_ori·L_ori.
        loss_sem: [] optional per-token semantic cross-entropy (None without ``semantic_targets`` or head).
        loss_ground: [] optional grounding-attention loss (None without ``lambda_ground`` or referent masks).
        loss_local: [] optional local-layout NLL (None without ``local_targets`` or the local head).
        pos_mean: [B, 2] predicted agent (x, y), BEV metres (from ``<Pos>``).
        pos_log_var: [B, 2] predicted log σ² per axis (σ in metres).
        ori_logits: [B, N_b] orientation bin logits (from ``<Ori>``); bin b's centre is
            ``-π + (b + ori_bin_offset)·2π/N_b``.
        bev_pred: [B, T, R, C, 4] per vision token (x, y, log σ²_x, log σ²_y), BEV metres; [b, t, r, c] is the
            pooled token of frame t at grid row r (0 = image top), column c (0 = image left).
        camera_bev_pred: [B, T, 4] the same for camera tokens (only with ``bev_tokens="patches+camera"``).
        semantic_logits: [B, T, R, C, K + 1] per vision token category logits (optional semantic head;
            index 0 = none of ``semantic_classes``).
        local_pred: [B, T, R, C, 4] per vision token (x, y, log σ²_x, log σ²_y) in its own frame's BEV frame,
            metres (optional local-layout head).
        token_types: [B, L] int8 kind of each position: 0 text, 1 camera, 2 vision, 3 newline.
        vision_positions: [B, T, R, C] sequence index of every vision token.
        camera_positions: [B, T] sequence index of every camera token (None without a camera prior).
        pos_positions: [B] sequence index of ``<Pos>``; ori_positions: [B] of ``<Ori>``.
        past_key_values: KV cache when ``use_cache``.
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    loss_ce: torch.Tensor | None = None
    loss_bev: torch.Tensor | None = None
    loss_pos: torch.Tensor | None = None
    loss_ori: torch.Tensor | None = None
    loss_sit: torch.Tensor | None = None
    loss_sem: torch.Tensor | None = None
    loss_ground: torch.Tensor | None = None
    loss_local: torch.Tensor | None = None
    pos_mean: torch.Tensor | None = None
    pos_log_var: torch.Tensor | None = None
    ori_logits: torch.Tensor | None = None
    bev_pred: torch.Tensor | None = None
    camera_bev_pred: torch.Tensor | None = None
    semantic_logits: torch.Tensor | None = None
    local_pred: torch.Tensor | None = None
    token_types: torch.Tensor | None = None
    vision_positions: torch.Tensor | None = None
    camera_positions: torch.Tensor | None = None
    pos_positions: torch.Tensor | None = None
    ori_positions: torch.Tensor | None = None
    past_key_values: Any | None = None


@dataclass
class Localization:
    """Result of ``Loc3RForConditionalGeneration.localize`` for a batch of B samples.

    Attributes:
        position_bev: [B, 2] agent (x, y), metres, first-frame BEV frame.
        sigma_bev: [B, 2] per-axis σ, metres.
        heading_bev: [B] facing heading, radians in [-π, π), from the BEV x axis (circular soft-argmax).
        ori_probs: [B, N_b] orientation distribution over the bins.
        bin_centers: [N_b] bin centres, radians.
        position_world: [B, 2] float64 (x, y) in the world frame of the given first-frame poses (NaN rows for
            samples without a pose), or None when no pose was given.
        heading_world: [B] float64 facing heading in that world frame (NaN where no pose), or None.
    """

    position_bev: torch.Tensor
    sigma_bev: torch.Tensor
    heading_bev: torch.Tensor
    ori_probs: torch.Tensor
    bin_centers: torch.Tensor
    position_world: np.ndarray | None = None
    heading_world: np.ndarray | None = None


@dataclass
class _VideoSplice:
    """Where a batch's video block went (internal)."""

    layout: VideoTokenLayout
    positions: torch.Tensor  # [B, N] sequence index of each layout slot
    vision_positions: torch.Tensor  # [B, T, R, C]
    camera_positions: torch.Tensor | None  # [B, T]
    token_types: torch.Tensor  # [B, L] int8


# ============================================================================================== model
class Loc3RPreTrainedModel(PreTrainedModel):
    """Config class, weight init and capability flags shared by Loc3R models."""

    config_class = Loc3RConfig
    base_model_prefix = "loc3r"
    input_modalities = ("video", "text")
    supports_gradient_checkpointing = True
    _skip_keys_device_placement = ["past_key_values"]
    _supports_flash_attn = True
    _supports_sdpa = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    _can_compile_fullgraph = False


class Loc3RForConditionalGeneration(Loc3RPreTrainedModel, GenerationMixin):
    """Loc3R-VLM: base video VLM + camera-prior tokens + situation tokens + BEV/position/orientation heads.

    Args:
        config: the ``Loc3RConfig``.
        base_model: an already built base VLM (e.g. loaded with ``from_pretrained``) to wrap instead of
            building a randomly initialised one from ``config.base_config``; ``config.base_config`` is then
            replaced by the base model's own config object so both stay in sync.
    """

    def __init__(self, config: Loc3RConfig, base_model: nn.Module | None = None):
        if base_model is not None:
            config.base_config = base_model.config
        super().__init__(config)
        self.vlm: VLMAdapter = build_adapter(config.base_config, base_model)
        d = self.vlm.hidden_size
        self.camera_projector = (
            CameraTokenProjector(
                config.prior_token_dim, config.camera_projector_hidden_size or d, d, config.head_act
            )
            if config.use_camera_prior
            else None
        )
        self.bev_head = BEVHead(d) if config.use_bev_head else None
        self.semantic_head = (
            nn.Linear(d, len(config.semantic_classes) + 1) if config.use_semantic_head else None
        )
        self.local_head = BEVHead(d) if config.use_local_head else None
        if config.use_situation_heads:
            self.pos_head = PositionHead(
                d, config.pos_head_hidden_size or d, config.pos_isotropic, config.head_act
            )
            self.ori_head = OrientationHead(
                d, config.ori_head_hidden_size or d, config.num_ori_bins, config.head_act
            )
        else:
            self.pos_head = None
            self.ori_head = None
        self._layout_cache: dict[tuple, tuple[VideoTokenLayout, dict[str, torch.Tensor]]] = {}
        self.post_init()

    # ------------------------------------------------------------------------------------------ HF plumbing
    def get_input_embeddings(self) -> nn.Embedding:
        """The LLM token embedding table."""
        return self.vlm.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        """Replace the LLM token embedding table."""
        self.vlm.base.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module:
        """The LM head."""
        return self.vlm.get_output_embeddings()

    def set_output_embeddings(self, value: nn.Module) -> None:
        """Replace the LM head."""
        self.vlm.base.set_output_embeddings(value)

    def resize_token_embeddings(
        self,
        new_num_tokens: int | None = None,
        pad_to_multiple_of: int | None = None,
        mean_resizing: bool = True,
    ) -> nn.Embedding:
        """Resize the base LLM's embedding table and LM head (delegates to the base model)."""
        out = self.vlm.base.resize_token_embeddings(new_num_tokens, pad_to_multiple_of, mean_resizing)
        self.config.base_config = self.vlm.base.config
        return out

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Disjoint parameter groups covering the whole model.

        Keys: ``vision_tower``, ``projector`` (vision->LLM projector and newline embedding),
        ``language_model`` (LLM, token embeddings, LM head), ``camera_projector`` (f_cam), ``heads`` (BEV,
        position, orientation).
        """
        groups = dict(self.vlm.parameter_groups())
        groups["camera_projector"] = list(self.camera_projector.parameters()) if self.camera_projector else []
        all_heads = (self.bev_head, self.semantic_head, self.local_head, self.pos_head, self.ori_head)
        heads = [h for h in all_heads if h is not None]
        groups["heads"] = [p for h in heads for p in h.parameters()]
        return groups

    # ------------------------------------------------------------------------------------------ layout
    def _layout(
        self, num_frames: int, device: torch.device
    ) -> tuple[VideoTokenLayout, dict[str, torch.Tensor]]:
        """The video layout for T frames plus index tensors derived from it (cached)."""
        c = self.config
        key = (
            num_frames,
            c.newline_layout,
            c.camera_token_position,
            c.use_camera_prior,
            c.token_grid(),
            c.video_token_id,
            c.cam_token_id,
            str(device),
        )
        hit = self._layout_cache.get(key)
        if hit is not None:
            return hit
        layout = c.video_token_layout(num_frames)
        t, rows, cols = num_frames, layout.rows, layout.cols
        n_vis = t * rows * cols
        # Index of every slot's embedding in cat([vision (T*R*C), camera (T), newline (1)]).
        src = np.empty(len(layout), dtype=np.int64)
        vis = layout.kinds == SLOT_VISION
        src[vis] = layout.frame[vis] * rows * cols + layout.row[vis] * cols + layout.col[vis]
        cam = layout.kinds == SLOT_CAMERA
        src[cam] = n_vis + layout.frame[cam]
        src[layout.kinds == SLOT_NEWLINE] = n_vis + (t if c.use_camera_prior else 0)
        tensors = {
            "ids": torch.as_tensor(layout.token_ids(c.video_token_id, c.cam_token_id), device=device),
            "src": torch.as_tensor(src, device=device),
            "kinds": torch.as_tensor(layout.kinds, device=device),
            "vision_slots": torch.as_tensor(layout.vision_slots(), device=device),
            "camera_slots": torch.as_tensor(layout.camera_slots(), device=device),
        }
        self._layout_cache[key] = (layout, tensors)
        return layout, tensors

    def _placeholder_mask(self, input_ids: torch.Tensor) -> torch.Tensor:
        mask = input_ids == self.config.video_token_id
        if self.config.cam_token_id is not None:
            mask = mask | (input_ids == self.config.cam_token_id)
        return mask

    def _locate_video(self, input_ids: torch.Tensor, num_frames: int) -> tuple[_VideoSplice, dict]:
        """Find and check every sample's video placeholder block (raises ValueError on any mismatch)."""
        layout, idx = self._layout(num_frames, input_ids.device)
        n = len(layout)
        is_ph = self._placeholder_mask(input_ids)
        counts = is_ph.sum(1)
        if (counts != n).any():
            raise ValueError(
                f"Video placeholders do not match the video: per-sample <video>/<cam> token counts "
                f"{counts.tolist()}, but a {num_frames}-frame video with a {layout.rows}x{layout.cols} grid, "
                f"newline_layout={self.config.newline_layout!r} and "
                f"camera prior={self.config.use_camera_prior} "
                f"needs exactly {n}. Build the inputs with Loc3RProcessor for this config."
            )
        starts = is_ph.to(torch.int8).argmax(1)
        positions = starts[:, None] + torch.arange(n, device=input_ids.device)
        if (positions[:, -1] >= input_ids.shape[1]).any() or not torch.equal(
            input_ids.gather(1, positions.clamp(max=input_ids.shape[1] - 1)),
            idx["ids"].expand(len(input_ids), n),
        ):
            raise ValueError(
                "Video placeholders are not one contiguous block in the expected pattern (per frame: "
                f"{'<cam> then ' if self.config.use_camera_prior else ''}<video> tokens, "
                f"camera_token_position={self.config.camera_token_position!r}). Build the inputs with "
                "Loc3RProcessor for this config."
            )
        token_types = torch.zeros_like(input_ids, dtype=torch.int8)
        token_types.scatter_(1, positions, idx["kinds"].expand(len(input_ids), n))
        vision_positions = positions[:, idx["vision_slots"]]  # [B, T, R, C]
        camera_positions = positions[:, idx["camera_slots"]] if self.config.use_camera_prior else None
        splice = _VideoSplice(layout, positions, vision_positions, camera_positions, token_types)
        return splice, idx

    def _splice_video(
        self,
        input_ids: torch.Tensor,
        inputs_embeds: torch.Tensor,
        pixel_values_videos: torch.Tensor,
        camera_tokens: torch.Tensor | None,
    ) -> tuple[torch.Tensor, _VideoSplice]:
        """Replace each sample's placeholder block by [camera, vision, newline] embeddings (module doc)."""
        if pixel_values_videos.ndim != 5 or pixel_values_videos.shape[0] != input_ids.shape[0]:
            raise ValueError(
                f"pixel_values_videos must be [B, T, 3, H, W] with B = {input_ids.shape[0]}, got "
                f"{tuple(pixel_values_videos.shape)}"
            )
        b, t = pixel_values_videos.shape[:2]
        splice, idx = self._locate_video(input_ids, t)
        frames = self.vlm.encode_video(pixel_values_videos)
        if (frames.rows, frames.cols) != (splice.layout.rows, splice.layout.cols):
            raise RuntimeError(
                f"base grid {frames.rows}x{frames.cols} != layout grid "
                f"{splice.layout.rows}x{splice.layout.cols}"
            )
        d = inputs_embeds.shape[-1]
        sources = [frames.features.flatten(1, 2).to(inputs_embeds.dtype)]
        if self.config.use_camera_prior:
            if camera_tokens is None:
                raise ValueError(
                    "this model has a camera-pose prior (prior_token_dim="
                    f"{self.config.prior_token_dim}): pass camera_tokens "
                    f"[B, T, {self.config.prior_token_dim}]"
                )
            if tuple(camera_tokens.shape) != (b, t, self.config.prior_token_dim):
                raise ValueError(
                    f"camera_tokens must be [B={b}, T={t}, D_prior={self.config.prior_token_dim}], got "
                    f"{tuple(camera_tokens.shape)}"
                )
            proj_dtype = self.camera_projector.linear_1.weight.dtype
            sources.append(self.camera_projector(camera_tokens.to(proj_dtype)).to(inputs_embeds.dtype))
        elif camera_tokens is not None:
            raise ValueError(
                "camera_tokens given, but this model has no camera prior (prior_token_dim is 0/None)"
            )
        newline = self.vlm.newline_embedding()
        if newline is not None:
            sources.append(newline.to(inputs_embeds.dtype).expand(b, 1, d))
        elif (splice.layout.kinds == SLOT_NEWLINE).any():
            raise ValueError(
                f"newline_layout={self.config.newline_layout!r} but the base model has no newline embedding"
            )
        src = torch.cat(sources, dim=1)
        block = src[:, idx["src"]]  # [B, N, D]
        inputs_embeds = inputs_embeds.scatter(1, splice.positions[..., None].expand(-1, -1, d), block)
        return inputs_embeds, splice

    @staticmethod
    def _find_single(input_ids: torch.Tensor, token_id: int | None, name: str) -> torch.Tensor | None:
        """[B] index of ``token_id`` per sample; None if absent everywhere; ValueError unless one each."""
        if token_id is None:
            return None
        hits = input_ids == token_id
        counts = hits.sum(1)
        if (counts == 0).all():
            return None
        if (counts != 1).any():
            raise ValueError(
                f"every sample needs exactly one {name} token; per-sample counts {counts.tolist()}"
            )
        return hits.to(torch.int8).argmax(1)

    # ------------------------------------------------------------------------------------------ heads
    def _to_log_var(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw σ outputs -> log σ² (float32) per ``sigma_parametrization``."""
        c = self.config
        raw = raw.float()
        if c.sigma_parametrization == "log_var":
            return raw.clamp(c.log_var_min, c.log_var_max)
        sigma = F.softplus(raw) + c.sigma_min
        return (2.0 * torch.log(sigma)).clamp(c.log_var_min, c.log_var_max)

    def _bev_outputs(self, hidden: torch.Tensor, head: nn.Module | None = None) -> torch.Tensor:
        raw = (head if head is not None else self.bev_head)(hidden)
        return torch.cat([raw[..., :2].float(), self._to_log_var(raw[..., 2:])], dim=-1)

    def orientation_bin_centers(self, device=None) -> torch.Tensor:
        """[N_b] bin centres, radians."""
        return bin_centers(self.config.num_ori_bins, self.config.ori_bin_offset, device=device)

    # ------------------------------------------------------------------------------------------ forward
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        past_key_values=None,
        inputs_embeds: torch.Tensor | None = None,
        pixel_values_videos: torch.Tensor | None = None,
        camera_tokens: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        bev_targets: torch.Tensor | None = None,
        bev_mask: torch.Tensor | None = None,
        camera_bev_targets: torch.Tensor | None = None,
        camera_bev_mask: torch.Tensor | None = None,
        semantic_targets: torch.Tensor | None = None,
        local_targets: torch.Tensor | None = None,
        local_mask: torch.Tensor | None = None,
        ground_pos_mask: torch.Tensor | None = None,
        ground_ori_mask: torch.Tensor | None = None,
        pos_target: torch.Tensor | None = None,
        ori_target: torch.Tensor | None = None,
        sit_mask: torch.Tensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        num_items_in_batch: int | torch.Tensor | None = None,
        situation_heads: bool | None = None,
        **kwargs,
    ) -> Loc3ROutput:
        r"""Run Loc3R-VLM and compute every loss whose targets are given.

        Args:
            input_ids: [B, L] token ids from ``Loc3RProcessor`` (one video placeholder block per sample, one
                ``<Pos>`` and one ``<Ori>``).
            attention_mask: [B, L] 1 = real token, 0 = padding (left or right).
            position_ids: [B, L]; default: ``cumsum(attention_mask) - 1`` (padding-independent positions).
            past_key_values: KV cache (generation).
            inputs_embeds: [B, L, D] instead of ``input_ids`` (no video splicing, no heads).
            pixel_values_videos: [B, T, 3, S, S] normalised frames (``Loc3RProcessor``).
            camera_tokens: [B, T, D_prior] camera-pose prior tokens of the frames (e.g. CUT3R z'_t), required
                iff the config has a camera prior.
            labels: [B, L] answer token ids, -100 elsewhere (CE on answer tokens only).
            bev_targets: [B, T, R, C, 2] BEV (x, y) target of every pooled vision token, metres.
            bev_mask: [B, T, R, C] bool, valid targets (e.g. tokens whose footprint has valid depth).
            camera_bev_targets: [B, T, 2] BEV (x, y) of each frame's camera centre, metres (only used with
                ``bev_tokens="patches+camera"``).
            camera_bev_mask: [B, T] bool, valid ``camera_bev_targets``.
            semantic_targets: [B, T, R, C] int category target of every vision token (index + 1 into
                ``semantic_classes``, 0 = none, ``ignore_index`` = unknown); only with the semantic head.
            local_targets: [B, T, R, C, 2] every vision token's (x, y) in its own frame's BEV frame, metres
                (``loc3r.data.bev_targets.egocentric_targets``); only with the local-layout head.
            local_mask: [B, T, R, C] bool, valid ``local_targets``.
            ground_pos_mask: [B, T, R, C] bool, the vision tokens of the object the situation places the
                agent at (L_ground on ``<Pos>``'s attention; only with ``lambda_ground``).
            ground_ori_mask: [B, T, R, C] bool, the vision tokens of the object the agent faces (``<Ori>``).
            pos_target: [B, 2] agent (x, y), BEV metres.
            ori_target: [B] agent facing heading, BEV radians.
            sit_mask: [B] bool, False for samples without a ground-truth situation (pseudo-situation): no
                L_sit.
            use_cache: return a KV cache.
            logits_to_keep: compute logits only for the last ``logits_to_keep`` positions (0 = all).
            **kwargs: ignored (accepted for compatibility with generation and the HF ``Trainer``).
            num_items_in_batch: number of supervised answer tokens over the whole accumulated batch (set by
                the HF ``Trainer`` for exact gradient accumulation).
            situation_heads: run the ``<Pos>``/``<Ori>`` heads on this chunk of ``input_ids``. None (default):
                only on a chunk without a KV cache before it (decoding steps never contain the tokens); True:
                also on a chunk appended to a cache, e.g. a per-query suffix after a cached video prefix
                (``loc3r.eval.scene_cache``).

        Returns:
            ``Loc3ROutput`` (loss first).
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids and inputs_embeds")
        past_len = 0
        if past_key_values is not None and hasattr(past_key_values, "get_seq_length"):
            past_len = int(past_key_values.get_seq_length())
        prefill = past_len == 0

        splice = None
        if inputs_embeds is None:
            inputs_embeds = self.vlm.embed_tokens(input_ids)
            if pixel_values_videos is not None:
                inputs_embeds, splice = self._splice_video(
                    input_ids, inputs_embeds, pixel_values_videos, camera_tokens
                )
            elif prefill and self._placeholder_mask(input_ids).any():
                raise ValueError(
                    "input_ids contain <video>/<cam> placeholders but no pixel_values_videos were given"
                )
        elif pixel_values_videos is not None:
            raise ValueError(
                "pixel_values_videos need input_ids (to locate the placeholders), not inputs_embeds"
            )

        if position_ids is None and attention_mask is not None and attention_mask.ndim == 2 and prefill:
            position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)

        if use_cache is None and self.training:
            # No KV cache while training (none is possible with activation checkpointing anyway).
            use_cache = False
        c = self.config
        has_token_heads = any(h is not None for h in (self.bev_head, self.semantic_head, self.local_head))
        bev_index = c.bev_head_hidden_index if (has_token_heads and splice is not None) else None
        want_ground = bool(
            c.lambda_ground
            and splice is not None
            and input_ids is not None
            and (ground_pos_mask is not None or ground_ori_mask is not None)
        )
        lm = self.vlm.run_language_model(
            inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            use_cache=use_cache,
            hidden_state_index=bev_index,
            attention_layer=c.ground_attention_index if want_ground else None,
        )
        hidden = lm.last_hidden_state
        if isinstance(logits_to_keep, int):
            keep = slice(-logits_to_keep, None) if logits_to_keep > 0 else slice(None)
            logits = self.vlm.compute_logits(hidden[:, keep, :])
        else:
            logits = self.vlm.compute_logits(hidden[:, logits_to_keep, :])

        out = Loc3ROutput(logits=logits, past_key_values=lm.past_key_values)
        b_idx = torch.arange(hidden.shape[0], device=hidden.device)

        # Situation heads on <Pos> / <Ori> (by default prefill only: decoding steps never contain them).
        run_situation_heads = prefill if situation_heads is None else situation_heads
        if self.pos_head is not None and input_ids is not None and run_situation_heads:
            pos_at = self._find_single(input_ids, c.pos_token_id, "<Pos>")
            ori_at = self._find_single(input_ids, c.ori_token_id, "<Ori>")
            if (pos_at is None) != (ori_at is None):
                raise ValueError("<Pos> and <Ori> must both be present (or both absent) in the inputs")
            if pos_at is not None:
                raw = self.pos_head(hidden[b_idx, pos_at])
                out.pos_mean = raw[:, :2].float()
                out.pos_log_var = self._to_log_var(raw[:, 2:]).expand(-1, 2)
                out.ori_logits = self.ori_head(hidden[b_idx, ori_at]).float()
                out.pos_positions, out.ori_positions = pos_at, ori_at

        # BEV head on every pooled vision token (and camera tokens if configured).
        if splice is not None:
            out.token_types = splice.token_types
            out.vision_positions = splice.vision_positions
            out.camera_positions = splice.camera_positions
            src = lm.selected_hidden_state if lm.selected_hidden_state is not None else hidden
            if self.semantic_head is not None:
                out.semantic_logits = self.semantic_head(
                    src[b_idx[:, None, None, None], splice.vision_positions]
                ).float()
            if self.local_head is not None:
                out.local_pred = self._bev_outputs(
                    src[b_idx[:, None, None, None], splice.vision_positions], self.local_head
                )
            if self.bev_head is not None:
                out.bev_pred = self._bev_outputs(src[b_idx[:, None, None, None], splice.vision_positions])
                if c.bev_tokens == "patches+camera":
                    out.camera_bev_pred = self._bev_outputs(src[b_idx[:, None], splice.camera_positions])

        # Losses.
        loss_ce = loss_bev = loss_pos = loss_ori = loss_sem = loss_ground = loss_local = None
        if labels is not None:
            if logits.shape[1] != labels.shape[1]:
                raise ValueError("labels need logits for every position (logits_to_keep=0)")
            loss_ce = causal_lm_loss(logits, labels, c.ignore_index, num_items_in_batch)
        if c.lambda_bev and bev_targets is not None and out.bev_pred is not None:
            loss_bev = self._token_nll(
                "bev", out.bev_pred, bev_targets, bev_mask,
                out.camera_bev_pred, camera_bev_targets, camera_bev_mask,
            )
        if c.lambda_sem and semantic_targets is not None and out.semantic_logits is not None:
            loss_sem = semantic_loss(out.semantic_logits, semantic_targets.to(hidden.device), c.ignore_index)
        if c.lambda_local and local_targets is not None and out.local_pred is not None:
            loss_local = self._token_nll("local", out.local_pred, local_targets, local_mask)
        if want_ground and lm.attention is not None and out.pos_positions is not None:
            vis = splice.vision_positions.reshape(splice.vision_positions.shape[0], -1)
            terms = [
                grounding_attention_loss(lm.attention, at, vis, m.reshape(m.shape[0], -1))
                for at, m in ((out.pos_positions, ground_pos_mask), (out.ori_positions, ground_ori_mask))
                if m is not None and m.any()
            ]
            if terms:
                loss_ground = sum(terms) / len(terms)
        if c.lambda_sit and pos_target is not None:
            if out.pos_mean is None:
                raise ValueError(
                    "pos_target given but the inputs have no <Pos>/<Ori> tokens (or no situation heads)"
                )
            loss_pos = position_loss(out.pos_mean, out.pos_log_var, pos_target.to(hidden.device), sit_mask)
            if c.lambda_ori:
                if ori_target is None:
                    raise ValueError("pos_target given without ori_target")
                loss_ori = orientation_kl(
                    out.ori_logits,
                    ori_target.to(hidden.device),
                    math.radians(c.sigma_ori_deg),
                    sit_mask,
                    c.ori_bin_offset,
                )
        parts = combine_losses(
            loss_ce=loss_ce,
            loss_bev=loss_bev,
            loss_pos=loss_pos,
            loss_ori=loss_ori,
            lambda_bev=c.lambda_bev,
            lambda_sit=c.lambda_sit,
            lambda_ori=c.lambda_ori,
            loss_sem=loss_sem,
            lambda_sem=c.lambda_sem,
            loss_ground=loss_ground,
            lambda_ground=c.lambda_ground,
            loss_local=loss_local,
            lambda_local=c.lambda_local,
        )
        for k, v in parts.items():
            setattr(out, k, v)
        return out

    def _token_nll(self, name: str, pred, targets, mask, cam_pred=None, cam_targets=None, cam_mask=None
                   ) -> torch.Tensor:
        """Gaussian NLL of per-token (x, y) predictions ``pred`` [B, T, R, C, 4] against ``<name>_targets``
        (L_BEV, optionally with the camera tokens; or the local-layout loss)."""
        if tuple(targets.shape) != tuple(pred.shape[:-1]) + (2,):
            raise ValueError(
                f"{name}_targets must be [B, T, R, C, 2] = {tuple(pred.shape[:-1]) + (2,)}, got "
                f"{tuple(targets.shape)}"
            )
        if mask is not None and tuple(mask.shape) != tuple(pred.shape[:-1]):
            raise ValueError(
                f"{name}_mask must be [B, T, R, C] = {tuple(pred.shape[:-1])}, got {tuple(mask.shape)}"
            )
        b = pred.shape[0]
        targets = targets.to(pred.device)
        mask = (
            torch.ones(pred.shape[:-1], dtype=torch.bool, device=pred.device)
            if mask is None
            else mask.to(pred.device)
        )
        mean, log_var, tgt, m = (
            pred[..., :2].reshape(b, -1, 2),
            pred[..., 2:].reshape(b, -1, 2),
            targets.reshape(b, -1, 2),
            mask.reshape(b, -1),
        )
        if cam_pred is not None and cam_targets is not None:
            cp = cam_pred
            if tuple(cam_targets.shape) != tuple(cp.shape[:-1]) + (2,):
                raise ValueError(f"camera_bev_targets must be [B, T, 2], got {tuple(cam_targets.shape)}")
            cm = (
                torch.ones(cp.shape[:-1], dtype=torch.bool, device=cp.device)
                if cam_mask is None
                else cam_mask
            )
            mean = torch.cat([mean, cp[..., :2]], 1)
            log_var = torch.cat([log_var, cp[..., 2:]], 1)
            tgt = torch.cat([tgt, cam_targets.to(cp.device)], 1)
            m = torch.cat([m, cm.to(cp.device)], 1)
        return bev_loss(mean, log_var, tgt, m, reduction=self.config.bev_loss_reduction)

    # ------------------------------------------------------------------------------------------ generation
    def prepare_inputs_for_generation(self, *args, is_first_iteration: bool | None = False, **kwargs):
        """Standard preparation; the camera tokens (like the frames) are only consumed by the prefill step."""
        camera_tokens = kwargs.pop("camera_tokens", None)
        model_inputs = super().prepare_inputs_for_generation(
            *args, is_first_iteration=is_first_iteration, **kwargs
        )
        if is_first_iteration or not kwargs.get("use_cache", True):
            model_inputs["camera_tokens"] = camera_tokens
        else:
            model_inputs.pop("pixel_values_videos", None)
        return model_inputs

    # ------------------------------------------------------------------------------------------ inference API
    @torch.no_grad()
    def decode_localization(self, output: Loc3ROutput, first_frame_poses=None) -> Localization:
        """Turn head outputs into a pose (mean position, σ, circular soft-argmax heading).

        Optionally also the pose in the world frame of each sample's first-frame camera pose.

        Args:
            output: a forward output with ``pos_mean`` / ``ori_logits``.
            first_frame_poses: None, or a length-B sequence of [4, 4] camera-to-world poses of the first frame
                (None entries allowed), or an array [B, 4, 4].
        """
        from loc3r.geometry.frames import BevFrame

        if output.pos_mean is None:
            raise ValueError("the output has no situation-head predictions (no <Pos>/<Ori> in the inputs?)")
        centers = self.orientation_bin_centers(device=output.ori_logits.device)
        probs = torch.softmax(output.ori_logits.float(), dim=-1)
        heading = circular_soft_argmax(probs, centers)
        loc = Localization(
            position_bev=output.pos_mean.float(),
            sigma_bev=torch.exp(0.5 * output.pos_log_var.float()),
            heading_bev=heading,
            ori_probs=probs,
            bin_centers=centers,
        )
        if first_frame_poses is not None:
            b = loc.position_bev.shape[0]
            if len(first_frame_poses) != b:
                raise ValueError(f"first_frame_poses has {len(first_frame_poses)} entries for a batch of {b}")
            pos_w = np.full((b, 2), np.nan)
            head_w = np.full((b,), np.nan)
            xy = loc.position_bev.cpu().double().numpy()
            hd = loc.heading_bev.cpu().double().numpy()
            for i, pose in enumerate(first_frame_poses):
                if pose is None:
                    continue
                frame = BevFrame.from_first_pose(np.asarray(pose, dtype=np.float64))
                pos_w[i] = frame.bev_to_world_xy(xy[i])
                head_w[i] = frame.bev_to_world_heading(hd[i])
            loc.position_world, loc.heading_world = pos_w, head_w
        return loc

    @torch.no_grad()
    def localize(
        self,
        frames: Sequence,
        situations: Sequence[str | None],
        *,
        processor,
        camera_tokens=None,
        first_frame_poses=None,
    ) -> Localization:
        """Localize the agent described by each situation in its video — one forward pass, no generation.

        Args:
            frames: B videos, each T frames (see ``Loc3RProcessor.preprocess_video`` for accepted formats).
            situations: B situation texts (None = pseudo-situation).
            processor: the matching ``Loc3RProcessor``.
            camera_tokens: [B, T, D_prior] prior tokens (array/tensor or list of [T, D_prior]); required iff
                the model has a camera prior.
            first_frame_poses: optional first-frame camera-to-world poses ([B, 4, 4] or list with None) to map
                the result into the dataset's world frame (``loc3r.geometry.frames.BevFrame``).

        Returns:
            ``Localization`` (batched).
        """
        batch = processor(
            videos=frames,
            situations=situations,
            questions=[""] * len(situations),
            camera_tokens=camera_tokens,
            padding_side="left",
        )
        batch = {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in batch.items()}
        out = self(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            pixel_values_videos=batch["pixel_values_videos"].to(self.dtype),
            camera_tokens=batch.get("camera_tokens"),
            logits_to_keep=1,
        )
        return self.decode_localization(out, first_frame_poses)

    @torch.no_grad()
    def answer(
        self,
        frames: Sequence,
        situations: Sequence[str | None],
        questions: Sequence[str],
        *,
        processor,
        camera_tokens=None,
        max_new_tokens: int = 64,
        **generate_kwargs,
    ) -> list[str]:
        """Generate an answer per (video, situation, question); greedy unless ``generate_kwargs`` differ.

        Returns:
            B decoded answers (special tokens removed, stripped).
        """
        batch = processor(
            videos=frames,
            situations=situations,
            questions=questions,
            camera_tokens=camera_tokens,
            padding_side="left",
        )
        batch = {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in batch.items()}
        generate_kwargs.setdefault("do_sample", False)
        generate_kwargs.setdefault("eos_token_id", processor.tokenizer.eos_token_id)
        generate_kwargs.setdefault("pad_token_id", processor.tokenizer.pad_token_id)
        seqs = self.generate(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            pixel_values_videos=batch["pixel_values_videos"].to(self.dtype),
            camera_tokens=batch.get("camera_tokens"),
            max_new_tokens=max_new_tokens,
            **generate_kwargs,
        )
        new = seqs[:, batch["input_ids"].shape[1] :]
        return [s.strip() for s in processor.tokenizer.batch_decode(new, skip_special_tokens=True)]


def register_auto_classes() -> None:
    """Register ``loc3r`` with ``AutoConfig``, ``AutoModel``, ``AutoModelForImageTextToText`` (idempotent)."""
    from transformers import AutoModelForImageTextToText

    AutoConfig.register("loc3r", Loc3RConfig, exist_ok=True)
    AutoModel.register(Loc3RConfig, Loc3RForConditionalGeneration, exist_ok=True)
    AutoModelForImageTextToText.register(Loc3RConfig, Loc3RForConditionalGeneration, exist_ok=True)


register_auto_classes()
