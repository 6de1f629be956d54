"""CUT3R / VGGT input preprocessing: hand-computed sizes (data_formats.md §6) and pixel-exact references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from loc3r.backends.preprocessing import (
    cut3r_plan,
    preprocess_cut3r,
    preprocess_vggt,
    to_uint8_frames,
    vggt_plan,
)

# ----------------------------------------------------------------------------------------------- CUT3R


def test_cut3r_plan_scannet_color_1296x968():
    # 968 * 512 / 1296 = 382.4 -> 382; cx, cy = 256, 191; halfh = (382 // 16) * 8 = 184 -> rows 7..375
    plan = cut3r_plan(1296, 968, size=512)
    assert plan.resize_wh == (512, 382)
    assert plan.resample == "lanczos"
    assert plan.crop_box == (0, 7, 512, 375)
    assert plan.output_wh == (512, 368)


def test_cut3r_plan_640x480_and_portrait():
    assert cut3r_plan(640, 480).output_wh == (512, 384)
    assert cut3r_plan(640, 480).crop_box == (0, 0, 512, 384)
    assert cut3r_plan(480, 640).output_wh == (384, 512)


def test_cut3r_plan_square_is_cropped_to_4_3_unless_square_ok():
    plan = cut3r_plan(512, 512)
    assert plan.resample == "bicubic"  # not shrinking
    assert plan.crop_box == (0, 64, 512, 448)  # halfh = 3 * 256 / 4 = 192
    assert cut3r_plan(512, 512, square_ok=True).output_wh == (512, 512)


def test_cut3r_plan_upscaling_uses_bicubic():
    # 80 * 512 / 100 = 409.6 -> 410; cy = 205; halfh = (410 // 16) * 8 = 200 -> rows 5..405
    plan = cut3r_plan(100, 80)
    assert plan.resample == "bicubic"
    assert plan.resize_wh == (512, 410)
    assert plan.crop_box == (0, 5, 512, 405)


def test_cut3r_plan_size_224_short_side_and_square_crop():
    # long side -> round(224 * 640 / 480) = round(298.67) = 299; 480 * 299 / 640 = 224.25 -> 224
    plan = cut3r_plan(640, 480, size=224)
    assert plan.resize_wh == (299, 224)
    assert plan.crop_box == (37, 0, 261, 224)  # cx = 149, half = min(149, 112) = 112
    assert plan.output_wh == (224, 224)


def test_preprocess_cut3r_matches_pil_reference_on_real_scannet_frame(scannet_frames):
    frame = scannet_frames[0]
    (out,) = preprocess_cut3r(frame[None])
    assert out.img.shape == (1, 3, 368, 512)
    assert out.img.dtype == torch.float32
    np.testing.assert_array_equal(out.true_shape, np.array([[368, 512]], dtype=np.int32))
    assert out.true_shape.dtype == np.int32
    # reference written from the description: LANCZOS to 512x382, crop rows 7..375, ToTensor, (x-0.5)/0.5
    ref = np.asarray(Image.fromarray(frame).resize((512, 382), Image.Resampling.LANCZOS))[7:375]
    ref = (ref.astype(np.float32) / np.float32(255) - np.float32(0.5)) / np.float32(0.5)
    torch.testing.assert_close(out.img[0].permute(1, 2, 0), torch.from_numpy(ref), rtol=0, atol=1e-6)


def test_preprocess_cut3r_normalisation_range():
    frames = np.zeros((2, 48, 64, 3), dtype=np.uint8)
    frames[1] = 255
    a, b = preprocess_cut3r(frames)
    assert a.img.shape == (1, 3, 384, 512)
    assert torch.all(a.img == -1.0) and torch.all(b.img == 1.0)


def test_float_frames_equal_uint8_frames():
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, size=(2, 30, 40, 3), dtype=np.uint8)
    f = u8.astype(np.float32) / 255.0
    for x, y in zip(preprocess_cut3r(u8), preprocess_cut3r(torch.from_numpy(f)), strict=True):
        assert torch.equal(x.img, y.img)
    assert torch.equal(preprocess_vggt(u8), preprocess_vggt(f))


@pytest.mark.parametrize(
    "bad, msg",
    [
        (np.zeros((2, 3, 20, 20), np.uint8), "channels-last"),
        (np.full((1, 4, 4, 3), 2.0, np.float32), r"\[0, 1\]"),
        (np.full((1, 4, 4, 3), np.nan, np.float32), "NaN"),
        (np.zeros((0, 4, 4, 3), np.uint8), "empty"),
        (np.zeros((4, 4, 3), np.uint8), r"\[T, H, W, 3\]"),
    ],
)
def test_bad_frames_give_clear_errors(bad, msg):
    with pytest.raises(ValueError, match=msg):
        to_uint8_frames(bad)


# ----------------------------------------------------------------------------------------------- VGGT


def test_vggt_plan_scannet_sizes():
    # 968 * 518 / 1296 / 14 = 27.64 -> 28 -> 392;  480 * 518 / 640 / 14 = 27.75 -> 28 -> 392
    for w, h in ((1296, 968), (640, 480)):
        plan = vggt_plan(w, h)
        assert plan.resize_wh == (518, 392) and plan.crop_top == 0 and plan.output_wh == (518, 392)


def test_vggt_plan_crop_portrait():
    # 640 * 518 / 480 / 14 = 49.33 -> 49 -> 686; crop the central 518 rows from (686 - 518) // 2 = 84
    plan = vggt_plan(480, 640, mode="crop")
    assert plan.resize_wh == (518, 686)
    assert (plan.crop_top, plan.crop_h) == (84, 518)
    assert plan.output_wh == (518, 518)


def test_vggt_plan_pad_mode():
    land = vggt_plan(640, 480, mode="pad")
    assert land.resize_wh == (518, 392) and land.pad == (0, 0, 63, 63) and land.output_wh == (518, 518)
    port = vggt_plan(480, 640, mode="pad")
    assert port.resize_wh == (392, 518) and port.pad == (63, 63, 0, 0) and port.output_wh == (518, 518)


def test_vggt_rounding_is_python_round_half_to_even():
    # 5 * (518 / 74) / 14 = 2.5 exactly: Python's round gives 2 (half-to-even), not 3
    assert vggt_plan(74, 5).resize_wh == (518, 28)
    with pytest.raises(ValueError, match="mode"):
        vggt_plan(10, 10, mode="resize")


def test_preprocess_vggt_matches_pil_reference_on_real_scannet_frames(scannet_frames):
    out = preprocess_vggt(scannet_frames[:2])
    assert out.shape == (2, 3, 392, 518) and out.dtype == torch.float32
    ref = np.asarray(Image.fromarray(scannet_frames[1]).resize((518, 392), Image.Resampling.BICUBIC))
    ref = torch.from_numpy(ref.astype(np.float32) / np.float32(255)).permute(2, 0, 1)
    torch.testing.assert_close(out[1], ref, rtol=0, atol=1e-7)
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_preprocess_vggt_pad_mode_pads_with_white(scannet_frames):
    out = preprocess_vggt(scannet_frames[:1], mode="pad")
    assert out.shape == (1, 3, 518, 518)
    assert torch.all(out[0, :, :63] == 1.0) and torch.all(out[0, :, 455:] == 1.0)
    content = preprocess_vggt(scannet_frames[:1], mode="crop")[0]
    assert torch.equal(out[0, :, 63:455], content)


def test_preprocess_vggt_mixed_shapes_are_centre_padded_with_one():
    land = np.zeros((480, 640, 3), np.uint8)
    port = np.zeros((640, 480, 3), np.uint8)
    out = preprocess_vggt([land, port])  # 518x392 and (cropped) 518x518
    assert out.shape == (2, 3, 518, 518)
    assert torch.all(out[0, :, :63] == 1.0) and torch.all(out[0, :, 455:] == 1.0)
    assert torch.all(out[0, :, 63:455] == 0.0)
    assert torch.all(out[1] == 0.0)
