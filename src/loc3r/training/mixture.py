"""The training mixture: annotation sources -> items -> a deterministic, resumable per-epoch sample order.

Sources (``DataArguments.sources``) are read with the annotation readers (``sqa3d``, ``scanqa``, ``msqa``,
``vsibench``, ``beacon3d``; bad items are skipped and counted) or as unified-record JSONL (``jsonl``). Each
record becomes one or more *items*:

* ``alternative_situations: expand`` -> one item per distinct situation text (the record's situation and its
  SQA3D alternatives; same pose, same question and answer);
* ``sample`` -> one item whose situation text is drawn anew every epoch;
* ``none`` -> one item with the record's own situation (or the pseudo-situation when it has none).

Records are skipped, counted and reported when their scene is not prepared, when their pose cannot be placed
in the BEV frame (SQA3D pose without the mesh centre, MSQA pose without the axis alignment), when
``require_pose`` is set and they have no pose, or when they carry nothing to learn (no answer, no pose).

Epoch plan (``MixtureSampler``), a pure function of ``(seed, epoch)``: source ``s`` contributes ``n_s``
items (``num_samples``, else ``round(ratio x items)``) taken from a seeded permutation of its items, cycling
through fresh permutations when ``n_s`` exceeds its size. Items are then shuffled together. When sources have
different frame budgets, the plan is made of whole per-budget batches (a group's last batch is completed by
wrapping around within that group), so every micro-batch has one frame count. Because the order depends only
on the seed and the epoch, a resumed run (HF ``Trainer`` skips the batches already seen) replays exactly the
same samples.

A *sample key* (what the sampler yields and ``MixtureDataset.__getitem__`` takes) encodes ``item x V +
variant`` with V the largest number of situation texts of any record, plus ``draw x K`` (K = items x V) where
``draw`` seeds the sample's random frame subset (``data.frame_sampling: random``; 0 = the fixed uniform
subset, always the case for held-out data). The sampler draws it from the same ``(seed, epoch)`` streams, so
random frames keep the order deterministic and resumable.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np
from torch.utils.data import Dataset, Sampler

from loc3r.data.frame_selection import select_stratified_random
from loc3r.data.schema import Record
from loc3r.training.arguments import FRAME_SAMPLING, DataArguments, SourceArguments
from loc3r.training.dataset import SceneClipStore, make_sample
from loc3r.utils.io import DataError

__all__ = [
    "SourceData",
    "situation_texts",
    "read_source_records",
    "load_source",
    "MixtureDataset",
    "MixtureSampler",
    "build_mixture",
]

logger = logging.getLogger(__name__)
#: Frame draws are in [1, _MAX_DRAW): a sample key stays well inside int64 for any realistic mixture.
_MAX_DRAW = 1 << 24


def situation_texts(record: Record, mode: str) -> list[str | None]:
    """The situation texts a record can be trained with (``[None]`` = pseudo-situation).

    ``none``: the record's own situation; ``expand`` / ``sample``: it and its alternatives, stripped, empty
    and duplicate texts dropped, in file order.
    """
    main = record.situation.strip() if record.situation and record.situation.strip() else None
    if mode == "none" or main is None:
        return [main]
    texts: list[str | None] = [main]
    for alt in record.alternative_situations:
        a = alt.strip() if alt else ""
        if a and a not in texts:
            texts.append(a)
    return texts


def read_source_records(args: SourceArguments, data: DataArguments) -> tuple[list[Record], int, list[str]]:
    """Read a source's files: ``(records, items skipped by the reader, their reasons)``.

    Raises:
        FileNotFoundError: a missing file.
        DataError: a corrupt file (the message names it).
    """
    paths = [data.path(f) for f in args.files]
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"data source {args.name!r}: {p} does not exist")
    if args.kind == "jsonl":
        from loc3r.data.sources.convert import read_records_jsonl

        records = [r for p in paths for r in read_records_jsonl(p)]
        return records, 0, []
    from loc3r.data.sources.registry import read_records_lenient

    res = read_records_lenient(args.kind, paths)
    return list(res.records), int(res.skipped), list(res.problems)


@dataclass
class SourceData:
    """A loaded source: its records, items and per-epoch share.

    Attributes:
        args: the source's arguments.
        records: the kept records.
        items: ``(record index, variant)``; variant = index into ``situation_texts`` or -1 (drawn per epoch).
        texts: per record, its situation texts.
        num_frames: the source's frame budget.
        store: the clip store of its prepared scenes.
        per_epoch: samples it contributes per epoch.
        report: counts: ``read``, ``kept``, ``items``, ``per_epoch`` and ``skipped`` (reason -> count).
    """

    args: SourceArguments
    records: list[Record]
    items: list[tuple[int, int]]
    texts: list[list[str | None]]
    num_frames: int
    store: SceneClipStore
    per_epoch: int
    report: dict[str, Any] = field(default_factory=dict)


def _skip_reason(record: Record, store: SceneClipStore, require_pose: bool) -> str | None:
    meta = store.scene_meta(record.scene_id)
    if meta is None:
        return "scene not prepared"
    has_situation = bool(record.situation and record.situation.strip())
    if require_pose and (record.pose is None or not has_situation):
        return "no situation pose"
    if record.pose is not None:
        if record.pose.frame == "sqa3d" and meta.get("mesh_bbox_center") is None:
            return "SQA3D pose but the prepared scene has no mesh centre"
        if record.pose.frame == "aligned" and meta.get("axis_alignment") is None:
            return "aligned pose but the prepared scene has no axisAlignment"
        if record.pose.frame not in ("sqa3d", "aligned", "raw", "bev"):
            return f"unknown pose frame {record.pose.frame!r}"
    if not record.answers and record.pose is None:
        return "no answer and no pose"
    return None


def load_source(args: SourceArguments, data: DataArguments, store: SceneClipStore) -> SourceData:
    """Read, filter and itemise one source (see the module docstring)."""
    records, reader_skipped, problems = read_source_records(args, data)
    skipped: Counter[str] = Counter()
    if reader_skipped:
        skipped["invalid item (reader)"] = reader_skipped
        for p in problems[:5]:
            logger.warning("source %s: skipped %s", args.name, p)
    kept: list[Record] = []
    for rec in records:
        reason = _skip_reason(rec, store, args.require_pose)
        if reason is None:
            kept.append(rec)
        else:
            skipped[reason] += 1
    texts = [situation_texts(r, args.alternative_situations) for r in kept]
    items: list[tuple[int, int]] = []
    for i, t in enumerate(texts):
        if args.alternative_situations == "expand":
            items.extend((i, v) for v in range(len(t)))
        else:
            items.append((i, 0 if args.alternative_situations == "none" or len(t) == 1 else -1))
    per_epoch = args.num_samples if args.num_samples is not None else int(round(args.ratio * len(items)))
    wanted = args.num_samples > 0 if args.num_samples is not None else args.ratio > 0
    if wanted and not items:
        raise DataError(
            f"data source {args.name!r}: no usable record out of {len(records)} (skipped: {dict(skipped)}); "
            f"check data.prepared_dir ({store.prepared_dir}) and the annotation files"
        )
    report = {
        "read": len(records) + reader_skipped,
        "kept": len(kept),
        "items": len(items),
        "per_epoch": int(per_epoch),
        "skipped": dict(skipped),
    }
    if skipped:
        logger.warning(
            "source %s: kept %d of %d records; skipped %s",
            args.name,
            len(kept),
            report["read"],
            dict(skipped),
        )
    return SourceData(
        args=args,
        records=kept,
        items=items,
        texts=texts,
        num_frames=data.frames_of(args),
        store=store,
        per_epoch=int(per_epoch),
        report=report,
    )


class MixtureDataset(Dataset):
    """Map-style dataset over the items of several sources, addressed by sample keys (module docstring).

    ``len()`` is the number of samples per epoch (what ``MixtureSampler`` yields); keys are not
    ``0..len-1``. Each sample is ``loc3r.training.dataset.make_sample``'s dict.
    """

    def __init__(self, sources: Sequence[SourceData], frame_sampling: str = "uniform",
                 frame_pool: int | None = None):
        if frame_sampling not in FRAME_SAMPLING:
            raise ValueError(f"frame_sampling must be one of {list(FRAME_SAMPLING)}, got {frame_sampling!r}")
        self.sources = list(sources)
        self.offsets = np.cumsum([0] + [len(s.items) for s in self.sources])
        self.num_variants = max([len(t) for s in self.sources for t in s.texts] or [1])
        self.frame_sampling = frame_sampling
        self.frame_pool = frame_pool

    @property
    def key_space(self) -> int:
        """K: keys below it address (item, variant); ``key // K`` is the frame draw."""
        return max(self.num_items * self.num_variants, 1)

    def __len__(self) -> int:
        return int(sum(s.per_epoch for s in self.sources))

    @property
    def num_items(self) -> int:
        """Items over all sources."""
        return int(self.offsets[-1])

    def key(self, source: int, item: int, variant: int = 0) -> int:
        """The sample key of item ``item`` of source ``source`` with situation text ``variant``."""
        return (int(self.offsets[source]) + int(item)) * self.num_variants + int(variant)

    def locate(self, key: int) -> tuple[int, int, int]:
        """``(source index, record index, text index)`` of a sample key."""
        key = int(key)
        if key < 0 or (self.frame_sampling == "uniform" and key >= self.key_space):
            raise IndexError(f"sample key {key} out of range")
        g, chosen = divmod(key % self.key_space, self.num_variants)
        if not 0 <= g < self.num_items:
            raise IndexError(f"sample key {key} out of range")
        s = int(np.searchsorted(self.offsets, g, side="right")) - 1
        rec, variant = self.sources[s].items[g - int(self.offsets[s])]
        return s, rec, chosen if variant < 0 else variant

    def frames_of_key(self, key: int) -> int:
        """The frame budget of the sample a key addresses."""
        return self.sources[self.locate(key)[0]].num_frames

    def __getitem__(self, key: int) -> dict[str, Any]:
        s, r, v = self.locate(key)
        src = self.sources[s]
        rec = src.records[r]
        texts = src.texts[r]
        situation = texts[v % len(texts)]
        draw = int(key) // self.key_space
        if draw and self.frame_sampling == "random":
            pool = src.store.get(rec.scene_id, self.frame_pool)
            if pool.num_frames > src.num_frames:
                ids = select_stratified_random(range(pool.num_frames), src.num_frames,
                                               np.random.default_rng(draw))
                clip = pool.take(ids)
            else:
                clip = pool
        else:
            clip = src.store.get(rec.scene_id, src.num_frames)
        sid = f"{src.args.name}/{rec.id}" + (f"#alt{v}" if v else "")
        return make_sample(rec, clip, situation, sid)

    def eval_keys(self) -> list[int]:
        """Every item once, in source/file order (``sample`` items with their first text)."""
        keys = []
        for s, src in enumerate(self.sources):
            for i, (_, variant) in enumerate(src.items):
                keys.append(self.key(s, i, max(variant, 0)))
        return keys

    def report(self) -> dict[str, dict[str, Any]]:
        """Per-source counts (read, kept, items, per_epoch, skipped)."""
        return {src.args.name: src.report for src in self.sources}


