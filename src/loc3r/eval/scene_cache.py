r"""Many queries, one scene: encode the video prefix once and reuse its KV cache for every query on it.

The prompt (``Loc3RProcessor``) puts the whole video block before anything query-specific::

    [system turn, "<|im_start|>user\n", VIDEO BLOCK (camera + vision + newline)]  <- prefix, per scene
    ["\n{situation} <Pos><Ori> {question}<|im_end|>\n<|im_start|>assistant\n"]     <- suffix, per query

so under causal attention the prefix's keys/values (and the BEV head's per-token predictions, which read
prefix hidden states) do not depend on the query. ``SceneSession`` runs the vision tower, the camera
projector and the LLM over the prefix once, keeps ``past_key_values``, and per batch of queries runs only
the suffixes (then greedy decoding) on a batch-expanded view of that cache. ``run_queries_uncached`` is the
reference path: the full prompt per query (``Loc3RProcessor`` batch, left padding), the same heads and the
same greedy loop. Both give the same localization and answers within float tolerance (tested against
``Loc3RForConditionalGeneration.localize`` / ``answer``).

Batching suffixes: suffixes of different lengths are left-padded *after* the shared prefix
(``[prefix, pad.., suffix_i]``); the attention mask hides the pads and position ids continue from the prefix
length without counting them, so every query sees exactly the positions and keys of its unbatched run.

Decoding is greedy (argmax, no logits processors), stops per sequence at an end-of-sequence token, and
returns the decoded text with special tokens removed and surrounding whitespace stripped (as
``Loc3RForConditionalGeneration.answer``).

Usage::

    session = SceneSession(model, processor, frames_uint8_T_H_W_3, camera_tokens=tokens_T_D)
    out = session.run(["I am facing the bed."] * 2, ["What is on my left?", "How many chairs?"],
                      max_new_tokens=16)
    out.answers, out.localization.position_bev        # ['table', 'two'], [2, 2] metres (BEV)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

if TYPE_CHECKING:  # pragma: no cover
    from loc3r.modeling.modeling_loc3r import Localization

__all__ = ["QueryResults", "SceneSession", "run_queries_uncached", "greedy_continue", "end_token_ids"]


@dataclass
class QueryResults:
    """Results of a batch of B queries on one scene.

    Attributes:
        localization: ``Localization`` (``position_bev`` [B, 2] metres, ``sigma_bev`` [B, 2] metres,
            ``heading_bev`` [B] radians, ``ori_probs`` [B, N_b]) in the first-frame BEV frame, or None for a
            model without situation heads.
        answers: B decoded answers (None when ``max_new_tokens == 0``).
        answer_token_ids: B lists of generated token ids, end-of-sequence token included when reached (None
            when ``max_new_tokens == 0``).
    """

    localization: Localization | None
    answers: list[str] | None = None
    answer_token_ids: list[list[int]] | None = None


def end_token_ids(processor) -> list[int]:
    """Ids that end an answer: the tokenizer's EOS (``<|im_end|>`` for the Loc3R chat format)."""
    eos = processor.tokenizer.eos_token_id
    if eos is None:
        raise ValueError("the tokenizer has no eos_token_id; cannot tell where an answer ends")
    return [int(eos)]


@torch.no_grad()
def greedy_continue(
    model,
    next_logits: torch.Tensor,
    past_key_values,
    attention_mask: torch.Tensor,
    next_positions: torch.Tensor,
    max_new_tokens: int,
    eos_token_ids: Sequence[int],
    pad_token_id: int,
) -> list[list[int]]:
    """Greedy decoding from the logits of the last prompt token, over an existing KV cache.

    Args:
        model: a ``Loc3RForConditionalGeneration``.
        next_logits: [B, V] logits predicting the first answer token.
        past_key_values: the cache holding the whole prompt (extended in place).
        attention_mask: [B, L] mask of the cached sequence (1 = real token, 0 = padding).
        next_positions: [B] position id of the first answer token of each sample (its real prompt length).
        max_new_tokens: most tokens to generate per sample.
        eos_token_ids: ids that end a sample's answer (kept as its last token).
        pad_token_id: fed for finished samples (their outputs are ignored).

    Returns:
        B lists of generated ids (the EOS id included when generated).
    """
    b = next_logits.shape[0]
    eos = torch.tensor(list(eos_token_ids), device=next_logits.device)
    done = torch.zeros(b, dtype=torch.bool, device=next_logits.device)
    out: list[list[int]] = [[] for _ in range(b)]
    positions = next_positions.clone()
    mask = attention_mask
    for step in range(max_new_tokens):
        tok = next_logits.argmax(-1)
        for i in torch.nonzero(~done).flatten().tolist():
            out[i].append(int(tok[i]))
        done = done | torch.isin(tok, eos)
        if bool(done.all()) or step == max_new_tokens - 1:
            break
        tok = torch.where(done, torch.full_like(tok, pad_token_id), tok)
        mask = torch.cat([mask, mask.new_ones(b, 1)], dim=1)
        res = model(
            input_ids=tok[:, None],
            attention_mask=mask,
            position_ids=positions[:, None],
            past_key_values=past_key_values,
            use_cache=True,
            logits_to_keep=1,
        )
        positions = positions + 1
        next_logits = res.logits[:, -1]
    return out


