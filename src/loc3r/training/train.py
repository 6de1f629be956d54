"""``train(recipe) -> TrainResult``: build everything a recipe names and run the HF ``Trainer``.

Run::

    loc3r train configs/tiny-synthetic.yaml                          # CPU, minutes
    torchrun --nproc_per_node 8 -m loc3r train configs/loc3r-llava-video-7b.yaml   # the paper's run

Steps:

1. ``Recipe.training_arguments()`` (HF arguments; sets up the distributed state under ``torchrun``).
2. With ``data.synthetic``: generate the synthetic set and prepare it on the model's token grid when missing
   (main process first; the others then find it done).
3. The camera-prior backend (``data.prior``), the model and processor (``model``: preset, trained parts,
   LoRA).
4. Scene-clip stores, the training mixture and the held-out set (``loc3r.training.mixture``), the collator.
5. ``Loc3RTrainer`` with the mixture's sampler; resume from the last complete checkpoint of ``output_dir``
   (``training.resume_from_checkpoint: auto``, the default) so rerunning a killed command continues it with
   the same data order, optimiser and LR schedule.
6. Save the final model + processor (+ ``prior_backend.json`` for ``loc3r eval``), run a final validation and
   write ``train_summary.json`` (first / last value of every loss term, final metrics, data counts).

``output_dir`` also holds ``run_config.yaml`` (the resolved recipe), ``data_report.json`` (records read, kept
and skipped per source), ``checkpoint-<step>/`` and TensorBoard logs under ``runs/``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import math
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loc3r.training.arguments import DataArguments, ModelArguments, PriorArguments
from loc3r.training.recipe import Recipe
from loc3r.utils.io import DataError, atomic_write_json, atomic_write_text

__all__ = [
    "RUN_CONFIG_NAME",
    "SUMMARY_NAME",
    "DATA_REPORT_NAME",
    "TEST_SIGKILL_ENV",
    "TrainResult",
    "prepare_synthetic_data",
    "build_prior_backend",
    "build_model",
    "build_datasets",
    "find_resumable_checkpoint",
    "train",
]

logger = logging.getLogger(__name__)

RUN_CONFIG_NAME = "run_config.yaml"
SUMMARY_NAME = "train_summary.json"
DATA_REPORT_NAME = "data_report.json"
#: Hidden test hook: the training process kills itself with SIGKILL when this many optimiser steps are done
#: (lets the kill-and-resume test interrupt a run at an exact point).
TEST_SIGKILL_ENV = "LOC3R_TRAIN_TEST_SIGKILL_AT_STEP"
_LOGGERS = {
    "tensorboard": ("tensorboard", "pip install tensorboard (or loc3r-vlm[train])"),
    "wandb": ("wandb", "pip install wandb"),
}


@dataclass
class TrainResult:
    """What ``train`` did.

    Attributes:
        output_dir: the run folder (final model, processor, logs, checkpoints).
        global_step: optimiser steps done (over all sessions of the run).
        train_loss: mean training loss of this session (HF ``TrainOutput.training_loss``).
        eval_metrics: the final validation metrics (empty without held-out sources).
        log_history: every logged entry (``TrainerState.log_history``: training logs carry ``loss`` and the
            terms ``loss_ce``, ``loss_bev``, ``loss_pos``, ``loss_ori``, ``loss_sit``; validation logs
            ``eval_*``).
        resumed_from: the checkpoint this session started from, or None.
        data_report: per-source counts of the training and held-out sets.
        model: the trained model (unwrapped; a ``PeftModel`` with LoRA).
        elapsed_s: wall time of this session.
    """

    output_dir: Path
    global_step: int
    train_loss: float | None
    eval_metrics: dict[str, float] = field(default_factory=dict)
    log_history: list[dict[str, Any]] = field(default_factory=list)
    resumed_from: str | None = None
    data_report: dict[str, Any] = field(default_factory=dict)
    model: Any = None
    elapsed_s: float = 0.0

    def loss_curves(self) -> dict[str, list[tuple[int, float]]]:
        """``{term: [(step, value), ...]}`` of the training logs (``loss`` and each logged term)."""
        from loc3r.training.trainer import LOSS_TERMS

        curves: dict[str, list[tuple[int, float]]] = {}
        for entry in self.log_history:
            if "loss" not in entry:
                continue
            for name in ("loss",) + LOSS_TERMS:
                if name in entry:
                    curves.setdefault(name, []).append((int(entry["step"]), float(entry[name])))
        return curves

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary: steps, first/last value of each loss curve, final metrics, data counts."""
        curves = {
            k: {
                "first": v[0][1],
                "last": v[-1][1],
                "first_step": v[0][0],
                "last_step": v[-1][0],
                "points": len(v),
            }
            for k, v in self.loss_curves().items()
        }
        return {
            "output_dir": str(self.output_dir),
            "global_step": self.global_step,
            "train_loss": self.train_loss,
            "resumed_from": self.resumed_from,
            "loss_curves": curves,
            "eval_metrics": self.eval_metrics,
            "data": self.data_report,
            "elapsed_s": self.elapsed_s,
        }


