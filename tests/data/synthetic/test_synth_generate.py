"""End to end: generate a tiny set, read it back with the foundation's readers, check geometry and bytes."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys

import numpy as np
import pytest
from synth_reference import part_frame, surface_distance

from loc3r.data.bev_targets import TokenGrid, compute_bev_targets
from loc3r.data.scannet.scene import load_scene
from loc3r.data.synthetic import generate as gen
from loc3r.data.synthetic.config import SynthConfig, scaled_intrinsics
from loc3r.data.synthetic.mesh import raw_mesh_bbox_center
from loc3r.data.synthetic.render import SceneRenderer
from loc3r.geometry.camera import unproject_depth
from loc3r.geometry.frames import BevFrame
from loc3r.geometry.transforms import apply_rigid
from loc3r.utils.io import DataError

W, H, FRAMES, SCENES = 80, 60, 8, 3


def _cfg(out, **kw) -> SynthConfig:
    base = dict(
        out=out,
        num_scenes=SCENES,
        seed=7,
        frames_per_scene=FRAMES,
        color_width=W,
        color_height=H,
        depth_width=W,
        depth_height=H,
        progress=False,
    )
    base.update(kw)
    return SynthConfig(**base)


def _sha(p) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "set"
    cfg = _cfg(out)
    manifest = gen.generate_synthetic(cfg)
    return cfg, manifest


def test_output_tree_manifest_and_checksums(dataset):
    cfg, manifest = dataset
    out = cfg.out
    assert manifest["complete"] and manifest["seed"] == 7
    assert manifest["counts"]["scenes"] == SCENES and manifest["counts"]["frames"] == SCENES * FRAMES
    assert manifest["counts"]["splits"] == {"train": 1, "val": 1, "test": 1}
    for e in manifest["scenes"]:
        sid = e["scene_id"]
        assert sorted(e["files"]) == sorted(gen.expected_scene_files(sid))
        assert (out / "splits" / f"{e['split']}.txt").read_text().split() == [sid]
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert on_disk == sorted([*manifest["files"], "manifest.json"])
    for rel, digest in manifest["files"].items():
        assert _sha(out / rel) == digest, rel
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert "out" not in manifest["config"] and "workers" not in manifest["config"]


def test_same_seed_same_bytes_other_seed_differs(dataset, tmp_path):
    cfg, manifest = dataset
    again = gen.generate_synthetic(_cfg(tmp_path / "again"))
    assert (tmp_path / "again" / "manifest.json").read_bytes() == (cfg.out / "manifest.json").read_bytes()
    assert again["files"] == manifest["files"]
    other = gen.generate_synthetic(_cfg(tmp_path / "other", seed=8, num_scenes=1, annotations=False))
    sens = "scans/scene9000_00/scene9000_00.sens"
    assert other["files"][sens] != manifest["files"][sens]


def test_parallel_workers_give_the_same_bytes(dataset, tmp_path):
    cfg, manifest = dataset
    par = gen.generate_synthetic(_cfg(tmp_path / "par", workers=2))
    assert par["files"] == manifest["files"]


def _wall_coords(world, wall, pts):
    """(distance along the wall from its start, distance in front of it) of aligned points [N, >=2]."""
    a, b = world.room.walls()[wall]
    e = (b - a) / np.linalg.norm(b - a)
    q = np.asarray(pts)[:, :2] - a
    return q @ e, q @ np.array([-e[1], e[0]])  # the normal points into a counter-clockwise room


def _parts_aabb(o):
    """Axis-aligned box (aligned frame) of an object's parts: box corners and cylinder extents."""
    pts = []
    for p in o.parts:
        c, yaw = part_frame(o, p)
        if p.kind == "box":
            hx, hy, hz = np.asarray(p.size) / 2
            cc, ss = np.cos(yaw), np.sin(yaw)
            for sx in (-1, 1):
                for sy in (-1, 1):
                    for sz in (-1, 1):
                        pts.append(c + [cc * sx * hx - ss * sy * hy, ss * sx * hx + cc * sy * hy, sz * hz])
        else:
            r, hz = p.size[0] / 2, p.size[2] / 2
            pts += [c - [r, r, hz], c + [r, r, hz]]
    pts = np.asarray(pts)
    return pts.min(0), pts.max(0)


