"""Input preprocessing of the 3D foundation models, re-implemented from their documented behaviour.

Both functions reproduce the image loaders the models were trained and released with (data_formats.md §6),
pixel for pixel, but take decoded frames instead of file paths:

CUT3R (``src/dust3r/utils/image.py::load_images``, DUSt3R lineage), ``size`` = 512 (default) or 224:
  * ``size != 224``: resize so the long side is ``size`` (each side ``int(round(side * size / long))``;
    LANCZOS when shrinking, BICUBIC otherwise), then centre-crop each side to a multiple of 16:
    ``cx, cy = W // 2, H // 2``; ``halfw = ((2 cx) // 16) * 8``; ``halfh = ((2 cy) // 16) * 8``; a square
    image gets ``halfh = 3 halfw / 4`` (4:3) unless ``square_ok``; crop ``(cx - halfw, cy - halfh,
    cx + halfw, cy + halfh)``.
  * ``size == 224``: resize so the *long* side is ``round(224 * max(W/H, H/W))`` (i.e. the short side is
    about 224), then centre-crop a ``2 min(cx, cy)`` square.
  * ``ToTensor`` then ``Normalize(0.5, 0.5)``: values in [-1, 1]. ``true_shape = [[H, W]]`` (int32).
  * ScanNet: 1296x968 -> resize 512x382 -> crop **512x368**; 640x480 -> **512x384**.

VGGT (``vggt/utils/load_fn.py::load_and_preprocess_images``), target 518, patch 14:
  * ``mode="crop"`` (default): width -> 518, height -> ``round(H * 518 / W / 14) * 14`` (Python ``round``,
    half to even), BICUBIC; ``ToTensor`` ([0, 1]); if the height exceeds 518, keep the central 518 rows
    (``start = (h - 518) // 2``).
  * ``mode="pad"``: the long side -> 518, the other side ``round(side * 518 / long / 14) * 14``, BICUBIC,
    then pad to 518x518 with 1.0 (white): ``top = (518 - h) // 2``, ``bottom = rest`` (likewise left/right).
  * Frames of different resulting shapes are padded (centred, value 1.0) to the largest height and width.
  * No mean/std normalisation: VGGT's aggregator applies the ImageNet mean/std itself, so feed [0, 1].
  * ScanNet: 1296x968 -> **518x392**; 640x480 -> 518x392; ``pad`` mode -> 518x518.

Frames come in as RGB ``uint8 [T, H, W, 3]`` (numpy or torch) or a list of ``[H, W, 3]`` arrays. Float
frames in [0, 1] are accepted and quantised to uint8 (``round(255 x)``) first, because both loaders resize
8-bit PIL images; pass uint8 to avoid the extra rounding. The loaders also apply EXIF orientation when
reading files; ``load_rgb_image`` does the same for callers that start from files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "CUT3R_PATCH",
    "VGGT_PATCH",
    "VGGT_TARGET_SIZE",
    "to_uint8_frames",
    "load_rgb_image",
    "Cut3rPlan",
    "cut3r_plan",
    "Cut3rImage",
    "preprocess_cut3r",
    "VggtPlan",
    "vggt_plan",
    "preprocess_vggt",
]

CUT3R_PATCH = 16
VGGT_PATCH = 14
VGGT_TARGET_SIZE = 518


# --------------------------------------------------------------------------------------------- inputs
def to_uint8_frames(frames) -> list[np.ndarray]:
    """Normalise the accepted frame containers to a list of RGB ``uint8 [H, W, 3]`` arrays.

    Args:
        frames: ``[T, H, W, 3]`` numpy array or torch tensor (uint8, or float in [0, 1]), or a sequence of
            ``[H, W, 3]`` arrays/tensors (frames may then differ in size).

    Returns:
        List of T contiguous ``uint8 [H, W, 3]`` arrays.

    Raises:
        ValueError: empty input, wrong layout (e.g. channels-first), non-finite or out-of-range floats.
    """
    if hasattr(frames, "detach"):  # torch tensor
        frames = frames.detach().cpu().numpy()
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4:
            raise ValueError(f"frames must be [T, H, W, 3], got an array of shape {frames.shape}")
        items: Sequence = list(frames)
    else:
        items = list(frames)
    if not items:
        raise ValueError("frames is empty: need at least one frame")
    out = []
    for t, f in enumerate(items):
        if hasattr(f, "detach"):
            f = f.detach().cpu().numpy()
        f = np.asarray(f)
        if f.ndim != 3 or f.shape[-1] != 3:
            hint = (
                " (channels-first? frames must be channels-last RGB)"
                if f.ndim == 3 and f.shape[0] == 3
                else ""
            )
            raise ValueError(f"frame {t}: expected [H, W, 3] RGB, got shape {f.shape}{hint}")
        if f.shape[0] < 1 or f.shape[1] < 1:
            raise ValueError(f"frame {t}: empty image of shape {f.shape}")
        if f.dtype == np.uint8:
            out.append(np.ascontiguousarray(f))
            continue
        if not np.issubdtype(f.dtype, np.floating):
            raise ValueError(f"frame {t}: dtype {f.dtype} not supported (use uint8, or float in [0, 1])")
        if not np.all(np.isfinite(f)):
            raise ValueError(f"frame {t}: contains NaN or inf")
        lo, hi = float(f.min()), float(f.max())
        if lo < -1e-6 or hi > 1.0 + 1e-6:
            raise ValueError(f"frame {t}: float pixel values must lie in [0, 1], got [{lo:.4g}, {hi:.4g}]")
        out.append(np.ascontiguousarray(np.clip(np.round(f * 255.0), 0, 255).astype(np.uint8)))
    return out


def load_rgb_image(path: str | Path) -> np.ndarray:
    """Read an image file as the models' loaders do (EXIF orientation applied, RGB): ``uint8 [H, W, 3]``."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB")).copy()