# ---------------------------------------------------------------------------------------------- data prep
def prepare_synthetic_data(data: DataArguments, image_size: int, patch_size: int) -> None:
    """Generate the synthetic set into ``data.synthetic.out`` and prepare it into ``data.prepared_dir``.

    Both steps are skipped when already complete with the same settings (generation is checked through its
    manifest; ``prepare`` skips finished scenes itself). BEV targets are prepared on the model's token grid.

    Raises:
        DataError: the folders hold data made with other settings.
    """
    from loc3r.data.prepare import PrepareConfig, prepare_scannet
    from loc3r.data.synthetic.config import SynthConfig
    from loc3r.data.synthetic.generate import generate_synthetic

    syn = data.synthetic
    out = data.path(syn.out)
    cfg = SynthConfig(
        out=out,
        num_scenes=syn.scenes,
        seed=syn.seed,
        frames_per_scene=syn.frames_per_scene,
        color_width=syn.width,
        color_height=syn.height,
        depth_width=syn.width,
        depth_height=syn.height,
        workers=syn.workers,
        val_fraction=syn.val_fraction,
        test_fraction=syn.test_fraction,
        situations_per_scene=syn.situations_per_scene,
        questions_per_situation=syn.questions_per_situation,
        progress=False,
    )
    manifest = out / "manifest.json"
    done = False
    if manifest.is_file():
        try:
            m = json.loads(manifest.read_text(encoding="utf-8"))
            done = bool(m.get("complete")) and m.get("config") == cfg.recorded()
        except (OSError, ValueError):
            done = False
    if not done:
        logger.info("generating the synthetic set (%d scenes) in %s", syn.scenes, out)
        generate_synthetic(cfg)
    report = prepare_scannet(
        PrepareConfig(
            scans_dir=out / "scans",
            out_dir=data.path(data.prepared_dir),
            num_frames=syn.prepare_frames,
            bev_targets=True,
            image_size=image_size,
            patch_size=patch_size,
            pool_stride=2,
            workers=syn.workers,
            progress=False,
        )
    )
    if report.failed:
        raise DataError(f"preparing the synthetic scenes failed: {report.failed}")
    if syn.grounding_per_scene > 0:
        from loc3r.data.synthetic.annotations.grounding import grounding_files_for_set

        grounding_files_for_set(out, per_scene=syn.grounding_per_scene)


def build_prior_backend(prior: PriorArguments):
    """The camera-prior backend named by ``data.prior`` (its ``token_dim`` sets the model's prior width)."""
    from loc3r.backends.registry import make_backend

    try:
        return make_backend(prior.backend, **prior.kwargs)
    except KeyError as e:
        raise ValueError(f"data.prior.backend: {e.args[0]}") from None
    except TypeError as e:
        raise ValueError(f"data.prior.kwargs do not fit the {prior.backend!r} backend: {e}") from e


