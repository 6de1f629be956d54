"""The camera-pose prior interface: frames (and optionally poses) in, one token per frame out.

Loc3R-VLM prepends, per frame, a projected camera token to that frame's visual tokens (method.md §2.3). The
model never imports a 3D foundation model: it consumes ``camera_tokens [B, T, D]`` as a plain tensor. This
module defines the contract every producer of those tokens follows:

  * ``name``: the registry name (``"cut3r"``, ``"vggt"``, ``"pose"``, ``"none"``).
  * ``token_dim``: D (768 for CUT3R, 2048 for VGGT-1B, 13 or 10 for ``pose``, 0 for ``none``).
  * ``checkpoint_hash``: identifies the weights (sha256 of the checkpoint file, a hub id + revision, or a
    fixed version string for weight-free backends). It is part of every cache key.
  * ``preprocessing_params``: everything else that changes the tokens (input size, crop mode, autocast
    dtype, ...); also part of the cache key. JSON-serialisable.
  * ``encode(frames, *, poses_c2w, intrinsics, image_size_wh) -> float32 [T, D]`` on the CPU.
  * ``needs_pixels`` / ``needs_poses`` tell a caller what to load (the ``pose`` backend needs no pixels).

Heavy backends are frozen (``eval()``, no gradients) and run under ``torch.inference_mode``.
"""

from __future__ import annotations

import abc
import contextlib
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

__all__ = [
    "PriorBackend",
    "FrozenModelPrior",
    "num_frames_of",
    "check_tokens",
    "freeze_module",
    "resolve_device",
    "resolve_amp_dtype",
    "autocast_context",
    "frozen_inference",
    "CheckpointFormatError",
    "load_state_dict_file",
]


