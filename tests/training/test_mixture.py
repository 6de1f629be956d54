"""The mixture: items, ratios, skipping, and the deterministic, frame-homogeneous epoch order."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from loc3r.data.schema import Pose, Record
from loc3r.data.sources.convert import write_records_jsonl
from loc3r.training.arguments import DataArguments, SourceArguments
from loc3r.training.mixture import MixtureDataset, MixtureSampler, load_source, situation_texts

POSE = Pose(x=0.1, y=0.2, yaw=0.3, forward=(-0.955336, -0.29552), frame="sqa3d")


class FakeStore:
    """Scene metadata only (the plan never loads a clip)."""

    def __init__(self, scenes=("s0", "s1"), center=True):
        self.prepared_dir = Path("/fake")
        self.scenes = set(scenes)
        self.center = center

    def scene_meta(self, scene_id):
        if scene_id not in self.scenes:
            return None
        return {"mesh_bbox_center": [0.0, 0.0, 0.0] if self.center else None, "axis_alignment": None}


def _records(n, prefix, alternatives=0, scene="s0", pose=True, answers=True):
    return [
        Record(
            id=f"{prefix}{i}",
            source="sqa3d",
            task="what",
            scene_id=scene,
            question=f"q{i}?",
            answers=["a"] if answers else [],
            situation=f"sit {i}",
            alternative_situations=[f"alt {i}.{k}" for k in range(alternatives)],
            pose=POSE if pose else None,
        )
        for i in range(n)
    ]


def _source(tmp_path, name, records, store=None, **kw):
    path = tmp_path / f"{name}.jsonl"
    write_records_jsonl(records, path)
    args = SourceArguments(name=name, kind="jsonl", files=[str(path)], **kw)
    return load_source(args, DataArguments(root=str(tmp_path), num_frames=8), store or FakeStore())


def test_situation_texts():
    rec = Record(
        id="1",
        source="sqa3d",
        task="what",
        scene_id="s",
        question="q",
        answers=["a"],
        situation=" I sit. ",
        alternative_situations=["I sit.", "", "I stand.", "I stand."],
    )
    assert situation_texts(rec, "none") == ["I sit."]
    assert situation_texts(rec, "expand") == ["I sit.", "I stand."]
    no_sit = Record(id="2", source="scanqa", task="x", scene_id="s", question="q", answers=["a"])
    assert situation_texts(no_sit, "expand") == [None]


def test_items_and_per_epoch_counts(tmp_path):
    recs = _records(4, "r", alternatives=2)
    assert len(_source(tmp_path, "a", recs, alternative_situations="expand").items) == 12
    none = _source(tmp_path, "b", recs, alternative_situations="none")
    assert none.items == [(i, 0) for i in range(4)] and none.per_epoch == 4
    sample = _source(tmp_path, "c", recs, alternative_situations="sample", ratio=2.5)
    assert sample.items == [(i, -1) for i in range(4)] and sample.per_epoch == 10
    assert _source(tmp_path, "d", recs, num_samples=7, ratio=0.1).per_epoch == 7


def test_unusable_records_are_skipped_and_counted(tmp_path):
    recs = (
        _records(3, "ok")
        + _records(2, "gone", scene="s9")
        + _records(1, "empty", pose=False, answers=False)
        + _records(2, "nopose", pose=False)
    )
    src = _source(tmp_path, "a", recs)
    assert [r.id for r in src.records] == ["ok0", "ok1", "ok2", "nopose0", "nopose1"]
    assert src.report["skipped"] == {"scene not prepared": 2, "no answer and no pose": 1}
    assert src.report["read"] == 8 and src.report["kept"] == 5
    posed = _source(tmp_path, "b", recs, require_pose=True)
    assert posed.report["skipped"]["no situation pose"] == 3  # nopose0/1 and the empty one
    nocenter = _source(tmp_path, "c", _records(2, "x"), store=FakeStore(center=False), num_samples=0)
    assert nocenter.report["skipped"] == {"SQA3D pose but the prepared scene has no mesh centre": 2}


def test_a_source_with_nothing_usable_is_an_error(tmp_path):
    from loc3r.utils.io import DataError

    with pytest.raises(DataError, match="no usable record out of 2"):
        _source(tmp_path, "a", _records(2, "x", scene="s9"))


def _mixture(tmp_path, frames=(8, 8)):
    a = _source(
        tmp_path, "a", _records(10, "a", alternatives=2), alternative_situations="sample", num_samples=13
    )
    b = _source(tmp_path, "b", _records(5, "b"), ratio=1.0)
    b.num_frames, a.num_frames = frames[1], frames[0]
    return MixtureDataset([a, b])


def test_epoch_plan_is_deterministic_and_follows_the_counts(tmp_path):
    ds = _mixture(tmp_path)
    sampler = MixtureSampler(ds, batch_size=4, seed=3)
    assert len(sampler) == len(ds) == 18
    e0 = list(sampler)
    assert e0 == MixtureSampler(ds, batch_size=4, seed=3).epoch_keys(0)
    sampler.set_epoch(1)
    e1 = list(sampler)
    assert e1 != e0 and len(e1) == 18
    assert MixtureSampler(ds, batch_size=4, seed=4).epoch_keys(0) != e0
    for keys in (e0, e1):
        per_source = Counter(ds.locate(k)[0] for k in keys)
        assert per_source == {0: 13, 1: 5}
        # 13 draws from 10 items: a permutation, then 3 from a fresh one -> every item at least once.
        assert len({ds.locate(k)[1] for k in keys if ds.locate(k)[0] == 0}) == 10
    # ``sample`` items get a situation text drawn per epoch; over two epochs more than one text is used.
    texts = {ds.locate(k)[2] for keys in (e0, e1) for k in keys if ds.locate(k)[0] == 0}
    assert texts == {0, 1, 2}


def test_mixed_frame_budgets_give_frame_homogeneous_batches(tmp_path):
    ds = _mixture(tmp_path, frames=(8, 16))
    sampler = MixtureSampler(ds, batch_size=4, seed=0)
    assert len(sampler) == 16 + 8  # 13 -> 16 and 5 -> 8 (each group completed to whole batches)
    keys = list(sampler)
    assert len(keys) == len(sampler)
    for i in range(0, len(keys), 4):
        assert len({ds.frames_of_key(k) for k in keys[i : i + 4]}) == 1
    assert Counter(ds.frames_of_key(k) for k in keys) == {8: 16, 16: 8}


def test_keys_round_trip_and_eval_keys_cover_every_item_once(tmp_path):
    ds = _mixture(tmp_path)
    for s, src in enumerate(ds.sources):
        for i in range(len(src.items)):
            for v in range(ds.num_variants):
                key = ds.key(s, i, v)
                rec, variant = src.items[i]
                assert ds.locate(key) == (s, rec, v if variant < 0 else variant)
    ev = ds.eval_keys()
    assert len(ev) == ds.num_items == 15 and len(set(ev)) == 15
    with pytest.raises(IndexError):
        ds.locate(ds.num_items * ds.num_variants)


def test_random_frame_draws_ride_on_the_same_deterministic_plan(tmp_path):
    uniform = _mixture(tmp_path)
    ds = MixtureDataset(uniform.sources, frame_sampling="random")
    K = ds.key_space
    assert K == uniform.num_items * uniform.num_variants == 15 * 3
    e0 = MixtureSampler(ds, batch_size=4, seed=3).epoch_keys(0)
    # the same items, texts and order as without random frames; every key carries a draw >= 1
    plain = MixtureSampler(uniform, 4, seed=3).epoch_keys(0)
    assert [ds.locate(k) for k in e0] == [uniform.locate(k) for k in plain]
    assert all(k // K >= 1 for k in e0)
    assert e0 == MixtureSampler(ds, batch_size=4, seed=3).epoch_keys(0)
    e1 = MixtureSampler(ds, batch_size=4, seed=3).epoch_keys(1)
    assert [k % K for k in e1] != [k % K for k in e0]
    assert len({k // K for k in e0 + e1}) == len(e0 + e1)  # 36 draws from 2**24 values: all distinct
    assert all(k < K for k in ds.eval_keys())  # held-out data: no draw, the fixed uniform frames
    with pytest.raises(ValueError, match="frame_sampling"):
        MixtureDataset(uniform.sources, frame_sampling="jitter")


def test_random_frames_are_a_stratified_subset_that_keeps_the_first_frame(synth_root, tmp_path):
    import numpy as np

    from loc3r.data.frame_selection import select_stratified_random
    from loc3r.data.bev_targets import TokenGrid
    from loc3r.training.dataset import SceneClipStore

    scene = "scene9000_00"
    store = SceneClipStore(synth_root / "prepared", image_size=64, grid=TokenGrid.llava_video(64, 8, 2))
    recs = [Record(id=f"q{i}", source="scanqa", task="what", scene_id=scene, question="q?", answers=["a"])
            for i in range(3)]
    path = tmp_path / "qa.jsonl"
    write_records_jsonl(recs, path)
    src = load_source(SourceArguments(name="qa", kind="jsonl", files=[str(path)], num_frames=4),
                      DataArguments(root=str(tmp_path), num_frames=8), store)
    ds = MixtureDataset([src], frame_sampling="random")
    pool = store.get(scene, None)
    fixed = ds[ds.eval_keys()[1]]
    np.testing.assert_array_equal(fixed["frames"], store.get(scene, 4).frames)
    frame_sets = set()
    for draw in (1, 2, 3, 99):
        sample = ds[ds.eval_keys()[1] + draw * ds.key_space]
        pos = select_stratified_random(range(pool.num_frames), 4, np.random.default_rng(draw))
        np.testing.assert_array_equal(sample["frames"], pool.frames[pos])
        np.testing.assert_array_equal(sample["bev_targets"], pool.bev_xy[pos])
        np.testing.assert_array_equal(sample["frames"][0], pool.frames[0])
        assert sample["sample_id"] == "qa/q1"
        frame_sets.add(tuple(pos))
    assert len(frame_sets) > 1
    with pytest.raises(IndexError):  # without random frames a key carries no draw
        MixtureDataset([src])[ds.eval_keys()[1] + 5 * ds.key_space]
