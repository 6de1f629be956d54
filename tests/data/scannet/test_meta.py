"""Tests of ``<scene>.txt`` parsing/writing and the ReferIt3D axis-alignment JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from loc3r.data.scannet.meta import (
    axis_alignment_from_meta,
    format_scene_meta,
    load_axis_alignment_json,
    parse_scene_meta,
    read_scene_meta,
    write_scene_meta,
)
from loc3r.utils.io import DataError

# The complete scene0000_00.txt as quoted verbatim in data_formats.md §1.2 (from public code comments;
# ScanNet's own .txt files are not stored in any repository, so the tests write this text into tmp_path).
SCENE0000_00_TXT = """\
axisAlignment = 0.945519 0.325568 0.000000 -5.384390 -0.325568 0.945519 0.000000 -2.871780 0.000000 0.000000 1.000000 -0.064350 0.000000 0.000000 0.000000 1.000000
colorHeight = 968
colorToDepthExtrinsics = 0.999973 0.006791 0.002776 -0.037886 -0.006767 0.999942 -0.008366 -0.003410 -0.002833 0.008347 0.999961 -0.021924 -0.000000 0.000000 -0.000000 1.000000
colorWidth = 1296
depthHeight = 480
depthWidth = 640
fx_color = 1170.187988
fx_depth = 571.623718
fy_color = 1170.187988
fy_depth = 571.623718
mx_color = 647.750000
mx_depth = 319.500000
my_color = 483.750000
my_depth = 239.500000
numColorFrames = 5578
numDepthFrames = 5578
numIMUmeasurements = 11834
sceneType = Apartment
"""  # noqa: E501


def test_parse_scene0000_00(tmp_path):
    p = tmp_path / "scene0000_00.txt"
    p.write_text(SCENE0000_00_TXT)
    meta = read_scene_meta(p)
    assert len(meta) == 18
    assert meta["colorWidth"] == 1296 and isinstance(meta["colorWidth"], int)
    assert meta["numIMUmeasurements"] == 11834
    assert meta["fx_color"] == 1170.187988 and isinstance(meta["fx_color"], float)
    assert meta["mx_depth"] == 319.5
    assert meta["sceneType"] == "Apartment"
    assert meta["axisAlignment"].shape == (4, 4)
    assert meta["axisAlignment"][0, 3] == -5.38439 and meta["axisAlignment"][1, 0] == -0.325568
    assert meta["colorToDepthExtrinsics"][2, 3] == -0.021924
    A = axis_alignment_from_meta(meta)
    assert math.degrees(math.atan2(A[1, 0], A[0, 0])) == pytest.approx(-19.0, abs=0.01)
    np.testing.assert_allclose(A[:3, 3], [-5.38439, -2.87178, -0.06435])


def test_format_reproduces_the_real_text(tmp_path):
    meta = parse_scene_meta(SCENE0000_00_TXT)
    assert format_scene_meta(meta) == SCENE0000_00_TXT
    # keys come out sorted even if given in another order
    shuffled = dict(reversed(list(meta.items())))
    out = tmp_path / "m.txt"
    write_scene_meta(out, shuffled)
    assert out.read_text() == SCENE0000_00_TXT


def test_scans_test_meta_without_alignment_and_spaced_values():
    meta = parse_scene_meta("colorWidth = 1296\nsceneType = Bedroom / Hotel\n\nodd=a=b\n")
    assert axis_alignment_from_meta(meta) is None
    assert meta["sceneType"] == "Bedroom / Hotel"
    assert meta["odd"] == "a=b"  # split at the first '=' only


def test_malformed_meta_names_file_and_line(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("colorWidth = 1296\nthis line has no equals\n")
    with pytest.raises(DataError, match=r"bad\.txt:2: expected 'key = value'"):
        read_scene_meta(p)
    with pytest.raises(DataError, match="appears twice"):
        parse_scene_meta("a = 1\na = 2\n")
    tilted = parse_scene_meta("axisAlignment = " + " ".join(["1"] * 16))
    with pytest.raises(DataError, match="axisAlignment"):
        axis_alignment_from_meta(tilted, source="x.txt")


def test_real_referit3d_alignment_matrices(realdata_dir):
    path = realdata_dir / "scannet" / "scans_axis_alignment_matrices.subset.json"
    raw = json.loads(path.read_text())
    mats = load_axis_alignment_json(path)
    assert list(mats) == list(raw) and len(mats) == 38
    A = mats["scene0000_00"]
    assert math.degrees(math.atan2(A[1, 0], A[0, 0])) == pytest.approx(-19.0, abs=0.01)
    np.testing.assert_allclose(A[:3, 3], [-5.38439, -2.87178, -0.06435])
    # identical to the axisAlignment line of the quoted scene0000_00.txt
    np.testing.assert_array_equal(A, parse_scene_meta(SCENE0000_00_TXT)["axisAlignment"])
    for sid, M in mats.items():
        np.testing.assert_array_equal(M.reshape(-1), raw[sid])
        R = M[:3, :3]
        # every matrix is a rotation about +Z plus a translation (checked independently of the loader)
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=2e-6)
        assert np.linalg.det(R) == pytest.approx(1.0, abs=2e-6)
        np.testing.assert_allclose(M[2, :3], [0, 0, 1], atol=1e-6)
        np.testing.assert_allclose(M[3], [0, 0, 0, 1])


def test_alignment_json_errors_name_the_scene(tmp_path):
    p = tmp_path / "a.json"
    p.write_text(json.dumps({"scene0000_00": [1.0] * 15}))
    with pytest.raises(DataError, match=r"a\.json: scene scene0000_00: expected 16 numbers"):
        load_axis_alignment_json(p)
    p.write_text("{not json")
    with pytest.raises(DataError, match="invalid JSON"):
        load_axis_alignment_json(p)