def test_foundation_reader_reads_every_scene_and_matches_the_world(dataset):
    cfg, manifest = dataset
    for e in manifest["scenes"]:
        i, sid = e["index"], e["scene_id"]
        world = gen.scene_world(cfg, i)
        poses = gen.scene_poses(cfg, i, world)
        scene = load_scene(cfg.out / "scans" / sid)
        assert scene.num_frames == FRAMES and scene.num_invalid_poses == 0
        np.testing.assert_allclose(scene.axis_alignment, world.axis_alignment, atol=1e-9)
        assert not np.allclose(scene.axis_alignment, np.eye(4))
        np.testing.assert_allclose(scene.poses(aligned=True), poses, atol=2e-5)
        np.testing.assert_allclose(scene.K_depth, scaled_intrinsics(W, H), atol=1e-4)
        assert scene.meta["sceneType"] == world.scene_type
        np.testing.assert_allclose(scene.mesh_bbox_center, raw_mesh_bbox_center(world), atol=1e-6)
        np.testing.assert_allclose(scene.mesh_bbox_center, e["center_raw"], atol=1e-5)
        # frames: depth equals the renderer's to the millimetre, colour up to JPEG loss
        frames = scene.frames([0, FRAMES - 1])
        r = SceneRenderer(world)
        for f in frames:
            ref = r.render(poses[f.index], cfg.depth_intrinsics(), W, H, gen.frame_rng(cfg, i, f.index))
            assert np.abs(f.depth_m - ref.depth).max() <= 0.0005 + 1e-6
            assert np.abs(f.color.astype(int) - ref.rgb.astype(int)).mean() < 6
        # instances: one per object, with the object's label and (aligned) box, then one per door/window
        inst = {x.object_id: x for x in scene.instances}
        n_obj, n_open = len(world.objects), len(world.room.openings)
        assert n_open > 0
        assert sorted(inst) == list(range(n_obj + n_open))
        for o in world.objects:
            x = inst[o.object_id]
            assert x.label == o.category
            lo, hi = _parts_aabb(o)
            np.testing.assert_allclose(x.bbox_min_aligned, lo, atol=0.01)
            np.testing.assert_allclose(x.bbox_max_aligned, hi, atol=0.01)
        for k, op in enumerate(world.room.openings):
            x = inst[n_obj + k]
            assert x.label == op.kind
            c = apply_rigid(scene.axis_alignment, x.centroid[None])  # [1, 3] aligned centroid
            s, off = _wall_coords(world, op.wall, c)
            assert abs(s[0] - op.offset) < op.width / 2 and 0 < off[0] < 0.07, (sid, k, s, off)
            assert op.z_min < c[0, 2] < op.z_max + 0.05, (sid, k, c)


def test_unprojected_depth_lies_on_the_scene_surfaces(dataset):
    cfg, manifest = dataset
    for e in manifest["scenes"]:
        world = gen.scene_world(cfg, e["index"])
        scene = load_scene(cfg.out / "scans" / e["scene_id"])
        for f in scene.frames([0, 3, FRAMES - 1], color=False):
            pts, valid = unproject_depth(f.depth_m, f.K_depth, scene.axis_alignment @ f.T_world_from_cam)
            assert valid.all(), "a closed room: every pixel sees a surface"
            d = surface_distance(world, pts[valid])
            assert np.quantile(d, 0.99) < 0.004 and d.max() < 0.02, (e["scene_id"], f.index, d.max())


def _structure_labels(world, pts):
    """0 floor, 1 ceiling, 2 + i wall i, -1 other, for aligned points on the room's structure."""
    lab = np.full(len(pts), -1)
    lab[np.abs(pts[:, 2]) < 0.005] = 0
    lab[np.abs(pts[:, 2] - world.room.height) < 0.005] = 1
    for i, (a, b) in enumerate(world.room.walls()):
        e = (b - a) / np.linalg.norm(b - a)
        off = np.abs((pts[:, :2] - a) @ np.array([-e[1], e[0]]))
        s = (pts[:, :2] - a) @ e
        lab[(lab == -1) & (off < 0.005) & (s > -0.01) & (s < np.linalg.norm(b - a) + 0.01)] = 2 + i
    return lab


