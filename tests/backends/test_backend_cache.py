"""Token cache: hits and misses, key sensitivity, corrupt files, atomic writes, lazy input loading."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest
import torch

from loc3r.backends.cache import CacheKey, TokenCache, encode_cached, sha256_file
from loc3r.backends.pose import PosePrior


def _key(**over):
    kw = dict(
        scene_id="scene0000_00",
        frame_indices=[0, 10, 20],
        backend="cut3r",
        checkpoint_hash="sha256:abc",
        preprocessing={"size": 512},
    )
    kw.update(over)
    return CacheKey.create(**kw)


class Counter:
    """compute() stand-in that counts its calls."""

    def __init__(self, tokens):
        self.tokens, self.calls = tokens, 0

    def __call__(self):
        self.calls += 1
        return self.tokens


def test_digest_is_sha256_of_documented_canonical_json():
    payload = {
        "backend": "cut3r",
        "checkpoint_hash": "sha256:abc",
        "format": 1,
        "frame_indices": [0, 10, 20],
        "preprocessing": {"size": 512},
        "scene_id": "scene0000_00",
    }
    expected = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert _key().digest == expected


def test_miss_then_hit(tmp_path):
    cache = TokenCache(tmp_path)
    tokens = torch.arange(6, dtype=torch.float32).reshape(3, 2)
    compute = Counter(tokens)
    a = cache.get_or_compute(_key(), compute)
    b = cache.get_or_compute(_key(), compute)
    assert compute.calls == 1
    assert torch.equal(a, tokens) and torch.equal(b, tokens) and b.dtype == torch.float32
    assert cache.stats.as_dict() == {"hits": 1, "misses": 1, "recomputed_corrupt": 0}
    path = cache.path_for(_key())
    assert path == tmp_path / "cut3r" / "scene0000_00" / f"{_key().digest}.safetensors"
    assert path.is_file()
    # a fresh cache object (another process) hits too
    assert torch.equal(TokenCache(tmp_path).get_or_compute(_key(), Counter(None)), tokens)


@pytest.mark.parametrize(
    "change",
    [
        {"frame_indices": [0, 10, 21]},
        {"frame_indices": [10, 0, 20]},  # order matters: rows follow the list
        {"checkpoint_hash": "sha256:abd"},
        {"preprocessing": {"size": 224}},
        {"scene_id": "scene0000_01"},
        {"backend": "vggt"},
    ],
)
def test_any_key_change_is_a_miss(tmp_path, change):
    cache = TokenCache(tmp_path)
    cache.get_or_compute(_key(), Counter(torch.zeros(3, 2)))
    other = Counter(torch.ones(3, 2))
    out = cache.get_or_compute(_key(**change), other)
    assert other.calls == 1 and torch.equal(out, torch.ones(3, 2))
    assert cache.path_for(_key(**change)) != cache.path_for(_key())


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_file_is_recomputed_with_warning(tmp_path, damage):
    cache = TokenCache(tmp_path)
    cache.get_or_compute(_key(), Counter(torch.zeros(3, 2)))
    path = cache.path_for(_key())
    data = path.read_bytes()
    path.write_bytes(
        {"truncate": data[: len(data) // 2], "garbage": b"\x00not safetensors" * 8, "empty": b""}[damage]
    )
    compute = Counter(torch.full((3, 2), 7.0))
    with pytest.warns(UserWarning, match="recomputing"):
        out = cache.get_or_compute(_key(), compute)
    assert compute.calls == 1 and torch.equal(out, torch.full((3, 2), 7.0))
    assert cache.stats.recomputed_corrupt == 1
    # the file was rewritten and is good again
    assert torch.equal(TokenCache(tmp_path).load(_key()), torch.full((3, 2), 7.0))


def test_file_holding_another_keys_tokens_is_not_trusted(tmp_path):
    cache = TokenCache(tmp_path)
    cache.get_or_compute(_key(), Counter(torch.zeros(3, 2)))
    other = _key(checkpoint_hash="sha256:zzz")
    cache.path_for(other).write_bytes(cache.path_for(_key()).read_bytes())  # e.g. a wrongly copied file
    with pytest.warns(UserWarning, match="another key"):
        assert cache.load(other) is None


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path, monkeypatch):
    cache = TokenCache(tmp_path)
    cache.save(_key(), torch.zeros(3, 2))
    path = cache.path_for(_key())
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        cache.save(_key(), torch.ones(3, 2))
    assert path.read_bytes() == before  # the old file is untouched
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp files left behind


def test_save_validates_shape_and_values(tmp_path):
    cache = TokenCache(tmp_path)
    with pytest.raises(ValueError, match=r"\[3, D\]"):
        cache.save(_key(), torch.zeros(2, 5))
    with pytest.raises(ValueError, match="non-finite"):
        cache.save(_key(), torch.tensor([[1.0], [float("nan")], [0.0]]))
    assert not cache.path_for(_key()).exists()


def test_zero_dim_tokens_round_trip(tmp_path):
    cache = TokenCache(tmp_path)
    out = cache.get_or_compute(_key(backend="none"), Counter(torch.zeros(3, 0)))
    assert out.shape == (3, 0)
    assert cache.load(_key(backend="none")).shape == (3, 0)


@pytest.mark.parametrize(
    "bad",
    [
        {"scene_id": "../etc"},
        {"scene_id": "a/b"},
        {"scene_id": ""},
        {"backend": ".."},
        {"frame_indices": []},
        {"frame_indices": [0, -1]},
        {"frame_indices": [0.5]},
        {"checkpoint_hash": ""},
        {"preprocessing": {"x": float("nan")}},
    ],
)
def test_invalid_keys_are_rejected(bad):
    with pytest.raises(ValueError):
        _key(**bad)


def test_numpy_integer_frame_indices_are_accepted():
    assert _key(frame_indices=np.array([0, 10, 20])) == _key()


def test_encode_cached_loads_inputs_only_on_a_miss(tmp_path, scannet_info):
    cache, backend = TokenCache(tmp_path), PosePrior()
    loads = []

    def load_inputs():
        loads.append(1)
        return {
            "poses_c2w": scannet_info["poses_c2w"],
            "intrinsics": scannet_info["intrinsics"],
            "image_size_wh": (1296, 968),
        }

    a = encode_cached(cache, backend, "scene0000_00", [0, 11, 102], load_inputs)
    b = encode_cached(cache, backend, "scene0000_00", [0, 11, 102], load_inputs)
    assert len(loads) == 1 and torch.equal(a, b) and a.shape == (3, 13)
    assert (tmp_path / "pose" / "scene0000_00").is_dir()
    # the pose backend's key carries its mode: the gravity variant is another file
    encode_cached(cache, PosePrior(mode="gravity"), "scene0000_00", [0, 11, 102], load_inputs)
    assert len(loads) == 2


def test_sha256_file(tmp_path):
    p = tmp_path / "w.bin"
    p.write_bytes(b"loc3r" * 1000)
    assert sha256_file(p) == hashlib.sha256(b"loc3r" * 1000).hexdigest()
    q = tmp_path / "v.bin"  # another file (results are memoised per file), read in odd-sized chunks
    q.write_bytes(bytes(range(256)) * 3)
    assert sha256_file(q, chunk_bytes=7) == hashlib.sha256(bytes(range(256)) * 3).hexdigest()
