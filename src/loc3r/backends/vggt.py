"""The ``vggt`` backend: VGGT's per-frame camera token (2048-d), the alternative prior of method.md §7.9.

VGGT (Wang et al., CVPR 2025) is a feed-forward transformer over all frames at once. Its aggregator
prepends to each frame's DINO patch tokens one camera token (a learned token for the first frame, another
for the rest) and 4 register tokens, then alternates 24 frame-wise and 24 global attention blocks. Each
layer's output is the concatenation of the frame-attention and global-attention outputs, ``[B, S, P, 2C]``
with C = 1024, so the **camera token of frame s is ``aggregated_tokens_list[-1][:, s, 0]`` (2048-d)** —
exactly what VGGT's own camera head reads. How Loc3R-VLM took VGGT tokens was not retrieved (method.md §7.9
[G]); this is the natural equivalent of CUT3R's camera token, run as one batch over all frames.

How this adapter runs it (VGGT stays frozen and unmodified):
  1. ``vggt.models.vggt.VGGT`` is loaded with ``from_pretrained`` (Hub id such as ``facebook/VGGT-1B``, or
     a local folder with ``model.safetensors`` + ``config.json``) or, for a single weights file, built with
     ``VGGT()`` and given ``load_state_dict`` of the file (safetensors or ``torch.load(weights_only=True)``).
  2. Frames are preprocessed exactly like VGGT's ``load_and_preprocess_images`` (``preprocess_vggt``):
     ``[S, 3, H, W]`` in [0, 1]; the ImageNet normalisation happens inside the aggregator.
  3. ``model.aggregator(images[None])`` runs under ``torch.inference_mode`` and, by default, bf16/fp16
     autocast on CUDA (VGGT's README recipe); the last layer's token 0 of each frame is returned.

Everything that depends on VGGT's attribute names is in ``_run_vggt_aggregator`` and ``_load_vggt_model``.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from loc3r.utils.import_utils import INSTALL_HINTS, MissingDependencyError, require_package

from .base import FrozenModelPrior, frozen_inference, load_state_dict_file
from .cache import sha256_file
from .preprocessing import VGGT_TARGET_SIZE, preprocess_vggt

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["VggtPrior", "DEFAULT_VGGT_CHECKPOINT"]

logger = logging.getLogger(__name__)

DEFAULT_VGGT_CHECKPOINT = "facebook/VGGT-1B"


def _load_vggt_model(
    module, class_name: str, checkpoint: str, revision: str | None, strict: bool
) -> torch.nn.Module:
    """Instantiate VGGT and load its weights.

    Expects VGGT's public API (``vggt/models/vggt.py``): ``VGGT`` is an ``nn.Module`` with
    huggingface_hub's ``PyTorchModelHubMixin`` (so ``VGGT.from_pretrained(repo_id_or_folder, revision=...)``)
    whose default constructor ``VGGT()`` builds VGGT-1B.
    """
    model_cls = getattr(module, class_name, None)
    if model_cls is None:
        raise MissingDependencyError(f"{module.__name__} has no '{class_name}'.\n{INSTALL_HINTS['vggt']}")
    path = Path(checkpoint).expanduser()
    if path.is_file():
        model = model_cls()
        model.load_state_dict(load_state_dict_file(path), strict=strict)
        return model
    kwargs = {"revision": revision} if revision is not None else {}
    return model_cls.from_pretrained(str(path) if path.is_dir() else checkpoint, **kwargs)


def _run_vggt_aggregator(model: torch.nn.Module, images: torch.Tensor, layer: int) -> torch.Tensor:
    """Camera tokens ``[S, 2C]`` of one aggregator layer for ``images`` ``[S, 3, H, W]`` in [0, 1].

    Expects VGGT's public API (``vggt/models/aggregator.py::Aggregator.forward``): ``model.aggregator(x)``
    with ``x`` ``[B, S, 3, H, W]`` in [0, 1] returns ``(aggregated_tokens_list, patch_start_idx)``, one
    ``[B, S, P, 2C]`` tensor per layer; per frame, token 0 is the camera token, tokens
    ``1 .. patch_start_idx - 1`` are register tokens, the rest are patch tokens.
    """
    out = model.aggregator(images[None])
    tokens_list, patch_start_idx = out[0], out[1]
    tokens = tokens_list[layer]
    if tokens is None:  # some VGGT versions keep only the layers their heads read (always the last)
        raise RuntimeError(f"this VGGT aggregator does not return layer {layer}; use layer=-1")
    if tokens.ndim != 4 or tokens.shape[1] != images.shape[0] or int(patch_start_idx) < 1:
        raise RuntimeError(
            f"unexpected VGGT aggregator output: tokens {tuple(tokens.shape)}, "
            f"patch_start_idx {patch_start_idx} "
            f"for {images.shape[0]} frames (expected [1, S, P, 2C] and patch_start_idx >= 1)"
        )
    return tokens[0, :, 0]


class VggtPrior(FrozenModelPrior):
    """VGGT camera tokens ``[T, 2048]`` for a video's frames, computed jointly over all frames.

    Args:
        checkpoint: Hub id (default ``facebook/VGGT-1B``; needs network or a filled HF cache), a local
            folder for ``from_pretrained``, or a local ``model.safetensors`` / ``model.pt`` state dict.
        revision: Hub revision (commit hash) to pin; part of the cache key for Hub checkpoints.
        mode: preprocessing mode, ``"crop"`` (VGGT default) or ``"pad"``.
        device: ``"auto"`` (CUDA if available), ``"cuda"``, ``"cpu"``, ...
        amp_dtype: ``"auto"`` (bf16 on Ampere+, fp16 on older CUDA, none on CPU), ``"bf16"``, ``"fp16"``,
            or None.
        layer: aggregator layer to read (-1: last, as VGGT's camera head).
        token_dim: expected token size (2048 for VGGT-1B); checked at run time.
        model_module, model_class: where VGGT lives (``vggt.models.vggt``, ``VGGT``).
        checkpoint_hash: identity of the weights for cache keys; default: sha256 of a local weights file
            (``model.safetensors`` for a folder), or ``hf:<id>@<revision or main>`` for a Hub id.
        strict: strict ``load_state_dict`` for a local weights file.

    Raises:
        MissingDependencyError: ``vggt`` is not installed (message says how to install it).
    """

    name: ClassVar[str] = "vggt"

    def __init__(
        self,
        checkpoint: str | Path = DEFAULT_VGGT_CHECKPOINT,
        revision: str | None = None,
        mode: str = "crop",
        device: str | None = "auto",
        amp_dtype: str | None = "auto",
        layer: int = -1,
        token_dim: int = 2048,
        model_module: str = "vggt.models.vggt",
        model_class: str = "VGGT",
        checkpoint_hash: str | None = None,
        strict: bool = True,
    ) -> None:
        if mode not in ("crop", "pad"):
            raise ValueError(f"VGGT preprocessing mode must be 'crop' or 'pad', got {mode!r}")
        require_package(
            model_module.split(".")[0], feature="the 'vggt' prior backend", hint=INSTALL_HINTS["vggt"]
        )
        try:
            self._module = importlib.import_module(model_module)
        except ImportError as e:
            raise MissingDependencyError(
                f"importing {model_module} failed: {e}\n{INSTALL_HINTS['vggt']}"
            ) from e
        self.checkpoint = str(checkpoint)
        self.revision = revision
        self.mode = mode
        self._init_runtime(
            device=device,
            amp_dtype=amp_dtype,
            token_dim=token_dim,  # 2048 for VGGT-1B (2 x embed_dim: frame- and global-attention outputs)
            checkpoint_hash=checkpoint_hash,
            strict=strict,
        )
        self.layer = int(layer)
        self.model_class = model_class

    @property
    def checkpoint_hash(self) -> str:
        """sha256 of a local weights file, ``hf:<id>@<revision>`` for a Hub id, or the given value."""
        if self._checkpoint_hash is None:
            path = Path(self.checkpoint).expanduser()
            if path.is_dir():
                path = path / "model.safetensors"
                if not path.is_file():
                    raise FileNotFoundError(f"{path} not found; pass checkpoint_hash for this folder")
            if path.is_file():
                self._checkpoint_hash = "sha256:" + sha256_file(path)
            else:
                if self.revision is None:
                    logger.info(
                        "VGGT checkpoint %s without a pinned revision: cache keys use 'main'", self.checkpoint
                    )
                self._checkpoint_hash = f"hf:{self.checkpoint}@{self.revision or 'main'}"
        return self._checkpoint_hash

    @property
    def preprocessing_params(self) -> dict[str, Any]:
        """Crop/pad mode, target size, layer and autocast dtype (all change the tokens)."""
        return {
            "mode": self.mode,
            "target_size": VGGT_TARGET_SIZE,
            "layer": self.layer,
            "amp_dtype": self.amp_dtype or "float32",
        }

    def _load_model(self) -> torch.nn.Module:
        """VGGT with the checkpoint's weights (``model`` freezes it)."""
        return _load_vggt_model(self._module, self.model_class, self.checkpoint, self.revision, self.strict)

    def encode(self, frames=None, *, poses_c2w=None, intrinsics=None, image_size_wh=None):
        """Camera tokens ``[T, token_dim]`` float32 (CPU), all frames in one aggregator pass.

        Poses and intrinsics are ignored (VGGT estimates its own).

        Raises:
            ValueError: no frames / bad frames.
            RuntimeError: unexpected aggregator output or token size.
        """
        if frames is None:
            raise ValueError("the 'vggt' prior backend needs frames")
        images = preprocess_vggt(frames, mode=self.mode).to(self.device)
        model = self.model
        with frozen_inference(self.device, self.amp_dtype):
            tokens = _run_vggt_aggregator(model, images, self.layer)
        return self._checked_tokens(tokens, images.shape[0], "VGGT")