def test_per_token_bev_targets_land_on_the_surfaces(dataset):
    """Targets made from one surface's pixels at a time must lie on that surface (seen from above)."""
    cfg, manifest = dataset
    grid = TokenGrid(
        input_hw=(112, 112), patch_size=14, pool_stride=2, pool_mode="bilinear", resize="stretch"
    )
    checked = 0
    for e in manifest["scenes"]:
        world = gen.scene_world(cfg, e["index"])
        scene = load_scene(cfg.out / "scans" / e["scene_id"])
        ids = [0, 4, FRAMES - 1]
        frames = scene.frames(ids)
        poses = scene.poses(ids, aligned=True)
        bev = BevFrame.from_first_pose(poses[0])
        r = SceneRenderer(world)
        for f, T in zip(frames, poses, strict=True):
            inst = r.render(T, cfg.depth_intrinsics(), W, H).instance
            pts, _ = unproject_depth(f.depth_m, f.K_depth, T)
            struct = _structure_labels(world, pts.reshape(-1, 3)).reshape(H, W)
            n_obj = len(world.objects)
            surfaces = [("object" if o < n_obj else "opening", o) for o in np.unique(inst[inst >= 0])]
            surfaces += [("wall", s) for s in np.unique(struct[(inst == -1) & (struct >= 2)])]
            for kind, sid in surfaces:
                mask = (inst == sid) if kind != "wall" else ((inst == -1) & (struct == sid))
                depth = np.where(mask, f.depth_m, 0.0)
                t = compute_bev_targets([depth], f.K_depth, T[None], bev, grid)
                xy = bev.bev_to_world_xy(t.xy[0][t.valid[0]])
                if (
                    kind == "object"
                ):  # the mean of points on a convex box/cylinder union lies over its footprint
                    o = world.objects[int(sid)]
                    c, s = np.cos(o.yaw), np.sin(o.yaw)
                    q = xy - np.asarray(o.center[:2])
                    lx, ly = c * q[:, 0] + s * q[:, 1], -s * q[:, 0] + c * q[:, 1]
                    assert (np.abs(lx) <= o.size[0] / 2 + 0.01).all() and (
                        np.abs(ly) <= o.size[1] / 2 + 0.01
                    ).all()
                elif kind == "opening":  # door/window panels: a few cm in front of their wall, within it
                    op = world.room.openings[int(sid) - n_obj]
                    along, off = _wall_coords(world, op.wall, xy)
                    assert (np.abs(along - op.offset) <= op.width / 2 + 0.06).all()
                    assert ((off > -0.01) & (off < 0.13)).all()
                else:  # on the wall's line
                    a, b = world.room.walls()[sid - 2]
                    ev = (b - a) / np.linalg.norm(b - a)
                    assert (np.abs((xy - a) @ np.array([-ev[1], ev[0]])) < 0.01).all()
                checked += len(xy)
    assert checked > 50


def test_scanqa_object_ids_resolve_to_instances_of_the_written_scenes(dataset):
    """Every ScanQA ``object_id`` is an instance of its written scene, labelled as in ``object_names``."""
    cfg, manifest = dataset
    labels: dict[str, dict[int, str]] = {}
    n_items = n_opening_refs = 0
    for split in manifest["splits"]:
        items = json.loads((cfg.out / "annotations" / "scanqa" / f"ScanQA_v1.0_{split}.json").read_text())
        for it in items:
            sid = it["scene_id"]
            if sid not in labels:
                labels[sid] = {x.object_id: x.label for x in load_scene(cfg.out / "scans" / sid).instances}
            assert set(it["object_ids"]) <= set(labels[sid]), (sid, it["object_ids"])
            assert [labels[sid][i] for i in it["object_ids"]] == it["object_names"], it
            n_items += 1
            n_opening_refs += bool({"door", "window"} & set(it["object_names"]))
    assert n_items > 0 and n_opening_refs > 0, "some questions refer to doors or windows"


