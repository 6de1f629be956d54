"""CUT3R adapter wiring, end to end against a fake ``dust3r`` package (see conftest.py)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from loc3r.backends.base import CheckpointFormatError
from loc3r.backends.cut3r import CUT3R_MODEL_CONFIGS, Cut3rPrior
from loc3r.utils.import_utils import MissingDependencyError


def _fake_state_dict(root):
    """State dict of the fake model built the way the adapter builds it (for checkpoint files)."""
    sys.path.insert(0, str(root / "src"))
    import dust3r.model as m

    model = m.ARCroco3DStereo(m.ARCroco3DStereoConfig(**CUT3R_MODEL_CONFIGS["512_dpt"]))
    torch.nn.init.normal_(model.patch_proj.weight, generator=torch.Generator().manual_seed(1))
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


@pytest.fixture
def ckpt(fake_cut3r_root, tmp_path):
    path = tmp_path / "cut3r_512_dpt_4_64.safetensors"
    save_file(_fake_state_dict(fake_cut3r_root), str(path))
    return path


def _video(n=3, h=968, w=1296, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, h, w, 3), dtype=np.uint8)


def test_camera_tokens_end_to_end_on_scannet_frames(fake_cut3r_root, ckpt, scannet_frames):
    backend = Cut3rPrior(ckpt, cut3r_root=fake_cut3r_root, device="cpu")
    assert (backend.name, backend.token_dim) == ("cut3r", 768)
    tokens = backend.encode(scannet_frames)
    assert tokens.shape == (3, 768) and tokens.dtype == torch.float32
    model = backend.model
    # the tokens are the decoder-norm outputs at position 0, one per view, in order
    torch.testing.assert_close(tokens, torch.cat(model.ref_tokens), rtol=0, atol=0)
    # frozen
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    # the weights came from the checkpoint
    assert torch.equal(model.patch_proj.weight, _fake_state_dict(fake_cut3r_root)["patch_proj.weight"])


def test_view_dicts_follow_cut3r_prepare_input(fake_cut3r_root, ckpt):
    backend = Cut3rPrior(ckpt, cut3r_root=fake_cut3r_root, device="cpu")
    backend.encode(_video(2, 480, 640))
    views = backend.model.received_views
    assert len(views) == 2
    for i, v in enumerate(views):
        assert v["img"].shape == (1, 3, 384, 512) and v["img"].dtype == torch.float32
        assert -1.0 <= v["img"].min() and v["img"].max() <= 1.0
        assert v["true_shape"].tolist() == [[384, 512]] and v["true_shape"].dtype == torch.int32
        assert v["ray_map"].shape == (1, 6, 384, 512) and torch.isnan(v["ray_map"]).all()
        assert torch.equal(v["camera_pose"], torch.eye(4).unsqueeze(0))
        assert v["img_mask"].tolist() == [True] and v["ray_mask"].tolist() == [False]
        assert v["update"].tolist() == [True] and v["reset"].tolist() == [False]
        assert v["idx"] == i and v["instance"] == str(i)
        for name in ("img_mask", "ray_mask", "update", "reset"):
            assert v[name].dtype == torch.bool


def test_scannet_resolution_gives_512x368_inputs(fake_cut3r_root, ckpt):
    backend = Cut3rPrior(ckpt, cut3r_root=fake_cut3r_root, device="cpu")
    backend.encode(_video(1))
    assert backend.model.received_views[0]["img"].shape == (1, 3, 368, 512)


def test_tokens_are_online_recurrent(fake_cut3r_root, ckpt):
    backend = Cut3rPrior(ckpt, cut3r_root=fake_cut3r_root, device="cpu")
    frames = _video(3, 96, 128)
    base = backend.encode(frames)
    changed_first = frames.copy()
    changed_first[0] = 255 - changed_first[0]
    changed_last = frames.copy()
    changed_last[2] = 255 - changed_last[2]
    a, b = backend.encode(changed_first), backend.encode(changed_last)
    assert not torch.allclose(a[2], base[2])  # later tokens see earlier frames (recurrent state)
    torch.testing.assert_close(b[:2], base[:2], rtol=0, atol=0)  # earlier tokens never see later frames


def test_forward_recurrent_call_gives_the_same_tokens(fake_cut3r_root, ckpt):
    frames = _video(3, 96, 128)
    a = Cut3rPrior(ckpt, cut3r_root=fake_cut3r_root, device="cpu").encode(frames)
    rec = Cut3rPrior(ckpt, cut3r_root=fake_cut3r_root, device="cpu", call="forward_recurrent")
    b = rec.encode(frames)
    assert rec.model.calls == ["forward_recurrent"]
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_pth_checkpoint_loaded_with_weights_only(fake_cut3r_root, tmp_path):
    path = tmp_path / "ckpt.pth"
    sd = _fake_state_dict(fake_cut3r_root)
    torch.save({"model": {f"module.{k}": v for k, v in sd.items()}}, path)  # DDP-style wrapper
    backend = Cut3rPrior(path, cut3r_root=fake_cut3r_root, device="cpu")
    assert torch.equal(backend.model.patch_proj.weight, sd["patch_proj.weight"])


def test_pickled_training_args_give_conversion_recipe(fake_cut3r_root, tmp_path):
    import argparse

    path = tmp_path / "cut3r_512_dpt_4_64.pth"
    torch.save({"model": _fake_state_dict(fake_cut3r_root), "args": argparse.Namespace(model="...")}, path)
    backend = Cut3rPrior(path, cut3r_root=fake_cut3r_root, device="cpu")
    with pytest.raises(CheckpointFormatError, match=r"weights_only=True[\s\S]*save_file"):
        backend.encode(_video(1, 48, 64))


def test_missing_weights_fail_strictly(fake_cut3r_root, tmp_path):
    sd = _fake_state_dict(fake_cut3r_root)
    del sd["dec_norm.weight"]
    path = tmp_path / "partial.safetensors"
    save_file(sd, str(path))
    with pytest.raises(RuntimeError, match="dec_norm.weight"):
        Cut3rPrior(path, cut3r_root=fake_cut3r_root, device="cpu").encode(_video(1, 48, 64))


def test_hook_target_must_fire_once_per_frame(fake_cut3r_root, ckpt):
    # the encoder's norm runs once for all views (batched), so it cannot be the camera-token hook
    backend = Cut3rPrior(ckpt, cut3r_root=fake_cut3r_root, device="cpu", hook_target="enc_norm")
    with pytest.raises(RuntimeError, match="fired 1 times for 3 frames"):
        backend.encode(_video(3, 48, 64))
    with pytest.raises(AttributeError, match="no submodule 'dec_blocks'"):
        Cut3rPrior(ckpt, cut3r_root=fake_cut3r_root, device="cpu", hook_target="dec_blocks").encode(
            _video(1, 48, 64)
        )


def test_token_dim_is_checked(fake_cut3r_root, ckpt):
    backend = Cut3rPrior(ckpt, cut3r_root=fake_cut3r_root, device="cpu", token_dim=1024)
    with pytest.raises(RuntimeError, match="768-d, expected token_dim=1024"):
        backend.encode(_video(1, 48, 64))


def test_identity_for_the_cache(fake_cut3r_root, ckpt):
    import hashlib

    backend = Cut3rPrior(ckpt, cut3r_root=fake_cut3r_root, device="cpu")
    assert backend.checkpoint_hash == "sha256:" + hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert backend.preprocessing_params["size"] == 512
    assert backend.preprocessing_params["amp_dtype"] == "float32"
    assert (
        Cut3rPrior(ckpt, cut3r_root=fake_cut3r_root, device="cpu", size=224).preprocessing_params["size"]
        == 224
    )
    assert Cut3rPrior(ckpt, cut3r_root=fake_cut3r_root, checkpoint_hash="given").checkpoint_hash == "given"


def test_missing_cut3r_says_what_to_install(tmp_path, ckpt, isolated_imports):
    with pytest.raises(MissingDependencyError, match=r"git clone https://github.com/CUT3R/CUT3R") as e:
        Cut3rPrior(ckpt, cut3r_root=tmp_path / "no_such_clone")
    assert isinstance(e.value, ImportError) and "cut3r_root" in str(e.value)
    isolated_imports.setitem(sys.modules, "dust3r", None)  # hide any installed dust3r
    with pytest.raises(MissingDependencyError, match="no cut3r_root was given"):
        Cut3rPrior(ckpt)


def test_naver_dust3r_is_recognised(tmp_path, isolated_imports):
    ckpt = tmp_path / "any.safetensors"
    save_file({"w": torch.zeros(1)}, str(ckpt))
    root = tmp_path / "dust3r_clone"
    (root / "dust3r").mkdir(parents=True)
    (root / "dust3r" / "__init__.py").write_text("")
    (root / "dust3r" / "model.py").write_text("class AsymmetricCroCo3DStereo: pass\n")
    with pytest.raises(MissingDependencyError, match="naver/dust3r"):
        Cut3rPrior(ckpt, cut3r_root=root)  # a folder holding dust3r/ directly is accepted as the src dir


def test_missing_checkpoint_and_bad_options(fake_cut3r_root, tmp_path, ckpt):
    with pytest.raises(FileNotFoundError, match="no_ckpt"):
        Cut3rPrior(tmp_path / "no_ckpt.pth", cut3r_root=fake_cut3r_root)
    with pytest.raises(ValueError, match="model_config"):
        Cut3rPrior(ckpt, cut3r_root=fake_cut3r_root, model_config="1024_huge")
    with pytest.raises(ValueError, match="call"):
        Cut3rPrior(ckpt, cut3r_root=fake_cut3r_root, call="inference")


def test_dust3r_imported_from_elsewhere_is_refused(fake_cut3r_root, ckpt, tmp_path):
    other = tmp_path / "other_clone"
    (other / "src" / "dust3r").mkdir(parents=True)
    (other / "src" / "dust3r" / "__init__.py").write_text("")
    Cut3rPrior(ckpt, cut3r_root=fake_cut3r_root)  # imports the fake clone's dust3r
    with pytest.raises(MissingDependencyError, match="already imported from"):
        Cut3rPrior(ckpt, cut3r_root=other)
