"""The ``pose`` prior backend: hand-computed features, frame invariances, real ScanNet poses, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from loc3r.backends.pose import GRAVITY_FEATURES, RELATIVE_FEATURES, PosePrior, pose_features
from loc3r.geometry.transforms import RigidTransformError

K = np.array([[1169.621094, 0, 646.295044], [0, 1167.105103, 489.927032], [0, 0, 1]])
W, H = 1296, 968


def rz(deg):
    a = math.radians(deg)
    return np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])


def rigid(R, t):
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, t
    return T


def random_rigid(rng):
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    return rigid(q, rng.normal(size=3))


def test_relative_features_hand_case():
    T0 = rigid(rz(30), [1.0, 2.0, 0.5])
    D = rigid(rz(90), [1.0, 0.0, 0.0])  # second camera: 1 m along the first camera's x, turned 90 deg about z
    feats = pose_features(np.stack([T0, T0 @ D]), K, (W, H))
    intr = [K[0, 0] / W, K[1, 1] / H, K[0, 2] / W, K[1, 2] / H]
    np.testing.assert_allclose(feats[0], [0, 0, 0, 1, 0, 0, 0, 1, 0, *intr], atol=1e-12)
    np.testing.assert_allclose(feats[1], [1, 0, 0, 0, 1, 0, -1, 0, 0, *intr], atol=1e-12)
    assert feats.shape == (2, len(RELATIVE_FEATURES))


def test_relative_features_do_not_depend_on_the_world_frame():
    rng = np.random.default_rng(0)
    poses = np.stack([random_rigid(rng) for _ in range(5)])
    G = random_rigid(rng)
    a = pose_features(poses, K, (W, H))
    b = pose_features(G @ poses, K, (W, H))
    np.testing.assert_allclose(a, b, atol=1e-9)


def test_gravity_features_on_real_scannet_poses(scannet_info):
    P = scannet_info["poses_c2w"]
    feats = pose_features(P, scannet_info["intrinsics"], (W, H), mode="gravity")
    assert feats.shape == (3, len(GRAVITY_FEATURES))
    fwd = P[:, :3, 2]
    h0 = math.atan2(fwd[0, 1], fwd[0, 0])
    for t in range(3):
        d = P[t, :2, 3] - P[0, :2, 3]
        x = math.cos(h0) * d[0] + math.sin(h0) * d[1]
        y = -math.sin(h0) * d[0] + math.cos(h0) * d[1]
        rel_heading = math.atan2(fwd[t, 1], fwd[t, 0]) - h0
        expected = [
            x,
            y,
            P[t, 2, 3] - P[0, 2, 3],
            math.sin(rel_heading),
            math.cos(rel_heading),
            math.asin(fwd[t, 2]),
        ]
        np.testing.assert_allclose(feats[t, :6], expected, atol=1e-9)
    assert feats[0, 5] == pytest.approx(math.asin(-0.428398))  # the first camera looks 24.5 deg down
    np.testing.assert_allclose(
        feats[:, 6:], [[1169.621094 / W, 1167.105103 / H, 646.295044 / W, 489.927032 / H]] * 3
    )


def test_gravity_features_invariant_to_world_yaw_and_shift(scannet_info):
    P = scannet_info["poses_c2w"]
    G = rigid(rz(-19.0), [0.3, -4.0, 0.0])  # like ScanNet's axis alignment: yaw + shift
    a = pose_features(P, K, (W, H), mode="gravity")
    b = pose_features(G @ P, K, (W, H), mode="gravity")
    np.testing.assert_allclose(a, b, atol=1e-9)


def test_backend_encode_shapes_dtype_and_identity(scannet_info):
    rel, grav = PosePrior(), PosePrior(mode="gravity")
    assert (rel.token_dim, grav.token_dim) == (13, 10)
    assert rel.checkpoint_hash == "pose-relative-v1" and grav.checkpoint_hash == "pose-gravity-v1"
    assert not rel.needs_pixels and rel.needs_poses
    out = rel.encode(
        poses_c2w=torch.from_numpy(scannet_info["poses_c2w"]),
        intrinsics=scannet_info["intrinsics"],
        image_size_wh=(W, H),
    )
    assert out.shape == (3, 13) and out.dtype == torch.float32
    np.testing.assert_allclose(out[0, :9].numpy(), [0, 0, 0, 1, 0, 0, 0, 1, 0], atol=1e-6)


def test_image_size_comes_from_frames_when_given():
    frames = np.zeros((2, 10, 20, 3), np.uint8)  # W = 20, H = 10
    Ks = np.stack([np.diag([10.0, 5.0, 1.0])] * 2)
    Ks[:, 0, 2], Ks[:, 1, 2] = 10.0, 5.0
    out = PosePrior().encode(frames, poses_c2w=np.stack([np.eye(4)] * 2), intrinsics=Ks)
    np.testing.assert_allclose(out[:, 9:].numpy(), [[0.5, 0.5, 0.5, 0.5]] * 2)


def test_invalid_pose_names_the_frame():
    poses = np.stack([np.eye(4), np.eye(4)])
    poses[1, :3, :3] *= 2.0  # scaled: not a rotation
    with pytest.raises(RigidTransformError, match="frame 1"):
        PosePrior().encode(poses_c2w=poses, intrinsics=K, image_size_wh=(W, H))
    poses[1] = np.eye(4)
    poses[1, 0, 3] = -np.inf  # ScanNet's marker of lost tracking
    with pytest.raises(RigidTransformError, match="frame 1.*inf"):
        PosePrior().encode(poses_c2w=poses, intrinsics=K, image_size_wh=(W, H))


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"intrinsics": None}, "needs poses_c2w"),
        ({"image_size_wh": None}, "image_size_wh"),
        ({"intrinsics": np.diag([-1.0, 1.0, 1.0])}, "positive"),
        ({"intrinsics": np.zeros((2, 2))}, "intrinsics must be"),
        ({"image_size_wh": [(1, 1)] * 3}, "image_size_wh"),
    ],
)
def test_bad_inputs_give_clear_errors(kwargs, msg):
    args = {"poses_c2w": np.stack([np.eye(4)] * 2), "intrinsics": K, "image_size_wh": (W, H)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=msg):
        PosePrior().encode(**args)


def test_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        PosePrior(mode="absolute")