def _uint8_to_unit_float(img_u8: np.ndarray) -> torch.Tensor:
    """``ToTensor``: ``uint8 [H, W, 3]`` -> float32 ``[3, H, W]`` in [0, 1] (divide by 255)."""
    import torch

    arr = np.ascontiguousarray(img_u8)
    if not arr.flags.writeable:  # np.asarray(PIL image) is read-only; torch wants writable memory
        arr = arr.copy()
    return torch.from_numpy(arr).permute(2, 0, 1).float().div(255.0)


# --------------------------------------------------------------------------------------------- CUT3R
@dataclass(frozen=True)
class Cut3rPlan:
    """Geometry of one CUT3R ``load_images`` call for an image of a given size.

    Attributes:
        resize_wh: (W, H) after the resize.
        resample: ``"lanczos"`` (shrinking) or ``"bicubic"`` (same size or enlarging).
        crop_box: (left, top, right, bottom) crop of the resized image, pixels (PIL convention).
    """

    resize_wh: tuple[int, int]
    resample: str
    crop_box: tuple[int, int, int, int]

    @property
    def output_wh(self) -> tuple[int, int]:
        """(W, H) of the final model input."""
        left, top, right, bottom = self.crop_box
        return right - left, bottom - top


def cut3r_plan(width: int, height: int, size: int = 512, square_ok: bool = False) -> Cut3rPlan:
    """Resize and crop that CUT3R's ``load_images(..., size)`` applies to a ``width x height`` image.

    Args:
        width: input image width in pixels.
        height: input image height in pixels.
        size: 512 (long side, crop to multiples of 16; also any other value, e.g. 432) or 224 (short side,
            square crop).
        square_ok: keep square images square (``load_images`` default False: crop them to 4:3).

    Returns:
        The plan; ``plan.output_wh`` is the model input size.

    Raises:
        ValueError: for non-positive sizes or an image too small to give a non-empty crop.
    """
    if width < 1 or height < 1 or size < 1:
        raise ValueError(f"invalid image size {width}x{height} or target size {size}")
    long_edge = round(size * max(width / height, height / width)) if size == 224 else size
    s = max(width, height)
    resample = "lanczos" if s > long_edge else "bicubic"
    new_w, new_h = (int(round(x * long_edge / s)) for x in (width, height))
    cx, cy = new_w // 2, new_h // 2
    if size == 224:
        half = min(cx, cy)
        box = (cx - half, cy - half, cx + half, cy + half)
    else:
        halfw, halfh = ((2 * cx) // 16) * 8, ((2 * cy) // 16) * 8
        if not square_ok and new_w == new_h:
            halfh = 3 * halfw / 4  # 4:3 for square inputs, as load_images does
        box = tuple(int(round(v)) for v in (cx - halfw, cy - halfh, cx + halfw, cy + halfh))
    plan = Cut3rPlan(resize_wh=(new_w, new_h), resample=resample, crop_box=box)  # type: ignore[arg-type]
    if min(plan.output_wh) < 1:
        raise ValueError(f"image {width}x{height} is too small for CUT3R preprocessing at size {size}")
    return plan


@dataclass(frozen=True)
class Cut3rImage:
    """One preprocessed CUT3R input.

    Attributes:
        img: float32 ``[1, 3, H, W]`` in [-1, 1] (``(x / 255 - 0.5) / 0.5``).
        true_shape: int32 ``[1, 2]`` = ``[[H, W]]``.
    """

    img: torch.Tensor
    true_shape: np.ndarray


def _pil_resample(name: str):
    from PIL import Image

    return {"lanczos": Image.Resampling.LANCZOS, "bicubic": Image.Resampling.BICUBIC}[name]


def preprocess_cut3r(frames, size: int = 512, square_ok: bool = False) -> list[Cut3rImage]:
    """CUT3R ``load_images`` on decoded frames (see module docstring).

    Args:
        frames: RGB frames, ``uint8 [T, H, W, 3]`` or a list of ``[H, W, 3]`` (see ``to_uint8_frames``).
        size: 512 (the released ``cut3r_512_dpt_4_64.pth``) or 224 (``cut3r_224_linear_4.pth``).
        square_ok: see ``cut3r_plan``.

    Returns:
        T ``Cut3rImage`` (frames of different sizes give different shapes).
    """
    from PIL import Image

    out = []
    for f in to_uint8_frames(frames):
        h, w = f.shape[:2]
        plan = cut3r_plan(w, h, size=size, square_ok=square_ok)
        im = Image.fromarray(f)
        if plan.resize_wh != (w, h):
            im = im.resize(plan.resize_wh, _pil_resample(plan.resample))
        im = im.crop(plan.crop_box)
        t = _uint8_to_unit_float(np.asarray(im))
        t = (t - 0.5) / 0.5
        out_w, out_h = plan.output_wh
        out.append(
            Cut3rImage(img=t[None].contiguous(), true_shape=np.array([[out_h, out_w]], dtype=np.int32))
        )
    return out


# --------------------------------------------------------------------------------------------- VGGT
@dataclass(frozen=True)
class VggtPlan:
    """Geometry of VGGT's ``load_and_preprocess_images`` for one image (before cross-frame padding).

    Attributes:
        resize_wh: (W, H) after the BICUBIC resize.
        crop_top: first row kept (crop mode, when the resized height exceeds the target), else 0.
        crop_h: rows kept.
        pad: (left, right, top, bottom) padding with 1.0 (pad mode), else zeros.
    """

    resize_wh: tuple[int, int]
    crop_top: int
    crop_h: int
    pad: tuple[int, int, int, int]

    @property
    def output_wh(self) -> tuple[int, int]:
        """(W, H) of this frame before any cross-frame padding."""
        left, right, top, bottom = self.pad
        return self.resize_wh[0] + left + right, self.crop_h + top + bottom


def vggt_plan(width: int, height: int, mode: str = "crop", target_size: int = VGGT_TARGET_SIZE) -> VggtPlan:
    """Resize/crop/pad that VGGT's ``load_and_preprocess_images(mode=...)`` applies to one image.

    Raises:
        ValueError: unknown ``mode`` or an image that rounds to zero rows/columns.
    """
    if mode not in ("crop", "pad"):
        raise ValueError(f"VGGT preprocessing mode must be 'crop' or 'pad', got {mode!r}")
    if width < 1 or height < 1:
        raise ValueError(f"invalid image size {width}x{height}")
    p = VGGT_PATCH
    if mode == "pad" and height > width:
        new_h = target_size
        new_w = round(width * (new_h / height) / p) * p
    else:  # crop mode, or pad mode with a landscape/square image
        new_w = target_size
        new_h = round(height * (new_w / width) / p) * p
    if new_w < 1 or new_h < 1:
        raise ValueError(
            f"image {width}x{height} is too small for VGGT preprocessing (rounds to {new_w}x{new_h})"
        )
    crop_top, crop_h = 0, new_h
    pad = (0, 0, 0, 0)
    if mode == "crop" and new_h > target_size:
        crop_top, crop_h = (new_h - target_size) // 2, target_size
    if mode == "pad":
        hp, wp = target_size - new_h, target_size - new_w
        pad = (wp // 2, wp - wp // 2, hp // 2, hp - hp // 2)
    return VggtPlan(resize_wh=(new_w, new_h), crop_top=crop_top, crop_h=crop_h, pad=pad)


def _pad_to(t: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Centre-pad ``[3, h, w]`` to ``[3, height, width]`` with 1.0 (top/left get the floor half)."""
    import torch.nn.functional as F

    hp, wp = height - t.shape[1], width - t.shape[2]
    if hp == 0 and wp == 0:
        return t
    return F.pad(t, (wp // 2, wp - wp // 2, hp // 2, hp - hp // 2), mode="constant", value=1.0)


def preprocess_vggt(frames, mode: str = "crop", target_size: int = VGGT_TARGET_SIZE) -> torch.Tensor:
    """VGGT ``load_and_preprocess_images`` on decoded frames (see module docstring).

    Args:
        frames: RGB frames, ``uint8 [S, H, W, 3]`` or a list of ``[H, W, 3]`` (see ``to_uint8_frames``).
        mode: ``"crop"`` (VGGT's default) or ``"pad"``.
        target_size: 518 (VGGT-1B).

    Returns:
        float32 ``[S, 3, H, W]`` in [0, 1]; H and W are multiples of 14 (pad regions hold 1.0).
    """
    import torch
    from PIL import Image

    tensors = []
    for f in to_uint8_frames(frames):
        h, w = f.shape[:2]
        plan = vggt_plan(w, h, mode=mode, target_size=target_size)
        im = Image.fromarray(f).resize(plan.resize_wh, Image.Resampling.BICUBIC)
        t = _uint8_to_unit_float(np.asarray(im))
        t = t[:, plan.crop_top : plan.crop_top + plan.crop_h, :]
        if mode == "pad":
            t = _pad_to(t, target_size, target_size)
        tensors.append(t)
    max_h = max(t.shape[1] for t in tensors)
    max_w = max(t.shape[2] for t in tensors)
    return torch.stack([_pad_to(t, max_h, max_w) for t in tensors]).contiguous()
