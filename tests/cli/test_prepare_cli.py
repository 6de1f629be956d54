"""``loc3r prepare scannet``: argument parsing, exit codes and a small end-to-end run, in process."""

from __future__ import annotations

import json

import numpy as np
import pytest

from loc3r.cli.main import main
from loc3r.data.scannet.meta import write_scene_meta
from loc3r.data.scannet.sens import write_sens

K = np.array([[20.0, 0, 7.5], [0, 20.0, 5.5], [0, 0, 1]])


def make_scan(root, scene_id, n=6, valid=True):
    """A 16x12 scan looking at a wall 2 m away (constant depth); all poses -inf when ``valid`` is False."""
    colors = [np.full((12, 16, 3), 40 * i, dtype=np.uint8) for i in range(n)]
    depths = [np.full((12, 16), 2000, dtype=np.uint16) for _ in range(n)]
    poses = np.stack([np.eye(4)] * n)
    for i in range(n):
        poses[i, 0, 3] = 0.1 * i
    if not valid:
        poses[:] = -np.inf
    write_sens(root / scene_id / f"{scene_id}.sens", colors, depths, poses, K, K)
    write_scene_meta(root / scene_id / f"{scene_id}.txt", {"sceneType": "Office"})


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as e:
        main(["prepare", "scannet", "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    for opt in ("--scans", "--out", "--scenes", "--scene-list", "--num-frames", "--selection", "--workers",
                "--bev-targets", "--image-size"):
        assert opt in text
    assert "uniform" in text and "coverage" in text


def test_prepare_without_dataset_prints_usage(capsys):
    assert main(["prepare"]) == 2
    assert "scannet" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["prepare", "scannet", "--out", "x"],  # --scans missing
        ["prepare", "scannet", "--scans", "a", "--out", "b", "--scenes", "s", "--scene-list", "f"],
        ["prepare", "scannet", "--scans", "a", "--out", "b", "--selection", "random"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2


def test_bad_values_and_missing_folder_exit_1(tmp_path, capsys):
    assert main(["prepare", "scannet", "--scans", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 1
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "scans").mkdir()
    assert main(["prepare", "scannet", "--scans", str(tmp_path / "scans"), "--out", str(tmp_path / "o"),
                 "--num-frames", "0"]) == 1
    assert "num_frames" in capsys.readouterr().err


def test_scene_list_run_and_exit_codes(tmp_path, capsys):
    scans, out = tmp_path / "scans", tmp_path / "out"
    make_scan(scans, "scene0000_00")
    make_scan(scans, "scene0001_00", valid=False)
    make_scan(scans, "scene0002_00")
    lst = tmp_path / "val.txt"
    lst.write_text("# two scenes\nscene0000_00\n\nscene0001_00  # no valid pose\n")
    rc = main(["prepare", "scannet", "--scans", str(scans), "--out", str(out), "--scene-list", str(lst),
               "--num-frames", "3", "--no-progress"])
    captured = capsys.readouterr()
    assert rc == 0  # one scene failed, one succeeded
    assert "prepared 1, already done 0, failed 1" in captured.out
    assert "failed scene0001_00" in captured.err
    assert (out / "scene0000_00" / "_done").is_file() and not (out / "scene0002_00").exists()
    sel = json.loads((out / "scene0000_00" / "frame_selection.json").read_text())
    assert sel["indices"] == [0, 2, 5]  # floor(i * 5 / 2)

    # Only failing scenes -> exit code 1.
    rc = main(["prepare", "scannet", "--scans", str(scans), "--out", str(out), "--scenes", "scene0001_00",
               "--no-progress"])
    assert rc == 1
    # Rerun of the whole folder: scene0000_00 is skipped, scene0002_00 prepared, scene0001_00 fails again.
    rc = main(["prepare", "scannet", "--scans", str(scans), "--out", str(out), "--num-frames", "3",
               "--no-progress", "--workers", "1"])
    assert rc == 0
    assert "prepared 1, already done 1, failed 1" in capsys.readouterr().out
