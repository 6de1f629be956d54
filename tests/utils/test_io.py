"""Safe I/O: atomic writes, data-root confinement, restricted unpickling."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from loc3r.utils.io import DataError, atomic_write, atomic_write_text, restricted_pickle_load, safe_join


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    p = tmp_path / "out.txt"
    atomic_write_text(p, "old")
    with pytest.raises(RuntimeError):
        with atomic_write(p, "w") as f:
            f.write("half-writ")
            raise RuntimeError("killed")
    assert p.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]  # no temp file left behind


def test_safe_join_refuses_escapes(tmp_path):
    root = tmp_path / "data"
    (root / "scans").mkdir(parents=True)
    assert safe_join(root, "scans", "scene0000_00") == (root / "scans" / "scene0000_00").resolve()
    with pytest.raises(DataError, match="escapes the data root"):
        safe_join(root, "..", "etc")
    with pytest.raises(DataError, match="escapes the data root"):
        safe_join(root, "/etc/passwd")
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(DataError, match="escapes the data root"):
        safe_join(root, "link", "x")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_restricted_unpickler(tmp_path):
    good = tmp_path / "good.pkl"
    good.write_bytes(pickle.dumps([{"a": np.arange(3.0)}]))
    np.testing.assert_array_equal(restricted_pickle_load(good)[0]["a"], [0.0, 1.0, 2.0])
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(DataError, match="bad.pkl.*refusing to load global"):
        restricted_pickle_load(bad)
