"""Loc3RConfig validation / serialisation and the video token layout."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("transformers")

from loc3r.modeling.configuration_loc3r import (  # noqa: E402
    SLOT_CAMERA,
    SLOT_NEWLINE,
    SLOT_VISION,
    Loc3RConfig,
    video_token_layout,
)


def _llava_video_like(**vision):
    v = dict(
        model_type="siglip_vision_model",
        image_size=384,
        patch_size=14,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
    )
    v.update(vision)
    return dict(
        model_type="llava_onevision",
        vision_config=v,
        text_config=dict(
            model_type="qwen2",
            hidden_size=32,
            num_hidden_layers=3,
            num_attention_heads=2,
            num_key_value_heads=1,
            intermediate_size=64,
            vocab_size=100,
        ),
    )


def test_llava_video_grid_and_token_counts():
    cfg = Loc3RConfig(base_config=_llava_video_like(), cam_token_id=99)
    assert cfg.token_grid() == (14, 14)  # 384/14 = 27 patches -> 14 after 2x2 bilinear pooling
    # 32 frames x (1 camera + 196 patches + 14 row newlines) = 6752 (method.md §2.3).
    assert len(cfg.video_token_layout(32)) == 32 * (1 + 196 + 14)
    cfg2 = Loc3RConfig(base_config=_llava_video_like(), prior_token_dim=0, newline_layout="one_token")
    assert len(cfg2.video_token_layout(32)) == 32 * 196 + 1  # transformers' LLaVA-OneVision video layout


def test_layout_grid_frame_start_order():
    lay = video_token_layout(2, 2, 3, newline_layout="grid", camera_token_position="frame_start")
    C, V, N = SLOT_CAMERA, SLOT_VISION, SLOT_NEWLINE
    frame_kinds = [C, V, V, V, N, V, V, V, N]
    assert lay.kinds.tolist() == frame_kinds * 2
    assert lay.frame.tolist() == [0] * 9 + [1] * 9
    vis = lay.kinds == SLOT_VISION
    assert list(zip(lay.row[vis][:6], lay.col[vis][:6], strict=True)) == [
        (0, 0),
        (0, 1),
        (0, 2),
        (1, 0),
        (1, 1),
        (1, 2),
    ]
    # every camera slot is immediately followed by the frame's (0, 0) vision token
    vs = lay.vision_slots()
    np.testing.assert_array_equal(lay.camera_slots() + 1, vs[:, 0, 0])


def test_layout_variants():
    C, V, N = SLOT_CAMERA, SLOT_VISION, SLOT_NEWLINE
    own = video_token_layout(1, 1, 2, newline_layout="grid", camera_token_position="own_row")
    assert own.kinds.tolist() == [C, N, V, V, N]
    frame = video_token_layout(2, 1, 2, newline_layout="frame")
    assert frame.kinds.tolist() == [C, V, V, N] * 2
    one = video_token_layout(2, 1, 1, newline_layout="one_token")
    assert one.kinds.tolist() == [C, V, C, V, N] and one.frame.tolist()[-1] == -1
    none = video_token_layout(2, 1, 1, newline_layout="none", use_camera=False)
    assert none.kinds.tolist() == [V, V]
    assert none.camera_slots().size == 0
    ids = frame.token_ids(video_token_id=5, cam_token_id=6)
    assert ids.tolist() == [6, 5, 5, 5] * 2
    with pytest.raises(ValueError, match="<cam>"):
        frame.token_ids(5, None)


@pytest.mark.parametrize(
    "field,value",
    [
        ("newline_layout", "rows"),
        ("camera_token_position", "end"),
        ("bev_tokens", "all"),
        ("sigma_parametrization", "exp"),
        ("num_ori_bins", 1),
        ("sigma_ori_deg", 0.0),
        ("bev_head_layer", 4),
        ("bev_head_layer", -5),
        ("lambda_bev", -1.0),
        ("bev_loss_reduction", "sum"),
        ("lambda_local", -0.5),
    ],
)
def test_invalid_fields_raise(field, value):
    with pytest.raises(ValueError, match=field):
        Loc3RConfig(base_config=_llava_video_like(), **{field: value})


def test_local_layout_loss_needs_its_head():
    with pytest.raises(ValueError, match="use_local_head"):
        Loc3RConfig(base_config=_llava_video_like(), lambda_local=0.5)
    assert Loc3RConfig(base_config=_llava_video_like(), use_local_head=True, lambda_local=0.5).lambda_local == 0.5


def test_camera_bev_tokens_need_prior():
    with pytest.raises(ValueError, match="camera prior"):
        Loc3RConfig(base_config=_llava_video_like(), prior_token_dim=0, bev_tokens="patches+camera")


def test_bev_head_layer_index():
    n = 3  # layers
    assert Loc3RConfig(base_config=_llava_video_like()).bev_head_hidden_index is None  # -1 = final
    assert Loc3RConfig(base_config=_llava_video_like(), bev_head_layer=1).bev_head_hidden_index == 1
    assert Loc3RConfig(base_config=_llava_video_like(), bev_head_layer=n).bev_head_hidden_index is None
    assert Loc3RConfig(base_config=_llava_video_like(), bev_head_layer=-2).bev_head_hidden_index == n - 1


def test_defaults_follow_method_md():
    cfg = Loc3RConfig(base_config=_llava_video_like())
    assert (cfg.lambda_bev, cfg.lambda_sit, cfg.lambda_ori) == (0.05, 0.075, 3.5)
    assert cfg.num_ori_bins == 36 and cfg.sigma_ori_deg == 20.0 and cfg.prior_token_dim == 768
    assert cfg.newline_layout == "grid" and cfg.camera_token_position == "frame_start"


def test_config_json_round_trip(tmp_path):
    cfg = Loc3RConfig(
        base_config=_llava_video_like(),
        pos_token_id=7,
        ori_token_id=8,
        cam_token_id=9,
        newline_layout="frame",
        bev_head_layer=1,
        lambda_bev=None,
        sigma_ori_deg=15.0,
    )
    cfg.save_pretrained(tmp_path)
    back = Loc3RConfig.from_pretrained(tmp_path)
    for f in (
        "pos_token_id",
        "ori_token_id",
        "cam_token_id",
        "newline_layout",
        "bev_head_layer",
        "lambda_bev",
        "sigma_ori_deg",
        "prior_token_dim",
    ):
        assert getattr(back, f) == getattr(cfg, f), f
    assert back.base_config.model_type == "llava_onevision"
    assert back.base_config.text_config.num_hidden_layers == 3
    assert back.get_text_config().hidden_size == 32
