"""Tests of the PLY reader/writer (binary round trip, hand-written ascii and big-endian files)."""

from __future__ import annotations

import numpy as np
import pytest

from loc3r.data.scannet.ply import read_ply, write_ply
from loc3r.utils.io import DataError

SCANNET_HEADER = (
    "ply\nformat binary_little_endian 1.0\ncomment VCGLIB generated\nelement vertex 4\n"
    "property float x\nproperty float y\nproperty float z\n"
    "property uchar red\nproperty uchar green\nproperty uchar blue\nproperty uchar alpha\n"
    "element face 2\nproperty list uchar int vertex_indices\nend_header\n"
)


def _mesh():
    v = np.array([[0, 0, 0], [1.5, 0, 0], [0, 2.25, 0], [0.1, 0.2, 3.3]], dtype=np.float32)
    c = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]], dtype=np.uint8)
    f = np.array([[0, 1, 2], [0, 2, 3]], dtype=np.int32)
    return v, c, f


def test_binary_round_trip_and_exact_layout(tmp_path):
    v, c, f = _mesh()
    p = tmp_path / "m.ply"
    write_ply(p, v, c, f)
    data = p.read_bytes()
    head = SCANNET_HEADER.encode()
    assert data.startswith(head)
    body = data[len(head):]
    assert len(body) == 4 * (12 + 4) + 2 * (1 + 12)
    # first vertex record and first face record, decoded by hand
    assert np.frombuffer(body[16:28], "<f4").tolist() == [1.5, 0.0, 0.0]
    assert list(body[28:32]) == [0, 255, 0, 255]
    assert body[64] == 3 and np.frombuffer(body[65:77], "<i4").tolist() == [0, 1, 2]
    m = read_ply(p)
    np.testing.assert_array_equal(m.vertices, v)
    np.testing.assert_array_equal(m.colors, c)
    np.testing.assert_array_equal(m.faces, f)
    assert m.vertices.dtype == np.float32 and m.colors.dtype == np.uint8 and m.faces.dtype == np.int32
    np.testing.assert_array_equal(m.vertex_properties["alpha"], [255] * 4)


def test_ascii_round_trip(tmp_path):
    v, c, f = _mesh()
    p = tmp_path / "a.ply"
    write_ply(p, v, c, f, binary=False)
    m = read_ply(p)
    np.testing.assert_array_equal(m.vertices, v)
    np.testing.assert_array_equal(m.colors, c)
    np.testing.assert_array_equal(m.faces, f)


def test_hand_written_ascii_with_quad_and_extra_property(tmp_path):
    text = (
        "ply\nformat ascii 1.0\ncomment hand made\nelement vertex 4\nproperty double x\nproperty double y\n"
        "property double z\nproperty ushort label\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\n"
        "element face 1\nproperty list uint8 int32 vertex_indices\nend_header\n"
        "0 0 0 5 1 2 3\n1 0 0 5 4 5 6\n1 1 0 7 7 8 9\n0 1 0.5 7 10 11 12\n4 0 1 2 3\n"
    )
    p = tmp_path / "q.ply"
    p.write_text(text)
    m = read_ply(p)
    np.testing.assert_array_equal(m.vertices, [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0.5]])
    np.testing.assert_array_equal(m.colors[3], [10, 11, 12])
    np.testing.assert_array_equal(m.vertex_properties["label"], [5, 5, 7, 7])
    np.testing.assert_array_equal(m.faces, [[0, 1, 2], [0, 2, 3]])  # quad fan-triangulated


def test_big_endian_mixed_polygons_and_other_elements(tmp_path):
    head = (
        "ply\nformat binary_big_endian 1.0\nelement vertex 4\nproperty float x\nproperty float y\n"
        "property float z\nelement face 2\nproperty list uchar int vertex_indices\n"
        "element edge 1\nproperty int vertex1\nproperty int vertex2\nend_header\n"
    ).encode()
    verts = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=">f4").tobytes()
    tri, quad = np.array([0, 1, 2], ">i4").tobytes(), np.array([0, 1, 2, 3], ">i4").tobytes()
    faces = bytes([3]) + tri + bytes([4]) + quad
    edges = np.array([0, 1], ">i4").tobytes()
    p = tmp_path / "be.ply"
    p.write_bytes(head + verts + faces + edges)
    m = read_ply(p)
    assert m.colors is None
    np.testing.assert_array_equal(m.vertices[2], [1, 1, 0])
    np.testing.assert_array_equal(m.faces, [[0, 1, 2], [0, 1, 2], [0, 2, 3]])


def test_malformed_files(tmp_path):
    v, c, f = _mesh()
    p = tmp_path / "t.ply"
    write_ply(p, v, c, f)
    data = p.read_bytes()
    p.write_bytes(data[:-5])
    with pytest.raises(DataError, match=r"t\.ply: file is truncated inside element 'face'"):
        read_ply(p)
    p.write_bytes(b"not a ply\n")
    with pytest.raises(DataError, match="not a PLY file"):
        read_ply(p)
    p.write_bytes(data.replace(b"format binary_little_endian", b"format binary_middle_endian"))
    with pytest.raises(DataError, match="unsupported PLY format"):
        read_ply(p)
    bad = (tmp_path / "i.ply")
    bad.write_text("ply\nformat ascii 1.0\nelement vertex 1\n"
                   "property float x\nproperty float y\nproperty float z\n"
                   "element face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n3 0 1 2\n")
    with pytest.raises(DataError, match="face indices outside"):
        read_ply(bad)
