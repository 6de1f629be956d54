"""``Loc3RTrainer``: the HF ``Trainer`` plus what watching a Loc3R run needs.

Overrides only what is needed:

* ``_get_train_sampler``: the mixture's deterministic, frame-homogeneous epoch order (``MixtureSampler``);
  the HF resume logic (skip the batches already seen, restore RNG states) then replays the same order.
* ``compute_loss``: removes ``sample_ids`` from the batch, runs the model (which computes every loss term,
  ``loc3r.modeling.losses.combine_losses``), stops the run on a non-finite loss with a message naming the
  batch's sample ids and every loss term (``NonFiniteLossError``), and accumulates the terms for logging.
  The loss is the mean over each micro-batch (``model_accepts_loss_kwargs = False``: HF divides by the
  gradient-accumulation steps), for the language and the spatial terms alike.
* ``log``: adds the mean of each loss term since the last log (``loss_ce``, ``loss_bev``, ``loss_pos``,
  ``loss_ori``, ``loss_sit``; averaged over the micro-batches that supervise the term, over all processes) to
  the training logs, so TensorBoard / W&B / the console show every term separately.
* ``_save``: checkpoints keep the model's own parameter names, so that resuming restores them (see there).
* ``evaluate``: localization validation on the held-out set. One forward pass per batch with all targets gives
  the held-out loss terms; ``decode_localization`` (mean position, circular soft-argmax heading) gives the
  pose, compared with the ground truth in the BEV frame: ``eval_loc_Acc@0.5m``, ``Acc@1.0m``, ``Acc@15deg``,
  ``Acc@30deg`` (SQA3D's strict ``<``), median errors, and the same metrics for the trivial "origin"
  predictor (the first camera's position and heading), a reference point for what the model learnt. With the
  semantic head, ``eval_sem_object_acc``: the % of vision tokens that see an object (category target > 0)
  whose predicted category is right (recognition on unseen scenes, which the loss hides behind the many
  "none" tokens). The
  held-out set is split over the processes (every process runs the same number of batches, as ZeRO-3 needs)
  and the errors are gathered.
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from transformers import PreTrainedModel, Trainer

from loc3r.eval.metrics.localization import localization_accuracy, position_error, rotation_error_deg

__all__ = ["LOSS_TERMS", "NonFiniteLossError", "Loc3RTrainer"]

#: Loss terms logged separately (``Loc3ROutput`` fields).
LOSS_TERMS = ("loss_ce", "loss_bev", "loss_pos", "loss_ori", "loss_sit", "loss_sem", "loss_ground", "loss_local")


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the message names the step, the terms and the samples."""


def _supervised(term: str, inputs: dict[str, Any]) -> torch.Tensor | None:
    """Whether a micro-batch supervises ``term`` (a 0-d bool tensor; None = unknown, count it)."""
    if term == "loss_ce" and "labels" in inputs:
        return (inputs["labels"] != -100).any()
    if term == "loss_bev" and "bev_mask" in inputs:
        return inputs["bev_mask"].any()
    if term == "loss_local" and "local_mask" in inputs:
        return inputs["local_mask"].any()
    if term == "loss_sem" and "semantic_targets" in inputs:
        return (inputs["semantic_targets"] != -100).any()
    if term == "loss_ground" and ("ground_pos_mask" in inputs or "ground_ori_mask" in inputs):
        masks = [inputs[k].any() for k in ("ground_pos_mask", "ground_ori_mask") if k in inputs]
        return masks[0] if len(masks) == 1 else masks[0] | masks[1]
    if term in ("loss_pos", "loss_ori", "loss_sit") and "sit_mask" in inputs:
        return inputs["sit_mask"].any()
    return None