#: Loc3RConfig fields that decide which modules exist. On a pretrained checkpoint (whose modules are built when
#: it is loaded) an override may switch an optional head off (the module is dropped) but not on, and may not
#: change the others: that is an error, not a silent no-op.
OPTIONAL_HEADS = {"use_bev_head": ("bev_head",), "use_local_head": ("local_head",),
                  "use_situation_heads": ("pos_head", "ori_head"), "semantic_classes": ("semantic_head",)}
ARCHITECTURE_FIELDS = ("prior_token_dim", "camera_projector_hidden_size", "pos_head_hidden_size",
                       "ori_head_hidden_size", "pos_isotropic", "num_ori_bins", "head_act")


def _apply_architecture_overrides(model, overrides: dict[str, Any], name: str) -> None:
    """Drop the optional heads ``overrides`` switch off; raise for any other change of the architecture."""
    changed = [k for k in ARCHITECTURE_FIELDS if k in overrides and overrides[k] != getattr(model.config, k)]
    for field, modules in OPTIONAL_HEADS.items():
        if field not in overrides or overrides[field] == getattr(model.config, field):
            continue
        if overrides[field] and (field != "semantic_classes" or getattr(model.config, field)):
            changed.append(field)  # switched on, or another category list: the module does not exist / fit
            continue
        for mod in modules:
            setattr(model, mod, None)
    if changed:
        raise ValueError(
            f"model.config_overrides {', '.join(changed)} would change the architecture of the pretrained "
            f"checkpoint {name} (its modules are built when it is loaded; an override can only switch an "
            "optional head off); train from the preset instead, or drop the override"
        )


