"""The collator: prompt and labels, targets, masks, and a forward pass of the tiny model on its batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from loc3r.data.bev_targets import TokenGrid
from loc3r.data.schema import Pose, Record
from loc3r.training.collator import Loc3RCollator
from loc3r.training.dataset import SceneClipStore, make_sample

POSE = Pose(x=0.3, y=-0.4, yaw=1.0, forward=(-0.540302, -0.841471), frame="sqa3d")


@pytest.fixture()
def samples(synth_root):
    from loc3r.backends.registry import make_backend

    store = SceneClipStore(
        synth_root / "prepared",
        image_size=64,
        grid=TokenGrid.llava_video(64, 8, 2),
        backend=make_backend("pose"),
    )
    clip = store.get("scene9000_00", 4)
    qa = Record(
        id="q",
        source="sqa3d",
        task="what",
        scene_id="scene9000_00",
        question="What is on my left?",
        answers=["the white desk"],
        situation="I stand by the door.",
        pose=POSE,
    )
    loc = Record(
        id="l",
        source="sqa3d",
        task="localization",
        scene_id="scene9000_00",
        question="",
        answers=[],
        situation="I sit on the chair.",
        pose=POSE,
    )
    plain = Record(
        id="p",
        source="scanqa",
        task="Place",
        scene_id="scene9000_00",
        question="Where is the monitor?",
        answers=["on the desk"],
    )
    return [
        make_sample(qa, clip, qa.situation, "sqa3d/q"),
        make_sample(loc, clip, loc.situation, "sqa3d/l"),
        make_sample(plain, clip, None, "scanqa/p"),
    ], clip


def test_batch_layout_labels_and_targets(samples, tiny_processor):
    items, clip = samples
    batch = Loc3RCollator(tiny_processor)(items)
    tok = tiny_processor.tokenizer
    b, length = batch["input_ids"].shape
    assert b == 3 and batch["pixel_values_videos"].shape == (3, 4, 3, 64, 64)
    assert batch["camera_tokens"].shape == (3, 4, 13)
    assert batch["bev_targets"].shape == (3, 4, 4, 4, 2) and batch["bev_mask"].dtype == torch.bool
    assert batch["sample_ids"] == ["sqa3d/q", "sqa3d/l", "scanqa/p"]
    assert batch["sit_mask"].tolist() == [True, True, False]
    # Labels: the answer and the closing <|im_end|> only; nothing for a sample without an answer.
    sup = batch["labels"][0] != -100
    assert tok.decode(batch["labels"][0][sup]) == tok.decode(
        tok("the white desk<|im_end|>", add_special_tokens=False)["input_ids"]
    )
    assert (batch["labels"][1] == -100).all()
    assert (batch["labels"][2] != -100).any()
    # One <Pos> and one <Ori> per sample, between the situation and the question; the pseudo-situation for
    # the sample without one.
    for i in range(3):
        assert int((batch["input_ids"][i] == tiny_processor.pos_token_id).sum()) == 1
        assert int((batch["input_ids"][i] == tiny_processor.ori_token_id).sum()) == 1
    text = tok.decode(batch["input_ids"][2][batch["attention_mask"][2].bool()])
    assert "i am standing in the room <Pos> <Ori>" in text.replace("<Pos><Ori>", "<Pos> <Ori>")
    # Right padding; the prior tokens and targets are the clip's.
    assert batch["attention_mask"][:, 0].all()
    np.testing.assert_array_equal(batch["camera_tokens"][0].numpy(), clip.camera_tokens)
    np.testing.assert_array_equal(batch["bev_targets"][1].numpy(), clip.bev_xy)
    np.testing.assert_allclose(batch["pos_target"][0].numpy(), items[0]["pos_target"])
    assert batch["pos_target"][2].abs().sum() == 0
    assert torch.equal(
        batch["pixel_values_videos"][0], tiny_processor.frame_transform(torch.from_numpy(clip.frames))
    )


def test_local_targets_are_each_frames_own_view(samples, tiny_processor):
    samples, clip = samples
    batch = Loc3RCollator(tiny_processor)(samples)
    local, mask = batch["local_targets"][1].double().numpy(), batch["local_mask"][1].numpy()
    assert local.shape == clip.bev_xy.shape and (mask == clip.bev_valid).all()
    np.testing.assert_allclose(local[0], clip.bev_xy[0], atol=1e-5)  # frame 0 anchors the BEV frame
    cams = clip.bev_frame.world_to_bev_xy(clip.poses_c2w[:, :3, 3])  # [T, 2] camera centres, BEV frame
    for t in range(1, clip.num_frames):  # distances to the frame's own camera are frame-independent
        m = mask[t]
        d_bev = np.linalg.norm(clip.bev_xy[t][m] - cams[t], axis=-1)
        np.testing.assert_allclose(np.linalg.norm(local[t][m], axis=-1), d_bev, atol=1e-4)
        assert (local[t][m][:, 0] > 0).mean() > 0.95  # what a camera sees lies ahead of it


def test_semantic_targets_are_batched_only_when_every_sample_has_them(samples, tiny_processor):
    items, _ = samples
    assert "semantic_targets" not in Loc3RCollator(tiny_processor)(items)
    sem = [np.full((4, 4, 4), i, np.int64) for i in range(len(items))]
    with_sem = [dict(it, semantic_targets=s) for it, s in zip(items, sem, strict=True)]
    batch = Loc3RCollator(tiny_processor)(with_sem)
    assert batch["semantic_targets"].dtype == torch.int64
    np.testing.assert_array_equal(batch["semantic_targets"].numpy(), np.stack(sem))
    assert "semantic_targets" not in Loc3RCollator(tiny_processor)(with_sem[:1] + items[1:])


def test_referent_masks_are_batched_with_empty_masks_for_samples_without_one(samples, tiny_processor):
    items, _ = samples
    items = items[:3]
    assert "ground_pos_mask" not in Loc3RCollator(tiny_processor)(items)
    shape = np.shape(items[0]["bev_mask"])
    m = np.zeros(shape, bool)
    m[0, 1, 2] = True
    mixed = [dict(items[0], ground_pos_mask=m, ground_ori_mask=~m), items[1], items[2]]
    batch = Loc3RCollator(tiny_processor)(mixed)
    assert batch["ground_pos_mask"].dtype == torch.bool and batch["ground_pos_mask"].shape == (3, *shape)
    np.testing.assert_array_equal(batch["ground_pos_mask"][0].numpy(), m)
    np.testing.assert_array_equal(batch["ground_ori_mask"][0].numpy(), ~m)
    assert not batch["ground_pos_mask"][1:].any() and not batch["ground_ori_mask"][1:].any()


def test_the_tiny_model_trains_on_a_collated_batch(samples, tiny_processor):
    from loc3r.modeling.builders import loc3r_tiny

    model, processor = loc3r_tiny(prior_token_dim=13)
    batch = Loc3RCollator(processor)(samples[0])
    batch.pop("sample_ids")
    out = model(**batch)
    for name in ("loss", "loss_ce", "loss_bev", "loss_pos", "loss_ori"):
        assert torch.isfinite(out[name]), name
    out.loss.backward()
    assert model.pos_head.linear_2.weight.grad.abs().sum() > 0


def test_mixed_frame_counts_or_priors_are_rejected(samples, tiny_processor):
    items, _ = samples
    short = dict(items[0], frames=items[0]["frames"][:2], sample_id="short")
    with pytest.raises(ValueError, match="mixes frame counts"):
        Loc3RCollator(tiny_processor)([items[0], short])
    no_prior = dict(items[0], camera_tokens=None)
    with pytest.raises(ValueError, match="with and without camera-prior"):
        Loc3RCollator(tiny_processor)([items[0], no_prior])