class Loc3RTrainer(Trainer):
    """HF ``Trainer`` for Loc3R-VLM (see the module docstring).

    Args:
        *args: ``Trainer`` arguments.
        train_sampler: the sampler of the training set (``MixtureSampler``); None = HF's default.
        max_eval_samples: validate on at most this many held-out samples.
        **kwargs: ``Trainer`` keyword arguments.
    """

    def __init__(self, *args, train_sampler=None, max_eval_samples: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.train_sampler = train_sampler
        self.max_eval_samples = max_eval_samples
        # Every term is a per-micro-batch mean: HF divides by the accumulation steps (no num_items_in_batch).
        self.model_accepts_loss_kwargs = False
        self._terms: dict[str, list[torch.Tensor]] = {}

    # ------------------------------------------------------------------------------------------ data
    def _get_train_sampler(self, train_dataset=None):
        if self.train_sampler is not None:
            return self.train_sampler
        return super()._get_train_sampler(train_dataset)

    # ------------------------------------------------------------------------------------------ loss
    def compute_loss(self, model, inputs, return_outputs: bool = False, num_items_in_batch=None):
        """Forward pass; the NaN guard; loss-term accumulation for logging."""
        inputs = dict(inputs)
        sample_ids = inputs.pop("sample_ids", None)
        outputs = model(**inputs)
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs[0]
        if loss is None:
            raise ValueError("the model returned no loss: the batch has no targets")
        if getattr(self.args, "nan_guard", True) and not bool(torch.isfinite(loss.detach()).all()):
            self._raise_non_finite(loss, outputs, sample_ids)
        if model.training:
            self._accumulate_terms(outputs, inputs)
        return (loss, outputs) if return_outputs else loss

    def _raise_non_finite(self, loss: torch.Tensor, outputs, sample_ids) -> None:
        terms = []
        for name in LOSS_TERMS:
            v = outputs.get(name) if isinstance(outputs, dict) else None
            if v is not None:
                terms.append(f"{name}={float(v.detach().float()):.6g}")
        step = self.state.global_step + 1
        ids = ", ".join(map(str, sample_ids)) if sample_ids else "unknown"
        raise NonFiniteLossError(
            f"non-finite training loss ({float(loss.detach().float())}) at step {step}"
            f"{' on process ' + str(self.args.process_index) if self.args.world_size > 1 else ''}: "
            f"{', '.join(terms) or 'no loss terms'}. Samples of the batch: {ids}. Training stopped; the last "
            "checkpoint is unaffected. Check these samples' targets (BEV / pose) and inputs, or lower the "
            "learning rate, then rerun the same command to resume."
        )

    def _accumulate_terms(self, outputs, inputs: dict[str, Any]) -> None:
        for name in LOSS_TERMS:
            v = outputs.get(name) if isinstance(outputs, dict) else None
            if v is None:
                continue
            v = v.detach().float().reshape(())
            present = _supervised(name, inputs)
            weight = (
                torch.ones((), device=v.device) if present is None else present.to(v.device, torch.float32)
            )
            acc = self._terms.get(name)
            if acc is None:
                self._terms[name] = [v * weight, weight.clone()]
            else:
                acc[0] += v * weight
                acc[1] += weight

    def _pop_terms(self) -> dict[str, float]:
        """Mean of each accumulated term over its supervised micro-batches (all processes); resets.

        Every process reduces the same ``[len(LOSS_TERMS), 2]`` tensor (zeros for terms it has not seen), so
        the collective never mismatches.
        """
        device = next(iter(self._terms.values()))[0].device if self._terms else self.args.device
        stacked = torch.zeros(len(LOSS_TERMS), 2, device=device)
        for i, name in enumerate(LOSS_TERMS):
            if name in self._terms:
                stacked[i] = torch.stack(self._terms[name]).to(device)
        self._terms = {}
        if (
            self.args.world_size > 1
            and torch.distributed.is_available()
            and torch.distributed.is_initialized()
        ):
            torch.distributed.all_reduce(stacked, op=torch.distributed.ReduceOp.SUM)
        return {
            name: total / count
            for name, (total, count) in zip(LOSS_TERMS, stacked.tolist(), strict=True)
            if count > 0
        }

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Add the per-term training losses to training logs (those with ``loss``), then log as HF does."""
        if "loss" in logs:
            logs = {**logs, **self._pop_terms()}
        super().log(logs, start_time)

    # ------------------------------------------------------------------------------------------ checkpoints
    def _save(self, output_dir: str | None = None, state_dict=None) -> None:
        """HF ``_save``, with weights stored under the model's own parameter names.

        transformers 5 saves LLaVA-OneVision weights under their legacy names (``save_original_format``),
        but ``Trainer._load_from_checkpoint`` restores a checkpoint with a plain ``load_state_dict``: a
        resumed run would silently keep its initial weights. Saving the names the model uses makes resuming
        exact; ``from_pretrained`` (``load_loc3r``) reads either form.
        """
        core = self.accelerator.unwrap_model(self.model, keep_torch_compile=False)
        if not isinstance(core, PreTrainedModel):  # PEFT adapters and others: HF's own path
            return super()._save(output_dir, state_dict)
        core.save_pretrained = functools.partial(core.save_pretrained, save_original_format=False)
        try:
            super()._save(output_dir, state_dict)
        finally:
            del core.save_pretrained

    # ------------------------------------------------------------------------------------------ validation
    def evaluate(
        self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval"
    ) -> dict[str, float]:
        """Localization validation on the held-out set (module docstring); logs and returns the metrics."""
        dataset = eval_dataset if eval_dataset is not None else self.eval_dataset
        if dataset is None:
            raise ValueError("Loc3RTrainer.evaluate needs an eval_dataset (data.eval_sources)")
        start = time.time()
        metrics = self.localization_metrics(dataset, metric_key_prefix)
        metrics[f"{metric_key_prefix}_runtime"] = round(time.time() - start, 4)
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics

    def _eval_batches(self, dataset) -> list[tuple[list[int], bool]]:
        """This process's share of the held-out batches: ``(keys, counts)``; padded to equal counts."""
        keys = dataset.eval_keys()
        if self.max_eval_samples is not None:
            keys = keys[: self.max_eval_samples]
        bs = max(1, int(self.args.per_device_eval_batch_size))
        batches: list[list[int]] = []
        for k in keys:  # consecutive keys share a source, hence a frame count
            if (
                batches
                and len(batches[-1]) < bs
                and dataset.frames_of_key(batches[-1][0]) == dataset.frames_of_key(k)
            ):
                batches[-1].append(k)
            else:
                batches.append([k])
        world, rank = max(1, self.args.world_size), self.args.process_index
        per_rank = math.ceil(len(batches) / world) if batches else 0
        mine = []
        for j in range(per_rank):
            i = j * world + rank
            mine.append((batches[i], True) if i < len(batches) else (batches[0], False))
        return mine

    @torch.no_grad()
    def localization_metrics(self, dataset, prefix: str = "eval") -> dict[str, float]:
        """Held-out loss terms and localization accuracy (see the module docstring)."""
        model = self.model
        was_training = model.training
        model.eval()
        core = self.accelerator.unwrap_model(model)
        rows: list[tuple[float, float, float, float]] = []
        sums: dict[str, list[float]] = {}
        try:
            batches = self._eval_batches(dataset)
            loader = DataLoader(
                dataset,
                batch_sampler=[keys for keys, _ in batches],
                collate_fn=self.data_collator,
                num_workers=self.args.dataloader_num_workers,
                pin_memory=bool(self.args.dataloader_pin_memory and torch.cuda.is_available()),
            )
            for (_, counts), batch in zip(batches, loader, strict=True):
                batch.pop("sample_ids", None)
                inputs = self._prepare_inputs(batch)
                with self.compute_loss_context_manager():
                    out = model(**inputs)
                if not counts:
                    continue
                for name in ("loss",) + LOSS_TERMS:
                    v = out.get(name)
                    present = _supervised(name, inputs) if name != "loss" else None
                    if v is not None and (present is None or bool(present)):
                        s = sums.setdefault(name, [0.0, 0.0])
                        s[0] += float(v.float())
                        s[1] += 1.0
                sem_t = inputs.get("semantic_targets")
                if out.get("semantic_logits") is not None and sem_t is not None:
                    obj = sem_t > 0  # tokens that see one of the categories (0 = none, -100 = unknown)
                    s = sums.setdefault("sem_object_acc", [0.0, 0.0])
                    s[0] += float((out.semantic_logits.argmax(-1)[obj] == sem_t[obj]).sum())
                    s[1] += float(obj.sum())
                if out.get("pos_mean") is None:
                    continue
                loc = core.decode_localization(out)
                sit = inputs["sit_mask"].cpu().numpy()
                pred_xy = loc.position_bev.cpu().double().numpy()
                pred_h = loc.heading_bev.cpu().double().numpy()
                gt_xy = inputs["pos_target"].cpu().double().numpy()
                gt_h = inputs["ori_target"].cpu().double().numpy()
                for i in np.nonzero(sit)[0]:
                    rows.append(
                        (
                            float(position_error(pred_xy[i], gt_xy[i])),
                            float(rotation_error_deg(pred_h[i], gt_h[i])),
                            float(position_error(np.zeros(2), gt_xy[i])),
                            float(rotation_error_deg(0.0, gt_h[i])),
                        )
                    )
        finally:
            if was_training:
                model.train()
        rows, sums = self._gather(rows, sums)
        metrics: dict[str, float] = {}
        for name, (total, count) in sorted(sums.items()):
            if count:
                metrics[f"{prefix}_{name}"] = (100.0 if name == "sem_object_acc" else 1.0) * total / count
        metrics[f"{prefix}_loc_samples"] = float(len(rows))
        if rows:
            arr = np.asarray(rows, dtype=np.float64)
            for tag, (pos, rot) in (("loc", (arr[:, 0], arr[:, 1])), ("origin", (arr[:, 2], arr[:, 3]))):
                for k, v in localization_accuracy(pos, rot).items():
                    if v is not None:
                        metrics[f"{prefix}_{tag}_{k}"] = float(v)
        return metrics

    def _gather(self, rows: list, sums: dict[str, list[float]]):
        if not (
            self.args.world_size > 1
            and torch.distributed.is_available()
            and torch.distributed.is_initialized()
        ):
            return rows, sums
        gathered: list[Any] = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(gathered, (rows, sums))
        all_rows, all_sums = [], {}
        for r, s in gathered:
            all_rows += r
            for k, (t, c) in s.items():
                acc = all_sums.setdefault(k, [0.0, 0.0])
                acc[0] += t
                acc[1] += c
        return all_rows, all_sums
