"""Closed-form checks of the pure loss functions (loc3r.modeling.losses)."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from loc3r.modeling.losses import (  # noqa: E402
    bev_loss,
    causal_lm_loss,
    combine_losses,
    gaussian_nll_2d,
    orientation_kl,
    orientation_targets,
    position_loss,
    situation_loss,
)


def test_gaussian_nll_zero_at_perfect_unit_sigma():
    m = torch.tensor([[1.0, -2.0]])
    assert gaussian_nll_2d(m, torch.zeros(1, 2), m).item() == 0.0


def test_gaussian_nll_hand_value():
    # ½[(2-1)²/1 + 0 + (0-2)²/4 + log 4] = ½[1 + 1 + log 4]
    v = gaussian_nll_2d(
        torch.tensor([1.0, 2.0]), torch.tensor([0.0, math.log(4.0)]), torch.tensor([2.0, 0.0])
    )
    assert v.item() == pytest.approx(0.5 * (2.0 + math.log(4.0)), rel=1e-6)


def test_gaussian_nll_shared_log_var_broadcasts():
    a = gaussian_nll_2d(torch.tensor([0.0, 0.0]), torch.tensor([0.5]), torch.tensor([1.0, 1.0]))
    b = gaussian_nll_2d(torch.tensor([0.0, 0.0]), torch.tensor([0.5, 0.5]), torch.tensor([1.0, 1.0]))
    assert a.item() == pytest.approx(b.item())


def _nll(m, lv, t):
    return 0.5 * sum((t[i] - m[i]) ** 2 / math.exp(lv[i]) + lv[i] for i in range(2))


def test_bev_loss_masks_and_reductions():
    # 2 samples x 3 tokens; sample 0 has 1 valid token, sample 1 has 2; invalid targets are NaN (must be
    # ignored).
    mean = torch.tensor([[[0.0, 0.0], [5.0, 5.0], [1.0, 1.0]], [[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]])
    lv = torch.tensor([[[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]], [[0.2, -0.3], [0.0, 0.0], [0.0, 0.0]]])
    tgt = torch.tensor(
        [[[1.0, 0.0], [float("nan")] * 2, [float("nan")] * 2], [[0.0, 0.0], [0.0, 0.0], [0.0, 3.0]]]
    )
    mask = torch.tensor([[True, False, False], [True, False, True]])
    n00 = _nll([0, 0], [0, 0], [1, 0])
    n10 = _nll([1, 0], [0.2, -0.3], [0, 0])
    n12 = _nll([2, 2], [0, 0], [0, 3])
    tokens = bev_loss(mean, lv, tgt, mask, reduction="tokens")
    samples = bev_loss(mean, lv, tgt, mask, reduction="samples")
    assert tokens.item() == pytest.approx((n00 + n10 + n12) / 3, rel=1e-6)
    assert samples.item() == pytest.approx((n00 + (n10 + n12) / 2) / 2, rel=1e-6)


def test_empty_masks_give_connected_exact_zero():
    mean = torch.randn(2, 3, 2, requires_grad=True)
    lv = torch.randn(2, 3, 2, requires_grad=True)
    out = bev_loss(mean, lv, torch.randn(2, 3, 2), torch.zeros(2, 3, dtype=torch.bool))
    assert out.item() == 0.0
    out.backward()
    assert mean.grad is not None and torch.all(mean.grad == 0)
    logits = torch.randn(2, 36, requires_grad=True)
    o = orientation_kl(logits, torch.zeros(2), 0.3, torch.zeros(2, dtype=torch.bool))
    assert o.item() == 0.0
    o.backward()
    assert torch.all(logits.grad == 0)


def _wrapped_target(theta, num_bins, sigma, offset=0.0):
    centers = -math.pi + (np.arange(num_bins) + offset) * 2 * math.pi / num_bins
    d = np.remainder(theta - centers + math.pi, 2 * math.pi) - math.pi
    w = np.exp(-0.5 * (d / sigma) ** 2)
    return w / w.sum()


@pytest.mark.parametrize("theta", [0.1, 3.1, -3.14159, 1.0])
def test_orientation_kl_against_numpy(theta):
    sigma = math.radians(20.0)
    logits = torch.linspace(-1.0, 2.0, 36)[None]
    y = _wrapped_target(theta, 36, sigma)
    logp = logits[0].double().numpy() - np.log(np.exp(logits[0].double().numpy()).sum())
    expected = float(np.sum(y * (np.log(y) - logp)))
    got = orientation_kl(logits, torch.tensor([theta]), sigma)
    assert got.item() == pytest.approx(expected, rel=1e-4, abs=1e-6)


def test_orientation_kl_zero_when_prediction_matches_target():
    sigma = math.radians(20.0)
    y = _wrapped_target(2.0, 36, sigma, offset=0.5)
    logits = torch.tensor(np.log(y), dtype=torch.float32)[None]
    assert orientation_kl(logits, torch.tensor([2.0]), sigma, bin_offset=0.5).item() == pytest.approx(
        0.0, abs=1e-5
    )


def test_orientation_target_wraps_across_pi():
    # A heading just below +π is closest to bin 0 (centre -π ≡ +π); its mass spreads to bins 1 and 35 alike.
    y = orientation_targets(torch.tensor([math.pi - 0.01]), 36, math.radians(20.0))[0]
    assert int(y.argmax()) == 0
    assert y[1].item() == pytest.approx(y[35].item(), rel=0.2)
    np.testing.assert_allclose(y.numpy(), _wrapped_target(math.pi - 0.01, 36, math.radians(20.0)), atol=1e-6)


def test_position_loss_masks_samples():
    m = torch.tensor([[0.0, 0.0], [10.0, 10.0]])
    t = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    lv = torch.zeros(2, 2)
    got = position_loss(m, lv, t, torch.tensor([True, False]))
    assert got.item() == pytest.approx(_nll([0, 0], [0, 0], [1, 1]))


def test_situation_loss_combines_with_lambda_ori():
    m, lv, t = torch.zeros(1, 2), torch.zeros(1, 2), torch.ones(1, 2)
    logits = torch.zeros(1, 36)
    parts = situation_loss(m, lv, logits, t, torch.tensor([0.5]), None, sigma_ori_rad=0.35, lambda_ori=3.5)
    assert parts["loss_sit"].item() == pytest.approx(
        parts["loss_pos"].item() + 3.5 * parts["loss_ori"].item()
    )
    assert (
        situation_loss(m, lv, logits, t, torch.tensor([0.5]), None, sigma_ori_rad=0.35, lambda_ori=0)[
            "loss_ori"
        ]
        is None
    )


def test_causal_lm_loss_against_manual():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 7)
    labels = torch.tensor([[-100, -100, 3, 4, -100], [-100, 1, 2, -100, -100]])
    # position i predicts labels[i + 1]
    terms = []
    for b in range(2):
        for i in range(4):
            y = labels[b, i + 1].item()
            if y != -100:
                terms.append(-torch.log_softmax(logits[b, i], -1)[y].item())
    assert causal_lm_loss(logits, labels).item() == pytest.approx(sum(terms) / len(terms), rel=1e-6)
    assert causal_lm_loss(logits, labels, num_items_in_batch=8).item() == pytest.approx(
        sum(terms) / 8, rel=1e-6
    )


def test_combine_losses_weights_and_disabling():
    ce, bev, pos, ori = (torch.tensor(v) for v in (1.0, 2.0, 3.0, 4.0))
    out = combine_losses(
        loss_ce=ce,
        loss_bev=bev,
        loss_pos=pos,
        loss_ori=ori,
        lambda_bev=0.05,
        lambda_sit=0.075,
        lambda_ori=3.5,
    )
    assert out["loss"].item() == pytest.approx(1.0 + 0.05 * 2.0 + 0.075 * (3.0 + 3.5 * 4.0))
    assert out["loss_sit"].item() == pytest.approx(3.0 + 3.5 * 4.0)
    off = combine_losses(
        loss_ce=ce, loss_bev=bev, loss_pos=pos, loss_ori=ori, lambda_bev=None, lambda_sit=0.0, lambda_ori=3.5
    )
    assert off["loss"].item() == pytest.approx(1.0)
    assert (
        combine_losses(
            loss_ce=None,
            loss_bev=None,
            loss_pos=None,
            loss_ori=None,
            lambda_bev=1,
            lambda_sit=1,
            lambda_ori=1,
        )["loss"]
        is None
    )


def test_nan_targets_of_masked_entries_do_not_poison_gradients():
    mean = torch.zeros(1, 2, 2, requires_grad=True)
    lv = torch.zeros(1, 2, 2, requires_grad=True)
    tgt = torch.tensor([[[1.0, 1.0], [float("nan"), float("inf")]]])
    bev_loss(mean, lv, tgt, torch.tensor([[True, False]])).backward()
    assert torch.isfinite(mean.grad).all() and torch.isfinite(lv.grad).all()
    logits = torch.zeros(2, 36, requires_grad=True)
    orientation_kl(logits, torch.tensor([0.3, float("nan")]), 0.35, torch.tensor([True, False])).backward()
    assert torch.isfinite(logits.grad).all()


def test_grounding_attention_loss_by_hand():
    from loc3r.modeling.losses import grounding_attention_loss

    att = torch.zeros(2, 2, 5, 5)
    att[0, 0, 4] = torch.tensor([0.1, 0.2, 0.3, 0.0, 0.4])
    att[0, 1, 4] = torch.tensor([0.5, 0.0, 0.2, 0.1, 0.2])
    att[1, :, 3] = torch.tensor([0.25, 0.25, 0.25, 0.25, 0.0])
    tokens = torch.tensor([[0, 1, 2], [0, 1, 2]])
    mask = torch.tensor([[True, False, True], [False, False, False]])
    # sample 0, query at 4, tokens 0 and 2: head 0 puts 0.4 on them, head 1 0.7 -> the max; sample 1: none
    loss = grounding_attention_loss(att, torch.tensor([4, 3]), tokens, mask, eps=0.0)
    assert loss.item() == pytest.approx(-math.log(0.7))
    att.requires_grad_(True)
    zero = grounding_attention_loss(att, torch.tensor([4, 3]), tokens, torch.zeros_like(mask))
    assert zero.item() == 0.0 and zero.requires_grad
