"""``Loc3RCollator``: a list of samples (``loc3r.training.dataset.make_sample``) -> one model batch.

The text side is ``Loc3RProcessor.__call__`` (chat prompt, video placeholder block, ``<Pos><Ori>`` between the
situation and the question, pseudo-situation, right padding, labels on the answer tokens and the closing
``<|im_end|>`` only), so training and inference build prompts with the same code. On top of it:

* samples without an answer (e.g. SQA3D localization items) get no language target: their labels are all
  ``ignore_index``;
* ``sit_mask`` is True only for samples with a ground-truth situation pose (the processor's own mask only
  knows whether a situation text exists);
* the per-token BEV targets, the situation targets and the sample ids are stacked alongside.

Batch keys (B samples, T frames, R x C tokens per frame, S pixels, L tokens, D prior width)::

    input_ids [B, L] long, attention_mask [B, L] long, labels [B, L] long,
    pixel_values_videos [B, T, 3, S, S] (``pixel_dtype``), camera_tokens [B, T, D] float32 (with a prior),
    bev_targets [B, T, R, C, 2] float32 metres, bev_mask [B, T, R, C] bool,
    local_targets [B, T, R, C, 2] float32 metres (each frame's own BEV frame), local_mask [B, T, R, C] bool,
    pos_target [B, 2] float32 BEV metres, ori_target [B] float32 BEV radians, sit_mask [B] bool,
    sample_ids: list[str] (not a model input; ``Loc3RTrainer`` removes it before the forward pass)
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

__all__ = ["Loc3RCollator"]


class Loc3RCollator:
    """Batch samples for ``Loc3RForConditionalGeneration.forward`` (see the module docstring).

    Args:
        processor: the model's ``Loc3RProcessor``.
        pixel_dtype: dtype of ``pixel_values_videos`` (the model's weight dtype; HF autocast does the rest).
        ignore_index: label value outside the supervised tokens.
    """

    def __init__(self, processor, pixel_dtype: torch.dtype = torch.float32, ignore_index: int = -100):
        self.processor = processor
        self.pixel_dtype = pixel_dtype
        self.ignore_index = int(ignore_index)

    def __call__(self, samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Collate; raises ``ValueError`` when the samples disagree on frame count or prior use."""
        if not samples:
            raise ValueError("cannot collate an empty batch")
        t = {int(s["frames"].shape[0]) for s in samples}
        if len(t) != 1:
            ids = [s["sample_id"] for s in samples]
            raise ValueError(
                f"a batch mixes frame counts {sorted(t)} (samples {ids}); the sampler must keep "
                "batches frame-homogeneous"
            )
        with_prior = {s["camera_tokens"] is not None for s in samples}
        if len(with_prior) != 1:
            raise ValueError("a batch mixes samples with and without camera-prior tokens")
        answers = [s["answer"] if s["answer"] is not None else "" for s in samples]
        camera = None
        if with_prior.pop():
            camera = torch.from_numpy(np.stack([np.asarray(s["camera_tokens"], np.float32) for s in samples]))
        batch = self.processor(
            videos=[torch.from_numpy(np.ascontiguousarray(s["frames"])) for s in samples],
            situations=[s["situation"] for s in samples],
            questions=[s["question"] for s in samples],
            answers=answers,
            camera_tokens=camera,
            padding_side="right",
        )
        labels = batch["labels"]
        for i, s in enumerate(samples):
            if s["answer"] is None:
                labels[i] = self.ignore_index
        out: dict[str, Any] = {
            "input_ids": batch["input_ids"],
            "attention_mask": batch["attention_mask"],
            "labels": labels,
            "pixel_values_videos": batch["pixel_values_videos"].to(self.pixel_dtype),
            "bev_targets": torch.from_numpy(
                np.stack([np.asarray(s["bev_targets"], np.float32) for s in samples])
            ),
            "bev_mask": torch.from_numpy(np.stack([np.asarray(s["bev_mask"], bool) for s in samples])),
            "pos_target": torch.from_numpy(
                np.stack([np.asarray(s["pos_target"], np.float32) for s in samples])
            ),
            "ori_target": torch.tensor([float(s["ori_target"]) for s in samples], dtype=torch.float32),
            "sit_mask": torch.tensor([bool(s["has_pose"]) for s in samples], dtype=torch.bool),
            "sample_ids": [str(s["sample_id"]) for s in samples],
        }
        if camera is not None:
            out["camera_tokens"] = batch["camera_tokens"]
        local = [s.get("local_targets") for s in samples]
        if all(t is not None for t in local):
            out["local_targets"] = torch.from_numpy(np.stack([np.asarray(t, np.float32) for t in local]))
            out["local_mask"] = torch.from_numpy(np.stack([np.asarray(s["local_mask"], bool) for s in samples]))
        sem = [s.get("semantic_targets") for s in samples]
        if all(t is not None for t in sem):
            out["semantic_targets"] = torch.from_numpy(np.stack([np.asarray(t, np.int64) for t in sem]))
        for key in ("ground_pos_mask", "ground_ori_mask"):
            masks = [s.get(key) for s in samples]
            if any(m is not None for m in masks):  # samples without a referent: no token (no loss)
                shape = next(np.shape(m) for m in masks if m is not None)
                out[key] = torch.from_numpy(
                    np.stack([np.zeros(shape, bool) if m is None else np.asarray(m, bool) for m in masks])
                )
        return out
