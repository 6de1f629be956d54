"""The ``cut3r`` backend: CUT3R's per-frame camera token (768-d), Loc3R-VLM's prior (method.md §2.3, §9).

CUT3R (Wang et al., CVPR 2025) processes a video online: per frame, a ViT encoder gives image tokens; a pose
query token is prepended (a learned ``pose_token`` for frame 0, read from a learned local memory for later
frames); two interleaved 12-layer decoders update a persistent state from the image tokens and read the
image tokens out of the state. The **camera token z'_t is the final decoder output at sequence position 0,
after the decoder's final LayerNorm** (``dec[-1][:, 0]``, 768-d). It depends on all earlier frames.

How this adapter gets it (CUT3R stays frozen and unmodified):
  1. ``cut3r_root`` (the user's clone of https://github.com/CUT3R/CUT3R) has its ``src/`` folder put on
     ``sys.path`` when the backend is built, then ``dust3r.model`` is imported (both configurable).
  2. The model class ``ARCroco3DStereo`` is built from ``ARCroco3DStereoConfig(**CUT3R_MODEL_CONFIGS[...])``
     and its state dict is loaded with safetensors or ``torch.load(weights_only=True)`` — never with
     CUT3R's own ``from_pretrained(<file>)``, which unpickles arbitrary objects and ``eval``s a config
     string. A Hugging Face-format folder is loaded with ``from_pretrained(<folder>)``.
  3. Frames are preprocessed exactly like CUT3R's ``load_images`` (``preprocessing.preprocess_cut3r``) and
     wrapped in the per-view dicts of CUT3R's ``demo.py::prepare_input`` (data_formats.md §6).
  4. The model runs over all views in order (``model(views)``, the same call ``dust3r.inference.inference``
     makes, in full precision by default as there), with a forward hook on ``dec_norm`` recording the
     position-0 output once per view.

Everything that depends on CUT3R's internal attribute names is in ``_run_cut3r`` and ``_build_cut3r_model``.

Example:
    >>> backend = make_backend("cut3r", cut3r_root="~/src/CUT3R",
    ...                        checkpoint="~/weights/cut3r_512_dpt_4_64.safetensors")  # doctest: +SKIP
    >>> backend.encode(frames_uint8_T_H_W_3).shape  # doctest: +SKIP
    torch.Size([32, 768])
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from loc3r.utils.import_utils import INSTALL_HINTS, MissingDependencyError, cut3r_src_dir, require_package

from .base import FrozenModelPrior, frozen_inference, load_state_dict_file
from .cache import sha256_file
from .preprocessing import Cut3rImage, preprocess_cut3r

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["Cut3rPrior", "CUT3R_MODEL_CONFIGS", "build_cut3r_views"]

logger = logging.getLogger(__name__)

_INF = float("inf")
_COMMON = dict(
    state_size=768,
    state_pe="2d",
    pos_embed="RoPE100",
    rgb_head=True,
    pose_head=True,
    # CUT3R's own loader swaps the training-time ManyAR_PatchEmbed for PatchEmbedDust3R and forces
    # landscape_only=False at inference; we build the inference-time configuration directly.
    patch_embed_cls="PatchEmbedDust3R",
    landscape_only=False,
    output_mode="pts3d+pose",
    depth_mode=("exp", -_INF, _INF),
    conf_mode=("exp", 1, _INF),
    pose_mode=("exp", -_INF, _INF),
    enc_embed_dim=1024,
    enc_depth=24,
    enc_num_heads=16,
    dec_embed_dim=768,
    dec_depth=12,
    dec_num_heads=12,
)

#: ``ARCroco3DStereoConfig`` keyword arguments of the released checkpoints (from CUT3R's
#: ``config/dpt_512_vary_4_64.yaml`` and ``config/linear_224_fixed_16.yaml``).
CUT3R_MODEL_CONFIGS: dict[str, dict[str, Any]] = {
    "512_dpt": {**_COMMON, "img_size": (512, 512), "head_type": "dpt"},  # cut3r_512_dpt_4_64.pth
    "224_linear": {**_COMMON, "img_size": (224, 224), "head_type": "linear"},  # cut3r_224_linear_4.pth
}


# --------------------------------------------------------------------------------------------- CUT3R API
def _import_cut3r_module(cut3r_root: str | Path | None, module_name: str):
    """Import CUT3R's model module, putting ``<cut3r_root>/src`` on ``sys.path`` first when given.

    Raises:
        MissingDependencyError: CUT3R not found or one of its own requirements missing.
    """
    src = None
    if cut3r_root is not None:
        src = cut3r_src_dir(cut3r_root)
        if str(src) not in sys.path:
            sys.path.insert(0, str(src))
    feature = "the 'cut3r' prior backend" + ("" if cut3r_root is not None else "; no cut3r_root was given")
    require_package(module_name.split(".")[0], feature=feature, hint=INSTALL_HINTS["dust3r"])
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise MissingDependencyError(
            f"importing CUT3R's {module_name} failed: {e}\n"
            "Install CUT3R's requirements (pip install -r <cut3r_root>/requirements.txt).\n"
            + INSTALL_HINTS["dust3r"]
        ) from e
    where = Path(getattr(module, "__file__", None) or ".").resolve()
    if src is not None and src not in where.parents:
        # A `dust3r` imported earlier (another clone, naver/dust3r) shadows the one under cut3r_root.
        raise MissingDependencyError(
            f"'{module_name}' is already imported from {where}, not from cut3r_root ({src}); run in a fresh "
            "process, or make cut3r_root point at the same CUT3R clone."
        )
    return module


def _check_cut3r_api(module, class_name: str, config_class_name: str) -> None:
    """Fail early, and clearly, when the imported module is not CUT3R's (e.g. naver/dust3r's ``dust3r``)."""
    where = getattr(module, "__file__", None) or module.__name__
    for attr in (class_name, config_class_name):
        if not hasattr(module, attr):
            raise MissingDependencyError(
                f"{where} has no '{attr}'. Is it CUT3R's dust3r (github.com/CUT3R/CUT3R) rather than "
                f"naver/dust3r? Point cut3r_root at a CUT3R clone.\n{INSTALL_HINTS['dust3r']}"
            )


def _build_cut3r_model(
    module,
    class_name: str,
    config_class_name: str,
    model_config: Mapping[str, Any],
    checkpoint: Path,
    strict: bool,
) -> torch.nn.Module:
    """Instantiate CUT3R and load its weights.

    Expects CUT3R's public API (``src/dust3r/model.py``): ``ARCroco3DStereo(ARCroco3DStereoConfig(**kw))``,
    ``ARCroco3DStereo.load_state_dict`` (which itself strips ``module.`` prefixes), and, for a Hugging
    Face-format folder, ``ARCroco3DStereo.from_pretrained(folder)``.

    Raises:
        MissingDependencyError: the module lacks the classes (e.g. naver/dust3r instead of CUT3R's fork).
        CheckpointFormatError / FileNotFoundError: unreadable checkpoint.
        RuntimeError: missing weights with ``strict``.
    """
    _check_cut3r_api(module, class_name, config_class_name)
    model_cls = getattr(module, class_name)
    if checkpoint.is_dir():
        return model_cls.from_pretrained(str(checkpoint))
    model = model_cls(getattr(module, config_class_name)(**dict(model_config)))
    state = load_state_dict_file(checkpoint)
    result = model.load_state_dict(state, strict=False)
    missing = list(getattr(result, "missing_keys", []) or [])
    unexpected = list(getattr(result, "unexpected_keys", []) or [])
    if unexpected:
        logger.warning(
            "CUT3R checkpoint %s: %d unexpected keys ignored (e.g. %s)",
            checkpoint,
            len(unexpected),
            unexpected[:3],
        )
    if missing:
        msg = (
            f"CUT3R checkpoint {checkpoint} lacks {len(missing)} weights of the model built from "
            f"model_config (e.g. {missing[:5]}); does model_config match the checkpoint?"
        )
        if strict:
            raise RuntimeError(msg)
        logger.warning(msg)
    return model


def build_cut3r_views(images: list[Cut3rImage]) -> list[dict[str, Any]]:
    """CUT3R's per-view input dicts for an image-only sequence (``demo.py::prepare_input``, batch size 1).

    Each view: ``img`` ``[1, 3, H, W]`` in [-1, 1]; ``ray_map`` ``[1, 6, H, W]`` NaN (no ray map given);
    ``true_shape`` int32 ``[1, 2]`` = ``[[H, W]]``; ``idx`` i; ``instance`` ``str(i)``; ``camera_pose``
    identity ``[1, 4, 4]``; ``img_mask`` ``[True]``; ``ray_mask`` ``[False]``; ``update`` ``[True]`` (the
    state is updated by every frame); ``reset`` ``[False]``.
    """
    import torch

    views = []
    for i, im in enumerate(images):
        h, w = int(im.img.shape[-2]), int(im.img.shape[-1])
        views.append(
            {
                "img": im.img,
                "ray_map": torch.full((im.img.shape[0], 6, h, w), torch.nan),
                "true_shape": torch.from_numpy(im.true_shape),
                "idx": i,
                "instance": str(i),
                "camera_pose": torch.eye(4, dtype=torch.float32).unsqueeze(0),
                "img_mask": torch.tensor(True).unsqueeze(0),
                "ray_mask": torch.tensor(False).unsqueeze(0),
                "update": torch.tensor(True).unsqueeze(0),
                "reset": torch.tensor(False).unsqueeze(0),
            }
        )
    return views


def _resolve_submodule(model: torch.nn.Module, dotted: str) -> torch.nn.Module:
    mod = model
    for part in dotted.split("."):
        if part.lstrip("-").isdigit():
            mod = mod[int(part)]  # e.g. "dec_blocks.-1"
        elif hasattr(mod, part):
            mod = getattr(mod, part)
        else:
            raise AttributeError(
                f"CUT3R model has no submodule {dotted!r} (hook_target); expected e.g. 'dec_norm'"
            )
    return mod


def _run_cut3r(
    model: torch.nn.Module, views: list[dict[str, Any]], hook_target: str, call: str, device: torch.device
) -> list[torch.Tensor]:
    """Run CUT3R over ``views`` in order and return the position-0 output of ``hook_target`` per call.

    Expects CUT3R's public API (``src/dust3r/model.py::ARCroco3DStereo``):
      * ``model(views)`` (``forward``): encodes every view, then per view, in order, runs the recurrent
        state/image decoders (``_recurrent_rollout``); the last image-branch output goes through
        ``model.dec_norm`` exactly once per view, and its position 0 is the pose/camera token;
      * ``model.forward_recurrent(views, device)``: the same, encoding one view at a time (less memory).
    The hook target's output is ``[B, 1 + N, C]`` (or a tuple whose first item is); we keep ``[:, 0]``.
    """
    module = _resolve_submodule(model, hook_target)
    captured: list = []

    def hook(_mod, _inputs, output):
        out = output[0] if isinstance(output, (tuple, list)) else output
        captured.append(out[:, 0].detach().float().cpu())

    handle = module.register_forward_hook(hook)
    try:
        if call == "forward":
            model(views)
        elif call == "forward_recurrent":
            model.forward_recurrent(views, device)
        else:  # validated in __init__
            raise ValueError(call)
    finally:
        handle.remove()
    return captured


# --------------------------------------------------------------------------------------------- backend
class Cut3rPrior(FrozenModelPrior):
    """CUT3R camera tokens ``[T, 768]`` for a video's frames, computed online over the frames in order.

    Args:
        checkpoint: CUT3R weights: a ``.safetensors`` state dict (recommended), a ``.pth`` that
            ``torch.load(weights_only=True)`` accepts, or a Hugging Face-format folder.
        cut3r_root: the CUT3R clone (its ``src/`` goes on ``sys.path``); None if ``dust3r`` (CUT3R's) is
            already importable.
        model_config: a key of ``CUT3R_MODEL_CONFIGS`` (``"512_dpt"``, default) or a dict of
            ``ARCroco3DStereoConfig`` keyword arguments.
        size: input size for ``load_images``-style preprocessing: 512 (default, for 512_dpt) or 224.
        square_ok: keep square frames square (CUT3R default False: crop to 4:3).
        hook_target: dotted submodule whose output holds the camera token at position 0 (``"dec_norm"``:
            the final LayerNorm of the image decoder, i.e. ``dec[-1]``).
        call: ``"forward"`` (``model(views)``, as ``dust3r.inference.inference``) or
            ``"forward_recurrent"`` (``model.forward_recurrent(views, device)``, lower memory).
        device: ``"auto"`` (CUDA if available), ``"cuda"``, ``"cpu"``, ...
        amp_dtype: None (full precision, as CUT3R's inference), ``"bf16"``, ``"fp16"`` or ``"auto"``.
        token_dim: expected camera-token size (768 for the released checkpoints); checked at run time.
        model_module, model_class, config_class: where CUT3R's model lives (``dust3r.model``,
            ``ARCroco3DStereo``, ``ARCroco3DStereoConfig``).
        checkpoint_hash: identity of the weights for cache keys; default: sha256 of the checkpoint file
            (of ``model.safetensors``/``pytorch_model.bin`` for a folder), computed on first use.
        strict: fail when the checkpoint lacks weights of the configured model (default True).

    Raises:
        MissingDependencyError: CUT3R cannot be imported (message says what to install).
        FileNotFoundError: the checkpoint does not exist.
    """

    name: ClassVar[str] = "cut3r"

    def __init__(
        self,
        checkpoint: str | Path,
        cut3r_root: str | Path | None = None,
        model_config: str | Mapping[str, Any] = "512_dpt",
        size: int = 512,
        square_ok: bool = False,
        hook_target: str = "dec_norm",
        call: str = "forward",
        device: str | None = "auto",
        amp_dtype: str | None = None,
        token_dim: int = 768,
        model_module: str = "dust3r.model",
        model_class: str = "ARCroco3DStereo",
        config_class: str = "ARCroco3DStereoConfig",
        checkpoint_hash: str | None = None,
        strict: bool = True,
    ) -> None:
        if call not in ("forward", "forward_recurrent"):
            raise ValueError(f"call must be 'forward' or 'forward_recurrent', got {call!r}")
        if isinstance(model_config, str):
            if model_config not in CUT3R_MODEL_CONFIGS:
                raise ValueError(
                    f"unknown CUT3R model_config {model_config!r}; known: {list(CUT3R_MODEL_CONFIGS)}"
                )
            self.model_config_name = model_config
            self.model_config = dict(CUT3R_MODEL_CONFIGS[model_config])
        else:
            self.model_config_name = "custom"
            self.model_config = dict(model_config)
        self.checkpoint = Path(checkpoint).expanduser()
        if not self.checkpoint.exists():
            raise FileNotFoundError(f"CUT3R checkpoint not found: {self.checkpoint} (see docs/backends.md)")
        self.size = int(size)
        self.square_ok = bool(square_ok)
        self.hook_target = hook_target
        self.call = call
        self._init_runtime(
            device=device,
            amp_dtype=amp_dtype,
            token_dim=token_dim,
            checkpoint_hash=checkpoint_hash,
            strict=strict,
        )
        self.model_class = model_class
        self.config_class = config_class
        # Import now so a missing CUT3R fails at construction with a clear message; load weights lazily.
        self._module = _import_cut3r_module(cut3r_root, model_module)
        _check_cut3r_api(self._module, model_class, config_class)

    # ----------------------------------------------------------------- identity
    @property
    def checkpoint_hash(self) -> str:
        """``sha256:<hex>`` of the checkpoint file (memoised), or the value given at construction."""
        if self._checkpoint_hash is None:
            f = self.checkpoint
            if f.is_dir():
                found = [f / n for n in ("model.safetensors", "pytorch_model.bin") if (f / n).is_file()]
                if not found:
                    raise FileNotFoundError(
                        f"{f}: no model.safetensors or pytorch_model.bin to hash; pass checkpoint_hash"
                    )
                f = found[0]
            self._checkpoint_hash = "sha256:" + sha256_file(f)
        return self._checkpoint_hash

    @property
    def preprocessing_params(self) -> dict[str, Any]:
        """Input size, crop rule, hook, call and autocast dtype (all change the tokens)."""
        return {
            "size": self.size,
            "square_ok": self.square_ok,
            "hook_target": self.hook_target,
            "call": self.call,
            "amp_dtype": self.amp_dtype or "float32",
            "model_config": self.model_config_name
            if self.model_config_name != "custom"
            else repr(sorted(self.model_config.items())),
        }

    # ----------------------------------------------------------------- model
    def _load_model(self) -> torch.nn.Module:
        """CUT3R built from ``model_config`` with the checkpoint's weights (``model`` freezes it)."""
        return _build_cut3r_model(
            self._module,
            self.model_class,
            self.config_class,
            self.model_config,
            self.checkpoint,
            self.strict,
        )

    def encode(self, frames=None, *, poses_c2w=None, intrinsics=None, image_size_wh=None):
        """Camera tokens ``[T, token_dim]`` float32 (CPU) for frames in temporal order.

        Poses and intrinsics are ignored (CUT3R estimates its own). Frames are processed online: token t
        depends on frames 0..t.

        Raises:
            ValueError: no frames / bad frames.
            RuntimeError: the hook did not fire once per frame, or the token size differs from token_dim.
        """
        import torch

        if frames is None:
            raise ValueError("the 'cut3r' prior backend needs frames")
        images = preprocess_cut3r(frames, size=self.size, square_ok=self.square_ok)
        views = [
            {k: (v.to(self.device) if isinstance(v, torch.Tensor) else v) for k, v in view.items()}
            for view in build_cut3r_views(images)
        ]
        model = self.model
        try:
            with frozen_inference(self.device, self.amp_dtype):
                captured = _run_cut3r(model, views, self.hook_target, self.call, self.device)
        except IndexError as e:
            raise RuntimeError(
                f"CUT3R failed with IndexError ({e}). If the traceback ends in croco's pos_embed.py "
                "(apply_rope1d), CUT3R is using its slow PyTorch RoPE fallback, which cannot handle the pose "
                "token's position -1: compile CUT3R's RoPE kernels (cd <cut3r_root>/src/croco/models/curope "
                "&& python setup.py build_ext --inplace). See docs/backends.md."
            ) from e
        if len(captured) != len(views):
            raise RuntimeError(
                f"CUT3R hook '{self.hook_target}' fired {len(captured)} times for {len(views)} frames; "
                "expected once per frame (is hook_target the decoder's final norm?)"
            )
        return self._checked_tokens(torch.cat(captured, dim=0), len(views), "CUT3R")
