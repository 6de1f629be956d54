r"""``Loc3RProcessor``: prompt, ``<Pos><Ori>``, pseudo-situation, video placeholders, frames, labels, padding.

Prompt (Qwen2 chat format, as LLaVA-Video-Qwen2 uses it; the video block comes first in the user turn)::

    <|im_start|>system\n{system}<|im_end|>\n
    <|im_start|>user\n<VIDEO BLOCK>\n{situation} <Pos><Ori> {question}<|im_end|>\n
    <|im_start|>assistant\n{answer}<|im_end|>

(one line; broken here for reading).

* ``<VIDEO BLOCK>`` is the exact placeholder sequence of ``Loc3RConfig.video_token_layout`` (per frame a
  ``<cam>`` id and ``<video>`` ids for the pooled patch and newline tokens); the model replaces it by
  features.
* A sample without a situation gets the pseudo-situation "I am standing in the room" and ``sit_mask = False``
  (no situation loss).
* ``labels`` are -100 everywhere except the answer tokens and the closing ``<|im_end|>``.
* Padding: right by default when answers are given (training), left otherwise (generation).

Frame geometry (for BEV targets): every frame is resized to ``size x size`` **without keeping the aspect
ratio** (transformers' ``LlavaOnevisionVideoProcessor`` with ``size={"height": S, "width": S}``; bicubic,
antialiased, rounded to uint8, then rescaled by 1/255 and normalised). A pixel edge coordinate (u, v) of a W x
H frame maps to (u · S / W, v · S / H). The vision tower cuts S x S into (S // patch)² patches, pooled to
``token_grid`` = (ceil(P/2), ceil(P/2)) tokens (384/14: 27 -> 14).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from transformers import BatchFeature

from loc3r.constants import CAM_TOKEN, ORI_TOKEN, POS_TOKEN, PSEUDO_SITUATION
from loc3r.utils.io import atomic_write_text

__all__ = ["FrameTransform", "Loc3RProcessor", "DEFAULT_SYSTEM_PROMPT", "PROCESSOR_CONFIG_NAME"]

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
PROCESSOR_CONFIG_NAME = "loc3r_processor.json"
VIDEO_TOKEN = "<video>"
_IM_START, _IM_END = "<|im_start|>", "<|im_end|>"


@dataclass(frozen=True)
class FrameTransform:
    """Per-frame preprocessing of the LLaVA-OneVision video processor, without its torchvision dependency.

    Args:
        size: output side S (frames become S x S; the aspect ratio is not kept).
        image_mean, image_std: per-channel normalisation after rescaling (SigLIP: 0.5, 0.5).
        rescale_factor: uint8 -> [0, 1] factor.
        resample: ``"bicubic"`` | ``"bilinear"`` (antialiased).
    """

    size: int = 384
    image_mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    image_std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    rescale_factor: float = 1.0 / 255.0
    resample: str = "bicubic"

    def __post_init__(self):
        if self.size < 1:
            raise ValueError(f"FrameTransform.size must be >= 1, got {self.size}")
        if self.resample not in ("bicubic", "bilinear"):
            raise ValueError(
                f"FrameTransform.resample must be 'bicubic' or 'bilinear', got {self.resample!r}"
            )
        object.__setattr__(self, "image_mean", tuple(float(x) for x in self.image_mean))
        object.__setattr__(self, "image_std", tuple(float(x) for x in self.image_std))

    @classmethod
    def from_hf_preprocessor_config(cls, d: dict[str, Any]) -> "FrameTransform":
        """From a transformers ``(video_)preprocessor_config.json`` dict.

        Reads ``size``, ``image_mean``, ``image_std``, ``rescale_factor`` and ``resample`` (2 = bilinear,
        3 = bicubic).
        """
        size = d.get("size", {"height": 384, "width": 384})
        if isinstance(size, dict):
            if "height" in size and size["height"] != size.get("width", size["height"]):
                raise ValueError(f"non-square frame size {size} is not supported")
            side = size.get("height", size.get("shortest_edge"))
        else:
            side = int(size)
        resample = {2: "bilinear", 3: "bicubic"}.get(d.get("resample", 3), "bicubic")
        return cls(
            size=int(side),
            image_mean=tuple(d.get("image_mean", (0.5,) * 3)),
            image_std=tuple(d.get("image_std", (0.5,) * 3)),
            rescale_factor=float(d.get("rescale_factor", 1 / 255)),
            resample=resample,
        )

    @classmethod
    def from_checkpoint(cls, path_or_hub_id: str) -> list["FrameTransform"]:
        """The transforms a checkpoint's ``video_preprocessor_config.json`` and ``preprocessor_config.json`` give.

        In that order, for those present (a local folder or hub id; none: ``[]``).
        """
        from transformers.utils import cached_file

        out = []
        for name in ("video_preprocessor_config.json", "preprocessor_config.json"):
            f = cached_file(path_or_hub_id, name, _raise_exceptions_for_missing_entries=False)
            if f:
                out.append(cls.from_hf_preprocessor_config(json.loads(Path(f).read_text())))
        return out

    def resize_scale(self, width: int, height: int) -> tuple[float, float]:
        """(sx, sy) such that a pixel-edge coordinate (u, v) of a W x H frame maps to (sx·u, sy·v)."""
        return self.size / width, self.size / height

    @staticmethod
    def as_uint8_video(video) -> torch.Tensor:
        """Accepted formats -> uint8 tensor [T, 3, H, W].

        Accepted: a sequence of PIL images; a uint8 numpy array or tensor [T, H, W, 3] (HWC) or [T, 3, H, W].
        """
        if isinstance(video, (list, tuple)):
            if len(video) == 0:
                raise ValueError("a video needs at least one frame")
            if hasattr(video[0], "convert"):  # PIL
                video = np.stack([np.asarray(im.convert("RGB")) for im in video])
            else:
                video = np.stack([np.asarray(f) for f in video])
        t = torch.as_tensor(np.asarray(video)) if not torch.is_tensor(video) else video
        if t.dtype != torch.uint8:
            raise ValueError(f"frames must be uint8 (0..255), got dtype {t.dtype}")
        if t.ndim != 4:
            raise ValueError(f"a video must be [T, H, W, 3] or [T, 3, H, W], got shape {tuple(t.shape)}")
        if t.shape[-1] == 3 and t.shape[1] != 3:
            t = t.permute(0, 3, 1, 2)
        elif t.shape[1] != 3:
            raise ValueError(f"a video must be [T, H, W, 3] or [T, 3, H, W], got shape {tuple(t.shape)}")
        return t.contiguous()

    def __call__(self, video) -> torch.Tensor:
        """One video -> float32 [T, 3, S, S] normalised pixels."""
        x = self.as_uint8_video(video).float()
        if tuple(x.shape[-2:]) != (self.size, self.size):
            x = F.interpolate(
                x, size=(self.size, self.size), mode=self.resample, align_corners=False, antialias=True
            )
            x = x.round().clamp(0, 255)
        x = x * self.rescale_factor
        mean = torch.tensor(self.image_mean).view(1, 3, 1, 1)
        std = torch.tensor(self.image_std).view(1, 3, 1, 1)
        return (x - mean) / std


class Loc3RProcessor:
    """Turns (videos, situations, questions[, answers]) into model inputs (see the module docstring).

    Args:
        tokenizer: a fast tokenizer containing ``<video>``, ``<cam>`` (if ``use_camera``), ``<Pos>``,
            ``<Ori>``, ``<|im_start|>`` and ``<|im_end|>``, with a pad token.
        frame_transform: the frame preprocessing (``size`` must equal the vision tower's image size).
        rows, cols: pooled token grid of one frame.
        patch_size: the vision tower's patch size (reported by ``token_grid_spec``).
        newline_layout, camera_token_position, use_camera: the video layout (must match the model config).
        system_prompt: the system turn.
    """

    def __init__(
        self,
        tokenizer,
        frame_transform: FrameTransform,
        *,
        rows: int,
        cols: int,
        patch_size: int,
        newline_layout: str = "grid",
        camera_token_position: str = "frame_start",
        use_camera: bool = True,
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
    ):
        self.tokenizer = tokenizer
        self.frame_transform = frame_transform
        self.rows, self.cols, self.patch_size = int(rows), int(cols), int(patch_size)
        self.newline_layout = newline_layout
        self.camera_token_position = camera_token_position
        self.use_camera = bool(use_camera)
        self.system_prompt = system_prompt
        if tokenizer.pad_token_id is None:
            raise ValueError("the tokenizer needs a pad token")
        needed = [VIDEO_TOKEN, POS_TOKEN, ORI_TOKEN, _IM_START, _IM_END] + ([CAM_TOKEN] if use_camera else [])
        vocab = tokenizer.get_vocab()
        missing = [t for t in needed if t not in vocab]
        if missing:
            raise ValueError(f"the tokenizer lacks the tokens {missing} (add them with the builders)")
        self.video_token_id = vocab[VIDEO_TOKEN]
        self.cam_token_id = vocab[CAM_TOKEN] if use_camera else None
        self.pos_token_id = vocab[POS_TOKEN]
        self.ori_token_id = vocab[ORI_TOKEN]
        self._layout_ids: dict[int, list[int]] = {}

    # ------------------------------------------------------------------------------------------ construction
    @classmethod
    def from_config(
        cls,
        config,
        tokenizer,
        frame_transform: FrameTransform | None = None,
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
    ) -> "Loc3RProcessor":
        """The processor matching a ``Loc3RConfig`` (checks that the token ids agree)."""
        vc = config.base_config.vision_config
        if frame_transform is None:
            frame_transform = FrameTransform(size=vc.image_size)
        if frame_transform.size != vc.image_size:
            raise ValueError(f"frame size {frame_transform.size} != vision tower image size {vc.image_size}")
        rows, cols = config.token_grid()
        proc = cls(
            tokenizer,
            frame_transform,
            rows=rows,
            cols=cols,
            patch_size=vc.patch_size,
            newline_layout=config.newline_layout,
            camera_token_position=config.camera_token_position,
            use_camera=config.use_camera_prior,
            system_prompt=system_prompt,
        )
        proc.check_compatible(config)
        return proc

    def check_compatible(self, config) -> None:
        """Raise ValueError if this processor's token ids or layout disagree with a ``Loc3RConfig``."""
        pairs = {
            "video_token_id": (self.video_token_id, config.video_token_id),
            "pos_token_id": (self.pos_token_id, config.pos_token_id),
            "ori_token_id": (self.ori_token_id, config.ori_token_id),
            "cam_token_id": (self.cam_token_id, config.cam_token_id if config.use_camera_prior else None),
            "token_grid": ((self.rows, self.cols), tuple(config.token_grid())),
            "newline_layout": (self.newline_layout, config.newline_layout),
            "camera_token_position": (self.camera_token_position, config.camera_token_position),
            "use_camera": (self.use_camera, config.use_camera_prior),
        }
        bad = {k: v for k, v in pairs.items() if v[0] != v[1]}
        if bad:
            raise ValueError(f"processor and model config disagree (processor, config): {bad}")

    def save_pretrained(self, save_directory: str | Path) -> None:
        """Write the tokenizer files and ``loc3r_processor.json`` (atomically)."""
        d = Path(save_directory)
        d.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(str(d))
        cfg = {
            "frame_transform": asdict(self.frame_transform),
            "rows": self.rows,
            "cols": self.cols,
            "patch_size": self.patch_size,
            "newline_layout": self.newline_layout,
            "camera_token_position": self.camera_token_position,
            "use_camera": self.use_camera,
            "system_prompt": self.system_prompt,
        }
        atomic_write_text(d / PROCESSOR_CONFIG_NAME, json.dumps(cfg, indent=2) + "\n")

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> "Loc3RProcessor":
        """Load what ``save_pretrained`` wrote (no code is loaded from the directory)."""
        from transformers import AutoTokenizer

        d = Path(directory)
        path = d / PROCESSOR_CONFIG_NAME
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not found (not a Loc3R processor directory)")
        cfg = json.loads(path.read_text())
        tok = AutoTokenizer.from_pretrained(str(d), trust_remote_code=False)
        ft = FrameTransform(**cfg.pop("frame_transform"))
        return cls(tok, ft, **cfg)

    # ------------------------------------------------------------------------------------------ geometry
    @property
    def token_grid(self) -> tuple[int, int]:
        """(rows, cols) of one frame's pooled vision tokens."""
        return self.rows, self.cols

    @property
    def frame_size(self) -> int:
        """Side S of the square frames fed to the vision tower, pixels."""
        return self.frame_transform.size

    def token_grid_spec(self) -> dict[str, int]:
        """The exact resize/patch/pool geometry for BEV-target code.

        Keys ``image_size``, ``patch_size``, ``pool``, ``rows``, ``cols``; e.g. 384 / 14 / 2 / 14 / 14 for
        LLaVA-Video.
        """
        return {
            "image_size": self.frame_size,
            "patch_size": self.patch_size,
            "pool": 2,
            "rows": self.rows,
            "cols": self.cols,
        }

    def video_placeholder_ids(self, num_frames: int) -> list[int]:
        """The placeholder id block of a ``num_frames``-frame video."""
        ids = self._layout_ids.get(num_frames)
        if ids is None:
            from .configuration_loc3r import video_token_layout

            layout = video_token_layout(
                num_frames,
                self.rows,
                self.cols,
                newline_layout=self.newline_layout,
                camera_token_position=self.camera_token_position,
                use_camera=self.use_camera,
            )
            ids = layout.token_ids(self.video_token_id, self.cam_token_id).tolist()
            self._layout_ids[num_frames] = ids
        return ids

    # ------------------------------------------------------------------------------------------ text
    def user_text(self, situation: str | None, question: str) -> str:
        """``"{situation} <Pos><Ori> {question}"`` (pseudo-situation when ``situation`` is empty)."""
        sit = situation.strip() if situation and situation.strip() else PSEUDO_SITUATION
        return f"{sit} {POS_TOKEN}{ORI_TOKEN} {question.strip()}".rstrip()

    def prompt_parts(self, situation: str | None, question: str) -> tuple[str, str]:
        """(text before the video block, text after it up to and including the assistant header)."""
        before = f"{_IM_START}system\n{self.system_prompt}{_IM_END}\n{_IM_START}user\n"
        after = f"\n{self.user_text(situation, question)}{_IM_END}\n{_IM_START}assistant\n"
        return before, after

    def _encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    # ------------------------------------------------------------------------------------------ batching
    def __call__(
        self,
        videos: Sequence,
        situations: Sequence[str | None],
        questions: Sequence[str],
        answers: Sequence[str] | None = None,
        camera_tokens=None,
        padding_side: str | None = None,
    ) -> BatchFeature:
        """Build a batch.

        Args:
            videos: B videos with the same number of frames T (``FrameTransform.as_uint8_video`` formats).
            situations: B situation texts (None / "" = pseudo-situation).
            questions: B questions.
            answers: B answers (training) or None (inference).
            camera_tokens: optional [B, T, D_prior] (array / tensor / list of [T, D_prior]), passed through as
                float32 ``camera_tokens``.
            padding_side: ``"left"`` | ``"right"``; default right with answers, left without.

        Returns:
            ``BatchFeature`` with ``input_ids`` [B, L], ``attention_mask`` [B, L], ``pixel_values_videos``
            [B, T, 3, S, S], ``sit_mask`` [B] bool, ``labels`` [B, L] (with answers) and ``camera_tokens``
            [B, T, D_prior] (if given).
        """
        b = len(questions)
        if len(videos) != b or len(situations) != b or (answers is not None and len(answers) != b):
            raise ValueError(
                f"videos ({len(videos)}), situations ({len(situations)}), questions ({b})"
                + (f", answers ({len(answers)})" if answers is not None else "")
                + " must have the same length"
            )
        if b == 0:
            raise ValueError("empty batch")
        pixel = [self.frame_transform(v) for v in videos]
        t = pixel[0].shape[0]
        if any(p.shape[0] != t for p in pixel):
            raise ValueError(
                f"all videos of a batch need the same frame count, got {[p.shape[0] for p in pixel]}"
            )
        block = self.video_placeholder_ids(t)

        seqs: list[list[int]] = []
        labs: list[list[int]] = []
        for i in range(b):
            before, after = self.prompt_parts(situations[i], questions[i])
            prompt = self._encode(before) + block + self._encode(after)
            if answers is None:
                seqs.append(prompt)
                continue
            ans = self._encode(f"{answers[i].strip()}{_IM_END}")
            seqs.append(prompt + ans)
            labs.append([-100] * len(prompt) + ans)

        side = padding_side or ("right" if answers is not None else "left")
        if side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {side!r}")
        max_len = max(len(s) for s in seqs)
        pad = self.tokenizer.pad_token_id

        def padded(row: list[int], fill: int) -> list[int]:
            extra = [fill] * (max_len - len(row))
            return extra + row if side == "left" else row + extra

        data = {
            "input_ids": torch.tensor([padded(s, pad) for s in seqs], dtype=torch.long),
            "attention_mask": torch.tensor([padded([1] * len(s), 0) for s in seqs], dtype=torch.long),
            "pixel_values_videos": torch.stack(pixel),
            "sit_mask": torch.tensor([bool(s and s.strip()) for s in situations], dtype=torch.bool),
        }
        if answers is not None:
            data["labels"] = torch.tensor([padded(lab, -100) for lab in labs], dtype=torch.long)
        if camera_tokens is not None:
            if not torch.is_tensor(camera_tokens):
                camera_tokens = torch.as_tensor(
                    np.stack([np.asarray(c, dtype=np.float32) for c in camera_tokens])
                )
            camera_tokens = camera_tokens.float()
            if camera_tokens.ndim != 3 or camera_tokens.shape[:2] != (b, t):
                raise ValueError(f"camera_tokens must be [B={b}, T={t}, D], got {tuple(camera_tokens.shape)}")
            data["camera_tokens"] = camera_tokens
        return BatchFeature(data=data)

    def batch_decode(self, ids, **kwargs) -> list[str]:
        """Tokenizer ``batch_decode``."""
        return self.tokenizer.batch_decode(ids, **kwargs)

    def num_video_tokens(self, num_frames: int) -> int:
        """Length of the video placeholder block for ``num_frames`` frames."""
        return len(self.video_placeholder_ids(num_frames))
