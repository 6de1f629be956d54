"""BEV picture: a PNG with the prediction (blue) and ground truth (green) drawn where they belong."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("matplotlib")

from loc3r.eval.viz import GT_COLOR, PRED_COLOR, plot_bev_map  # noqa: E402


def _mask(img: np.ndarray, hex_color: str, tol: int = 40) -> np.ndarray:
    rgb = np.array([int(hex_color[i : i + 2], 16) for i in (1, 3, 5)])
    return np.abs(img[..., :3].astype(int) - rgb).sum(-1) < tol


def _draw(tmp_path, name, **kw) -> np.ndarray:
    path = plot_bev_map(tmp_path / name, dpi=80, **kw)
    with Image.open(path) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))


def test_prediction_and_ground_truth_are_drawn_on_the_correct_sides(tmp_path):
    rng = np.random.default_rng(0)
    tokens = rng.normal(0, 1.0, (4, 3, 3, 2))
    cams = np.stack([np.linspace(0, 2, 4), np.zeros(4)], 1)
    # prediction far left (x = -4), ground truth far right (x = +4), same height
    img = _draw(
        tmp_path,
        "a.png",
        token_xy=tokens,
        camera_xy=cams,
        camera_heading=np.zeros(4),
        pred_xy=np.array([-4.0, 0.0]),
        pred_sigma=np.array([0.3, 0.3]),
        pred_heading=0.0,
        gt_xy=np.array([4.0, 0.0]),
        gt_heading=np.pi,
        objects=[("chair", np.array([1.0, 2.0]))],
        title="test",
    )
    pred_cols = np.nonzero(_mask(img, PRED_COLOR).any(0))[0]
    gt_cols = np.nonzero(_mask(img, GT_COLOR).any(0))[0]
    plot_cols = slice(0, int(img.shape[1] * 0.8))  # ignore the legend / colour bar on the right
    pred_in_plot = _mask(img[:, plot_cols], PRED_COLOR)
    gt_in_plot = _mask(img[:, plot_cols], GT_COLOR)
    assert pred_in_plot.sum() > 20 and gt_in_plot.sum() > 20
    assert np.median(np.nonzero(pred_in_plot)[1]) < np.median(np.nonzero(gt_in_plot)[1])
    assert len(pred_cols) and len(gt_cols)


def test_without_ground_truth_nothing_green_and_shapes_are_checked(tmp_path):
    img = _draw(
        tmp_path,
        "b.png",
        token_xy=np.zeros((2, 4, 2)),
        pred_xy=np.array([0.5, 0.5]),
        pred_sigma=np.array([1.0, 0.5]),
        pred_heading=1.0,
    )
    assert not _mask(img, GT_COLOR, tol=30).any()
    assert _mask(img, PRED_COLOR).sum() > 20
    with pytest.raises(ValueError, match="token_xy"):
        plot_bev_map(tmp_path / "c.png", token_xy=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="camera_xy has 2 frames"):
        plot_bev_map(tmp_path / "c.png", token_xy=np.zeros((3, 4, 2)), camera_xy=np.zeros((2, 2)))
    assert not (tmp_path / "c.png").exists()
