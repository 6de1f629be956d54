"""Per-token BEV targets for the layout-reconstruction loss (method.md §3): where each vision token looks.

For every selected frame and every (pooled) vision token, the target is the mean BEV position (x, y), in
metres in the first-frame BEV frame (``loc3r.geometry.frames.BevFrame``), of the ground-truth 3-D points seen
by the depth pixels inside the token's footprint. Tokens whose footprint holds no valid depth are masked out.

Token geometry (``TokenGrid``). The base model turns an image of size (h, w) into tokens in three steps:

1. **Resize** to the model input (H_in, W_in): ``"stretch"`` resizes straight to (H_in, W_in) without
   keeping the aspect ratio (SigLIP's processor in LLaVA-Video: any frame -> 384x384, no crop);
   ``"shortest_side_crop"`` resizes the shorter side to ``shortest_edge`` (other side ``int(S * long /
   short)``, as HF / torchvision compute it) and centre-crops (H_in, W_in) with offsets ``(resized - crop)
   // 2`` (HF ``center_crop``).
2. **Patchify** with a stride-``patch_size`` convolution without padding: ``H_in // patch_size`` rows of
   patches; the last ``H_in % patch_size`` pixel rows/columns are never seen (SigLIP-so400m: 27x27 patches
   of 14 px cover 378 of 384 px).
3. **Pool** the patch grid by ``pool_stride`` to ``ceil(n / pool_stride)`` tokens per axis.
   ``"bilinear"`` reproduces LLaVA-Video (``mm_spatial_pool_mode="bilinear"``: ``F.interpolate(size=ceil(n /
   2), mode="bilinear", align_corners=False)``): output j samples the patch grid at ``(j + 0.5) n / n_out -
   0.5`` (clamped at 0) and mixes the two neighbouring patches, so 27 -> 14 pairs patches (0,1), (2,3), ...,
   (12,13), (13,14), ..., (25,26) -- patch 13 feeds two tokens. ``"block"`` is average pooling with
   ``ceil_mode``: token j covers patches ``[j s, min((j + 1) s, n))`` (the last token of 27 -> 14 covers one
   patch).

A token's **footprint** is the union of the patches that feed it (with a non-zero weight), and an original
pixel belongs to a footprint when its centre, mapped through the resize/crop with the pixel-area convention
(pixel u spans [u, u + 1); centre u + 0.5 maps to ``(u + 0.5) * resized / original``), lands inside one of
those patches. The footprint is separable (row set x column set), and a pixel may belong to up to 4 tokens
under bilinear pooling. The target is the **unweighted** mean over the footprint's valid pixels [G: method.md
§3 leaves the aggregation open; the median would be more robust to depth edges].

Colour vs depth. Tokens are made from the *colour* image; targets come from the *depth* image. Two mappings:

* registered (default): the depth image is assumed to share the colour image's field of view, so the token
  chain is applied to the depth image's own pixel grid. For ScanNet (colour 1296x968, fx~1170; depth 640x480,
  fx~577) the horizontal FOVs agree to ~0.1 deg and the principal points to a few colour pixels, so this is
  approximately true.
* through intrinsics (``K_color`` + ``color_hw``): every valid depth pixel is unprojected to the depth camera
  frame with ``K_depth``, optionally moved by ``T_color_from_depth`` (identity in the ``.sens`` headers),
  projected with ``K_color`` into the colour image (integer-pixel convention, so its continuous pixel-edge
  coordinate is ``u_c + 0.5``), and then sent through the token chain with the colour image size. Depth
  pixels that land outside the colour image, or behind the colour camera, count for no token.

The BEV (x, y) of a pixel is ``bev.world_to_bev_xy(T_world_from_cam @ X_depth_cam)``; heights are world z.
BEV coordinates do not change when the world frame is rotated about +Z (raw vs axis-aligned ScanNet) as long
as the BEV frame and the poses use the same world frame.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from loc3r.geometry.camera import intrinsics_3x3, unproject_depth
from loc3r.geometry.frames import BevFrame
from loc3r.geometry.transforms import check_rigid

__all__ = ["TokenGrid", "BevTargets", "compute_bev_targets", "egocentric_targets", "pool_membership"]

_RESIZE_MODES = ("stretch", "shortest_side_crop")
_POOL_MODES = ("bilinear", "block")


def pool_membership(num_patches: int, stride: int, mode: str) -> np.ndarray:
    """Which pooled tokens each patch feeds, along one axis.

    Args:
        num_patches: patches along the axis (n).
        stride: pooling stride s (1 = no pooling).
        mode: ``"bilinear"`` (LLaVA-Video, ``F.interpolate`` to ``ceil(n / s)``, ``align_corners=False``) or
            ``"block"`` (average pooling with ``ceil_mode``).

    Returns:
        [n, 2] int64 token indices fed by each patch (with a non-zero weight), -1 where unused.
    """
    if num_patches < 1 or stride < 1:
        raise ValueError(f"num_patches and stride must be >= 1, got {num_patches}, {stride}")
    if mode not in _POOL_MODES:
        raise ValueError(f"pool mode must be one of {_POOL_MODES}, got {mode!r}")
    n_out = -(-num_patches // stride)
    table = np.full((num_patches, 2), -1, dtype=np.int64)
    if mode == "block":
        table[:, 0] = np.arange(num_patches) // stride
        return table
    scale = num_patches / n_out
    for j in range(n_out):
        src = max((j + 0.5) * scale - 0.5, 0.0)
        i0 = min(int(math.floor(src)), num_patches - 1)
        i1 = min(i0 + 1, num_patches - 1)
        lam = src - i0
        feeds = [i0] if (lam <= 0 or i1 == i0) else [i0, i1]
        for i in feeds:
            slot = 0 if table[i, 0] < 0 else 1
            table[i, slot] = j
    return table


@dataclass(frozen=True)
class TokenGrid:
    """How the base VLM turns an image into a grid of vision tokens (see the module docstring).

    Attributes:
        input_hw: model input (H_in, W_in) in pixels, after resize (and crop).
        patch_size: ViT patch size in pixels (stride of the patch embedding, no padding).
        pool_stride: spatial pooling stride after the projector (1 = none).
        pool_mode: ``"bilinear"`` (LLaVA-Video) or ``"block"`` (average pooling, ``ceil_mode``).
        resize: ``"stretch"`` (resize to ``input_hw`` ignoring aspect) or ``"shortest_side_crop"``.
        shortest_edge: target of the shorter side for ``"shortest_side_crop"`` (default ``max(input_hw)``).
    """

    input_hw: tuple[int, int] = (384, 384)
    patch_size: int = 14
    pool_stride: int = 2
    pool_mode: str = "bilinear"
    resize: str = "stretch"
    shortest_edge: int | None = None

    def __post_init__(self) -> None:
        """Validate the numbers (a grid with no tokens is an error)."""
        object.__setattr__(self, "input_hw", (int(self.input_hw[0]), int(self.input_hw[1])))
        h, w = self.input_hw
        if self.patch_size < 1 or h < self.patch_size or w < self.patch_size:
            raise ValueError(f"input {self.input_hw} must hold at least one {self.patch_size}-px patch")
        if self.pool_stride < 1:
            raise ValueError(f"pool_stride must be >= 1, got {self.pool_stride}")
        if self.pool_mode not in _POOL_MODES:
            raise ValueError(f"pool_mode must be one of {_POOL_MODES}, got {self.pool_mode!r}")
        if self.resize not in _RESIZE_MODES:
            raise ValueError(f"resize must be one of {_RESIZE_MODES}, got {self.resize!r}")
        if self.shortest_edge is not None and self.shortest_edge < 1:
            raise ValueError(f"shortest_edge must be >= 1, got {self.shortest_edge}")

    @classmethod
    def llava_video(cls, image_size: int = 384, patch: int = 14, pool: int = 2) -> "TokenGrid":
        """LLaVA-Video-7B-Qwen2 preset (SigLIP-so400m-patch14-384).

        Stretch to ``image_size`` squared (no crop), ``image_size // patch`` patches per side (27 at
        384 / 14), bilinear pooling by ``pool`` (27 -> 14), i.e. 14x14 = 196 tokens per frame.
        """
        return cls(
            input_hw=(image_size, image_size), patch_size=patch, pool_stride=pool, pool_mode="bilinear"
        )

    @property
    def patch_hw(self) -> tuple[int, int]:
        """Patch grid (rows, cols) = ``input_hw // patch_size``."""
        return self.input_hw[0] // self.patch_size, self.input_hw[1] // self.patch_size

    @property
    def token_hw(self) -> tuple[int, int]:
        """Pooled token grid (rows, cols) = ``ceil(patch_hw / pool_stride)``."""
        ph, pw = self.patch_hw
        return -(-ph // self.pool_stride), -(-pw // self.pool_stride)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (round-trips through ``TokenGrid(**d)``)."""
        d = asdict(self)
        d["input_hw"] = list(self.input_hw)
        return d

    def resized_hw(self, image_hw: tuple[int, int]) -> tuple[int, int]:
        """Size (h, w) of an ``image_hw`` image after the resize step (before any crop)."""
        h, w = int(image_hw[0]), int(image_hw[1])
        if h < 1 or w < 1:
            raise ValueError(f"image size must be positive, got {image_hw}")
        if self.resize == "stretch":
            return self.input_hw
        s = self.shortest_edge or max(self.input_hw)
        rh, rw = (s, int(s * w / h)) if h <= w else (int(s * h / w), s)
        if rh < self.input_hw[0] or rw < self.input_hw[1]:
            raise ValueError(
                f"image {image_hw} resized to {(rh, rw)} is smaller than the crop {self.input_hw}"
            )
        return rh, rw

    def image_to_input(
        self, x: np.ndarray, y: np.ndarray, image_hw: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Continuous pixel-edge coordinates of the original image -> those of the model input.

        Args:
            x, y: [...] coordinates in the original image with pixel u spanning [u, u + 1) (so the centre of
                pixel u is u + 0.5).
            image_hw: original (h, w).

        Returns:
            (x_in, y_in) [...] in the (H_in, W_in) model input (may fall outside [0, W_in) after a crop).
        """
        h, w = int(image_hw[0]), int(image_hw[1])
        rh, rw = self.resized_hw(image_hw)
        x_in = np.asarray(x, dtype=np.float64) * (rw / w)
        y_in = np.asarray(y, dtype=np.float64) * (rh / h)
        if self.resize == "shortest_side_crop":
            x_in = x_in - (rw - self.input_hw[1]) // 2
            y_in = y_in - (rh - self.input_hw[0]) // 2
        return x_in, y_in

    def input_to_tokens(self, coord_in: np.ndarray, axis: int) -> np.ndarray:
        """Model-input coordinates along one axis -> the pooled tokens whose footprint contains them.

        Args:
            coord_in: [N] continuous coordinates in the model input (pixel-edge convention).
            axis: 0 for rows (y), 1 for columns (x).

        Returns:
            [N, 2] int64 token indices along that axis, -1 where none (outside the patch grid, or a second
            slot that is unused).
        """
        n_patches = self.patch_hw[axis]
        c = np.asarray(coord_in, dtype=np.float64).reshape(-1)
        inside = np.isfinite(c) & (c >= 0)
        patch = np.full(c.shape, -1, dtype=np.int64)
        patch[inside] = np.floor(c[inside] / self.patch_size).astype(np.int64)
        patch[patch >= n_patches] = -1
        table = pool_membership(n_patches, self.pool_stride, self.pool_mode)
        out = np.full((c.size, 2), -1, dtype=np.int64)
        ok = patch >= 0
        out[ok] = table[patch[ok]]
        return out

    def footprint_masks(self, image_hw: tuple[int, int]) -> np.ndarray:
        """Boolean footprint of every token on an image's pixel grid (registered case).

        Args:
            image_hw: (h, w) of the image.

        Returns:
            [rows, cols, h, w] bool; ``[r, c, v, u]`` is True when pixel (v, u) belongs to token (r, c).
            Meant for inspection and tests (memory h*w*rows*cols).
        """
        h, w = int(image_hw[0]), int(image_hw[1])
        x_in, _ = self.image_to_input(np.arange(w) + 0.5, np.zeros(w), image_hw)
        _, y_in = self.image_to_input(np.zeros(h), np.arange(h) + 0.5, image_hw)
        rows_of = self.input_to_tokens(y_in, axis=0)  # [h, 2]
        cols_of = self.input_to_tokens(x_in, axis=1)  # [w, 2]
        tr, tc = self.token_hw
        row_mask = np.zeros((tr, h), dtype=bool)
        col_mask = np.zeros((tc, w), dtype=bool)
        for slot in range(2):
            vr = rows_of[:, slot] >= 0
            row_mask[rows_of[vr, slot], np.nonzero(vr)[0]] = True
            vc = cols_of[:, slot] >= 0
            col_mask[cols_of[vc, slot], np.nonzero(vc)[0]] = True
        return row_mask[:, None, :, None] & col_mask[None, :, None, :]


@dataclass
class BevTargets:
    """Per-token BEV targets of a clip.

    Attributes:
        xy: [T, rows, cols, 2] float32 mean BEV (x, y), metres, first-frame BEV frame; 0 where invalid.
        valid: [T, rows, cols] bool; False where the footprint holds fewer than ``min_pixels`` valid depths.
        count: [T, rows, cols] int32 number of valid depth pixels in the footprint (averaged when valid).
        z: optional [T, rows, cols] float32 mean world height (metres, world frame of the poses); 0 where
            invalid.
    """

    xy: np.ndarray
    valid: np.ndarray
    count: np.ndarray
    z: np.ndarray | None = None

    def to_npz_dict(self) -> dict[str, np.ndarray]:
        """Arrays for ``np.savez`` (``z`` only when present)."""
        d = {"xy": self.xy, "valid": self.valid, "count": self.count}
        if self.z is not None:
            d["z"] = self.z
        return d


def _token_coords_of_pixels(
    depth_m: np.ndarray,
    K_depth: np.ndarray,
    grid: TokenGrid,
    K_color: np.ndarray | None,
    color_hw: tuple[int, int] | None,
    T_color_from_depth: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per depth pixel, model-input coordinates (x_in, y_in) [h*w] (NaN where it reaches no colour pixel)."""
    h, w = depth_m.shape
    v, u = np.mgrid[0:h, 0:w]
    if K_color is None:
        x_in, y_in = grid.image_to_input(u + 0.5, v + 0.5, (h, w))
        return x_in.reshape(-1), y_in.reshape(-1)
    pts, valid = unproject_depth(depth_m, K_depth)
    pts = pts.reshape(-1, 3)
    if T_color_from_depth is not None:
        T = check_rigid(T_color_from_depth, name="T_color_from_depth")
        pts = pts @ T[:3, :3].T + T[:3, 3]
    Kc = intrinsics_3x3(K_color)
    z = pts[:, 2]
    front = valid.reshape(-1) & (z > 0)
    zs = np.where(front, z, 1.0)
    uc = Kc[0, 0] * pts[:, 0] / zs + Kc[0, 2] + 0.5  # integer-pixel convention -> pixel-edge coordinate
    vc = Kc[1, 1] * pts[:, 1] / zs + Kc[1, 2] + 0.5
    ch, cw = int(color_hw[0]), int(color_hw[1])
    inside = front & (uc >= 0) & (uc < cw) & (vc >= 0) & (vc < ch)
    uc[~inside] = np.nan
    vc[~inside] = np.nan
    return grid.image_to_input(uc, vc, (ch, cw))


def compute_bev_targets(
    depths_m: Sequence[np.ndarray] | np.ndarray,
    K_depth: np.ndarray,
    T_world_from_cam: np.ndarray,
    bev: BevFrame,
    grid: TokenGrid,
    *,
    K_color: np.ndarray | None = None,
    color_hw: tuple[int, int] | None = None,
    T_color_from_depth: np.ndarray | None = None,
    min_pixels: int = 1,
    max_depth_m: float | None = None,
    with_height: bool = False,
) -> BevTargets:
    """Per-token mean BEV (x, y) of the depth points inside each token's footprint.

    Args:
        depths_m: T depth maps [h, w] in metres (0 / non-finite = invalid), or an array [T, h, w].
        K_depth: depth intrinsics, 3x3 / 4x4 shared by all frames, or [T, 3, 3] / [T, 4, 4].
        T_world_from_cam: [T, 4, 4] camera-to-world poses (OpenCV camera) of the depth camera.
        bev: the clip's BEV frame (normally ``BevFrame.from_first_pose(T_world_from_cam[0])``), in the same
            world frame as the poses.
        grid: the token grid of the base model.
        K_color: colour intrinsics (3x3 / 4x4, shared or [T, ...]); with ``color_hw``, map depth pixels into
            the colour image through the intrinsics instead of assuming registered images.
        color_hw: colour image (h, w); required with ``K_color``.
        T_color_from_depth: optional [4, 4] depth-camera -> colour-camera transform (only with ``K_color``).
        min_pixels: a token needs at least this many valid depth pixels to be valid (>= 1).
        max_depth_m: ignore depth beyond this (None: keep all valid depth).
        with_height: also return the mean world z per token.

    Returns:
        ``BevTargets`` with arrays of ``T`` frames on ``grid.token_hw``.

    Raises:
        ValueError: inconsistent shapes, invalid poses, or ``K_color`` without ``color_hw``.
    """
    if min_pixels < 1:
        raise ValueError(f"min_pixels must be >= 1, got {min_pixels}")
    if (K_color is None) != (color_hw is None):
        raise ValueError("K_color and color_hw go together")
    if T_color_from_depth is not None and K_color is None:
        raise ValueError("T_color_from_depth needs K_color and color_hw")
    poses = np.asarray(T_world_from_cam, dtype=np.float64)
    num = len(depths_m)
    if poses.shape != (num, 4, 4):
        raise ValueError(f"T_world_from_cam has shape {poses.shape}, expected ({num}, 4, 4)")
    Kd = np.asarray(K_depth, dtype=np.float64)
    Kc = None if K_color is None else np.asarray(K_color, dtype=np.float64)
    tr, tc = grid.token_hw
    n_tok = tr * tc
    xy = np.zeros((num, tr, tc, 2), dtype=np.float32)
    valid_out = np.zeros((num, tr, tc), dtype=bool)
    count_out = np.zeros((num, tr, tc), dtype=np.int32)
    z_out = np.zeros((num, tr, tc), dtype=np.float32) if with_height else None
    for t in range(num):
        d = np.asarray(depths_m[t], dtype=np.float64)
        if d.ndim != 2:
            raise ValueError(f"depth of frame {t} must be [h, w], got shape {d.shape}")
        pose = check_rigid(poses[t], name=f"pose of frame {t}")
        Kd_t = Kd[t] if Kd.ndim == 3 else Kd
        Kc_t = None if Kc is None else (Kc[t] if Kc.ndim == 3 else Kc)
        pts, valid = unproject_depth(d, Kd_t, pose)
        valid = valid.reshape(-1)
        if max_depth_m is not None:
            valid &= d.reshape(-1) <= max_depth_m
        x_in, y_in = _token_coords_of_pixels(d, Kd_t, grid, Kc_t, color_hw, T_color_from_depth)
        rows_of = grid.input_to_tokens(y_in, axis=0)
        cols_of = grid.input_to_tokens(x_in, axis=1)
        pts = pts.reshape(-1, 3)
        bxy = bev.world_to_bev_xy(pts)
        sums = np.zeros((n_tok, 3 if with_height else 2))
        cnt = np.zeros(n_tok, dtype=np.int64)
        for a in range(2):
            for b in range(2):
                ok = valid & (rows_of[:, a] >= 0) & (cols_of[:, b] >= 0)
                if not ok.any():
                    continue
                tok = rows_of[ok, a] * tc + cols_of[ok, b]
                cnt += np.bincount(tok, minlength=n_tok)
                sums[:, 0] += np.bincount(tok, weights=bxy[ok, 0], minlength=n_tok)
                sums[:, 1] += np.bincount(tok, weights=bxy[ok, 1], minlength=n_tok)
                if with_height:
                    sums[:, 2] += np.bincount(tok, weights=pts[ok, 2], minlength=n_tok)
        good = cnt >= min_pixels
        mean = np.zeros_like(sums)
        mean[good] = sums[good] / cnt[good, None]
        xy[t] = mean[:, :2].reshape(tr, tc, 2)
        valid_out[t] = good.reshape(tr, tc)
        count_out[t] = cnt.reshape(tr, tc)
        if z_out is not None:
            z_out[t] = mean[:, 2].reshape(tr, tc)
    return BevTargets(xy=xy, valid=valid_out, count=count_out, z=z_out)


def egocentric_targets(
    bev_xy: np.ndarray, bev_valid: np.ndarray, poses_c2w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-token targets re-expressed in each frame's *own* gravity-aligned BEV frame (egocentric layout).

    The BEV targets of every frame live in frame 0's BEV frame (``BevFrame.from_first_pose(poses_c2w[0])``);
    this maps the tokens of frame t into ``BevFrame.from_first_pose(poses_c2w[t])``: x = metres along the
    camera's horizontal forward direction, y = metres to its left (the same axes as the BEV frame). For frame 0
    the result equals the input. It is what a single image shows (monocular geometry), with no camera motion
    involved: the optional local-layout loss (``Loc3RConfig.lambda_local``, not in the paper) supervises it.

    Args:
        bev_xy: [T, R, C, 2] per-token BEV (x, y) in frame 0's BEV frame, metres.
        bev_valid: [T, R, C] bool, valid targets.
        poses_c2w: [T, 4, 4] camera-to-world poses of the same frames (any world frame the BEV frame was
            built in).

    Returns:
        ``(local_xy [T, R, C, 2] float32 metres, valid [T, R, C] bool)``; tokens of a frame whose pose is not
        a finite rigid transform are invalid (target 0).
    """
    bev_xy = np.asarray(bev_xy, dtype=np.float64)
    valid = np.asarray(bev_valid, dtype=bool).copy()
    poses = np.asarray(poses_c2w, dtype=np.float64)
    if bev_xy.ndim != 4 or bev_xy.shape[-1] != 2 or valid.shape != bev_xy.shape[:-1]:
        raise ValueError(f"bev_xy must be [T, R, C, 2] with bev_valid [T, R, C]; got {bev_xy.shape}, {valid.shape}")
    if poses.shape != (bev_xy.shape[0], 4, 4):
        raise ValueError(f"poses_c2w must be [{bev_xy.shape[0]}, 4, 4], got {poses.shape}")
    out = np.zeros(bev_xy.shape, dtype=np.float32)
    first = BevFrame.from_first_pose(poses[0])
    for t in range(bev_xy.shape[0]):
        try:
            own = BevFrame.from_first_pose(poses[t])
        except ValueError:
            valid[t] = False
            continue
        xy = own.world_to_bev_xy(first.bev_to_world_xy(np.where(valid[t][..., None], bev_xy[t], 0.0)))
        out[t] = np.where(valid[t][..., None], xy, 0.0).astype(np.float32)
    return out, valid