class PriorBackend(abc.ABC):
    """A producer of per-frame camera-prior tokens ``[T, D]``.

    Subclasses set the class attributes and implement ``token_dim``, ``checkpoint_hash`` and ``encode``.
    """

    #: Registry name.
    name: ClassVar[str] = ""
    #: Whether ``encode`` reads the frames' pixels (False: only their count and size are used).
    needs_pixels: ClassVar[bool] = True
    #: Whether ``encode`` needs camera poses and intrinsics.
    needs_poses: ClassVar[bool] = False

    @property
    @abc.abstractmethod
    def token_dim(self) -> int:
        """D, the size of each per-frame token."""

    @property
    @abc.abstractmethod
    def checkpoint_hash(self) -> str:
        """Identity of the weights (or a version string for weight-free backends); part of cache keys."""

    @property
    def preprocessing_params(self) -> dict[str, Any]:
        """JSON-serialisable settings other than the weights that change the tokens; part of cache keys."""
        return {}

    @abc.abstractmethod
    def encode(
        self,
        frames=None,
        *,
        poses_c2w: np.ndarray | torch.Tensor | None = None,
        intrinsics: np.ndarray | torch.Tensor | None = None,
        image_size_wh: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        """Encode one video's frames (in temporal order) into one token per frame.

        Args:
            frames: RGB frames in temporal order, ``uint8 [T, H, W, 3]`` (numpy or torch), float in [0, 1],
                or a list of ``[H, W, 3]`` arrays. Backends with ``needs_pixels = False`` accept None.
            poses_c2w: ``[T, 4, 4]`` camera-to-world poses (OpenCV camera axes, metres), any world frame.
                Only read by backends with ``needs_poses``.
            intrinsics: ``[T, 3, 3]`` (or ``[3, 3]`` shared, or 4x4) pinhole intrinsics in pixels of the
                frames' resolution.
            image_size_wh: (W, H) the intrinsics refer to, when ``frames`` is None.

        Returns:
            float32 ``[T, D]`` on the CPU, row t for frame t.
        """

    def describe(self) -> dict[str, Any]:
        """Name, token size, checkpoint identity and preprocessing (for logs and cache metadata)."""
        return {
            "name": self.name,
            "token_dim": self.token_dim,
            "checkpoint_hash": self.checkpoint_hash,
            "preprocessing": self.preprocessing_params,
        }

    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        # No checkpoint hash here: computing it may read a multi-GB file.
        return f"{type(self).__name__}(name={self.name!r}, token_dim={self.token_dim})"


# --------------------------------------------------------------------------------------------- helpers
def num_frames_of(frames=None, poses_c2w=None) -> int:
    """Number of frames T from ``frames`` (array/tensor/list) or, failing that, ``poses_c2w`` ``[T, 4, 4]``.

    Raises:
        ValueError: when neither is given or they disagree.
    """
    counts = []
    if frames is not None:
        counts.append(("frames", len(frames)))
    if poses_c2w is not None:
        counts.append(("poses_c2w", len(poses_c2w)))
    if not counts:
        raise ValueError("need frames or poses_c2w to know the number of frames")
    if len({c for _, c in counts}) > 1:
        raise ValueError(
            "frames and poses_c2w disagree on the number of frames: "
            + ", ".join(f"{n}={c}" for n, c in counts)
        )
    return counts[0][1]


def check_tokens(tokens: torch.Tensor, num_frames: int, token_dim: int, who: str) -> torch.Tensor:
    """Validate a backend's output and return it as a contiguous float32 CPU tensor ``[T, D]``.

    Raises:
        RuntimeError: wrong shape or non-finite values, naming the backend (``who``).
    """
    import torch

    if tokens.ndim != 2 or tuple(tokens.shape) != (num_frames, token_dim):
        raise RuntimeError(
            f"{who}: produced tokens of shape {tuple(tokens.shape)}, expected ({num_frames}, {token_dim})"
        )
    tokens = tokens.detach().to(device="cpu", dtype=torch.float32).contiguous()
    if not torch.isfinite(tokens).all():
        raise RuntimeError(
            f"{who}: produced non-finite tokens (NaN/inf); check the inputs and autocast dtype"
        )
    return tokens


def freeze_module(module: torch.nn.Module) -> torch.nn.Module:
    """Put a foundation model in eval mode with every parameter frozen (it is never trained here)."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def resolve_device(device: str | None) -> torch.device:
    """``None``/``"auto"``: CUDA when available, else CPU; any other string goes to ``torch.device``."""
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


_AMP_NAMES = {
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "float16": "float16",
    "half": "float16",
}


def resolve_amp_dtype(amp_dtype: str | None, device: torch.device) -> str | None:
    """Normalise an autocast setting to ``"bfloat16"``, ``"float16"`` or None (full precision).

    ``"auto"``: on CUDA, bfloat16 where supported (compute capability >= 8) else float16 (VGGT's README
    recipe); on CPU, None. ``None``/``"none"``/``"fp32"``/``"float32"``: None.

    Raises:
        ValueError: unknown name.
    """
    import torch

    if amp_dtype is None or amp_dtype in ("none", "fp32", "float32"):
        return None
    if amp_dtype == "auto":
        if device.type != "cuda":
            return None
        return "bfloat16" if torch.cuda.get_device_capability(device)[0] >= 8 else "float16"
    if amp_dtype not in _AMP_NAMES:
        raise ValueError(f"amp_dtype must be one of auto, none, fp32, bf16, fp16; got {amp_dtype!r}")
    return _AMP_NAMES[amp_dtype]


@contextlib.contextmanager
def autocast_context(device: torch.device, amp_dtype: str | None) -> Iterator[None]:
    """``torch.autocast`` for ``amp_dtype`` (a name from ``resolve_amp_dtype``), or nothing when None."""
    import torch

    if amp_dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=getattr(torch, amp_dtype)):
        yield


@contextlib.contextmanager
def frozen_inference(device: torch.device, amp_dtype: str | None) -> Iterator[None]:
    """``torch.inference_mode`` plus ``autocast_context(device, amp_dtype)``, for running a frozen model."""
    import torch

    with torch.inference_mode(), autocast_context(device, amp_dtype):
        yield


# --------------------------------------------------------------------------------------------- frozen models
class FrozenModelPrior(PriorBackend):
    """A prior backend around a frozen 3D foundation model, loaded lazily onto one device.

    Subclasses call ``_init_runtime`` in ``__init__``, implement ``_load_model`` (build the model and load
    its weights, on the CPU), ``checkpoint_hash`` and ``encode``; in ``encode`` they run ``self.model``
    under ``frozen_inference(self.device, self.amp_dtype)`` and finish with ``_checked_tokens``.
    """

    def _init_runtime(
        self,
        *,
        device: str | None,
        amp_dtype: str | None,
        token_dim: int,
        checkpoint_hash: str | None,
        strict: bool,
    ) -> None:
        """Set ``device`` and ``amp_dtype`` (resolved), the token size, the hash override and ``strict``.

        Args:
            device: ``"auto"``/None (CUDA if available), ``"cuda"``, ``"cpu"``, ... (``resolve_device``).
            amp_dtype: autocast setting (``resolve_amp_dtype``).
            token_dim: expected token size D; checked at run time.
            checkpoint_hash: identity of the weights for cache keys, or None to derive it.
            strict: strict weight loading.
        """
        self.device = resolve_device(device)
        self.amp_dtype = resolve_amp_dtype(amp_dtype, self.device)
        self._token_dim = int(token_dim)
        self._checkpoint_hash = checkpoint_hash
        self.strict = strict
        self._model: torch.nn.Module | None = None

    @property
    def token_dim(self) -> int:
        """D, the expected size of the model's camera token (checked at run time)."""
        return self._token_dim

    @abc.abstractmethod
    def _load_model(self) -> torch.nn.Module:
        """Build the foundation model and load its weights (called once, on first use of ``model``)."""

    @property
    def model(self) -> torch.nn.Module:
        """The frozen model on ``self.device`` (loaded on first use)."""
        if self._model is None:
            self._model = freeze_module(self._load_model()).to(self.device)
        return self._model

    def _checked_tokens(self, tokens: torch.Tensor, num_frames: int, model_label: str) -> torch.Tensor:
        """Check the token size against ``token_dim`` and return ``check_tokens``' float32 CPU ``[T, D]``.

        Raises:
            RuntimeError: the model's tokens are not ``token_dim``-d (``model_label`` names the model), or
                ``check_tokens`` rejects them.
        """
        if tokens.shape[-1] != self.token_dim:
            raise RuntimeError(
                f"{model_label} camera tokens are {tokens.shape[-1]}-d, expected token_dim={self.token_dim}"
            )
        return check_tokens(tokens, num_frames, self.token_dim, f"{self.name} prior")


# --------------------------------------------------------------------------------------------- weights
class CheckpointFormatError(ValueError):
    """A checkpoint file that cannot be loaded safely (or is not a state dict)."""


#: Shown when a ``.pth`` holds pickled Python objects besides tensors (e.g. a training config).
CONVERT_TO_SAFETENSORS_HINT = """\
loc3r loads weights only with safetensors or torch.load(weights_only=True), which refuses arbitrary pickled
objects. Convert the checkpoint once, in an environment where you trust the file (it was downloaded from
the model's official source; for CUT3R, inside the CUT3R environment, which has the packages the
pickle refers to), and pass the .safetensors file instead:

    python -c "import sys, argparse, torch; from safetensors.torch import save_file; \\
torch.serialization.add_safe_globals([argparse.Namespace]); \\
ck = torch.load(sys.argv[1], map_location='cpu', weights_only=True); sd = ck.get('model', ck); \\
save_file({k: v.detach().clone().contiguous() for k, v in sd.items()}, sys.argv[2])" CKPT.pth CKPT.safetensors

(``add_safe_globals`` allows exactly the extra class the file pickles -- CUT3R stores its training
arguments as an ``argparse.Namespace``; if torch names another class, add that one after checking what it is.)
"""


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a weights file safely and return a flat ``{name: tensor}`` state dict on the CPU.

    ``.safetensors`` files are read with safetensors; anything else with ``torch.load(weights_only=True)``.
    A top-level ``{"model": state_dict}`` or ``{"state_dict": ...}`` wrapper is unwrapped and a
    ``module.`` prefix (DistributedDataParallel) is removed.

    Raises:
        FileNotFoundError: missing file.
        CheckpointFormatError: the file holds non-tensor pickled objects (with a conversion recipe), or is
            not a state dict.
    """
    import torch

    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path), device="cpu")
    else:
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CheckpointFormatError(
                f"{path}: cannot be loaded with torch.load(weights_only=True) ({first}).\n"
                + CONVERT_TO_SAFETENSORS_HINT
            ) from e
    if isinstance(state, dict):
        for wrapper in ("model", "state_dict"):
            if isinstance(state.get(wrapper), dict):
                state = state[wrapper]
                break
    if (
        not isinstance(state, dict)
        or not state
        or not all(isinstance(v, torch.Tensor) for v in state.values())
    ):
        raise CheckpointFormatError(f"{path}: not a state dict of tensors (got {type(state).__name__})")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return dict(state)
