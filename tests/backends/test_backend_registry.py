"""Registry, the ``none`` backend, shared helpers and optional-dependency checks."""

from __future__ import annotations

import argparse
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from loc3r.backends import backend_names, get_backend_class, make_backend
from loc3r.backends.base import (
    CheckpointFormatError,
    PriorBackend,
    check_tokens,
    load_state_dict_file,
    num_frames_of,
    resolve_amp_dtype,
)
from loc3r.utils.import_utils import (
    MissingDependencyError,
    cut3r_src_dir,
    is_package_available,
    require_package,
)


def test_registry_names_resolve_to_backend_classes():
    assert backend_names() == ["none", "pose", "cut3r", "vggt"]
    for name in backend_names():
        cls = get_backend_class(name)  # importing cut3r/vggt adapters needs neither package
        assert issubclass(cls, PriorBackend) and cls.name == name
    with pytest.raises(KeyError, match="known: none, pose, cut3r, vggt"):
        get_backend_class("dust3r")


def test_import_is_light():
    code = "import sys, loc3r.backends, loc3r.backends.registry; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_none_backend():
    backend = make_backend("none")
    assert backend.token_dim == 0 and not backend.needs_pixels
    out = backend.encode(np.zeros((4, 8, 8, 3), np.uint8))
    assert out.shape == (4, 0) and out.dtype == torch.float32
    assert backend.encode(poses_c2w=np.stack([np.eye(4)] * 2)).shape == (2, 0)
    with pytest.raises(ValueError, match="number of frames"):
        backend.encode()


def test_make_backend_passes_kwargs():
    assert make_backend("pose", mode="gravity").token_dim == 10
    assert make_backend("pose").describe() == {
        "name": "pose",
        "token_dim": 13,
        "checkpoint_hash": "pose-relative-v1",
        "preprocessing": {"mode": "relative"},
    }


def test_num_frames_of_and_check_tokens():
    assert num_frames_of(np.zeros((3, 2, 2, 3))) == 3
    with pytest.raises(ValueError, match="disagree"):
        num_frames_of(np.zeros((3, 2, 2, 3)), np.zeros((2, 4, 4)))
    with pytest.raises(RuntimeError, match=r"expected \(2, 4\)"):
        check_tokens(torch.zeros(2, 5), 2, 4, "x")
    with pytest.raises(RuntimeError, match="non-finite"):
        check_tokens(torch.tensor([[float("inf")]]), 1, 1, "x")
    assert check_tokens(torch.zeros(2, 4, dtype=torch.float64), 2, 4, "x").dtype == torch.float32


def test_resolve_amp_dtype():
    cpu = torch.device("cpu")
    assert resolve_amp_dtype("auto", cpu) is None
    assert resolve_amp_dtype(None, cpu) is None and resolve_amp_dtype("fp32", cpu) is None
    assert resolve_amp_dtype("bf16", cpu) == "bfloat16" and resolve_amp_dtype("fp16", cpu) == "float16"


def test_load_state_dict_file_variants(tmp_path):
    sd = {"a.weight": torch.arange(3.0), "b.bias": torch.ones(2)}
    save_file(sd, str(tmp_path / "w.safetensors"))
    torch.save({"state_dict": {f"module.{k}": v for k, v in sd.items()}}, tmp_path / "w.pth")
    for name in ("w.safetensors", "w.pth"):
        got = load_state_dict_file(tmp_path / name)
        assert sorted(got) == sorted(sd) and all(torch.equal(got[k], sd[k]) for k in sd)
    torch.save({"model": sd, "args": argparse.Namespace(lr=1.0)}, tmp_path / "pickled.pth")
    with pytest.raises(CheckpointFormatError, match="pickled.pth.*weights_only=True"):
        load_state_dict_file(tmp_path / "pickled.pth")
    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(CheckpointFormatError, match="not a state dict"):
        load_state_dict_file(tmp_path / "list.pth")
    with pytest.raises(FileNotFoundError):
        load_state_dict_file(tmp_path / "missing.pth")


def test_require_package_message():
    require_package("numpy")
    assert is_package_available("numpy") and not is_package_available("loc3r_no_such_package_xyz")
    with pytest.raises(MissingDependencyError, match="pip install loc3r_no_such_package_xyz") as e:
        require_package("loc3r_no_such_package_xyz", feature="a test")
    assert "needed by a test" in str(e.value) and isinstance(e.value, ImportError)


def test_cut3r_src_dir_layouts(tmp_path):
    (tmp_path / "CUT3R" / "src" / "dust3r").mkdir(parents=True)
    assert cut3r_src_dir(tmp_path / "CUT3R") == (tmp_path / "CUT3R" / "src").resolve()
    assert cut3r_src_dir(tmp_path / "CUT3R" / "src") == (tmp_path / "CUT3R" / "src").resolve()
    with pytest.raises(MissingDependencyError, match="does not contain CUT3R"):
        cut3r_src_dir(tmp_path)
