"""Loc3RProcessor: prompt, placeholders, labels, padding, frame geometry, save/load; the tiny tokenizer."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from loc3r.constants import PSEUDO_SITUATION  # noqa: E402
from loc3r.modeling.processing_loc3r import FrameTransform, Loc3RProcessor  # noqa: E402
from loc3r.modeling.tokenizer_tiny import build_tiny_tokenizer, tiny_vocabulary  # noqa: E402


def test_tiny_tokenizer_is_deterministic_and_covers_text():
    a, b = build_tiny_tokenizer(), build_tiny_tokenizer()
    assert a.get_vocab() == b.get_vocab() == tiny_vocabulary()
    text = "I am facing the xylophone; what's 2.5 m to my LEFT?"
    ids = a(text, add_special_tokens=False)["input_ids"]
    assert a.unk_token_id not in ids  # character fallback
    assert a.decode(ids).replace(" ", "") == text.lower().replace(" ", "")
    assert a.convert_tokens_to_ids("<Pos>") != a.unk_token_id


def test_prompt_structure_labels_and_pseudo_situation(tiny, batch_factory):
    _, proc = tiny
    batch, _, _ = batch_factory(proc, b=2, t=2)
    tok = proc.tokenizer
    ids0 = batch["input_ids"][0].tolist()
    labels0 = batch["labels"][0].tolist()
    # right padding for training; labels only on the answer and the closing <|im_end|>
    sup = [i for i, lab in enumerate(labels0) if lab != -100]
    n_real = int(batch["attention_mask"][0].sum())
    assert sup == list(range(sup[0], n_real))
    assert tok.decode([ids0[i] for i in sup], skip_special_tokens=True).strip() == "a table"
    assert ids0[sup[-1]] == tok.convert_tokens_to_ids("<|im_end|>")
    # <Pos><Ori> follow the situation and precede the question
    text1 = tok.decode(batch["input_ids"][1].tolist())
    assert batch["sit_mask"].tolist() == [True, False]
    assert PSEUDO_SITUATION.lower() + " <Pos> <Ori> how many" in text1.replace("<Pos><Ori>", "<Pos> <Ori>")
    # the video block sits in the user turn, before the situation
    block = proc.video_placeholder_ids(2)
    start = ids0.index(block[0])
    assert ids0[start : start + len(block)] == block
    assert start < ids0.index(proc.pos_token_id) < ids0.index(proc.ori_token_id)


def test_left_padding_for_generation(tiny, batch_factory):
    _, proc = tiny
    batch, _, _ = batch_factory(proc, b=2, t=2, answers=False)
    assert "labels" not in batch
    am = batch["attention_mask"]
    assert am[:, -1].all()  # left padded: every row ends with a real token
    short = int(am.sum(1).argmin())
    assert (
        am[short, 0] == 0 and (batch["input_ids"][short][am[short] == 0] == proc.tokenizer.pad_token_id).all()
    )


def test_placeholder_block_matches_layout(tiny):
    model, proc = tiny
    t = 3
    block = proc.video_placeholder_ids(t)
    layout = model.config.video_token_layout(t)
    assert block == layout.token_ids(model.config.video_token_id, model.config.cam_token_id).tolist()
    rows, cols = proc.token_grid
    assert block.count(proc.cam_token_id) == t
    assert len(block) == t * (1 + rows * cols + rows)  # grid newlines


def test_mismatched_inputs_raise(tiny, videos_factory):
    _, proc = tiny
    v2, v3 = videos_factory(1, 2)[0], videos_factory(1, 3)[0]
    with pytest.raises(ValueError, match="same frame count"):
        proc([v2, v3], [None, None], ["q", "q"])
    with pytest.raises(ValueError, match="same length"):
        proc([v2], [None, None], ["q", "q"])
    with pytest.raises(ValueError, match="camera_tokens"):
        proc([v2], [None], ["q"], camera_tokens=torch.zeros(1, 3, 8))
    with pytest.raises(ValueError, match="uint8"):
        proc([v2.astype(np.float32)], [None], ["q"])


def test_frame_transform_geometry_and_normalisation():
    ft = FrameTransform(size=8, image_mean=(0.5, 0.5, 0.5), image_std=(0.5, 0.5, 0.5))
    frame = np.full((1, 6, 12, 3), 255, dtype=np.uint8)
    frame[..., 1] = 0
    out = ft(frame)
    assert out.shape == (1, 3, 8, 8)  # aspect ratio not kept: 12x6 -> 8x8
    torch.testing.assert_close(out[0, 0], torch.ones(8, 8))  # (1 - 0.5) / 0.5
    torch.testing.assert_close(out[0, 1], -torch.ones(8, 8))
    # HWC and CHW inputs are the same video
    rng = np.random.default_rng(0)
    v = rng.integers(0, 256, (2, 10, 14, 3), dtype=np.uint8)
    torch.testing.assert_close(ft(v), ft(torch.from_numpy(v).permute(0, 3, 1, 2)))
    assert ft.resize_scale(640, 480) == (8 / 640, 8 / 480)
    # a left-right split image stays split at the same relative column
    half = np.zeros((1, 4, 16, 3), dtype=np.uint8)
    half[:, :, 8:] = 255
    o = ft(half)[0, 0]
    assert (o[:, :3] < -0.9).all() and (o[:, 5:] > 0.9).all()


def test_frame_transform_from_hf_config():
    ft = FrameTransform.from_hf_preprocessor_config(
        {
            "size": {"height": 384, "width": 384},
            "image_mean": [0.5] * 3,
            "image_std": [0.5] * 3,
            "resample": 3,
        }
    )
    assert ft.size == 384 and ft.resample == "bicubic"
    with pytest.raises(ValueError, match="non-square"):
        FrameTransform.from_hf_preprocessor_config({"size": {"height": 384, "width": 512}})


def test_token_grid_spec_llava_video(tiny):
    _, proc = tiny
    tok = proc.tokenizer
    p = Loc3RProcessor(tok, FrameTransform(size=384), rows=14, cols=14, patch_size=14)
    assert p.token_grid_spec() == {"image_size": 384, "patch_size": 14, "pool": 2, "rows": 14, "cols": 14}
    assert p.num_video_tokens(32) == 32 * 211


def test_save_load_round_trip(tiny, batch_factory, tmp_path):
    model, proc = tiny
    proc.save_pretrained(tmp_path)
    back = Loc3RProcessor.from_pretrained(tmp_path)
    back.check_compatible(model.config)
    a, _, _ = batch_factory(proc)
    b, _, _ = batch_factory(back)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_incompatible_processor_is_rejected(tiny_factory):
    model, _ = tiny_factory()
    _, proc = tiny_factory(newline_layout="one_token")
    with pytest.raises(ValueError, match="newline_layout"):
        proc.check_compatible(model.config)