def _check_config_overrides(overrides: dict[str, Any]) -> None:
    from loc3r.modeling.configuration_loc3r import Loc3RConfig

    known = {f.name for f in dataclasses.fields(Loc3RConfig)}
    bad = sorted(set(overrides) - known)
    if bad:
        import difflib

        hints = {b: difflib.get_close_matches(b, sorted(known), n=1) for b in bad}
        raise ValueError(
            "model.config_overrides: unknown Loc3RConfig field(s) "
            + ", ".join(f"{b!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for b, h in hints.items())
        )


def build_model(m: ModelArguments, prior_token_dim: int):
    """Build the model and processor a recipe names, set what trains, apply LoRA.

    Args:
        m: the model section.
        prior_token_dim: the camera-prior backend's token width (0 = no camera prior).

    Returns:
        ``(model, processor)``; the model is a ``PeftModel`` when LoRA is enabled.
    """
    import torch

    from loc3r.modeling.builders import (
        LLAVA_VIDEO_7B_HUB_ID,
        add_camera_prior,
        load_loc3r,
        loc3r_llava_video_7b,
        loc3r_tiny,
    )
    from loc3r.modeling.trainable import LLM_LORA_TARGETS, TrainableParts, apply_lora, set_trainable

    _check_config_overrides(m.config_overrides)
    dtype = getattr(torch, m.dtype)
    prior = int(prior_token_dim) or None
    if m.preset == "tiny":
        model, processor = loc3r_tiny(
            **dataclasses.asdict(m.tiny), prior_token_dim=prior, **m.config_overrides
        )
        if m.attn_implementation:
            model.set_attn_implementation(m.attn_implementation)
        model.to(dtype)
    elif m.preset == "llava_video_7b":
        model, processor = loc3r_llava_video_7b(
            m.name_or_path or LLAVA_VIDEO_7B_HUB_ID,
            dtype=dtype,
            prior_token_dim=prior,
            attn_implementation=m.attn_implementation,
            **m.config_overrides,
        )
    else:
        kwargs = {"dtype": dtype}
        if m.attn_implementation:
            kwargs["attn_implementation"] = m.attn_implementation
        model, processor = load_loc3r(m.name_or_path, **kwargs)
        have = int(model.config.prior_token_dim or 0)
        if have == 0 and int(prior_token_dim) > 0:  # as the paper adds f_cam to LLaVA-Video
            processor = add_camera_prior(model, processor, int(prior_token_dim))
            logger.info("%s has no camera prior: added a fresh %d-d camera projector and <cam> token",
                        m.name_or_path, int(prior_token_dim))
        elif have != int(prior_token_dim):
            raise ValueError(
                f"model {m.name_or_path} takes {have}-d camera-prior tokens, data.prior gives "
                f"{prior_token_dim}-d"
            )
        _apply_architecture_overrides(model, m.config_overrides, m.name_or_path)
        for k, v in m.config_overrides.items():
            setattr(model.config, k, v)
        model.config._validate()
    parts = TrainableParts(**dataclasses.asdict(m.trainable))
    counts = set_trainable(model, parts)
    # LLaVA-OneVision feeds the projector a SigLIP hidden state (``vision_feature_layer``), which never passes
    # through SigLIP's final post_layernorm: trained, it would get no gradient and DDP would stop the run.
    for name, p in model.named_parameters():
        if ".vision_tower.post_layernorm." in name:
            p.requires_grad_(False)
    logger.info("trainable parameters per group: %s", counts)
    if m.lora.enabled:
        model = apply_lora(
            model,
            r=m.lora.r,
            alpha=m.lora.alpha,
            dropout=m.lora.dropout,
            target_modules=m.lora.target_modules or LLM_LORA_TARGETS,
            train_new_token_embeddings=m.lora.train_new_token_embeddings,
            parts=parts,
        )
    return model, processor


def build_datasets(recipe: Recipe, processor, backend, semantic_classes: Sequence[str] | None = None,
                   instance_targets: bool = False):
    """The clip stores, the training mixture and the held-out set (None without ``data.eval_sources``).

    ``semantic_classes``: the model's semantic-head vocabulary when ``lambda_sem`` > 0 (samples then carry
    per-token category targets), else None. ``instance_targets``: clips also carry per-token object ids (the
    grounding loss, ``lambda_ground`` > 0).
    """
    from loc3r.training.dataset import SceneClipStore, token_grid_of
    from loc3r.training.mixture import build_mixture

    data = recipe.data
    if not data.sources:
        raise ValueError("data.sources is empty: the recipe names no training data")
    grid = token_grid_of(processor)
    token_cache = None
    if data.prior.cache_dir:
        from loc3r.backends.cache import TokenCache

        token_cache = TokenCache(data.path(data.prior.cache_dir))
    stores: dict[str, SceneClipStore] = {}
    for src in [*data.sources, *data.eval_sources]:
        key = str(data.path(src.prepared_dir or data.prepared_dir))
        if key not in stores:
            stores[key] = SceneClipStore(
                key,
                image_size=processor.frame_size,
                grid=grid,
                resample=processor.frame_transform.resample,
                backend=backend,
                token_cache=token_cache,
                require_cached=data.prior.require_cached,
                cache_dir=data.path(data.cache_dir) if data.cache_dir else None,
                memory_items=data.memory_cache_scenes,
                semantic_classes=semantic_classes,
                instance_targets=instance_targets,
            )
    train_ds = build_mixture(data.sources, data, stores, frame_sampling=data.frame_sampling)
    if len(train_ds) == 0:
        raise ValueError("the training mixture is empty (every source has 0 samples per epoch)")
    eval_ds = build_mixture(data.eval_sources, data, stores) if data.eval_sources else None
    return train_ds, eval_ds, stores


# ---------------------------------------------------------------------------------------------- resume
def _checkpoint_step(path: Path) -> int | None:
    name = path.name
    if not name.startswith("checkpoint-"):
        return None
    try:
        return int(name.split("-", 1)[1])
    except ValueError:
        return None


def find_resumable_checkpoint(output_dir: str | Path) -> str | None:
    """The newest *complete* ``checkpoint-<step>`` folder of a run, or None.

    HF writes a checkpoint's files in place, ``trainer_state.json`` last; a run killed while saving leaves a
    folder without a valid one. Such folders are skipped (with a warning) in favour of the previous
    checkpoint.
    """
    root = Path(output_dir)
    if not root.is_dir():
        return None
    found = sorted(
        ((s, p) for p in root.iterdir() if p.is_dir() and (s := _checkpoint_step(p)) is not None),
        reverse=True,
    )
    for step, path in found:
        try:
            state = json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
            if int(state.get("global_step", -1)) == step:
                return str(path)
        except (OSError, ValueError):
            pass
        logger.warning("skipping incomplete checkpoint %s (no valid trainer_state.json)", path)
    return None


def _resume_target(args) -> str | None:
    v = args.resume_from_checkpoint
    if v is None or str(v).lower() in ("", "none", "never", "false"):
        return None
    if str(v).lower() == "auto":
        return find_resumable_checkpoint(args.output_dir)
    p = Path(v)
    if not (p / "trainer_state.json").is_file():
        raise FileNotFoundError(f"training.resume_from_checkpoint: {p} is not a complete checkpoint folder")
    return str(p)


# ---------------------------------------------------------------------------------------------- callbacks
def _callbacks() -> list:
    from transformers import TrainerCallback

    class _SigkillAtStep(TrainerCallback):
        def __init__(self, step: int):
            self.step = step

        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step >= self.step:
                os.kill(os.getpid(), signal.SIGKILL)

    out = []
    raw = os.environ.get(TEST_SIGKILL_ENV)
    if raw:
        out.append(_SigkillAtStep(int(raw)))
    return out


def _check_loggers(report_to) -> None:
    names = [report_to] if isinstance(report_to, str) else list(report_to or [])
    for name in names:
        if name in _LOGGERS and importlib.util.find_spec(_LOGGERS[name][0]) is None:
            raise ValueError(
                f"training.report_to names {name!r} but it is not installed: {_LOGGERS[name][1]} "
                "(or set training.report_to=none)"
            )


def _save_final(trainer, recipe: Recipe, processor, backend_spec: dict[str, Any], out: Path) -> None:
    """Final model + processor in ``out`` (LoRA: adapter in ``out/adapter``, merged model in ``out``)."""
    lora = recipe.model.lora
    if lora.enabled:
        trainer.save_model(str(out / "adapter"))
        if lora.merge_at_end and trainer.is_world_process_zero():
            merged = trainer.accelerator.unwrap_model(trainer.model).merge_and_unload()
            merged.save_pretrained(str(out))
            processor.save_pretrained(out)
    else:
        trainer.save_model(str(out))
    if trainer.is_world_process_zero():
        from loc3r.eval.predict import PRIOR_SPEC_FILE

        atomic_write_json(out / PRIOR_SPEC_FILE, backend_spec)


def _last_eval(log_history: list[dict[str, Any]], step: int) -> dict[str, float]:
    """The validation metrics logged at ``step`` (empty when the run did not validate there)."""
    for entry in reversed(log_history):
        if entry.get("step") == step and any(k.startswith("eval_") for k in entry):
            return {k: v for k, v in entry.items() if k.startswith("eval_")}
    return {}


# ---------------------------------------------------------------------------------------------- train
def train(recipe: Recipe, callbacks: list | None = None) -> TrainResult:
    """Run a training recipe (see the module docstring).

    Args:
        recipe: the validated recipe (``loc3r.training.recipe.load_recipe``).
        callbacks: extra HF ``TrainerCallback``s.

    Returns:
        ``TrainResult``.

    Raises:
        ValueError / FileNotFoundError / DataError: a bad recipe or bad data (named).
        NonFiniteLossError: the loss became NaN/inf (the message names the batch's samples).
    """
    import torch
    from transformers import set_seed

    from loc3r.training.collator import Loc3RCollator
    from loc3r.training.mixture import MixtureSampler
    from loc3r.training.trainer import Loc3RTrainer

    t0 = time.time()
    args = recipe.training_arguments()
    if args.torch_num_threads:
        torch.set_num_threads(args.torch_num_threads)
    _check_loggers(args.report_to)
    out = Path(args.output_dir)
    backend = build_prior_backend(recipe.data.prior)
    if recipe.data.synthetic is not None:
        if recipe.model.preset != "tiny":
            raise ValueError(
                "data.synthetic prepares scenes for the tiny preset's token grid; use model.preset: "
                "tiny, or prepare the data with `loc3r prepare` and drop data.synthetic"
            )
        with args.main_process_first(desc="synthetic data"):
            prepare_synthetic_data(recipe.data, recipe.model.tiny.image_size, recipe.model.tiny.patch_size)

    set_seed(args.seed)
    model, processor = build_model(recipe.model, backend.token_dim)
    describe = backend.describe()  # hashes checkpoints once here, before loader workers fork
    cfg = getattr(model, "config", None)
    sem = cfg.semantic_classes if cfg is not None and cfg.use_semantic_head and cfg.lambda_sem else None
    ground = bool(cfg is not None and cfg.lambda_ground)
    train_ds, eval_ds, _ = build_datasets(
        recipe, processor, backend, semantic_classes=sem, instance_targets=ground
    )
    data_report = {"train": train_ds.report(), "samples_per_epoch": len(train_ds)}
    if eval_ds is not None:
        data_report["eval"] = eval_ds.report()
    weight_dtype = next(p.dtype for p in model.parameters())
    collator = Loc3RCollator(processor, pixel_dtype=weight_dtype)
    sampler = MixtureSampler(train_ds, args.per_device_train_batch_size, seed=args.data_seed or args.seed)
    trainer = Loc3RTrainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        data_collator=collator,
        processing_class=processor,
        train_sampler=sampler,
        max_eval_samples=recipe.data.max_eval_samples,
        callbacks=[*_callbacks(), *(callbacks or [])],
    )
    backend_spec = {"name": backend.name, "kwargs": dict(recipe.data.prior.kwargs), "describe": describe}
    if trainer.is_world_process_zero():
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / RUN_CONFIG_NAME, recipe.to_yaml())
        atomic_write_json(out / DATA_REPORT_NAME, data_report)
        steps = math.ceil(
            len(sampler)
            / args.per_device_train_batch_size
            / max(1, args.world_size)
            / args.gradient_accumulation_steps
        )
        logger.info(
            "data: %d samples per epoch (%s); %d optimiser steps per epoch at a global batch of %d",
            len(train_ds),
            ", ".join(f"{k} {v['per_epoch']}" for k, v in data_report["train"].items()),
            steps,
            args.per_device_train_batch_size * max(1, args.world_size) * args.gradient_accumulation_steps,
        )
    resume = _resume_target(args)
    if resume:
        logger.info("resuming from %s", resume)
    output = trainer.train(resume_from_checkpoint=resume)
    metrics: dict[str, float] = {}
    if eval_ds is not None:
        metrics = _last_eval(trainer.state.log_history, trainer.state.global_step) or trainer.evaluate()
    _save_final(trainer, recipe, processor, backend_spec, out)
    result = TrainResult(
        output_dir=out,
        global_step=int(trainer.state.global_step),
        train_loss=float(output.training_loss),
        eval_metrics=metrics,
        log_history=list(trainer.state.log_history),
        resumed_from=resume,
        data_report=data_report,
        model=trainer.accelerator.unwrap_model(trainer.model),
        elapsed_s=round(time.time() - t0, 3),
    )
    if trainer.is_world_process_zero():
        atomic_write_json(out / SUMMARY_NAME, result.summary())
    return result
