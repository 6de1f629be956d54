"""The small interface Loc3R needs from a base video VLM, and its LLaVA-OneVision/LLaVA-Video adapter.

Loc3R's heads and losses only need four things from the base model:

1. **visual tokens per frame** with their (row, col) grid: ``encode_video(pixel_values_videos) ->
   FrameTokens``;
2. **token embeddings** to splice features into: ``embed_tokens(input_ids)``, plus the base's learned newline
   embedding (``newline_embedding()``) where the base uses one;
3. **the language model** run on spliced embeddings, returning the final hidden states (and, on request, one
   intermediate hidden state): ``run_language_model(...)``, and the LM head: ``compute_logits(hidden)``;
4. **parameter groups** for freezing (``parameter_groups()``).

A Qwen2.5-VL / Qwen3-VL adapter implements the same methods (and registers itself in ``ADAPTERS``) without
touching the heads or the losses.

The LLaVA-OneVision adapter wraps a stock ``transformers.LlavaOnevisionForConditionalGeneration`` and calls
its own submodules (``model.get_video_features`` = SigLIP tower + 2-layer GELU projector + 2x2 bilinear
pooling, ``model.language_model``, ``lm_head``, ``model.image_newline``); none of its code is copied.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration, PretrainedConfig

__all__ = [
    "FrameTokens",
    "LanguageModelOutput",
    "VLMAdapter",
    "LlavaOnevisionAdapter",
    "ADAPTERS",
    "build_adapter",
]


@dataclass
class FrameTokens:
    """Visual tokens of a batch of videos, already in the LLM embedding space.

    Attributes:
        features: [B, T, rows * cols, D], raster order within a frame (token ``r * cols + c`` is grid cell
            (r, c); row 0 = image top, col 0 = image left).
        rows, cols: the token grid of one frame.
    """

    features: torch.Tensor
    rows: int
    cols: int


@dataclass
class LanguageModelOutput:
    """What ``VLMAdapter.run_language_model`` returns.

    Attributes:
        last_hidden_state: [B, L, D] final (post-norm) hidden states, the LM head's input.
        selected_hidden_state: [B, L, D] the requested intermediate hidden state, or None.
        past_key_values: the KV cache (when ``use_cache``), else None.
        attention: [B, H, L, L_kv] attention probabilities of the requested decoder layer, or None.
    """

    last_hidden_state: torch.Tensor
    selected_hidden_state: torch.Tensor | None = None
    past_key_values: object | None = None
    attention: torch.Tensor | None = None


class VLMAdapter(nn.Module):
    """Interface between Loc3R and a base VLM (module docstring); ``self.base`` is the wrapped model."""

    base: nn.Module

    @property
    def hidden_size(self) -> int:
        """LLM hidden size D."""
        raise NotImplementedError

    def token_grid(self) -> tuple[int, int]:
        """(rows, cols) of one frame's visual tokens."""
        raise NotImplementedError

    def encode_video(self, pixel_values_videos: torch.Tensor) -> FrameTokens:
        """Visual tokens of ``pixel_values_videos`` [B, T, 3, H, W] (normalised pixels)."""
        raise NotImplementedError

    def newline_embedding(self) -> torch.Tensor | None:
        """[D] the base's learned newline embedding, or None when the base has none."""
        raise NotImplementedError

    def get_input_embeddings(self) -> nn.Embedding:
        """The LLM's token embedding table."""
        raise NotImplementedError

    def get_output_embeddings(self) -> nn.Module:
        """The LM head."""
        raise NotImplementedError

    def embed_tokens(self, input_ids: torch.Tensor) -> torch.Tensor:
        """[B, L] ids -> [B, L, D] embeddings."""
        return self.get_input_embeddings()(input_ids)

    def run_language_model(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values=None,
        use_cache: bool | None = None,
        hidden_state_index: int | None = None,
        attention_layer: int | None = None,
    ) -> LanguageModelOutput:
        """Run the LLM on embeddings [B, L, D].

        ``hidden_state_index`` selects one of the ``num_layers + 1`` hidden states (0 = input embeddings,
        k = output of decoder layer k) to return besides the final one; ``attention_layer`` (0-based) one
        decoder layer whose attention probabilities to return (needs eager attention).
        """
        raise NotImplementedError

    def compute_logits(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """[B, L, D] -> [B, L, V] next-token logits."""
        return self.get_output_embeddings()(hidden_states)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Disjoint groups covering all base parameters (vision_tower, projector, language_model)."""
        raise NotImplementedError


class LlavaOnevisionAdapter(VLMAdapter):
    """Adapter for ``LlavaOnevisionForConditionalGeneration`` (LLaVA-OneVision, LLaVA-Video-Qwen2).

    Video path (transformers' own code): SigLIP on every frame -> ``multi_modal_projector`` -> bilinear
    pooling of the P x P patch grid to ceil(P/2) x ceil(P/2) (27 -> 14 at 384²/patch 14). Transformers appends
    one newline token after the whole video; the adapter drops it and exposes ``image_newline`` separately, so
    the Loc3R layout decides where newlines go.

    Args:
        config: the base configuration.
        base_model: an already built (e.g. ``from_pretrained``-loaded) base model; built from ``config`` if
            None.
    """

    def __init__(
        self, config: LlavaOnevisionConfig, base_model: LlavaOnevisionForConditionalGeneration | None = None
    ):
        super().__init__()
        if base_model is None:
            base_model = LlavaOnevisionForConditionalGeneration(config)
        elif not isinstance(base_model, LlavaOnevisionForConditionalGeneration):
            raise TypeError(
                f"expected a LlavaOnevisionForConditionalGeneration, got {type(base_model).__name__}"
            )
        self.base = base_model
        # Let the enclosing PreTrainedModel collect the base's loading/placement metadata (post_init walks
        # direct children only).
        self.all_tied_weights_keys = {
            f"base.{k}": f"base.{v}"
            for k, v in (getattr(base_model, "all_tied_weights_keys", None) or {}).items()
        }
        self._no_split_modules = set(getattr(base_model, "_no_split_modules", None) or [])
        self._skip_keys_device_placement = set(getattr(base_model, "_skip_keys_device_placement", None) or [])
        self._keep_in_fp32_modules = set(getattr(base_model, "_keep_in_fp32_modules", None) or [])

    # ------------------------------------------------------------------------------------------ structure
    @property
    def config(self) -> LlavaOnevisionConfig:
        """The base configuration (shared with ``self.base``)."""
        return self.base.config

    @property
    def hidden_size(self) -> int:
        """LLM hidden size D."""
        return self.base.config.text_config.hidden_size

    def token_grid(self) -> tuple[int, int]:
        """(ceil(P/2), ceil(P/2)) with P = image_size // patch_size."""
        vc = self.base.config.vision_config
        p = vc.image_size // vc.patch_size
        side = -(-p // 2)
        return side, side

    def get_input_embeddings(self) -> nn.Embedding:
        """The Qwen2 token embedding table."""
        return self.base.get_input_embeddings()

    def get_output_embeddings(self) -> nn.Module:
        """The LM head."""
        return self.base.get_output_embeddings()

    def newline_embedding(self) -> torch.Tensor:
        """``model.image_newline`` [D]."""
        return self.base.model.image_newline

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """SigLIP / projector + ``image_newline`` / Qwen2 with embeddings and LM head."""
        m = self.base.model
        return {
            "vision_tower": list(m.vision_tower.parameters()),
            "projector": list(m.multi_modal_projector.parameters()) + [m.image_newline],
            "language_model": list(m.language_model.parameters()) + list(self.base.lm_head.parameters()),
        }

    # ------------------------------------------------------------------------------------------ compute
    def encode_video(self, pixel_values_videos: torch.Tensor) -> FrameTokens:
        """SigLIP -> projector -> 2x2 bilinear pooling (transformers' ``get_video_features``), per frame."""
        if pixel_values_videos.ndim != 5:
            raise ValueError(
                f"pixel_values_videos must be [B, T, 3, H, W], got shape {tuple(pixel_values_videos.shape)}"
            )
        b, t = pixel_values_videos.shape[:2]
        vc = self.base.config.vision_config
        if pixel_values_videos.shape[-2:] != (vc.image_size, vc.image_size):
            raise ValueError(
                f"frames must be {vc.image_size}x{vc.image_size} (the vision tower's size), got "
                f"{tuple(pixel_values_videos.shape[-2:])}"
            )
        tower = self.base.model.vision_tower
        out = self.base.model.get_video_features(pixel_values_videos.to(tower.dtype), return_dict=True)
        feats = out.pooler_output  # [B, T * n (+ 1 video-level newline), D]
        rows, cols = self.token_grid()
        n = rows * cols
        if feats.shape[1] == t * n + 1:
            feats = feats[:, :-1]
        elif feats.shape[1] != t * n:
            raise RuntimeError(
                f"LLaVA-OneVision returned {feats.shape[1]} video tokens for {t} frames; expected {t * n} "
                f"(+1 newline) for a {rows}x{cols} pooled grid"
            )
        return FrameTokens(features=feats.reshape(b, t, n, feats.shape[-1]), rows=rows, cols=cols)

    def run_language_model(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values=None,
        use_cache: bool | None = None,
        hidden_state_index: int | None = None,
        attention_layer: int | None = None,
    ) -> LanguageModelOutput:
        """Run ``model.language_model`` (Qwen2) on spliced embeddings (``VLMAdapter.run_language_model``)."""
        kwargs = {}
        if hidden_state_index is not None:
            kwargs["output_hidden_states"] = [hidden_state_index]
        if attention_layer is not None:
            kwargs["output_attentions"] = True
        out = self.base.model.language_model(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            use_cache=use_cache,
            return_dict=True,
            **kwargs,
        )
        selected = None
        if hidden_state_index is not None:
            selected = out.hidden_states[hidden_state_index]
            if selected is None:
                raise RuntimeError(f"the language model did not return hidden state {hidden_state_index}")
        attention = None
        if attention_layer is not None:
            maps = getattr(out, "attentions", None) or ()
            if len(maps) <= attention_layer or maps[attention_layer] is None:
                impl = self.base.config.get_text_config()._attn_implementation
                raise RuntimeError(
                    f"the language model returned no attention weights for layer {attention_layer} "
                    f"(attention implementation {impl!r}); the grounding loss needs attn_implementation='eager'"
                )
            attention = maps[attention_layer]
        return LanguageModelOutput(
            last_hidden_state=out.last_hidden_state,
            selected_hidden_state=selected,
            past_key_values=out.past_key_values,
            attention=attention,
        )


#: Base model type (``config.base_config.model_type``) -> adapter class.
ADAPTERS: dict[str, type[VLMAdapter]] = {"llava_onevision": LlavaOnevisionAdapter}


def build_adapter(base_config: PretrainedConfig, base_model: nn.Module | None = None) -> VLMAdapter:
    """The adapter for ``base_config.model_type`` (wrapping ``base_model`` if given)."""
    cls = ADAPTERS.get(base_config.model_type)
    if cls is None:
        raise ValueError(
            f"no Loc3R adapter for base model type {base_config.model_type!r}; known: {sorted(ADAPTERS)}"
        )
    return cls(base_config, base_model)