def test_first_seen_uses_the_written_instance_ids(dataset):
    """``first_seen`` (VSI appearance order) keys are instance ids, doors and windows included, and each
    first-seen frame shows its instance while instances that fill a frame are first seen no later."""
    cfg, manifest = dataset
    openings_seen = 0
    for e in manifest["scenes"]:
        i = e["index"]
        world = gen.scene_world(cfg, i)
        n_obj = len(world.objects)
        ids = {x.object_id for x in load_scene(cfg.out / "scans" / e["scene_id"]).instances}
        first = {int(k): v for k, v in e["first_seen"].items()}
        assert set(first) <= ids
        openings_seen += sum(k >= n_obj for k in first)
        poses = gen.scene_poses(cfg, i, world)
        r = SceneRenderer(world)
        for f, T in enumerate(poses):
            inst = r.render(T, cfg.depth_intrinsics(), W, H).instance
            counts = np.bincount(inst[inst >= 0], minlength=n_obj + len(world.room.openings))
            for k in np.flatnonzero(counts >= 0.05 * W * H):
                assert first[int(k)] <= f, (e["scene_id"], int(k), f)
            for k, f0 in first.items():
                if f0 == f:
                    assert counts[k] > 0, (e["scene_id"], k, f)
    assert openings_seen > 0, "the walks see doors or windows"


def test_resume_skips_finished_scenes_and_repairs_damaged_ones(dataset, tmp_path, monkeypatch):
    cfg, manifest = dataset
    copy = tmp_path / "copy"
    shutil.copytree(cfg.out, copy)
    damaged = copy / "scans" / "scene9001_00" / "scene9001_00.txt"
    damaged.write_text("garbage\n")
    calls = []
    real = gen.generate_scene
    monkeypatch.setattr(gen, "generate_scene", lambda c, i, s, **kw: calls.append(i) or real(c, i, s, **kw))
    again = gen.generate_synthetic(_cfg(copy))
    assert calls == [1]
    assert again == manifest
    assert (copy / "manifest.json").read_bytes() == (cfg.out / "manifest.json").read_bytes()
    calls.clear()
    gen.generate_synthetic(_cfg(copy))
    assert calls == []


def test_other_settings_in_the_same_folder_are_refused(dataset, tmp_path):
    cfg, _ = dataset
    copy = tmp_path / "copy"
    shutil.copytree(cfg.out, copy, ignore=shutil.ignore_patterns("*.sens"))
    with pytest.raises(DataError, match="different settings"):
        gen.generate_synthetic(_cfg(copy, frames_per_scene=FRAMES + 1))


def test_annotations_are_written_per_split_and_read_by_the_source_readers(dataset):
    cfg, manifest = dataset
    from loc3r.data.sources.registry import read_records

    ann = cfg.out / "annotations"
    for split, scene_ids in manifest["splits"].items():
        q = ann / "sqa3d" / f"v1_balanced_questions_{split}_scannetv2.json"
        a = ann / "sqa3d" / f"v1_balanced_sqa_annotations_{split}_scannetv2.json"
        recs = read_records("sqa3d", [q, a])
        assert recs and {r.scene_id for r in recs} <= set(scene_ids)
        recs = read_records("scanqa", [ann / "scanqa" / f"ScanQA_v1.0_{split}.json"])
        assert {r.scene_id for r in recs} <= set(scene_ids)
        recs = read_records("vsibench", [ann / "vsibench" / f"vsibench_{split}.json"])
        assert {r.scene_id for r in recs} <= set(scene_ids)
    assert (ann / "sqa3d" / "answer_dict.json").is_file()


def test_missing_annotation_package_is_tolerated(tmp_path, monkeypatch):
    import loc3r.data.synthetic as pkg

    monkeypatch.setitem(sys.modules, "loc3r.data.synthetic.annotations", None)
    monkeypatch.delattr(pkg, "annotations", raising=False)
    m = gen.generate_synthetic(_cfg(tmp_path / "noann", num_scenes=1, frames_per_scene=2))
    assert "annotations" not in m["counts"]
    assert not (tmp_path / "noann" / "annotations").exists()


