"""VGGT adapter wiring, end to end against a fake ``vggt`` package (see conftest.py)."""

from __future__ import annotations

import hashlib
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from loc3r.backends.preprocessing import preprocess_vggt
from loc3r.backends.vggt import VggtPrior
from loc3r.utils.import_utils import MissingDependencyError


@pytest.fixture
def ckpt(fake_vggt, tmp_path):
    from vggt.models.vggt import VGGT

    model = VGGT()
    torch.nn.init.normal_(model.aggregator.patch_proj.weight, generator=torch.Generator().manual_seed(3))
    path = tmp_path / "model.safetensors"
    save_file({k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def test_camera_tokens_end_to_end_on_scannet_frames(ckpt, scannet_frames):
    backend = VggtPrior(ckpt, device="cpu")
    assert (backend.name, backend.token_dim) == ("vggt", 2048)
    tokens = backend.encode(scannet_frames[:2])
    assert tokens.shape == (2, 2048) and tokens.dtype == torch.float32
    agg = backend.model.aggregator
    (images,) = agg.received
    assert images.shape == (1, 2, 3, 392, 518)  # [B, S, 3, H, W], ScanNet 1296x968 -> 518x392
    torch.testing.assert_close(images[0], preprocess_vggt(scannet_frames[:2]), rtol=0, atol=0)
    # token 0 of each frame in the last layer (frame half + global half) computed independently
    with torch.no_grad():
        layers, start = agg(images)
    assert start == 5
    torch.testing.assert_close(tokens, layers[-1][0, :, 0], rtol=0, atol=0)
    assert not torch.allclose(tokens, layers[0][0, :, 0])  # really the last layer
    model = backend.model
    assert not model.training and not any(p.requires_grad for p in model.parameters())


def test_frames_are_processed_jointly(ckpt):
    frames = np.random.default_rng(0).integers(0, 256, size=(3, 48, 64, 3), dtype=np.uint8)
    backend = VggtPrior(ckpt, device="cpu")
    base = backend.encode(frames)
    changed = frames.copy()
    changed[2] = 255 - changed[2]
    assert not torch.allclose(backend.encode(changed)[0], base[0])  # global attention sees every frame


def test_pad_mode_feeds_518x518_padded_with_one(ckpt):
    backend = VggtPrior(ckpt, device="cpu", mode="pad")
    backend.encode(np.zeros((2, 480, 640, 3), np.uint8))
    images = backend.model.aggregator.received[-1]
    assert images.shape == (1, 2, 3, 518, 518)
    assert torch.all(images[..., :63, :] == 1.0) and torch.all(images[..., 63:455, :] == 0.0)
    assert backend.preprocessing_params["mode"] == "pad"


def test_hub_checkpoint_uses_from_pretrained_and_pins_revision(fake_vggt):
    from vggt.models.vggt import VGGT

    VGGT.pretrained_calls.clear()
    backend = VggtPrior("facebook/VGGT-1B", revision="abc123", device="cpu")
    assert backend.checkpoint_hash == "hf:facebook/VGGT-1B@abc123"
    backend.encode(np.zeros((1, 48, 64, 3), np.uint8))
    assert VGGT.pretrained_calls == [("facebook/VGGT-1B", "abc123")]
    assert VggtPrior(device="cpu").checkpoint_hash == "hf:facebook/VGGT-1B@main"


def test_local_file_identity_and_autocast_setting(ckpt):
    backend = VggtPrior(ckpt, device="cpu")
    assert backend.checkpoint_hash == "sha256:" + hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert backend.amp_dtype is None  # "auto" means full precision on CPU
    assert backend.preprocessing_params == {
        "mode": "crop",
        "target_size": 518,
        "layer": -1,
        "amp_dtype": "float32",
    }
    assert VggtPrior(ckpt, device="cpu", amp_dtype="bf16").preprocessing_params["amp_dtype"] == "bfloat16"
    with pytest.raises(ValueError, match="amp_dtype"):
        VggtPrior(ckpt, device="cpu", amp_dtype="int8")


def test_bf16_autocast_runs_and_returns_float32(ckpt):
    tokens = VggtPrior(ckpt, device="cpu", amp_dtype="bf16").encode(np.zeros((1, 48, 64, 3), np.uint8))
    assert tokens.dtype == torch.float32 and tokens.shape == (1, 2048)


def test_strict_state_dict_loading(fake_vggt, tmp_path):
    path = tmp_path / "bad.safetensors"
    save_file({"unrelated.weight": torch.zeros(2)}, str(path))
    with pytest.raises(RuntimeError, match="state_dict"):
        VggtPrior(path, device="cpu").encode(np.zeros((1, 48, 64, 3), np.uint8))


def test_missing_vggt_says_what_to_install(isolated_imports):
    isolated_imports.setitem(sys.modules, "vggt", None)  # hide any installed vggt
    with pytest.raises(
        MissingDependencyError, match=r"git clone https://github.com/facebookresearch/vggt"
    ) as e:
        VggtPrior()
    assert isinstance(e.value, ImportError) and "'vggt' prior backend" in str(e.value)
