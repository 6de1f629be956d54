"""Tests of the exported layouts: SensReader export, EmbodiedScan and mmdetection3d posed_images."""

from __future__ import annotations

import os
import pickle
import shutil

import numpy as np
import pytest
from PIL import Image

from loc3r.data.scannet.layouts import (
    detect_layout,
    export_sensreader_layout,
    format_matrix_txt,
    read_depth_png,
)
from loc3r.data.scannet.scene import load_scene
from loc3r.data.scannet.sens import SensReader
from loc3r.utils.io import DataError

from .factories import A_SCENE0000, CH, CW, DH, DW, make_raw_scan, make_rgbd


def _savetxt(path, m):
    np.savetxt(path, m, fmt="%f")
    return path.read_text()


def test_format_matrix_txt_equals_np_savetxt(tmp_path):
    m = np.array([[1169.621094, 0, 646.295044, 0], [0, 1167.105103, 489.927032, 0],
                  [0, 0, 1, 0], [0, 0, 0, 1]])
    assert format_matrix_txt(m) == _savetxt(tmp_path / "k.txt", m)
    assert format_matrix_txt(m).splitlines()[0] == "1169.621094 0.000000 646.295044 0.000000"
    inf = np.full((4, 4), -np.inf)
    assert format_matrix_txt(inf) == _savetxt(tmp_path / "i.txt", inf)


def test_export_sensreader_layout_files(tmp_path):
    colors, depths, poses = make_rgbd(5)
    poses[2] = -np.inf  # lost tracking survives export as -inf text
    folder, *_ = make_raw_scan(tmp_path, "scene0002_00", n=5, poses=poses)
    sens = folder / "scene0002_00.sens"
    out = tmp_path / "export"
    assert export_sensreader_layout(sens, out) == 5
    r = SensReader(sens)
    assert sorted(os.listdir(out)) == ["color", "depth", "intrinsic", "pose"]
    assert sorted(os.listdir(out / "color")) == [f"{i}.jpg" for i in range(5)]
    assert sorted(os.listdir(out / "intrinsic")) == [
        "extrinsic_color.txt", "extrinsic_depth.txt", "intrinsic_color.txt", "intrinsic_depth.txt"]
    kc_text = _savetxt(tmp_path / "kc", r.intrinsic_color)
    assert (out / "intrinsic" / "intrinsic_color.txt").read_text() == kc_text
    for i in range(5):
        assert (out / "pose" / f"{i}.txt").read_text() == _savetxt(tmp_path / "p", r.poses[i])
        assert (out / "color" / f"{i}.jpg").read_bytes() == r.read_color_blob(i)
        with Image.open(out / "depth" / f"{i}.png") as im:
            assert im.format == "PNG" and im.mode.startswith("I;16")
            np.testing.assert_array_equal(np.asarray(im).astype(np.uint16), depths[i])
    assert "-inf" in (out / "pose" / "2.txt").read_text()
    sub = tmp_path / "sub"
    assert export_sensreader_layout(sens, sub, [4, 1, 1], intrinsics=False) == 2
    assert sorted(os.listdir(sub / "depth")) == ["1.png", "4.png"] and not (sub / "intrinsic").exists()


def _write_posed_images(src_scene, dest, with_depth, pad=5):
    """Write an EmbodiedScan-style (with depth) or mmdet3d-style (colour only) folder from a raw-scan Scene.

    Depth PNGs are written with OpenCV when available (an encoder independent of the code under test).
    """
    dest.mkdir(parents=True)
    reader = src_scene.source.reader
    np.savetxt(dest / "intrinsic.txt", reader.intrinsic_color, fmt="%f")
    if with_depth:
        np.savetxt(dest / "depth_intrinsic.txt", reader.intrinsic_depth, fmt="%f")
    try:
        import cv2
    except ImportError:  # pragma: no cover
        cv2 = None
    for i in range(reader.num_frames):
        name = f"{i:0{pad}d}"
        (dest / f"{name}.jpg").write_bytes(reader.read_color_blob(i))
        np.savetxt(dest / f"{name}.txt", reader.poses[i], fmt="%f")
        if with_depth:
            d = reader.read_depth_raw(i)
            if cv2 is not None:
                assert cv2.imwrite(str(dest / f"{name}.png"), d)
            else:  # pragma: no cover
                Image.fromarray(d).save(dest / f"{name}.png")