@pytest.mark.parametrize(
    "n, expected",
    [(1, (1, 0, 0)), (2, (1, 1, 0)), (3, (1, 1, 1)), (4, (2, 1, 1)), (10, (6, 2, 2)), (20, (14, 3, 3))],
)
def test_split_counts(n, expected):
    s = gen.assign_splits(n, 0, 0.15, 0.15)
    assert (s.count("train"), s.count("val"), s.count("test")) == expected
    assert s == gen.assign_splits(n, 0, 0.15, 0.15)


def test_cli_writes_a_set_with_separate_colour_and_depth_sizes_and_a_preview(tmp_path, capsys):
    from loc3r.cli.main import main

    out = tmp_path / "cli"
    rc = main(
        [
            "synth",
            "--out",
            str(out),
            "--scenes",
            "1",
            "--frames",
            "3",
            "--width",
            "96",
            "--height",
            "72",
            "--depth-width",
            "64",
            "--depth-height",
            "48",
            "--preview",
            "--quiet",
            "--seed",
            "3",
        ]
    )
    assert rc == 0
    assert "wrote 1 scenes" in capsys.readouterr().out
    scene = load_scene(out / "scans" / "scene9000_00")
    f = scene.frame(1)
    assert f.color.shape == (72, 96, 3) and f.depth_m.shape == (48, 64)
    np.testing.assert_allclose(scene.K_color[0, 0], scene.K_depth[0, 0] * 1.5, rtol=1e-6)
    png = (out / "preview" / "scene9000_00.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_cli_categories_make_a_restricted_world(tmp_path, capsys):
    from loc3r.cli.main import main

    out = tmp_path / "cli"
    args = ["synth", "--out", str(out), "--scenes", "2", "--frames", "2", "--width", "32", "--height", "24",
            "--no-annotations", "--quiet", "--objects", "3", "6", "--categories", "bed", "sofa", "desk",
            "kitchen counter", "wardrobe", "table", "refrigerator", "bookshelf"]
    assert main(args) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["object_categories"][-1] == "bookshelf"
    for e in manifest["scenes"]:
        assert set(e["object_counts"]) <= {"bed", "sofa", "desk", "kitchen counter", "wardrobe", "table",
                                           "refrigerator", "bookshelf"}, e["object_counts"]
    capsys.readouterr()
    assert main(["synth", "--out", str(tmp_path / "bad"), "--categories", "sofa bed", "--quiet"]) != 0
    assert "unknown catalogue keys ['sofa bed']" in capsys.readouterr().err
    assert not (tmp_path / "bad" / "manifest.json").exists()


def test_bytes_do_not_depend_on_the_process_hash_seed(tmp_path):
    import os
    import subprocess

    outs = []
    for hs in ("1", "2"):
        out = tmp_path / f"h{hs}"
        env = dict(os.environ, PYTHONHASHSEED=hs)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "loc3r",
                "synth",
                "--out",
                str(out),
                "--scenes",
                "2",
                "--frames",
                "3",
                "--width",
                "48",
                "--height",
                "36",
                "--quiet",
            ],
            check=True,
            env=env,
            capture_output=True,
        )
        outs.append((out / "manifest.json").read_bytes())
    assert outs[0] == outs[1]


def test_prepare_scannet_reads_the_generated_scans_unchanged(dataset, tmp_path):
    from loc3r.data.prepare import PrepareConfig, prepare_scannet

    cfg, manifest = dataset
    report = prepare_scannet(
        PrepareConfig(
            scans_dir=cfg.out / "scans",
            out_dir=tmp_path / "prep",
            num_frames=4,
            bev_targets=True,
            image_size=56,
            patch_size=14,
            pool_stride=1,
            progress=False,
        )
    )
    assert not report.failed
    assert sorted(report.prepared) == sorted(e["scene_id"] for e in manifest["scenes"])
    for e in manifest["scenes"]:
        assert (tmp_path / "prep" / e["scene_id"] / "bev_targets.npz").is_file()
