"""Typed arguments of a training recipe: ``ModelArguments``, ``DataArguments``, ``Loc3RTrainingArguments``.

A recipe YAML has three sections, one per dataclass (``loc3r.training.recipe`` loads it and applies dotted
``key=value`` overrides)::

    model:     ModelArguments          which model to build, what is trained, LoRA
    data:      DataArguments           prepared scenes, the source mixture, held-out sources, camera prior
    training:  Loc3RTrainingArguments  HF ``TrainingArguments`` (optimiser, schedule, precision, DeepSpeed /
                                       FSDP, logging, checkpoints) plus a few Loc3R fields

Every field is documented in its ``metadata["help"]``; ``__post_init__`` validates values and combinations
(``ValueError`` naming the field). Relative data paths are resolved against ``data.root`` (default: the
current directory). A recipe keeps its ``training`` section as a
checked mapping; ``Recipe.training_arguments()`` builds ``Loc3RTrainingArguments`` at training time, because
HF validates precision flags against the hardware it runs on (and sets up the distributed state).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import TrainingArguments

__all__ = [
    "MODEL_PRESETS",
    "SOURCE_KINDS",
    "SITUATION_MODES",
    "FRAME_SAMPLING",
    "WEIGHT_DTYPES",
    "TinyModelArguments",
    "LoraArguments",
    "TrainableArguments",
    "ModelArguments",
    "SourceArguments",
    "PriorArguments",
    "SyntheticDataArguments",
    "DataArguments",
    "Loc3RTrainingArguments",
]

#: ``model.preset`` values: the tiny CPU preset, the paper's LLaVA-Video-7B base, or a saved Loc3R model.
MODEL_PRESETS = ("tiny", "llava_video_7b", "pretrained")
#: ``data.sources[].kind`` values: the annotation readers of ``loc3r.data.sources.registry`` plus ``jsonl``
#: (unified records written by ``loc3r data convert``, any source).
SOURCE_KINDS = ("sqa3d", "scanqa", "msqa", "vsibench", "beacon3d", "jsonl")
#: How SQA3D-style alternative situation texts are used (method.md §5.4 [G]): ``none`` = only the main
#: situation; ``expand`` = one sample per text (each question paired with each of its situations; the paper's
#: 79,445 ≈ 3 × 26.6k); ``sample`` = one sample per record, the text drawn anew every epoch.
SITUATION_MODES = ("none", "expand", "sample")
#: ``data.frame_sampling``: the fixed uniform subset, or a stratified random one per training sample
#: (``loc3r.data.frame_selection.select_stratified_random``).
FRAME_SAMPLING = ("uniform", "random")
#: ``model.dtype`` values (weights as loaded; mixed precision is ``training.bf16`` / ``training.fp16``).
WEIGHT_DTYPES = ("float32", "bfloat16", "float16")


def _help(text: str) -> dict[str, str]:
    return {"help": text}


def _one_of(owner: str, name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{owner}.{name} must be one of {list(allowed)}, got {value!r}")


# ============================================================================================== model
@dataclass
class TinyModelArguments:
    """Sizes of the tiny preset (``loc3r.modeling.builders.loc3r_tiny``); only read with ``preset: tiny``."""

    image_size: int = field(default=64, metadata=_help("frame side S fed to the vision tower, pixels"))
    patch_size: int = field(default=8, metadata=_help("SigLIP patch size (S / patch patches, pooled 2x2)"))
    text_hidden_size: int = field(default=64, metadata=_help("Qwen2 hidden size"))
    text_layers: int = field(default=2, metadata=_help("Qwen2 layers"))
    vision_hidden_size: int = field(default=32, metadata=_help("SigLIP hidden size"))
    vision_layers: int = field(default=2, metadata=_help("SigLIP layers"))
    head_hidden_size: int = field(default=32, metadata=_help("width of f_cam, f_pos and f_ori"))
    seed: int = field(default=0, metadata=_help("weight-initialisation seed"))
    vision_tower: str | None = field(
        default=None,
        metadata=_help(
            "local folder or hub id of a SigLIP checkpoint whose pretrained encoder replaces the random one "
            "(its width/depth replace vision_*; patch_size must be its patch size; "
            "loc3r.modeling.vision_tower)"
        ),
    )

    def __post_init__(self) -> None:
        if self.image_size < self.patch_size or self.patch_size < 1:
            raise ValueError(
                f"model.tiny: image_size ({self.image_size}) must hold at least one patch ({self.patch_size})"
            )


@dataclass
class LoraArguments:
    """LoRA on the LLM (``loc3r.modeling.trainable.apply_lora``); the rest follows ``model.trainable``."""

    enabled: bool = field(default=False, metadata=_help("wrap the model with LoRA adapters (peft)"))
    r: int = field(default=128, metadata=_help("LoRA rank (VLM-3R used 128 on the same base)"))
    alpha: int = field(default=256, metadata=_help("LoRA alpha"))
    dropout: float = field(default=0.05, metadata=_help("LoRA dropout"))
    target_modules: list[str] | str | None = field(
        default=None, metadata=_help("peft target_modules; null = every attention/MLP projection of the LLM")
    )
    train_new_token_embeddings: bool = field(
        default=True, metadata=_help("train the <Pos>/<Ori> embedding rows (peft trainable_token_indices)")
    )
    merge_at_end: bool = field(
        default=True,
        metadata=_help(
            "after training, also save the merged full model into output_dir (loadable by `loc3r eval`); the "
            "adapter goes to output_dir/adapter"
        ),
    )

    def __post_init__(self) -> None:
        if self.r < 1 or self.alpha < 1:
            raise ValueError(f"model.lora: r and alpha must be >= 1, got r={self.r}, alpha={self.alpha}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"model.lora.dropout must be in [0, 1), got {self.dropout}")


@dataclass
class TrainableArguments:
    """Which parameter groups train (``loc3r.modeling.trainable.TrainableParts``; paper defaults, §5.2)."""

    vision_tower: bool = field(default=False, metadata=_help("SigLIP (paper: frozen)"))
    projector: bool = field(default=True, metadata=_help("vision->LLM projector + newline embedding [G]"))
    language_model: bool = field(default=True, metadata=_help("the LLM, its embeddings and LM head"))
    camera_projector: bool = field(default=True, metadata=_help("f_cam (camera-prior token projector)"))
    heads: bool = field(default=True, metadata=_help("BEV, position and orientation heads"))


@dataclass
class ModelArguments:
    """The model to train.

    ``preset``: ``tiny`` builds ``loc3r_tiny(**tiny)``; ``llava_video_7b`` loads LLaVA-Video-7B-Qwen2 (a
    transformers LLaVA-OneVision checkpoint, ``name_or_path``) and adds the Loc3R parts; ``pretrained`` loads
    a saved Loc3R model + processor (``name_or_path``) to continue training. The camera-prior width is taken
    from ``data.prior`` (the backend's token size).
    """

    preset: str = field(default="tiny", metadata=_help(f"one of {list(MODEL_PRESETS)}"))
    name_or_path: str | None = field(
        default=None,
        metadata=_help(
            "llava_video_7b: hub id or local folder of the base (default llava-hf/LLaVA-Video-7B-Qwen2-hf); "
            "pretrained: a folder written by `loc3r train` / save_pretrained"
        ),
    )
    dtype: str = field(
        default="float32",
        metadata=_help(
            f"weight dtype at load, one of {list(WEIGHT_DTYPES)}; fp16 mixed precision without DeepSpeed "
            "needs float32 weights"
        ),
    )
    attn_implementation: str | None = field(
        default=None, metadata=_help("attention kernel of the base (sdpa, flash_attention_2, eager)")
    )
    tiny: TinyModelArguments = field(default_factory=TinyModelArguments, metadata=_help("tiny preset sizes"))
    config_overrides: dict[str, Any] = field(
        default_factory=dict,
        metadata=_help("Loc3RConfig fields to override (lambda_bev, sigma_ori_deg, newline_layout, ...)"),
    )
    trainable: TrainableArguments = field(
        default_factory=TrainableArguments, metadata=_help("trained parameter groups")
    )
    lora: LoraArguments = field(default_factory=LoraArguments, metadata=_help("LoRA settings"))

    def __post_init__(self) -> None:
        _one_of("model", "preset", self.preset, MODEL_PRESETS)
        _one_of("model", "dtype", self.dtype, WEIGHT_DTYPES)
        if self.preset == "pretrained" and not self.name_or_path:
            raise ValueError("model.name_or_path is required with model.preset: pretrained")
        if not isinstance(self.config_overrides, dict):
            raise ValueError("model.config_overrides must be a mapping of Loc3RConfig fields")
        reserved = {"base_config", "pos_token_id", "ori_token_id", "cam_token_id", "prior_token_dim"}
        bad = sorted(reserved & set(self.config_overrides))
        if bad:
            raise ValueError(
                f"model.config_overrides cannot set {bad}: token ids come from the tokenizer and "
                "prior_token_dim from data.prior"
            )
        if self.lora.enabled and self.preset == "tiny" and self.trainable.vision_tower:
            raise ValueError("model.lora with a trainable vision tower is not supported")


# ============================================================================================== data
@dataclass
class SourceArguments:
    """One annotation source of the mixture (or of the held-out set).

    Each record references a scene by ``scene_id``; the scene's frames, poses and BEV targets come from the
    prepared scene folder (``loc3r prepare``). Records of scenes that were not prepared are skipped and
    counted.
    """

    name: str = field(default="", metadata=_help("label used in logs and sample ids (unique)"))
    kind: str = field(default="jsonl", metadata=_help(f"one of {list(SOURCE_KINDS)}"))
    files: list[str] = field(
        default_factory=list,
        metadata=_help(
            "input files (SQA3D: questions + annotations, or a localization file; jsonl: records)"
        ),
    )
    ratio: float = field(
        default=1.0,
        metadata=_help("samples per epoch as a multiple of the source's size (0.5 = half, 2 = twice)"),
    )
    num_samples: int | None = field(
        default=None, metadata=_help("exact samples per epoch (overrides ratio); drawn without replacement")
    )
    num_frames: int | None = field(
        default=None, metadata=_help("frame budget of this source (default data.num_frames)")
    )
    prepared_dir: str | None = field(
        default=None, metadata=_help("prepared scenes of this source (default data.prepared_dir)")
    )
    alternative_situations: str = field(
        default="none", metadata=_help(f"one of {list(SITUATION_MODES)} (see SITUATION_MODES)")
    )
    require_pose: bool = field(
        default=False, metadata=_help("keep only records with a situation and a ground-truth pose")
    )

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("every data source needs a name")
        where = f"source {self.name!r}"
        _one_of(where, "kind", self.kind, SOURCE_KINDS)
        _one_of(where, "alternative_situations", self.alternative_situations, SITUATION_MODES)
        if isinstance(self.files, str):
            self.files = [self.files]
        if not self.files:
            raise ValueError(f"{where}: no files given")
        if self.ratio < 0:
            raise ValueError(f"{where}: ratio must be >= 0, got {self.ratio}")
        if self.num_samples is not None and self.num_samples < 0:
            raise ValueError(f"{where}: num_samples must be >= 0, got {self.num_samples}")
        if self.num_frames is not None and self.num_frames < 1:
            raise ValueError(f"{where}: num_frames must be >= 1, got {self.num_frames}")


@dataclass
class PriorArguments:
    """The camera-pose prior that feeds ``camera_tokens`` (``loc3r.backends``)."""

    backend: str = field(default="pose", metadata=_help("cut3r | vggt | pose | none"))
    kwargs: dict[str, Any] = field(
        default_factory=dict, metadata=_help("backend constructor arguments (checkpoint=..., mode=...)")
    )
    cache_dir: str | None = field(
        default=None, metadata=_help("token cache folder (TokenCache); null = compute every time")
    )
    require_cached: bool = field(
        default=False,
        metadata=_help(
            "fail (naming the scene) instead of running the backend when a scene's tokens are not in the "
            "cache; for heavy backends, whose tokens are precomputed once (docs/backends.md)"
        ),
    )

    def __post_init__(self) -> None:
        if self.require_cached and not self.cache_dir:
            raise ValueError("data.prior.require_cached needs data.prior.cache_dir")


@dataclass
class SyntheticDataArguments:
    """Generate and prepare the embedded synthetic dataset when missing (``loc3r synth`` + ``prepare``)."""

    out: str = field(default="synthetic", metadata=_help("synthetic dataset folder (scans/, annotations/)"))
    scenes: int = field(default=12, metadata=_help("number of scenes"))
    frames_per_scene: int = field(default=60, metadata=_help("rendered frames per scene"))
    width: int = field(default=160, metadata=_help("colour/depth width, pixels"))
    height: int = field(default=120, metadata=_help("colour/depth height, pixels"))
    seed: int = field(default=0, metadata=_help("generator seed"))
    prepare_frames: int = field(default=8, metadata=_help("frames selected per scene by prepare"))
    workers: int = field(default=1, metadata=_help("processes for generation and preparation"))
    val_fraction: float = field(default=0.15, metadata=_help("share of scenes in the val split"))
    test_fraction: float = field(default=0.15, metadata=_help("share of scenes in the test split"))
    situations_per_scene: int = field(default=8, metadata=_help("SQA3D-style situations sampled per scene"))
    questions_per_situation: int = field(default=3, metadata=_help("situated questions per situation"))
    grounding_per_scene: int = field(
        default=0,
        metadata=_help(
            "object-grounding situations per scene written to annotations/grounding/ (0: none; the tiny "
            "model's pretraining stage, loc3r.data.synthetic.annotations.grounding)"
        ),
    )


@dataclass
class DataArguments:
    """Training data: prepared scenes, the source mixture, the held-out sources and the camera prior."""

    root: str | None = field(
        default=None, metadata=_help("base folder of every relative data path (default: current directory)")
    )
    prepared_dir: str = field(default="prepared", metadata=_help("`loc3r prepare` output (one folder/scene)"))
    num_frames: int = field(default=32, metadata=_help("default frame budget per sample (paper: 32)"))
    sources: list[SourceArguments] = field(default_factory=list, metadata=_help("the training mixture"))
    eval_sources: list[SourceArguments] = field(
        default_factory=list, metadata=_help("held-out sources for localization validation")
    )
    max_eval_samples: int | None = field(
        default=None, metadata=_help("validate on at most this many held-out samples (the first ones)")
    )
    prior: PriorArguments = field(default_factory=PriorArguments, metadata=_help("camera-pose prior"))
    synthetic: SyntheticDataArguments | None = field(
        default=None, metadata=_help("generate + prepare the synthetic set into the data folders if missing")
    )
    cache_dir: str | None = field(
        default=None,
        metadata=_help("disk cache of decoded, resized frames and BEV targets per scene clip (null = none)"),
    )
    memory_cache_scenes: int = field(
        default=32, metadata=_help("scene clips kept decoded in memory per loader process (LRU)")
    )
    frame_sampling: str = field(
        default="uniform",
        metadata=_help(
            "which frames of a scene's prepared selection a training sample sees: 'uniform' (the fixed "
            "subset inference uses) or 'random' (the first frame, then one drawn from each of num_frames - 1 "
            "stretches, anew per sample and epoch; an augmentation, not in the paper; eval stays uniform)"
        ),
    )
    frame_pool: int | None = field(
        default=None,
        metadata=_help(
            "with frame_sampling 'random': draw from a uniform subset of this many prepared frames "
            "(null = all prepared frames)"
        ),
    )

    def __post_init__(self) -> None:
        if self.num_frames < 1:
            raise ValueError(f"data.num_frames must be >= 1, got {self.num_frames}")
        if self.memory_cache_scenes < 0:
            raise ValueError("data.memory_cache_scenes must be >= 0")
        _one_of("data", "frame_sampling", self.frame_sampling, FRAME_SAMPLING)
        if self.frame_pool is not None and self.frame_pool < 1:
            raise ValueError(f"data.frame_pool must be >= 1 or null, got {self.frame_pool}")
        for group in (self.sources, self.eval_sources):
            names = [s.name for s in group]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"duplicate data source names {dup}")
        if self.max_eval_samples is not None and self.max_eval_samples < 1:
            raise ValueError("data.max_eval_samples must be >= 1 or null")

    def path(self, p: str | Path) -> Path:
        """``p`` resolved against ``root`` (absolute paths are kept; ``~`` is expanded)."""
        p = Path(p).expanduser()
        if p.is_absolute():
            return p
        return (Path(self.root).expanduser() if self.root else Path.cwd()) / p

    def frames_of(self, source: SourceArguments) -> int:
        """The frame budget of a source."""
        return int(source.num_frames or self.num_frames)


# ============================================================================================== training
@dataclass
class Loc3RTrainingArguments(TrainingArguments):
    """HF ``TrainingArguments`` plus the Loc3R fields, with Loc3R defaults.

    Added fields: ``global_batch_size`` (derives ``gradient_accumulation_steps`` from the world size, so one
    recipe runs on 8 or 16 GPUs), ``nan_guard`` (stop on a non-finite loss, naming the batch's samples) and
    ``torch_num_threads``. Changed defaults: TensorBoard logging, ``remove_unused_columns=False`` (the
    collator's keys are the model's inputs), ``resume_from_checkpoint="auto"`` (continue from the last
    complete checkpoint in ``output_dir``), ``ddp_find_unused_parameters=False`` (every Loc3R parameter
    receives a gradient, possibly zero). DeepSpeed and FSDP are reached only through the HF fields
    ``deepspeed`` and ``fsdp`` / ``fsdp_config``.
    """

    output_dir: str | None = field(default="runs/loc3r", metadata=_help("run folder (checkpoints, logs)"))
    report_to: None | str | list[str] = field(
        default_factory=lambda: ["tensorboard"],
        metadata=_help("loggers: tensorboard (default), wandb, none, ..."),
    )
    remove_unused_columns: bool = field(default=False, metadata=_help("keep every collator key"))
    ddp_find_unused_parameters: bool | None = field(
        default=False, metadata=_help("DDP: look for unused parameters (not needed for Loc3R)")
    )
    resume_from_checkpoint: str | None = field(
        default="auto",
        metadata=_help(
            "auto = the last complete checkpoint in output_dir if any; a checkpoint folder; none = start "
            "from scratch"
        ),
    )
    global_batch_size: int | None = field(
        default=None,
        metadata=_help(
            "samples per optimiser step over all processes; sets gradient_accumulation_steps = global / "
            "(per_device_train_batch_size x world size), which must divide exactly"
        ),
    )
    nan_guard: bool = field(
        default=True, metadata=_help("stop on a NaN/inf loss with a message naming the batch's samples")
    )
    torch_num_threads: int | None = field(
        default=None, metadata=_help("torch.set_num_threads for the training process (CPU runs)")
    )

    def __post_init__(self):
        super().__post_init__()
        if self.global_batch_size is not None:
            per_step = self.per_device_train_batch_size * max(1, self.world_size)
            if self.global_batch_size % per_step:
                raise ValueError(
                    f"training.global_batch_size={self.global_batch_size} is not a multiple of "
                    f"per_device_train_batch_size x world size = {self.per_device_train_batch_size} x "
                    f"{max(1, self.world_size)}"
                )
            self.gradient_accumulation_steps = self.global_batch_size // per_step
        if self.torch_num_threads is not None and self.torch_num_threads < 1:
            raise ValueError("training.torch_num_threads must be >= 1")