def test_every_layout_reads_into_the_same_scene(tmp_path):
    colors, depths, poses = make_rgbd(6, seed=3)
    poses[2] = -np.inf
    poses[4, :3, :3] *= 1.2  # non-rigid
    folder, *_ = make_raw_scan(tmp_path / "scans", "scene0003_00", n=6, poses=poses)
    raw = load_scene(folder)
    exp = tmp_path / "exports" / "scene0003_00"
    export_sensreader_layout(folder / "scene0003_00.sens", exp)
    emb = tmp_path / "posed_images" / "scene0003_00"
    _write_posed_images(raw, emb, with_depth=True)
    mm = tmp_path / "mmdet3d" / "posed_images" / "scene0003_00"
    _write_posed_images(raw, mm, with_depth=False)
    assert detect_layout(exp) == "sensreader_export"
    assert detect_layout(emb) == "posed_images" and detect_layout(mm) == "mmdet3d_posed_images"
    # the exports look for <scene>.txt next to them unless told where the scan folder is
    scenes = [raw, load_scene(exp, scan_dir=folder), load_scene(emb, scan_dir=folder), load_scene(mm)]
    assert [s.layout for s in scenes] == ["raw", "sensreader_export", "posed_images", "mmdet3d_posed_images"]
    assert [s.frame_index_kind for s in scenes] == ["original"] * 3 + ["subset"]
    for s in scenes:
        assert s.scene_id == "scene0003_00"
        np.testing.assert_array_equal(s.frame_ids, [0, 1, 3, 5])
        assert s.num_invalid_poses == 2
        # text poses carry 6 decimals
        np.testing.assert_allclose(s.poses(), raw.poses(), atol=5e-7)
        np.testing.assert_allclose(s.K_color, raw.K_color, atol=5e-7)
        frames = s.frames([5, 0])
        assert [f.index for f in frames] == [5, 0]
        ref = raw.frames([5, 0])
        for f, g in zip(frames, ref, strict=True):
            np.testing.assert_array_equal(f.color, g.color)  # same JPEG bytes -> same pixels
            assert f.color.shape == (CH, CW, 3)
            if s.layout == "mmdet3d_posed_images":
                assert f.depth_m is None and f.K_depth is None
            else:
                np.testing.assert_array_equal(f.depth_m, g.depth_m)
                assert f.depth_m.shape == (DH, DW) and f.depth_m.dtype == np.float32
                np.testing.assert_allclose(f.K_depth, g.K_depth, atol=5e-7)
    for s in scenes[:3]:
        np.testing.assert_array_equal(s.axis_alignment, A_SCENE0000)
    assert scenes[3].axis_alignment is None and not scenes[3].has_depth
    with pytest.raises(DataError, match=r"pose/2\.txt.*NaN or inf"):
        scenes[1].frames([2])
    with pytest.raises(DataError, match=r"00004\.txt.*not orthonormal"):
        scenes[2].poses([4])


def test_layout_depth_problems_name_the_file(tmp_path):
    folder, *_ = make_raw_scan(tmp_path, "scene0004_00", n=3)
    exp = tmp_path / "exp"
    export_sensreader_layout(folder / "scene0004_00.sens", exp)
    Image.fromarray(np.zeros((DH, DW - 1), dtype=np.uint16)).save(exp / "depth" / "1.png")
    Image.fromarray(np.zeros((DH, DW), dtype=np.uint8)).save(exp / "depth" / "2.png")
    s = load_scene(exp)  # no <scene>.txt here: expected size = that of the first frame's depth
    s.frames([0])
    with pytest.raises(DataError, match=rf"depth/1\.png: depth is {DW - 1}x{DH}, expected {DW}x{DH}"):
        s.frames([1])
    with pytest.raises(DataError, match=r"depth/2\.png: depth PNG must be single-channel 16-bit"):
        s.frames([2])
    (exp / "color" / "0.jpg").unlink()
    with pytest.raises(DataError, match=r"color/0\.jpg: colour image missing"):
        s.frames([0])
    with pytest.raises(DataError, match=r"frame 7 does not exist"):
        s.frames([7])
    with pytest.raises(ValueError):
        read_depth_png(exp / "pose" / "0.txt")