class MixtureSampler(Sampler[int]):
    """Yields one epoch's sample keys of a ``MixtureDataset`` (deterministic in ``seed`` and the epoch).

    Args:
        dataset: the mixture.
        batch_size: per-device micro-batch size (batches are kept frame-homogeneous).
        seed: data-order seed.
    """

    def __init__(self, dataset: MixtureDataset, batch_size: int, seed: int = 0):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.epoch = 0
        budgets = Counter()
        for s in dataset.sources:
            budgets[s.num_frames] += s.per_epoch
        self._groups = {t: n for t, n in budgets.items() if n > 0}

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order ``__iter__`` yields (called by HF / accelerate)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        if len(self._groups) <= 1:
            return int(sum(self._groups.values()))
        return int(sum(math.ceil(n / self.batch_size) * self.batch_size for n in self._groups.values()))

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_keys(self.epoch))

    def _rng(self, epoch: int, *stream: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, epoch, *stream]))

    def _source_keys(self, epoch: int, s: int) -> list[int]:
        src = self.dataset.sources[s]
        n, size = src.per_epoch, len(src.items)
        if n == 0 or size == 0:
            return []
        rng = self._rng(epoch, s, 0)
        order = np.concatenate([rng.permutation(size) for _ in range(math.ceil(n / size))])[:n]
        text_rng = self._rng(epoch, s, 1)
        keys = []
        for i in order:
            r, variant = src.items[int(i)]
            if variant < 0:
                variant = int(text_rng.integers(len(src.texts[r])))
            keys.append(self.dataset.key(s, int(i), variant))
        if self.dataset.frame_sampling == "random":
            draws = self._rng(epoch, s, 2).integers(1, _MAX_DRAW, size=len(keys))
            keys = [k + int(d) * self.dataset.key_space for k, d in zip(keys, draws)]
        return keys

    def epoch_keys(self, epoch: int) -> list[int]:
        """The keys of one epoch, in training order."""
        per_source = [self._source_keys(epoch, s) for s in range(len(self.dataset.sources))]
        rng = self._rng(epoch, 1 << 20)
        if len(self._groups) <= 1:
            keys = np.asarray([k for ks in per_source for k in ks], dtype=np.int64)
            return [int(k) for k in keys[rng.permutation(len(keys))]]
        batches: list[list[int]] = []
        for t in sorted(self._groups):
            group = [
                k for s, ks in enumerate(per_source) if self.dataset.sources[s].num_frames == t for k in ks
            ]
            group = [group[i] for i in rng.permutation(len(group))]
            pad = (-len(group)) % self.batch_size
            group += [group[i % len(group)] for i in range(pad)]
            batches += [group[i : i + self.batch_size] for i in range(0, len(group), self.batch_size)]
        return [k for b in (batches[i] for i in rng.permutation(len(batches))) for k in b]


def build_mixture(
    sources: Sequence[SourceArguments], data: DataArguments, stores: dict[str, SceneClipStore],
    frame_sampling: str = "uniform",
) -> MixtureDataset:
    """Load every source into one ``MixtureDataset``.

    Args:
        sources: the source arguments (training or held-out).
        data: the data section (paths, default frame budget, ``frame_pool``).
        stores: prepared-folder path (as resolved by ``data.path``) -> its clip store.
        frame_sampling: ``"uniform"`` (held-out data) or ``data.frame_sampling`` (the training mixture).
    """
    loaded = []
    for args in sources:
        key = str(data.path(args.prepared_dir or data.prepared_dir))
        loaded.append(load_source(args, data, stores[key]))
    return MixtureDataset(loaded, frame_sampling=frame_sampling, frame_pool=data.frame_pool)
