"""Tests of the ``.sens`` reader/writer against hand-packed files and round trips."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from loc3r.data.scannet import sens as sens_mod
from loc3r.data.scannet.sens import SensReader, write_sens
from loc3r.utils.io import DataError

from .factories import CH, CW, DH, DW, K_COLOR, K_DEPTH, make_rgbd


def pack_sens(frames, cw=4, ch=2, dw=3, dh=2, version=4, color_code=0, depth_code=1, imu_tail=b"",
              declared=None, name=b"StructureSensor"):
    """Hand-pack a .sens byte string following data_formats.md §1.4 (independent of ``write_sens``).

    ``frames``: list of (pose[16], ts_color, ts_depth, color_bytes, depth_bytes).
    """
    out = struct.pack("<I", version) + struct.pack("<Q", len(name)) + name
    calib = [np.diag([10.0, 11.0, 1, 1]), np.eye(4), np.diag([5.0, 6.0, 1, 1]), np.eye(4)]
    for m in calib:
        out += struct.pack("<16f", *m.reshape(-1))
    out += struct.pack("<ii", color_code, depth_code)
    out += struct.pack("<IIII", cw, ch, dw, dh) + struct.pack("<f", 1000.0)
    out += struct.pack("<Q", len(frames) if declared is None else declared)
    for pose, tc, td, cb, db in frames:
        out += struct.pack("<16f", *pose) + struct.pack("<QQQQ", tc, td, len(cb), len(db)) + cb + db
    return out + imu_tail


def _raw_frame(k, cw=4, ch=2, dw=3, dh=2, pose=None):
    color = (np.arange(cw * ch * 3) + k).astype(np.uint8)
    depth = (np.arange(dw * dh) * 100 + k).astype("<u2")
    pose = list(np.eye(4).reshape(-1) + k) if pose is None else pose
    return pose, 1000 + k, 2000 + k, color.tobytes(), zlib.compress(depth.tobytes()), color, depth


def test_reads_hand_packed_file_and_ignores_imu_tail(tmp_path):
    fr = [_raw_frame(k) for k in range(3)]
    # A non-empty IMU section after the frames must be ignored.
    data = pack_sens([f[:5] for f in fr], imu_tail=struct.pack("<Q", 2) + b"\x01" * 100)
    p = tmp_path / "x.sens"
    p.write_bytes(data)
    r = SensReader(p)
    assert r.num_frames == 3 and not r.truncated
    assert r.header.sensor_name == "StructureSensor"
    assert r.color_size == (4, 2) and r.depth_size == (3, 2) and r.depth_shift == 1000.0
    np.testing.assert_array_equal(r.intrinsic_color, np.diag([10.0, 11.0, 1, 1]))
    np.testing.assert_array_equal(r.intrinsic_depth, np.diag([5.0, 6.0, 1, 1]))
    np.testing.assert_array_equal(r.timestamps[2], [1002, 2002])
    frames = r.read_frames([2, 0])
    assert [f.index for f in frames] == [2, 0]
    np.testing.assert_array_equal(frames[0].color, fr[2][5].reshape(2, 4, 3))
    np.testing.assert_array_equal(frames[1].depth_m, fr[0][6].reshape(2, 3).astype(np.float32) / 1000.0)
    np.testing.assert_array_equal(frames[0].camera_to_world, np.eye(4) + 2)
    np.testing.assert_array_equal(r.read_depth_raw(1), fr[1][6].reshape(2, 3))


def test_writer_bytes_match_the_documented_layout(tmp_path):
    """write_sens with raw colour / raw depth must produce exactly the hand-packed bytes (+ 0 IMU frames)."""
    color = np.arange(2 * 4 * 3, dtype=np.uint8).reshape(2, 4, 3)
    depth = np.arange(6, dtype=np.uint16).reshape(2, 3) * 7
    pose = np.eye(4)
    pose[:3, 3] = (1.5, -2.25, 0.125)
    p = tmp_path / "w.sens"
    write_sens(p, [color], [depth], pose[None], np.diag([10.0, 11.0, 1, 1]), np.diag([5.0, 6.0, 1, 1]),
               timestamps=np.array([[7, 8]]), color_compression="raw", depth_compression="raw_ushort")
    expected = pack_sens([(list(pose.reshape(-1)), 7, 8, color.tobytes(), depth.astype("<u2").tobytes())],
                         color_code=0, depth_code=0, imu_tail=struct.pack("<Q", 0))
    assert p.read_bytes() == expected


def test_round_trip_jpeg_zlib(tmp_path):
    colors, depths, poses = make_rgbd(5)
    poses[1, :3, 3] = (1.0 / 3.0, 2.0 / 7.0, np.pi)  # not exactly representable in float32
    p = tmp_path / "rt.sens"
    write_sens(p, colors, depths, poses, K_COLOR, K_DEPTH, timestamps=np.arange(5) * 33333, jpeg_quality=95)
    r = SensReader(p)
    assert r.num_frames == 5 and r.color_size == (CW, CH) and r.depth_size == (DW, DH)
    assert r.header.color_compression == "jpeg" and r.header.depth_compression == "zlib_ushort"
    # poses are stored as float32: exact after the float32 cast
    np.testing.assert_array_equal(r.poses, poses.astype(np.float32).astype(np.float64))
    np.testing.assert_array_equal(r.intrinsic_color, K_COLOR.astype(np.float32))
    np.testing.assert_array_equal(r.timestamps[:, 0], np.arange(5) * 33333)
    for f in r.read_frames(range(5)):
        np.testing.assert_array_equal(f.depth_m, depths[f.index].astype(np.float32) / np.float32(1000.0))
        assert f.depth_m.dtype == np.float32
        assert f.color.dtype == np.uint8 and f.color.shape == (CH, CW, 3)
        assert np.abs(f.color.astype(int) - colors[f.index]).mean() < 3.0  # JPEG is lossy
        np.testing.assert_array_equal(r.read_depth_raw(f.index), depths[f.index])


def test_round_trip_png_colour_and_preencoded_jpeg(tmp_path):
    colors, depths, poses = make_rgbd(2)
    p = tmp_path / "png.sens"
    write_sens(p, colors, depths, poses, K_COLOR, K_DEPTH, color_compression="png")
    f = SensReader(p).read_frames([1])[0]
    np.testing.assert_array_equal(f.color, colors[1])  # PNG is lossless
    buf = io.BytesIO()
    Image.fromarray(colors[0]).save(buf, format="JPEG", quality=80)
    q = tmp_path / "pre.sens"
    write_sens(q, [buf.getvalue(), colors[1]], depths, poses, K_COLOR, K_DEPTH)
    assert SensReader(q).read_color_blob(0) == buf.getvalue()  # pre-encoded bytes are stored unchanged


def test_decodes_only_requested_frames(tmp_path, monkeypatch):
    colors, depths, poses = make_rgbd(6)
    p = tmp_path / "c.sens"
    write_sens(p, colors, depths, poses, K_COLOR, K_DEPTH)
    calls = {"color": 0, "depth": 0}
    real_c, real_d = sens_mod._decode_color, sens_mod._decode_depth

    def count_c(*a):
        calls["color"] += 1
        return real_c(*a)

    def count_d(*a):
        calls["depth"] += 1
        return real_d(*a)

    monkeypatch.setattr(sens_mod, "_decode_color", count_c)
    monkeypatch.setattr(sens_mod, "_decode_depth", count_d)
    r = SensReader(p)
    _ = r.poses, r.valid_pose_mask
    assert calls == {"color": 0, "depth": 0}  # opening and indexing decode nothing
    r.read_frames([4, 1])
    assert calls == {"color": 2, "depth": 2}
    r.read_frames([3], depth=False)
    assert calls == {"color": 3, "depth": 2}


def test_corrupt_blob_in_unrequested_frame_does_not_matter(tmp_path):
    colors, depths, poses = make_rgbd(4)
    p = tmp_path / "bad.sens"
    write_sens(p, colors, depths, poses, K_COLOR, K_DEPTH)
    r = SensReader(p)
    # Overwrite frame 2's JPEG and zlib payloads (same sizes, so the index stays valid).
    off, csize, dsize = (int(x) for x in r._offsets[2])
    data = bytearray(p.read_bytes())
    data[off:off + csize + dsize] = b"\x55" * (csize + dsize)
    p.write_bytes(bytes(data))
    r = SensReader(p)
    ok = r.read_frames([0, 1, 3])
    assert [f.index for f in ok] == [0, 1, 3]
    with pytest.raises(DataError, match=r"bad\.sens: frame 2: cannot decode jpeg"):
        r.read_frames([2])
    with pytest.raises(DataError, match=r"bad\.sens: frame 2: cannot decompress zlib depth"):
        r.read_frames([2], color=False)


@pytest.mark.parametrize("cut", [10, 150, "mid_frame_2", "mid_record_3"])
def test_truncated_file(tmp_path, cut):
    colors, depths, poses = make_rgbd(5)
    p = tmp_path / "t.sens"
    write_sens(p, colors, depths, poses, K_COLOR, K_DEPTH)
    r = SensReader(p)
    data = p.read_bytes()
    if cut == "mid_frame_2":
        size = int(r._offsets[2][0]) + 5
    elif cut == "mid_record_3":
        size = int(r._offsets[3][0]) - 40
    else:
        size = cut
    p.write_bytes(data[:size])
    with pytest.raises(DataError, match=r"t\.sens: .*truncated"):
        SensReader(p)
    if isinstance(cut, int):  # inside the header: never readable
        with pytest.raises(DataError, match="truncated"):
            SensReader(p, allow_truncated=True)
        return
    r2 = SensReader(p, allow_truncated=True)
    complete = 2 if cut == "mid_frame_2" else 3
    assert r2.truncated and r2.num_frames == complete and r2.num_frames_declared == 5
    last = r2.read_frames([complete - 1])[0]
    np.testing.assert_array_equal(last.depth_m, depths[complete - 1].astype(np.float32) / np.float32(1000))
    with pytest.raises(DataError, match=rf"frame {complete} out of range.*truncated"):
        r2.read_frames([complete])


def test_bad_header_values(tmp_path):
    fr = [_raw_frame(0)[:5]]
    p = tmp_path / "v.sens"
    p.write_bytes(pack_sens(fr, version=3))
    with pytest.raises(DataError, match=r"v\.sens: unsupported \.sens version 3"):
        SensReader(p)
    p.write_bytes(pack_sens(fr, color_code=7))
    with pytest.raises(DataError, match="invalid colour compression code 7"):
        SensReader(p)
    p.write_bytes(pack_sens(fr, depth_code=-5))
    with pytest.raises(DataError, match="invalid depth compression code -5"):
        SensReader(p)
    # A valid-but-unsupported code (occi_ushort) opens; decoding its depth names file and frame.
    p.write_bytes(pack_sens(fr, depth_code=2))
    r = SensReader(p)
    assert r.read_frames([0], depth=False)[0].color.shape == (2, 4, 3)
    with pytest.raises(DataError, match=r"v\.sens: frame 0: depth compression 'occi_ushort'"):
        r.read_frames([0])
    with pytest.raises(FileNotFoundError):
        SensReader(tmp_path / "missing.sens")


def test_index_out_of_range_and_wrong_depth_size(tmp_path):
    good = _raw_frame(0)
    # Frame 1 carries a depth of 2x2 while the header says 3x2.
    bad_depth = zlib.compress(np.zeros(4, dtype="<u2").tobytes())
    frames = [good[:5], (good[0], 0, 0, good[3], bad_depth)]
    p = tmp_path / "d.sens"
    p.write_bytes(pack_sens(frames))
    r = SensReader(p)
    r.read_frames([0])
    with pytest.raises(DataError, match=r"d\.sens: frame 1: depth has 8 bytes, header says 3x2 .*wrong size"):
        r.read_frames([1])
    with pytest.raises(DataError, match=r"d\.sens: frame 2 out of range"):
        r.read_frames([2])
    with pytest.raises(DataError, match=r"frame -1 out of range"):
        r.read_frames([-1])


def test_invalid_poses_are_kept_and_flagged(tmp_path):
    colors, depths, poses = make_rgbd(3)
    poses[1] = -np.inf
    p = tmp_path / "inf.sens"
    write_sens(p, colors, depths, poses, K_COLOR, K_DEPTH)
    r = SensReader(p)
    assert np.isneginf(r.poses[1]).all()
    np.testing.assert_array_equal(r.valid_pose_mask, [True, False, True])


def test_writer_rejects_bad_input_atomically(tmp_path):
    colors, depths, poses = make_rgbd(3)
    p = tmp_path / "w.sens"
    bad = list(depths)
    bad[2] = bad[2].astype(np.int32)
    with pytest.raises(ValueError, match="frame 2: depth must be uint16"):
        write_sens(p, colors, bad, poses, K_COLOR, K_DEPTH)
    assert not p.exists() and list(tmp_path.iterdir()) == []  # no partial file, no temp file left
    with pytest.raises(ValueError, match="need N colours"):
        write_sens(p, colors[:2], depths, poses, K_COLOR, K_DEPTH)
    wrong = list(colors)
    wrong[1] = wrong[1][:, :10]
    with pytest.raises(ValueError, match="frame 1: colour must be uint8"):
        write_sens(p, wrong, depths, poses, K_COLOR, K_DEPTH)
    write_sens(p, [], [], np.zeros((0, 4, 4)), K_COLOR, K_DEPTH, color_size=(CW, CH), depth_size=(DW, DH))
    assert SensReader(p).num_frames == 0