def test_real_mmdet3d_infos_and_posed_images(realdata_dir):
    pkl = realdata_dir / "scannet" / "mmdet3d_tests_scannet" / "scannet_infos.pkl"
    s = load_scene(pkl)
    assert s.scene_id == "scene0000_00" and s.layout == "mmdet3d_posed_images"
    assert s.frame_index_kind == "subset" and not s.has_depth and s.K_depth is None
    np.testing.assert_array_equal(s.frame_ids, [0, 11, 102])
    assert s.num_invalid_poses == 0
    # values quoted in data_formats.md §1.7
    np.testing.assert_allclose(
        s.K_color, [[1169.621094, 0, 646.295044], [0, 1167.105103, 489.927032], [0, 0, 1]]
    )
    np.testing.assert_allclose(
        s.poses([0])[0],
        [[-0.944056, 0.143269, -0.297039, 2.640902], [0.329777, 0.403738, -0.853372, 2.981458],
         [-0.002336, -0.903587, -0.428398, 1.352682], [0, 0, 0, 1]],
    )
    np.testing.assert_array_equal(s.axis_alignment, A_SCENE0000)
    # OpenCV camera: the camera y axis points down in the world (z component -0.90)
    assert s.poses([0])[0][2, 1] == pytest.approx(-0.903587)
    frames = s.frames(s.frame_ids)
    for f in frames:
        assert f.color.shape == (968, 1296, 3) and f.color.dtype == np.uint8 and f.depth_m is None
        assert 20 < f.color.mean() < 235  # a real photo, not a blank image
    with pytest.raises(DataError, match="no depth"):
        s.frames([0], depth=True)


def test_malicious_pickle_is_refused(tmp_path, realdata_dir):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    p = tmp_path / "scannet_infos.pkl"
    p.write_bytes(pickle.dumps([{"img_paths": [], "payload": Evil()}]))
    with pytest.raises(DataError, match=r"scannet_infos\.pkl: cannot load pickle safely.*system"):
        load_scene(p)
    assert not marker.exists()
    # img_paths escaping the data root are refused too
    bad = tmp_path / "escape.pkl"
    real = realdata_dir / "scannet" / "mmdet3d_tests_scannet" / "scannet_infos.pkl"
    from loc3r.utils.io import restricted_pickle_load

    info = restricted_pickle_load(real)
    info[0]["img_paths"] = ["../../etc/00000.jpg"] * 1
    info[0]["extrinsics"] = info[0]["extrinsics"][:1]
    bad.write_bytes(pickle.dumps(info))
    with pytest.raises(DataError, match="escapes the data root"):
        load_scene(bad)


def test_unknown_or_missing_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="no ScanNet scene at"):
        load_scene(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no known ScanNet layout"):
        load_scene(tmp_path / "empty")
    folder, *_ = make_raw_scan(tmp_path, "scene0005_00", n=2)
    shutil.copy(folder / "scene0005_00.sens", folder / "other.sens")
    assert load_scene(folder).source.path.name == "scene0005_00.sens"  # the one named after the folder wins
    (folder / "scene0005_00.sens").rename(folder / "a.sens")
    with pytest.raises(DataError, match="several .sens files"):
        load_scene(folder)
    with pytest.raises(FileNotFoundError, match=r"other\.txt: scan meta file missing"):
        load_scene(folder / "other.sens")
