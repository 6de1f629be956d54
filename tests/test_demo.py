"""`loc3r demo` end to end on a small synthetic set (the README's main command, shrunk)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from loc3r.cli.main import main
from loc3r.data.scannet.scene import load_scene
from loc3r.geometry.frames import BevFrame


@pytest.mark.slow
def test_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    rc = main(["demo", "--out", str(out), "--scenes", "3", "--frames-per-scene", "24", "--workers", "1", "--quiet"])
    assert rc == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert [s["scene_id"] for s in summary["scenes"]] == ["scene9000_00", "scene9001_00", "scene9002_00"]
    for s in summary["scenes"]:
        assert s["scene_id"] in printed
        assert s["frames"] == 24  # fewer rendered frames than 32 -> all of them are selected
        assert s["token_grid"] == [14, 14]
        assert s["valid_token_fraction"] > 0.9  # closed rooms: (almost) every token sees a surface
    assert summary["records"]["sqa3d_train"] > 0 and summary["records"]["vsibench_test"] > 0
    assert len(summary["previews"]) == 3
    # The BEV targets are anchored at the first selected frame: its camera centre is the origin.
    sid = "scene9000_00"
    bev = np.load(out / "prepared" / sid / "bev_targets.npz")
    scene = load_scene(out / "synthetic" / "scans" / sid)
    first = int(bev["frame_ids"][0])
    frame = BevFrame.from_first_pose(scene.poses([first])[0])
    np.testing.assert_allclose(bev["bev_origin_xy"], frame.origin_xy, atol=1e-6)
    # a rerun resumes: nothing is regenerated and the summary is identical
    assert main(["demo", "--out", str(out), "--scenes", "3", "--frames-per-scene", "24", "--workers", "1",
                 "--quiet"]) == 0
    assert json.loads((out / "summary.json").read_text()) == summary