def _decode(processor, token_lists: list[list[int]], eos_token_ids: Sequence[int]) -> list[str]:
    eos = set(eos_token_ids)
    texts = []
    for ids in token_lists:
        ids = ids[:-1] if ids and ids[-1] in eos else ids
        texts.append(processor.tokenizer.decode(ids, skip_special_tokens=True).strip())
    return texts


def _localization(model, out) -> Localization | None:
    return model.decode_localization(out) if out.pos_mean is not None else None


def _check_queries(situations: Sequence[str | None], questions: Sequence[str]) -> int:
    if len(situations) != len(questions):
        raise ValueError(f"{len(situations)} situations for {len(questions)} questions")
    if not questions:
        raise ValueError("no queries")
    return len(questions)


def _as_camera_tokens(camera_tokens, num_frames: int) -> torch.Tensor | None:
    if camera_tokens is None:
        return None
    cam = (
        torch.as_tensor(np.asarray(camera_tokens, dtype=np.float32))
        if not torch.is_tensor(camera_tokens)
        else camera_tokens.float()
    )
    if cam.ndim != 2 or cam.shape[0] != num_frames:
        raise ValueError(f"camera_tokens must be [T={num_frames}, D], got {tuple(cam.shape)}")
    return cam


class SceneSession:
    """One scene's video prefix, encoded once; queries run as suffixes over its KV cache (module docstring).

    Args:
        model: a ``Loc3RForConditionalGeneration`` (eval mode; any device / dtype).
        processor: its ``Loc3RProcessor``.
        frames: one video, T frames (``FrameTransform.as_uint8_video`` formats, e.g. uint8 [T, H, W, 3]).
        camera_tokens: [T, D_prior] prior tokens; required iff the model has a camera prior.

    Attributes:
        prefix_len: P, number of cached prefix tokens.
        bev_pred: [T, R, C, 4] float32 CPU per vision token (x, y, log σ²_x, log σ²_y), BEV metres (the
            layout head's cognitive map), or None without a BEV head.
        camera_bev_pred: [T, 4] the same for the camera tokens (``bev_tokens="patches+camera"``) or None.

    Raises:
        NotImplementedError: the LLM uses sliding-window layers (their cache cannot be shared this way).
    """

    @torch.no_grad()
    def __init__(self, model, processor, frames, camera_tokens=None):
        self.model = model
        self.processor = processor
        pixel = processor.frame_transform(frames)  # [T, 3, S, S]
        t = int(pixel.shape[0])
        self.num_frames = t
        cam = _as_camera_tokens(camera_tokens, t)
        before, _ = processor.prompt_parts(None, "")
        ids = self._encode(before) + list(processor.video_placeholder_ids(t))
        self.prefix_ids = ids
        self.prefix_len = len(ids)
        dev = model.device
        out = model(
            input_ids=torch.tensor([ids], device=dev),
            pixel_values_videos=pixel[None].to(device=dev, dtype=model.dtype),
            camera_tokens=None if cam is None else cam[None].to(dev),
            use_cache=True,
            logits_to_keep=1,
        )
        cache = out.past_key_values
        if any(getattr(cache, "is_sliding", None) or []):
            raise NotImplementedError("scene caching of sliding-window attention layers is not supported")
        self._prefix_kv = [(layer.keys, layer.values) for layer in cache.layers]
        self.bev_pred = None if out.bev_pred is None else out.bev_pred[0].float().cpu()
        self.camera_bev_pred = None if out.camera_bev_pred is None else out.camera_bev_pred[0].float().cpu()

    def _encode(self, text: str) -> list[int]:
        # Exactly how Loc3RProcessor tokenizes each prompt part.
        return list(self.processor.tokenizer(text, add_special_tokens=False)["input_ids"])

    def suffix_ids(self, situation: str | None, question: str) -> list[int]:
        """The query-specific token ids (everything after the video block, up to the assistant header)."""
        return self._encode(self.processor.prompt_parts(situation, question)[1])

    def prefix_cache(self, batch: int = 1):
        """A fresh ``DynamicCache`` holding the prefix keys / values for ``batch`` queries.

        The stored prefix tensors are only read (the new cache copies them on its first update), so every
        batch starts from the same prefix.
        """
        from transformers import DynamicCache

        return DynamicCache(
            ddp_cache_data=[
                (k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v in self._prefix_kv
            ]
        )

    @torch.no_grad()
    def run(
        self,
        situations: Sequence[str | None],
        questions: Sequence[str],
        max_new_tokens: int = 0,
        eos_token_ids: Sequence[int] | None = None,
    ) -> QueryResults:
        """Localize (and answer) a batch of queries on this scene.

        Args:
            situations: B situation texts (None = pseudo-situation).
            questions: B questions (``""`` for localization only).
            max_new_tokens: tokens to generate per answer (0 = localization only, no decoding).
            eos_token_ids: ids ending an answer (default ``end_token_ids(processor)``).

        Returns:
            ``QueryResults``.
        """
        b = _check_queries(situations, questions)
        eos = list(eos_token_ids) if eos_token_ids is not None else end_token_ids(self.processor)
        suffixes = [self.suffix_ids(s, q) for s, q in zip(situations, questions, strict=True)]
        lens = torch.tensor([len(s) for s in suffixes])
        s_max = int(lens.max())
        pad = self.processor.tokenizer.pad_token_id
        ids = torch.tensor([[pad] * (s_max - len(s)) + s for s in suffixes])
        suffix_mask = (torch.arange(s_max)[None] >= (s_max - lens)[:, None]).long()
        mask = torch.cat([torch.ones(b, self.prefix_len, dtype=torch.long), suffix_mask], dim=1)
        positions = self.prefix_len + (suffix_mask.cumsum(1) - 1).clamp(min=0)
        dev = self.model.device
        cache = self.prefix_cache(b)
        out = self.model(
            input_ids=ids.to(dev),
            attention_mask=mask.to(dev),
            position_ids=positions.to(dev),
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
            situation_heads=True,
        )
        result = QueryResults(localization=_localization(self.model, out))
        if max_new_tokens > 0:
            tokens = greedy_continue(
                self.model,
                out.logits[:, -1],
                cache,
                mask.to(dev),
                (self.prefix_len + lens).to(dev),
                max_new_tokens,
                eos,
                pad,
            )
            result.answer_token_ids = tokens
            result.answers = _decode(self.processor, tokens, eos)
        return result


@torch.no_grad()
def run_queries_uncached(
    model,
    processor,
    frames,
    situations: Sequence[str | None],
    questions: Sequence[str],
    camera_tokens=None,
    max_new_tokens: int = 0,
    eos_token_ids: Sequence[int] | None = None,
) -> QueryResults:
    """The reference path: the full prompt (video included) for every query of the batch.

    Same arguments and results as ``SceneSession(model, processor, frames, camera_tokens).run(...)``; the
    video is encoded again for every query.
    """
    b = _check_queries(situations, questions)
    eos = list(eos_token_ids) if eos_token_ids is not None else end_token_ids(processor)
    cam = _as_camera_tokens(camera_tokens, len(processor.frame_transform.as_uint8_video(frames)))
    batch = processor(
        videos=[frames] * b,
        situations=list(situations),
        questions=list(questions),
        camera_tokens=None if cam is None else cam[None].expand(b, -1, -1),
        padding_side="left",
    )
    dev = model.device
    mask = batch["attention_mask"].to(dev)
    out = model(
        input_ids=batch["input_ids"].to(dev),
        attention_mask=mask,
        pixel_values_videos=batch["pixel_values_videos"].to(device=dev, dtype=model.dtype),
        camera_tokens=batch["camera_tokens"].to(dev) if "camera_tokens" in batch else None,
        use_cache=True,
        logits_to_keep=1,
    )
    result = QueryResults(localization=_localization(model, out))
    if max_new_tokens > 0:
        tokens = greedy_continue(
            model,
            out.logits[:, -1],
            out.past_key_values,
            mask,
            mask.sum(1),
            max_new_tokens,
            eos,
            processor.tokenizer.pad_token_id,
        )
        result.answer_token_ids = tokens
        result.answers = _decode(processor, tokens, eos)
    return result
