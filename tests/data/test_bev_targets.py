"""Tests for loc3r.data.bev_targets: token footprints and per-token BEV targets.

The vectorised implementation is checked against a slow per-pixel reference written independently below
(pooling weights from torch's own ``F.interpolate``), and against hand-computed cases.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from loc3r.data.bev_targets import TokenGrid, compute_bev_targets, pool_membership
from loc3r.geometry.frames import BevFrame
from loc3r.geometry.rotations import yaw_to_matrix

torch = pytest.importorskip("torch")


# --------------------------------------------------------------------------------------------- helpers
def camera_looking(yaw: float, pitch_down: float = 0.0, position=(0.0, 0.0, 1.5)) -> np.ndarray:
    """OpenCV camera-to-world pose: optical axis at heading ``yaw`` tilted down by ``pitch_down``."""
    cp = math.cos(pitch_down)
    fwd = np.array([math.cos(yaw) * cp, math.sin(yaw) * cp, -math.sin(pitch_down)])
    right = np.array([math.sin(yaw), -math.cos(yaw), 0.0])
    down = np.cross(fwd, right)
    T = np.eye(4)
    T[:3, :3] = np.stack([right, down, fwd], axis=1)
    T[:3, 3] = position
    return T


def torch_pool_weights(n: int, stride: int) -> np.ndarray:
    """[n_out, n] weights of LLaVA-Video's bilinear pooling, measured by interpolating one-hot patch grids."""
    n_out = math.ceil(n / stride)
    eye = torch.eye(n, dtype=torch.float64).reshape(n, 1, 1, n)  # each batch item: one-hot along width
    out = torch.nn.functional.interpolate(eye, size=(1, n_out), mode="bilinear", align_corners=False)
    return out.reshape(n, n_out).T.numpy()


