"""``Loc3RConfig``: the architecture configuration of Loc3R-VLM, and the per-frame video token layout.

The base VLM's configuration is a sub-config (``base_config``, a ``LlavaOnevisionConfig`` for the LLaVA-Video
base). Every choice that method.md marks as a guess ([G]) is a field here with its documented default.

The video token layout (``video_token_layout``) is defined here, in one place, because the processor (which
writes the placeholder ids) and the model (which splices features into them and reads hidden states back) must
agree on it exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from transformers import AutoConfig, PretrainedConfig
from transformers.configuration_utils import SubConfigSpec

from loc3r.constants import NUM_ORI_BINS

__all__ = [
    "Loc3RConfig",
    "VideoTokenLayout",
    "video_token_layout",
    "SLOT_TEXT",
    "SLOT_CAMERA",
    "SLOT_VISION",
    "SLOT_NEWLINE",
    "NEWLINE_LAYOUTS",
    "CAMERA_TOKEN_POSITIONS",
]

# Kinds of sequence positions (``Loc3ROutput.token_types``).
SLOT_TEXT = 0
SLOT_CAMERA = 1
SLOT_VISION = 2
SLOT_NEWLINE = 3

NEWLINE_LAYOUTS = ("grid", "frame", "one_token", "none")
CAMERA_TOKEN_POSITIONS = ("frame_start", "own_row")


class Loc3RConfig(PretrainedConfig):
    r"""Configuration of ``Loc3RForConditionalGeneration``.

    Args:
        base_config (`dict` or `PretrainedConfig`):
            The base VLM's configuration (default model type ``llava_onevision``: SigLIP vision tower, 2-layer
            GELU projector, 2x2 bilinear pooling of video frames, Qwen2 LLM).
        pos_token_id (`int`): id of the ``<Pos>`` token (set by the builders after adding it to the
            tokenizer).
        ori_token_id (`int`): id of the ``<Ori>`` token.
        cam_token_id (`int`): id of the ``<cam>`` placeholder (one per frame, replaced by ``f_cam(z_t)``).
        newline_layout (`str`, defaults to ``"grid"``): where the base's learned newline embedding goes in
            each video: ``"grid"`` = after every token row of every frame (LLaVA-Video
            ``mm_newline_position="grid"``, 14x15 = 210 tokens per 384² frame; method.md §2.1 [G]);
            ``"frame"`` = once after every frame; ``"one_token"`` = once after the whole video (transformers'
            LLaVA-OneVision video layout); ``"none"``.
        camera_token_position (`str`, defaults to ``"frame_start"``): where the camera token sits relative to
            the newline tokens [G, method.md §2.3]: ``"frame_start"`` = first token of the frame's block,
            ``[c_t, v_(0,0) .. v_(0,C-1), nl, v_(1,0) ..]``; ``"own_row"`` = the camera token forms its own
            row, followed by a newline, ``[c_t, nl, v_(0,0) ..]`` (only differs from ``frame_start`` when
            ``newline_layout="grid"``).
        prior_token_dim (`int`, *optional*, defaults to 768): width D_prior of the camera-pose prior tokens
            the model receives as ``camera_tokens: [B, T, D_prior]`` (CUT3R: 768). ``0`` or ``None`` = no
            camera prior: no ``<cam>`` slots, no ``f_cam``.
        camera_projector_hidden_size (`int`, *optional*): hidden width of ``f_cam`` (Linear-act-Linear);
            ``None`` = the LLM hidden size (LLaVA ``mlp2x_gelu`` style) [G].
        use_bev_head (`bool`, defaults to `True`): build the layout (BEV) head ``f_proj``.
        bev_head_layer (`int`, defaults to -1): which LLM hidden state feeds the BEV head: -1 = the final
            (post-norm) hidden state the LM head reads (the paper); ``k >= 1`` = the output of decoder layer
            ``k`` (``0`` = the input embeddings); other negative values count from the end of the
            ``num_layers + 1`` hidden states.
        bev_tokens (`str`, defaults to ``"patches"``): which tokens receive L_BEV [G]: ``"patches"`` = every
            pooled vision patch token (not newline, not camera tokens); ``"patches+camera"`` = also the camera
            tokens, supervised with the camera centre's BEV position (``camera_bev_targets``).
        use_situation_heads (`bool`, defaults to `True`): build ``f_pos`` and ``f_ori``.
        pos_head_hidden_size (`int`, *optional*): hidden width of ``f_pos`` (2-layer MLP); ``None`` = LLM
            hidden size [G].
        ori_head_hidden_size (`int`, *optional*): hidden width of ``f_ori`` (2-layer MLP); ``None`` = LLM
            hidden size [G].
        head_act (`str`, defaults to ``"gelu"``): activation of ``f_cam``, ``f_pos`` and ``f_ori``.
        pos_isotropic (`bool`, defaults to `False`): ``f_pos`` predicts one shared log σ² for x and y instead
            of one per axis [G].
        sigma_parametrization (`str`, defaults to ``"log_var"``): how heads predict σ [G]: ``"log_var"`` = the
            raw output is log σ², clamped to [``log_var_min``, ``log_var_max``]; ``"softplus"`` = σ =
            softplus(raw) + ``sigma_min``. Either way the outputs report log σ².
        log_var_min (`float`, defaults to -10.0), log_var_max (`float`, defaults to 10.0): clamp of log σ²
            [G].
        sigma_min (`float`, defaults to 1e-3): σ floor of the softplus parametrisation, metres.
        num_ori_bins (`int`, defaults to 36): orientation bins over [-π, π).
        ori_bin_offset (`float`, defaults to 0.0): bin b has centre ``-π + (b + offset)·2π/B`` [G]; 0 puts a
            centre on 0 rad (see ``loc3r.geometry.bins``).
        sigma_ori_deg (`float`, defaults to 20.0): σ of the wrapped-Gaussian orientation target, degrees. The
            source says "σ_ori = 2" without a unit; 20° = 2 bins of 10° is the best guess [G, method.md
            §11.1].
        lambda_bev (`float`, *optional*, defaults to 0.05): weight of L_BEV; 0 or ``None`` disables the term.
        semantic_classes (`list[str]`, *optional*): object-category vocabulary of the optional per-token
            semantic head (not in the paper [G]): a linear layer on the same hidden state as the BEV head
            predicts, for every vision token, which listed category it sees (index + 1; 0 = none of them),
            supervised with ``semantic_targets`` (``loc3r.data.semantic_targets``). ``None`` or empty: no
            head.
        lambda_sem (`float`, *optional*, defaults to 0.0): weight of the semantic cross-entropy L_sem.
        use_local_head (`bool`, defaults to False): add the optional local-layout head (not in the paper [G]): a
            linear layer on the same hidden state as the BEV head predicts, for every vision token, its (x, y,
            log σ²_x, log σ²_y) in its *own* frame's gravity-aligned BEV frame (``local_targets``,
            ``loc3r.data.bev_targets.egocentric_targets``): monocular geometry, what one image shows without any
            camera motion. A stand-in for the depth awareness a pretrained vision encoder brings.
        lambda_local (`float`, *optional*, defaults to 0.0): weight of the local-layout Gaussian NLL L_local
            (needs ``use_local_head``).
        lambda_ground (`float`, *optional*, defaults to 0.0): weight of the optional grounding-attention loss
            (not in the paper [G]; a pretraining aid for a from-scratch LLM): for samples whose situation
            names the object the agent is at (``ground_pos_mask``) and the one it faces
            (``ground_ori_mask``), ``-log`` of the attention mass that ``<Pos>`` (resp. ``<Ori>``) puts on that
            object's vision tokens in decoder layer ``ground_attention_layer`` (the head with the most). It needs
            attention weights, so the LLM must run with ``attn_implementation="eager"``.
        ground_attention_layer (`int`, *optional*): 1-based decoder layer whose attention L_ground supervises;
            ``None`` = the layer after the one feeding the BEV head (so ``<Pos>`` reads the tokens' layout
            where it is formed), or the last layer when the BEV head reads the final hidden state.
        lambda_sit (`float`, *optional*, defaults to 0.075): weight of L_sit = L_pos + λ_ori·L_ori; 0 or
            ``None`` disables it.
        lambda_ori (`float`, *optional*, defaults to 3.5): weight of L_ori inside L_sit; 0 or ``None`` drops
            L_ori.
        bev_loss_reduction (`str`, defaults to ``"tokens"``): ``"tokens"`` = mean over all valid tokens of the
            batch; ``"samples"`` = mean over tokens within each sample, then over samples with any valid token
            (the paper's 1/M Σ is per sample) [G].
        ignore_index (`int`, defaults to -100): label value excluded from the language-model loss.
    """

    model_type = "loc3r"
    sub_configs_defaults = {
        "base_config": SubConfigSpec(config_class=AutoConfig, model_type="llava_onevision"),
    }

    base_config: dict | PretrainedConfig | None = None
    pos_token_id: int | None = None
    ori_token_id: int | None = None
    cam_token_id: int | None = None
    newline_layout: str = "grid"
    camera_token_position: str = "frame_start"
    prior_token_dim: int | None = 768
    camera_projector_hidden_size: int | None = None
    use_bev_head: bool = True
    bev_head_layer: int = -1
    bev_tokens: str = "patches"
    use_situation_heads: bool = True
    pos_head_hidden_size: int | None = None
    ori_head_hidden_size: int | None = None
    head_act: str = "gelu"
    pos_isotropic: bool = False
    sigma_parametrization: str = "log_var"
    log_var_min: float = -10.0
    log_var_max: float = 10.0
    sigma_min: float = 1e-3
    num_ori_bins: int = NUM_ORI_BINS
    ori_bin_offset: float = 0.0
    sigma_ori_deg: float = 20.0
    lambda_bev: float | None = 0.05
    semantic_classes: list[str] | None = None
    lambda_sem: float | None = 0.0
    use_local_head: bool = False
    lambda_local: float | None = 0.0
    lambda_ground: float | None = 0.0
    ground_attention_layer: int | None = None
    lambda_sit: float | None = 0.075
    lambda_ori: float | None = 3.5
    bev_loss_reduction: str = "tokens"
    ignore_index: int = -100
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        self._validate()

    # ------------------------------------------------------------------------------------------ validation
    def _validate(self) -> None:
        def one_of(name: str, allowed) -> None:
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"Loc3RConfig.{name} must be one of {list(allowed)}, got {getattr(self, name)!r}"
                )

        one_of("newline_layout", NEWLINE_LAYOUTS)
        one_of("camera_token_position", CAMERA_TOKEN_POSITIONS)
        one_of("bev_tokens", ("patches", "patches+camera"))
        one_of("sigma_parametrization", ("log_var", "softplus"))
        one_of("bev_loss_reduction", ("tokens", "samples"))
        if self.num_ori_bins < 2:
            raise ValueError(f"Loc3RConfig.num_ori_bins must be >= 2, got {self.num_ori_bins}")
        if not self.sigma_ori_deg > 0:
            raise ValueError(f"Loc3RConfig.sigma_ori_deg must be > 0, got {self.sigma_ori_deg}")
        if not self.log_var_min < self.log_var_max:
            raise ValueError("Loc3RConfig.log_var_min must be < log_var_max")
        if self.prior_token_dim is not None and self.prior_token_dim < 0:
            raise ValueError(f"Loc3RConfig.prior_token_dim must be >= 0 or None, got {self.prior_token_dim}")
        if self.bev_tokens == "patches+camera" and not self.use_camera_prior:
            raise ValueError(
                "Loc3RConfig.bev_tokens='patches+camera' needs a camera prior (prior_token_dim > 0)"
            )
        num_layers = self.llm_config.num_hidden_layers
        if not -(num_layers + 1) <= self.bev_head_layer <= num_layers:
            raise ValueError(
                f"Loc3RConfig.bev_head_layer={self.bev_head_layer} is outside "
                f"[-{num_layers + 1}, {num_layers}] "
                f"for an LLM with {num_layers} layers"
            )
        if self.ground_attention_layer is not None and not 1 <= self.ground_attention_layer <= num_layers:
            raise ValueError(
                f"Loc3RConfig.ground_attention_layer={self.ground_attention_layer} is outside [1, {num_layers}]"
            )
        for name in ("lambda_bev", "lambda_sit", "lambda_ori", "lambda_sem", "lambda_local", "lambda_ground"):
            v = getattr(self, name)
            if v is not None and v < 0:
                raise ValueError(f"Loc3RConfig.{name} must be >= 0 or None, got {v}")
        if self.lambda_local and not self.use_local_head:
            raise ValueError("Loc3RConfig.lambda_local > 0 needs use_local_head=True (the head it trains)")

    # ----------------------------------------------------------------------------------------- derived values
    @property
    def llm_config(self) -> PretrainedConfig:
        """The LLM's configuration (``base_config.text_config``)."""
        return self.base_config.get_text_config(decoder=True)

    def get_text_config(self, decoder=None, encoder=None) -> PretrainedConfig:
        """Delegate to the base VLM so that generation utilities find the LLM's configuration."""
        return self.base_config.get_text_config(decoder=decoder, encoder=encoder)

    @property
    def hidden_size(self) -> int:
        """LLM hidden size D."""
        return self.llm_config.hidden_size

    @property
    def vocab_size(self) -> int:
        """Rows of the LLM's token embedding matrix."""
        return self.llm_config.vocab_size

    @property
    def use_camera_prior(self) -> bool:
        """Whether frames get a camera token (``prior_token_dim`` > 0)."""
        return bool(self.prior_token_dim)

    @property
    def video_token_id(self) -> int:
        """Id of the base's video placeholder token (``<video>``): vision and newline slots."""
        return int(self.base_config.video_token_id)

    @property
    def use_semantic_head(self) -> bool:
        """Whether the optional per-token semantic head exists (``semantic_classes`` is non-empty)."""
        return bool(self.semantic_classes)

    @property
    def bev_head_hidden_index(self) -> int | None:
        """Index of the BEV head's input among the ``num_layers + 1`` LLM hidden states (None: final)."""
        n = self.llm_config.num_hidden_layers + 1
        idx = self.bev_head_layer % n
        return None if idx == n - 1 else idx

    @property
    def ground_attention_index(self) -> int:
        """0-based index of the decoder layer whose attention L_ground supervises."""
        n = self.llm_config.num_hidden_layers
        if self.ground_attention_layer is not None:
            return self.ground_attention_layer - 1
        bev = self.bev_head_hidden_index
        return n - 1 if bev is None else min(bev, n - 1)

    def token_grid(self) -> tuple[int, int]:
        """(rows, cols) of the pooled video token grid of one frame.

        LLaVA-OneVision/LLaVA-Video: ``P = image_size // patch_size`` SigLIP patches per side, bilinearly
        pooled to ``ceil(P / 2)`` per side (384² with patch 14: 27 -> 14, i.e. 196 tokens per frame).
        """
        vc = self.base_config.vision_config
        if self.base_config.model_type != "llava_onevision":
            raise NotImplementedError(f"token grid for base model type {self.base_config.model_type!r}")
        p = vc.image_size // vc.patch_size
        side = math.ceil(p / 2)
        return side, side

    def video_token_layout(self, num_frames: int) -> "VideoTokenLayout":
        """The placeholder layout of a ``num_frames``-frame video under this configuration."""
        rows, cols = self.token_grid()
        return video_token_layout(
            num_frames,
            rows,
            cols,
            newline_layout=self.newline_layout,
            camera_token_position=self.camera_token_position,
            use_camera=self.use_camera_prior,
        )


@dataclass(frozen=True)
class VideoTokenLayout:
    """The token slots of one video, in sequence order (identical for every sample with the same frame count).

    Attributes:
        kinds: [N] int8, ``SLOT_CAMERA`` | ``SLOT_VISION`` | ``SLOT_NEWLINE``.
        frame: [N] int64 frame index of each slot (-1 for a video-level newline).
        row, col: [N] int64 pooled-grid cell of vision slots (-1 elsewhere); row 0 is the image top, col 0 the
            image left.
        num_frames, rows, cols: the grid the layout was built for.
    """

    kinds: np.ndarray
    frame: np.ndarray
    row: np.ndarray
    col: np.ndarray
    num_frames: int
    rows: int
    cols: int

    def __len__(self) -> int:
        return int(self.kinds.shape[0])

    def token_ids(self, video_token_id: int, cam_token_id: int | None) -> np.ndarray:
        """[N] placeholder ids: ``<cam>`` for camera slots, ``<video>`` for vision and newline slots."""
        ids = np.full(len(self), int(video_token_id), dtype=np.int64)
        if (self.kinds == SLOT_CAMERA).any():
            if cam_token_id is None:
                raise ValueError("the layout has camera slots but no <cam> token id was given")
            ids[self.kinds == SLOT_CAMERA] = int(cam_token_id)
        return ids

    def vision_slots(self) -> np.ndarray:
        """[T, rows, cols] slot index of every vision token."""
        out = np.full((self.num_frames, self.rows, self.cols), -1, dtype=np.int64)
        m = self.kinds == SLOT_VISION
        out[self.frame[m], self.row[m], self.col[m]] = np.nonzero(m)[0]
        return out

    def camera_slots(self) -> np.ndarray:
        """[T] slot index of every frame's camera token (empty [0] when there are none)."""
        m = self.kinds == SLOT_CAMERA
        idx = np.nonzero(m)[0]
        return idx[np.argsort(self.frame[m], kind="stable")]

    def newline_slots(self) -> np.ndarray:
        """[K] slot indices of the newline tokens."""
        return np.nonzero(self.kinds == SLOT_NEWLINE)[0]


def video_token_layout(
    num_frames: int,
    rows: int,
    cols: int,
    *,
    newline_layout: str = "grid",
    camera_token_position: str = "frame_start",
    use_camera: bool = True,
) -> VideoTokenLayout:
    """Build the slot layout of a video (see ``Loc3RConfig`` for the options).

    Per frame t (``grid`` newlines, ``frame_start`` camera): ``[c_t, v_t(0,0) .. v_t(0,C-1), nl, ..,
    v_t(R-1,0) .. v_t(R-1,C-1), nl]``; frames follow each other; ``one_token`` adds one newline after the last
    frame.

    Args:
        num_frames: T >= 1.
        rows: pooled token rows of one frame.
        cols: pooled token columns of one frame.
        newline_layout: ``grid`` | ``frame`` | ``one_token`` | ``none``.
        camera_token_position: ``frame_start`` | ``own_row``.
        use_camera: whether each frame has a camera slot.

    Returns:
        The ``VideoTokenLayout``.
    """
    if num_frames < 1 or rows < 1 or cols < 1:
        raise ValueError(f"need num_frames, rows, cols >= 1, got {num_frames}, {rows}, {cols}")
    if newline_layout not in NEWLINE_LAYOUTS:
        raise ValueError(f"newline_layout must be one of {NEWLINE_LAYOUTS}, got {newline_layout!r}")
    if camera_token_position not in CAMERA_TOKEN_POSITIONS:
        raise ValueError(
            f"camera_token_position must be one of {CAMERA_TOKEN_POSITIONS}, got {camera_token_position!r}"
        )
    kinds: list[int] = []
    frame: list[int] = []
    row: list[int] = []
    col: list[int] = []

    def add(kind: int, t: int, r: int = -1, c: int = -1) -> None:
        kinds.append(kind)
        frame.append(t)
        row.append(r)
        col.append(c)

    for t in range(num_frames):
        if use_camera:
            add(SLOT_CAMERA, t)
            if camera_token_position == "own_row" and newline_layout == "grid":
                add(SLOT_NEWLINE, t)
        for r in range(rows):
            for c in range(cols):
                add(SLOT_VISION, t, r, c)
            if newline_layout == "grid":
                add(SLOT_NEWLINE, t)
        if newline_layout == "frame":
            add(SLOT_NEWLINE, t)
    if newline_layout == "one_token":
        add(SLOT_NEWLINE, -1)
    return VideoTokenLayout(
        kinds=np.asarray(kinds, dtype=np.int8),
        frame=np.asarray(frame, dtype=np.int64),
        row=np.asarray(row, dtype=np.int64),
        col=np.asarray(col, dtype=np.int64),
        num_frames=num_frames,
        rows=rows,
        cols=cols,
    )


# Let AutoConfig resolve ``model_type: "loc3r"`` as soon as the configuration module is imported.
AutoConfig.register("loc3r", Loc3RConfig, exist_ok=True)
