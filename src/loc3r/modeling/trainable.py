"""Training controls: which parts are trained, LoRA (peft) and gradient checkpointing.

Paper setting (method.md §5.2): the SigLIP vision tower and the camera-pose prior (CUT3R, outside the model:
its tokens are inputs) are frozen; the LLM, the vision->LLM projector [G], f_cam and the heads are trained.
Every part can be switched on or off with ``TrainableParts``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import nn

__all__ = [
    "TrainableParts",
    "PAPER_TRAINABLE_PARTS",
    "set_trainable",
    "apply_lora",
    "enable_gradient_checkpointing",
    "LLM_LORA_TARGETS",
]

#: Linear layers of the Qwen2 LLM that LoRA adapts (attention and MLP projections; not the vision tower).
LLM_LORA_TARGETS = r".*\.language_model\..*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"


@dataclass(frozen=True)
class TrainableParts:
    """Which parameter groups receive gradients (``Loc3RForConditionalGeneration.parameter_groups`` keys).

    Args:
        vision_tower: SigLIP (paper: frozen).
        projector: the vision->LLM projector and the newline embedding (paper: trained [G]).
        language_model: the LLM with its token embeddings and LM head (paper: full fine-tuning).
        camera_projector: f_cam (paper: trained).
        heads: BEV, position and orientation heads (paper: trained).
    """

    vision_tower: bool = False
    projector: bool = True
    language_model: bool = True
    camera_projector: bool = True
    heads: bool = True


PAPER_TRAINABLE_PARTS = TrainableParts()


def set_trainable(model: nn.Module, parts: TrainableParts = PAPER_TRAINABLE_PARTS) -> dict[str, int]:
    """Set ``requires_grad`` of every parameter of a Loc3R model by group.

    Returns:
        ``{group: number of trainable parameters}`` after the change.
    """
    groups = model.parameter_groups()
    flags = asdict(parts)
    if set(flags) != set(groups):
        raise ValueError(
            f"TrainableParts fields {sorted(flags)} do not match the model's groups {sorted(groups)}"
        )
    grouped = {id(p) for ps in groups.values() for p in ps}
    loose = [n for n, p in model.named_parameters() if id(p) not in grouped]
    if loose:
        raise RuntimeError(f"parameters outside every group: {loose[:5]}")
    for name, params in groups.items():
        for p in params:
            p.requires_grad_(flags[name])
    return {name: sum(p.numel() for p in ps if p.requires_grad) for name, ps in groups.items()}


def apply_lora(
    model: nn.Module,
    *,
    r: int = 128,
    alpha: int = 256,
    dropout: float = 0.05,
    target_modules: str | list[str] = LLM_LORA_TARGETS,
    train_new_token_embeddings: bool = True,
    parts: TrainableParts = PAPER_TRAINABLE_PARTS,
):
    """Wrap a Loc3R model with LoRA adapters on the LLM (peft); everything else follows ``parts``.

    The LLM's own weights are frozen (only the adapters train). Parts flagged trainable in ``parts`` other
    than the LLM (projector, f_cam, heads; the vision tower if asked) are kept fully trainable and saved with
    the adapter (peft ``modules_to_save``); the base's newline embedding, a bare parameter peft cannot save,
    stays frozen. With ``train_new_token_embeddings`` the rows of ``<Pos>``, ``<Ori>`` (and
    ``<cam>``) in the embedding table are trainable (peft ``trainable_token_indices``).

    Returns:
        The ``peft.PeftModel`` (attribute access falls through to the Loc3R model).
    """
    from peft import LoraConfig, get_peft_model

    to_save = []
    if parts.projector:
        to_save += ["multi_modal_projector"]
    if parts.vision_tower:
        to_save += ["vision_tower"]
    if parts.camera_projector and model.camera_projector is not None:
        to_save += ["camera_projector"]
    if parts.heads:
        to_save += [n for n in ("bev_head", "pos_head", "ori_head") if getattr(model, n) is not None]
    token_ids = [i for i in (model.config.pos_token_id, model.config.ori_token_id) if i is not None]
    kwargs = {}
    if train_new_token_embeddings and token_ids:
        kwargs["trainable_token_indices"] = {"embed_tokens": token_ids}
    cfg = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=target_modules,
        modules_to_save=to_save or None,
        **kwargs,
    )
    for p in model.parameters():
        p.requires_grad_(False)
    return get_peft_model(model, cfg)


def enable_gradient_checkpointing(model: nn.Module) -> None:
    """Non-reentrant activation checkpointing of every decoder / encoder layer (works with frozen inputs)."""
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