def reference_targets(depths, Kd, poses, bev, grid, K_color=None, color_hw=None, T_cd=None):
    """Slow per-pixel loop: scalar arithmetic throughout, token membership from explicit patch rules."""
    ph, pw = grid.patch_hw
    tr, tc = grid.token_hw
    H_in, W_in = grid.input_hw

    def feeds(n, stride):
        if grid.pool_mode == "bilinear":
            wts = torch_pool_weights(n, stride)
            return {p: [j for j in range(wts.shape[0]) if wts[j, p] > 0] for p in range(n)}
        return {p: [p // stride] for p in range(n)}

    row_feeds, col_feeds = feeds(ph, grid.pool_stride), feeds(pw, grid.pool_stride)
    out_xy = np.zeros((len(depths), tr, tc, 2))
    out_n = np.zeros((len(depths), tr, tc), dtype=int)
    for t, d in enumerate(depths):
        h, w = d.shape
        T = poses[t]
        for v in range(h):
            for u in range(w):
                z = float(d[v, u])
                if not z > 0:
                    continue
                xc, yc = (u - Kd[0, 2]) * z / Kd[0, 0], (v - Kd[1, 2]) * z / Kd[1, 1]
                pw_ = T[:3, :3] @ np.array([xc, yc, z]) + T[:3, 3]
                dx, dy = pw_[0] - bev.origin_xy[0], pw_[1] - bev.origin_xy[1]
                c0, s0 = math.cos(bev.heading0), math.sin(bev.heading0)
                bx, by = c0 * dx + s0 * dy, -s0 * dx + c0 * dy
                if K_color is None:
                    img_h, img_w, ex, ey = h, w, u + 0.5, v + 0.5
                else:
                    p = np.array([xc, yc, z])
                    if T_cd is not None:
                        p = T_cd[:3, :3] @ p + T_cd[:3, 3]
                    if p[2] <= 0:
                        continue
                    ex = K_color[0, 0] * p[0] / p[2] + K_color[0, 2] + 0.5
                    ey = K_color[1, 1] * p[1] / p[2] + K_color[1, 2] + 0.5
                    img_h, img_w = color_hw
                    if not (0 <= ex < img_w and 0 <= ey < img_h):
                        continue
                if grid.resize == "stretch":
                    xi, yi = ex * W_in / img_w, ey * H_in / img_h
                else:
                    s = grid.shortest_edge or max(grid.input_hw)
                    rh, rw = (s, int(s * img_w / img_h)) if img_h <= img_w else (int(s * img_h / img_w), s)
                    xi = ex * rw / img_w - (rw - W_in) // 2
                    yi = ey * rh / img_h - (rh - H_in) // 2
                if xi < 0 or yi < 0:
                    continue
                pc, pr = int(xi // grid.patch_size), int(yi // grid.patch_size)
                if pc >= pw or pr >= ph:
                    continue
                for r in row_feeds[pr]:
                    for c in col_feeds[pc]:
                        out_xy[t, r, c] += (bx, by)
                        out_n[t, r, c] += 1
    valid = out_n > 0
    out_xy[valid] /= out_n[valid][:, None]
    return out_xy, valid, out_n


def random_scene(rng, num=3, h=30, w=40):
    depths = [rng.uniform(0.5, 4.0, size=(h, w)) for _ in range(num)]
    for d in depths:
        d[rng.random(d.shape) < 0.3] = 0.0  # holes
        d[:12, :17] = 0.0  # an all-invalid corner covering token (0, 0) of every test grid
    poses = np.stack(
        [camera_looking(rng.uniform(-3, 3), rng.uniform(0, 0.6), rng.uniform(-2, 2, 3)) for _ in range(num)]
    )
    Kd = np.array([[35.0, 0, 19.3], [0, 34.0, 14.8], [0, 0, 1]])
    return depths, poses, Kd


# --------------------------------------------------------------------------------------------- grid geometry
def test_llava_video_grid_sizes():
    g = TokenGrid.llava_video()
    assert g.patch_hw == (27, 27)
    assert g.token_hw == (14, 14)
    assert TokenGrid.llava_video(image_size=336, patch=14, pool=2).token_hw == (12, 12)
    assert TokenGrid(input_hw=(384, 384), patch_size=14, pool_stride=1).token_hw == (27, 27)


def test_bilinear_membership_matches_torch_interpolate():
    for n, s in [(27, 2), (24, 2), (27, 3), (7, 2), (5, 1)]:
        table = pool_membership(n, s, "bilinear")
        wts = torch_pool_weights(n, s)
        for p in range(n):
            expected = sorted(j for j in range(wts.shape[0]) if wts[j, p] > 0)
            assert sorted(j for j in table[p] if j >= 0) == expected, (n, s, p)


def test_bilinear_27_to_14_hand_computed():
    table = pool_membership(27, 2, "bilinear")
    assert table[0].tolist() == [0, -1] and table[1].tolist() == [0, -1]
    assert sorted(table[13].tolist()) == [6, 7]  # the one patch that feeds two tokens
    assert table[26].tolist() == [13, -1]


def test_block_membership_ceil():
    table = pool_membership(27, 2, "block")
    assert table[:, 0].tolist() == [i // 2 for i in range(27)]
    assert (table[:, 1] == -1).all()
    assert table[26, 0] == 13 and (table[:, 0] == 13).sum() == 1


def test_footprint_stretch_hand_computed():
    # 640 px wide -> 384: pixel u centre (u + 0.5) * 0.6; patch 14 px; 27 patches use 378 px.
    g = TokenGrid.llava_video()
    masks = g.footprint_masks((480, 640))
    cols = np.nonzero(masks[0, 0].any(axis=0))[0]
    # Token col 0 = patches 0, 1 = input [0, 28): (u + 0.5) * 0.6 < 28 <=> u < 46.17 -> u = 0..46.
    assert cols.min() == 0 and cols.max() == 46
    # The last 6 input px (378..384) are unseen: (u + 0.5) * 0.6 >= 378 <=> u >= 629.5 -> pixels 630..639.
    # Likewise rows: (v + 0.5) * 0.8 >= 378 <=> v >= 472.
    seen = masks.any(axis=(0, 1))
    assert seen[:472, :630].all() and not seen[:, 630:].any() and not seen[472:].any()
    # Rows: 480 -> 384 (scale 0.8); bilinear token row 13 samples patch 13.5 * 27 / 14 - 0.5 = 25.54, i.e.
    # patches 25 and 26 = input [350, 378) -> (v + 0.5) * 0.8 in [350, 378) -> v = 437..471.
    rows = np.nonzero(masks[13, 0].any(axis=1))[0]
    assert rows.min() == 437 and rows.max() == 471
    # With block pooling the last token row holds only patch 26 = input [364, 378) -> v = 455..471.
    block_grid = TokenGrid(input_hw=(384, 384), patch_size=14, pool_stride=2, pool_mode="block")
    block = block_grid.footprint_masks((480, 640))
    rows = np.nonzero(block[13, 0].any(axis=1))[0]
    assert rows.min() == 455 and rows.max() == 471


def test_footprint_shortest_side_crop_hand_computed():
    # 4 x 8 image -> shortest side 4 -> 4 x 8 (no scaling), centre crop 4 x 4 at left = 2.
    g = TokenGrid(
        input_hw=(4, 4), patch_size=2, pool_stride=1, pool_mode="block", resize="shortest_side_crop"
    )
    m = g.footprint_masks((4, 8))
    assert m.shape == (2, 2, 4, 8)
    expected = np.zeros((4, 8), dtype=bool)
    expected[0:2, 2:4] = True
    assert np.array_equal(m[0, 0], expected)
    assert not m[..., :, :2].any() and not m[..., :, 6:].any()
    with pytest.raises(ValueError):
        small = TokenGrid(input_hw=(4, 4), patch_size=2, resize="shortest_side_crop", shortest_edge=3)
        small.resized_hw((4, 8))


# --------------------------------------------------------------------------------------------- targets
def test_wall_hand_computed():
    # Camera at (1, 2, 1.5) looking along world +x at a wall 3 m away (constant depth 3).
    # BEV frame anchored at this camera: x_bev = depth = 3, y_bev = -x_cam = -(u - cx) * 3 / fx.
    h = w = 8
    fx, cx = 4.0, 3.5
    Kd = np.array([[fx, 0, cx], [0, fx, 3.5], [0, 0, 1]])
    pose = camera_looking(0.0, 0.0, (1.0, 2.0, 1.5))
    bev = BevFrame.from_first_pose(pose)
    g = TokenGrid(input_hw=(8, 8), patch_size=2, pool_stride=1, pool_mode="block")
    depth = np.full((h, w), 3.0)
    depth[0:2, 6:8] = 0.0  # token (0, 3) has no valid depth
    depth[2, 6] = 0.0  # token (1, 3) keeps 3 of 4 pixels
    out = compute_bev_targets([depth], Kd, pose[None], bev, g, with_height=True)
    assert out.xy.shape == (1, 4, 4, 2) and out.xy.dtype == np.float32
    for c in range(4):
        y_expected = -np.mean([(u - cx) * 3 / fx for u in (2 * c, 2 * c + 1)])
        np.testing.assert_allclose(out.xy[0, 2, c], [3.0, y_expected], atol=1e-6)
    assert not out.valid[0, 0, 3] and out.count[0, 0, 3] == 0 and (out.xy[0, 0, 3] == 0).all()
    assert out.valid[0, 1, 3] and out.count[0, 1, 3] == 3
    y_partial = -((6 - cx) * 3 / fx + 2 * (7 - cx) * 3 / fx) / 3  # pixels (3,6), (2,7), (3,7)
    np.testing.assert_allclose(out.xy[0, 1, 3, 1], y_partial, atol=1e-6)
    # Height: world z = 1.5 - y_cam = 1.5 - (v - 3.5) * 3 / 4; token row 0 = v in {0, 1}.
    np.testing.assert_allclose(out.z[0, 0, 0], 1.5 - np.mean([(v - 3.5) * 0.75 for v in (0, 1)]), atol=1e-6)
    assert out.valid.sum() == 15


@pytest.mark.parametrize(
    "grid",
    [
        TokenGrid(input_hw=(28, 28), patch_size=4, pool_stride=2, pool_mode="bilinear"),
        TokenGrid(input_hw=(27, 30), patch_size=4, pool_stride=2, pool_mode="block"),
        TokenGrid(input_hw=(24, 24), patch_size=3, pool_stride=3, resize="shortest_side_crop"),
    ],
)
def test_registered_matches_reference_loop(grid):
    rng = np.random.default_rng(1)
    depths, poses, Kd = random_scene(rng)
    bev = BevFrame.from_first_pose(poses[0])
    out = compute_bev_targets(depths, Kd, poses, bev, grid)
    xy, valid, n = reference_targets(depths, Kd, poses, bev, grid)
    assert np.array_equal(out.valid, valid) and np.array_equal(out.count, n)
    assert not valid[:, 0, 0].any() and valid.sum() > valid.size // 2
    np.testing.assert_allclose(out.xy, xy, atol=1e-5)


def test_color_mapping_matches_reference_loop():
    rng = np.random.default_rng(2)
    depths, poses, Kd = random_scene(rng)
    Kc = np.array([[70.0, 0, 41.0], [0, 69.0, 29.5], [0, 0, 1]])  # colour 64 x 84, slightly different FOV
    T_cd = np.eye(4)
    T_cd[:3, :3] = yaw_to_matrix(0.02)
    T_cd[:3, 3] = [0.03, -0.01, 0.02]
    grid = TokenGrid(input_hw=(28, 28), patch_size=4, pool_stride=2, pool_mode="bilinear")
    bev = BevFrame.from_first_pose(poses[0])
    out = compute_bev_targets(
        depths, Kd, poses, bev, grid, K_color=Kc, color_hw=(64, 84), T_color_from_depth=T_cd
    )
    xy, valid, n = reference_targets(depths, Kd, poses, bev, grid, K_color=Kc, color_hw=(64, 84), T_cd=T_cd)
    assert np.array_equal(out.count, n) and np.array_equal(out.valid, valid)
    np.testing.assert_allclose(out.xy, xy, atol=1e-5)


def test_color_mapping_with_identical_camera_equals_registered():
    rng = np.random.default_rng(3)
    depths, poses, Kd = random_scene(rng, num=2)
    grid = TokenGrid(input_hw=(28, 28), patch_size=4, pool_stride=2)
    bev = BevFrame.from_first_pose(poses[0])
    a = compute_bev_targets(depths, Kd, poses, bev, grid)
    b = compute_bev_targets(depths, Kd, poses, bev, grid, K_color=Kd, color_hw=depths[0].shape)
    assert np.array_equal(a.count, b.count)
    np.testing.assert_allclose(a.xy, b.xy, atol=1e-5)


def test_targets_invariant_to_world_yaw_and_translation():
    # Raw vs axis-aligned ScanNet world (a rotation about +Z plus a translation) give the same BEV targets.
    rng = np.random.default_rng(4)
    depths, poses, Kd = random_scene(rng, num=2)
    A = np.eye(4)
    A[:3, :3] = yaw_to_matrix(-0.33)
    A[:3, 3] = [-5.38, -2.87, -0.06]
    grid = TokenGrid(input_hw=(28, 28), patch_size=4, pool_stride=2)
    raw = compute_bev_targets(depths, Kd, poses, BevFrame.from_first_pose(poses[0]), grid)
    aligned_poses = A @ poses
    aligned = compute_bev_targets(depths, Kd, aligned_poses, BevFrame.from_first_pose(aligned_poses[0]), grid)
    np.testing.assert_allclose(raw.xy, aligned.xy, atol=1e-4)
    assert np.array_equal(raw.valid, aligned.valid)


def test_first_frame_centre_token_lies_straight_ahead():
    # In the first frame, the token at the image centre sees a point straight ahead: y_bev ~ 0, x_bev > 0.
    h, w = 48, 64
    Kd = np.array([[50.0, 0, (w - 1) / 2], [0, 50.0, (h - 1) / 2], [0, 0, 1]])
    pose = camera_looking(1.1, 0.2, (3.0, -1.0, 1.4))
    g = TokenGrid(input_hw=(32, 32), patch_size=4, pool_stride=2, pool_mode="block")  # 4 x 4 tokens
    out = compute_bev_targets([np.full((h, w), 2.0)], Kd, pose[None], BevFrame.from_first_pose(pose), g)
    centre = out.xy[0, 1:3, 1:3].reshape(-1, 2).mean(axis=0)
    assert abs(centre[1]) < 1e-5 and centre[0] > 1.5


def test_errors():
    g = TokenGrid(input_hw=(8, 8), patch_size=2)
    pose = np.eye(4)[None]
    bev = BevFrame.from_first_pose(pose[0])
    with pytest.raises(ValueError):
        compute_bev_targets([np.ones((4, 4))], np.eye(3), np.eye(4)[None].repeat(2, 0), bev, g)
    with pytest.raises(ValueError):
        compute_bev_targets([np.ones((4, 4))], np.eye(3), pose, bev, g, K_color=np.eye(3))
    bad = pose.copy()
    bad[0, 0, 0] = -np.inf
    with pytest.raises(ValueError, match="pose of frame 0"):
        compute_bev_targets([np.ones((4, 4))], np.eye(3), bad, bev, g)
    with pytest.raises(ValueError):
        TokenGrid(input_hw=(8, 8), patch_size=16)
    with pytest.raises(ValueError):
        TokenGrid(pool_mode="max")


def test_full_size_llava_grid_runs_fast_enough():
    # 640 x 480 ScanNet-size depth, 4 frames: shape and a sanity check that every seen token is valid.
    rng = np.random.default_rng(5)
    Kd = np.array([[577.6, 0, 318.9], [0, 578.7, 242.7], [0, 0, 1]])
    poses = np.stack([camera_looking(0.3 * i, 0.3, (0, 0, 1.5)) for i in range(4)])
    depths = rng.uniform(1, 3, size=(4, 480, 640))
    out = compute_bev_targets(depths, Kd, poses, BevFrame.from_first_pose(poses[0]), TokenGrid.llava_video())
    assert out.xy.shape == (4, 14, 14, 2) and out.valid.all()
    # 14 x 14 tokens partition the 630 x 480 seen pixels except the doubly-used row/column of patch 13.
    assert out.count.sum() > 630 * 480


# ------------------------------------------------------------------------------------- egocentric targets
def _camera_c2w(x: float, y: float, heading_deg: float, z: float = 1.5) -> np.ndarray:
    """OpenCV camera (x right, y down, z forward) at (x, y, z) looking horizontally at ``heading_deg``."""
    h = math.radians(heading_deg)
    fwd = np.array([math.cos(h), math.sin(h), 0.0])
    down = np.array([0.0, 0.0, -1.0])
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = np.cross(down, fwd), down, fwd, (x, y, z)
    return T


def test_egocentric_targets_hand_computed():
    from loc3r.data.bev_targets import egocentric_targets

    # Frame 0 at the world origin facing +x; frame 1 at (2, 1) facing +y; frame 2 has lost tracking.
    poses = np.stack([_camera_c2w(0, 0, 0), _camera_c2w(2, 1, 90), np.full((4, 4), -np.inf)])
    bev = np.zeros((3, 1, 2, 2), np.float32)
    valid = np.ones((3, 1, 2), bool)
    bev[:, 0, 0] = (3.0, 1.0)   # world (3, 1): 1 m to frame 1's right, level with it
    bev[:, 0, 1] = (2.0, 4.0)   # world (2, 4): 3 m straight ahead of frame 1
    valid[1, 0, 1] = True
    local, ok = egocentric_targets(bev, valid, poses)
    np.testing.assert_allclose(local[0], bev[0], atol=1e-6)  # frame 0: its own BEV frame
    np.testing.assert_allclose(local[1, 0, 0], (0.0, -1.0), atol=1e-6)  # x forward, y left
    np.testing.assert_allclose(local[1, 0, 1], (3.0, 0.0), atol=1e-6)
    assert ok[:2].all() and not ok[2].any() and np.all(local[2] == 0)
    # Invalid input tokens stay invalid, whatever their (possibly NaN) value.
    bev[1, 0, 0] = np.nan
    valid[1, 0, 0] = False
    local, ok = egocentric_targets(bev, valid, poses)
    assert not ok[1, 0, 0] and local[1, 0, 0].tolist() == [0.0, 0.0] and ok[1, 0, 1]
    with pytest.raises(ValueError, match="poses_c2w"):
        egocentric_targets(bev, valid, poses[:2])


def test_egocentric_targets_do_not_depend_on_the_first_frame():
    """A token's egocentric target is a property of its own frame: the same whichever frame anchors the BEV."""
    from loc3r.data.bev_targets import egocentric_targets

    rng = np.random.default_rng(0)
    poses = np.stack([_camera_c2w(*rng.uniform(-3, 3, 2), rng.uniform(-180, 180)) for _ in range(4)])
    world = rng.uniform(-4, 4, (4, 2, 3, 2))
    valid = np.ones((4, 2, 3), bool)
    outs = []
    for first in (0, 2):
        order = [first] + [t for t in range(4) if t != first]
        bev = BevFrame.from_first_pose(poses[first]).world_to_bev_xy(world[order])
        local, _ = egocentric_targets(bev, valid, poses[order])
        outs.append(local[np.argsort(order)])
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-5)
