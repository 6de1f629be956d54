"""The tiny model memorises a small synthetic batch: all four losses go down together."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def test_overfit_drives_all_four_losses_down(tiny, videos_factory):
    from loc3r.modeling.trainable import set_trainable

    model, proc = tiny
    model.train()
    set_trainable(model)  # paper setting: vision tower frozen
    videos = videos_factory(2, 2, seed=1)
    batch = proc(
        videos,
        ["I am facing the red chair", "I am at the door"],
        ["what is on my left?", "how many?"],
        answers=["a blue table", "two"],
        camera_tokens=torch.randn(2, 2, 8, generator=torch.Generator().manual_seed(1)),
    )
    g = torch.Generator().manual_seed(0)
    targets = {
        "bev_targets": torch.randn(2, 2, 4, 4, 2, generator=g) * 2,
        "pos_target": torch.tensor([[1.0, -2.0], [0.5, 3.0]]),
        "ori_target": torch.tensor([2.5, -1.0]),
    }
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3, weight_decay=0.0)
    hist = []
    for _ in range(120):
        out = model(**batch, **targets)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        hist.append([out.loss_ce.item(), out.loss_bev.item(), out.loss_pos.item(), out.loss_ori.item()])
    h = np.array(hist)
    first, last = h[0], h[-10:].mean(0)
    ce, bev, pos, ori = range(4)
    assert last[ce] < 0.1 * first[ce], h[:, ce]
    assert last[ori] < 0.1 * first[ori], h[:, ori]
    assert last[pos] < first[pos] - 2.0, h[:, pos]  # Gaussian NLL: error and log σ² both shrink
    assert last[bev] < first[bev] - 1.0, h[:, bev]
