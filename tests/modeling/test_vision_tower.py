"""A pretrained SigLIP encoder in the tiny preset: weights carried over, position grid resized, bad checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from loc3r.modeling.builders import load_loc3r, loc3r_tiny  # noqa: E402
from loc3r.modeling.vision_tower import load_siglip_vision_tower, resize_position_embeddings  # noqa: E402


def _siglip_vision(tmp_path, *, image_size=64, patch_size=16, full=False, mean=0.25, std=0.75):
    """Save a small random SigLIP (vision only, or the full text + vision model) with a preprocessor config."""
    from transformers import SiglipConfig, SiglipModel, SiglipVisionConfig, SiglipVisionModel

    vcfg = SiglipVisionConfig(
        image_size=image_size,
        patch_size=patch_size,
        hidden_size=48,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
    )
    torch.manual_seed(1)
    if full:
        cfg = SiglipConfig(
            text_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                         "num_attention_heads": 2, "vocab_size": 50, "bos_token_id": 0,
                         "eos_token_id": 1, "pad_token_id": 1},
            vision_config=vcfg.to_dict(),
        )
        model = SiglipModel(cfg)
        vision = model.vision_model
    else:
        model = vision = SiglipVisionModel(vcfg)
    model.save_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text(
        json.dumps({"size": {"height": image_size, "width": image_size}, "image_mean": [mean] * 3,
                    "image_std": [std] * 3, "resample": 3, "rescale_factor": 1 / 255})
    )
    return {k: v.detach().clone() for k, v in vision.state_dict().items()}


def test_resize_keeps_row_major_order_and_is_identity_at_the_same_grid():
    g = 4
    rows, cols = torch.meshgrid(torch.arange(g, dtype=torch.float32), torch.arange(g, dtype=torch.float32),
                                indexing="ij")
    w = torch.stack([rows.reshape(-1), cols.reshape(-1), torch.full((g * g,), 3.0)], dim=1)  # [16, 3]
    assert torch.equal(resize_position_embeddings(w, 4), w)
    out = resize_position_embeddings(w, 6).reshape(6, 6, 3)
    # channel 0 varies down the rows only, channel 1 along the columns only; a constant stays constant
    torch.testing.assert_close(out[:, :, 0], out[:, :1, 0].expand(6, 6))
    torch.testing.assert_close(out[:, :, 1], out[:1, :, 1].expand(6, 6))
    assert (out[1:, 0, 0] > out[:-1, 0, 0]).all() and (out[0, 1:, 1] > out[0, :-1, 1]).all()
    torch.testing.assert_close(out[:, :, 2], torch.full((6, 6), 3.0))
    # a ramp's mid-point is kept: the grid's centre maps to the centre
    torch.testing.assert_close(out[:, :, 0].mean(), torch.tensor(1.5))
    with pytest.raises(ValueError, match="square"):
        resize_position_embeddings(torch.zeros(15, 3), 4)


@pytest.mark.parametrize("full", [False, True])
def test_tiny_takes_the_checkpoint_encoder_at_its_own_resolution(tmp_path, full):
    ref = _siglip_vision(tmp_path, image_size=64, patch_size=16, full=full)
    model, proc = loc3r_tiny(image_size=64, patch_size=16, vision_tower=str(tmp_path), prior_token_dim=None)
    vcfg = model.config.base_config.vision_config
    assert (vcfg.hidden_size, vcfg.num_hidden_layers, vcfg.image_size, vcfg.vision_use_head) == (48, 2, 64, False)
    assert proc.frame_transform.image_mean == (0.25,) * 3 and proc.frame_transform.image_std == (0.75,) * 3
    assert proc.token_grid == (2, 2)
    tower = model.vlm.base.model.vision_tower
    got = tower.state_dict()
    assert not any(k.startswith("head.") for k in got)
    for key, value in got.items():
        torch.testing.assert_close(value, ref[key], msg=key)
    # the encoder computes what the stand-alone checkpoint computes
    from transformers import SiglipVisionModel

    alone = SiglipVisionModel.from_pretrained(tmp_path).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(tower(x).last_hidden_state, alone(x).last_hidden_state)


def test_tiny_resizes_the_position_grid_and_trains_and_round_trips(tmp_path):
    ref = _siglip_vision(tmp_path / "siglip", image_size=64, patch_size=16)  # 4x4 grid
    model, proc = loc3r_tiny(image_size=128, patch_size=16, vision_tower=str(tmp_path / "siglip"),
                             prior_token_dim=8)
    got = model.vlm.base.model.vision_tower.state_dict()
    pos = got["embeddings.position_embedding.weight"]
    assert pos.shape == (64, 48)
    torch.testing.assert_close(pos, resize_position_embeddings(ref["embeddings.position_embedding.weight"], 8))
    torch.testing.assert_close(got["encoder.layers.1.mlp.fc2.weight"], ref["encoder.layers.1.mlp.fc2.weight"])
    assert proc.frame_size == 128 and proc.token_grid == (4, 4)
    rng = np.random.default_rng(0)
    video = rng.integers(0, 256, (2, 96, 128, 3), dtype=np.uint8)
    batch = proc([video], ["I am at the door"], ["what is on my left?"], answers=["a chair"],
                 camera_tokens=torch.zeros(1, 2, 8))
    model.train()
    out = model(**batch, pos_target=torch.zeros(1, 2), ori_target=torch.zeros(1))
    out.loss.backward()
    assert torch.isfinite(out.loss)
    assert model.vlm.base.model.vision_tower.embeddings.patch_embedding.weight.grad is not None
    model.eval()
    model.save_pretrained(tmp_path / "loc3r")
    proc.save_pretrained(tmp_path / "loc3r")
    back, bproc = load_loc3r(tmp_path / "loc3r")
    assert bproc.frame_transform == proc.frame_transform
    with torch.no_grad():
        a = model(**batch)
        b = back(**bproc([video], ["I am at the door"], ["what is on my left?"], answers=["a chair"],
                         camera_tokens=torch.zeros(1, 2, 8)))
    assert torch.equal(a.logits, b.logits)


def test_bad_vision_towers_are_named(tmp_path):
    _siglip_vision(tmp_path / "p14", image_size=56, patch_size=14)
    with pytest.raises(ValueError, match=r"p14.*14-pixel patches.*model.tiny.patch_size=14"):
        loc3r_tiny(image_size=128, patch_size=16, vision_tower=str(tmp_path / "p14"))
    with pytest.raises(ValueError, match="not a multiple"):
        load_siglip_vision_tower(str(tmp_path / "p14"), image_size=120, patch_size=14)
    from transformers import CLIPVisionConfig, CLIPVisionModel

    CLIPVisionModel(CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                     num_attention_heads=2, image_size=32, patch_size=16)).save_pretrained(
        tmp_path / "clip"
    )
    with pytest.raises(ValueError, match=r"clip.*'clip_vision_model' checkpoint.*SigLIP"):
        loc3r_tiny(image_size=128, patch_size=16, vision_tower=str(tmp_path / "clip"))
    with pytest.raises(ValueError, match=r"missing.*cannot read its config.json"):
        loc3r_tiny(image_size=128, patch_size=16, vision_tower=str(tmp_path / "missing"))


def test_a_checkpoint_with_missing_weights_is_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    _siglip_vision(tmp_path, image_size=64, patch_size=16)
    f = tmp_path / "model.safetensors"
    weights = load_file(f)
    kept = {k: v for k, v in weights.items() if "layers.1." not in k}
    assert len(kept) < len(weights)
    save_file(kept, f, metadata={"format": "pt"})
    with pytest.raises(ValueError, match=r"lacks \d+ weights.*layers\.1\."):
        loc3r_tiny(image_size=64, patch_size=16, vision_tower=str(tmp_path))
