"""Loss math of Loc3R-VLM as pure tensor functions (method.md §3–§5), and one combiner.

All losses are computed in float32 whatever the model dtype. Conventions:

* Positions are BEV (x, y) in metres, in the first-frame gravity-aligned BEV frame
  (``loc3r.geometry.frames``).
* Uncertainties are log variances ``log σ²`` per axis (σ in metres).
* Headings are radians in [-π, π), measured from the BEV x axis (counter-clockwise, z up).
* A masked-out sample / token contributes nothing; when nothing is valid a loss is an exact 0 that stays
  connected to the prediction's graph (``0 * pred.sum()``), so every parameter still receives a (zero)
  gradient — distributed training never sees "unused parameters".

Gaussian NLL (Kendall & Gal 2017, the paper's equation; the constant log 2π is dropped):

    nll(p̂, log σ², p) = ½ Σ_axis [ (p − p̂)² / σ² + log σ² ]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from loc3r.geometry.bins import bin_centers, wrapped_gaussian_targets

__all__ = [
    "gaussian_nll_2d",
    "bev_loss",
    "semantic_loss",
    "grounding_attention_loss",
    "position_loss",
    "orientation_targets",
    "orientation_kl",
    "situation_loss",
    "causal_lm_loss",
    "combine_losses",
]


def _zero_like_graph(*tensors: torch.Tensor) -> torch.Tensor:
    """An exact float32 zero connected to the graphs of ``tensors``."""
    return sum((t.float().sum() * 0.0 for t in tensors), torch.zeros((), device=tensors[0].device))


def gaussian_nll_2d(mean: torch.Tensor, log_var: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-point 2D Gaussian NLL with a diagonal covariance.

    Args:
        mean: [..., 2] predicted (x̂, ŷ), metres.
        log_var: [..., 2] predicted (log σ²_x, log σ²_y) (or [..., 1], shared by both axes).
        target: [..., 2] ground truth (x, y), metres.

    Returns:
        [...] ``½ Σ_axis ((t − m)² · exp(−log σ²) + log σ²)``; 0 for a perfect mean with σ = 1.
    """
    mean, log_var, target = mean.float(), log_var.float(), target.float()
    log_var = log_var.expand_as(mean)
    return 0.5 * ((target - mean) ** 2 * torch.exp(-log_var) + log_var).sum(-1)


def semantic_loss(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """L_sem: mean cross-entropy over the vision tokens with a category target.

    Args:
        logits: [B, T, R, C, K] per-token category logits.
        target: [B, T, R, C] int category index, ``ignore_index`` where unknown.
        ignore_index: target value of tokens without a category.

    Returns:
        Scalar float32 loss (an exact graph-connected 0 when no token has a target).
    """
    if tuple(target.shape) != tuple(logits.shape[:-1]):
        raise ValueError(f"semantic_targets must be {tuple(logits.shape[:-1])}, got {tuple(target.shape)}")
    t = target.reshape(-1).long()
    if not bool((t != ignore_index).any()):
        return _zero_like_graph(logits)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), t, ignore_index=ignore_index)


def bev_loss(
    mean: torch.Tensor,
    log_var: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    reduction: str = "tokens",
) -> torch.Tensor:
    """L_BEV: Gaussian NLL of every supervised token's BEV position (method.md §3).

    Args:
        mean: [B, ..., 2] per-token predicted (x̂, ŷ), metres (e.g. [B, T, rows, cols, 2]).
        log_var: [B, ..., 2] per-token log σ².
        target: [B, ..., 2] per-token BEV target, metres.
        mask: [B, ...] bool, True where the target is valid (e.g. the token's footprint has valid depth);
            None = all valid.
        reduction: ``"tokens"`` = mean over all valid tokens in the batch; ``"samples"`` = per-sample mean
            over its valid tokens, then mean over samples that have at least one.

    Returns:
        Scalar float32 loss.
    """
    if mask is None:
        mask = torch.ones(target.shape[:-1], dtype=torch.bool, device=target.device)
    mask = mask.to(device=target.device, dtype=torch.bool).expand(target.shape[:-1])
    # A masked-out token may hold NaN/inf targets: replace them before the NLL, or 0 * NaN poisons the
    # gradient.
    target = torch.where(mask[..., None], target.float(), torch.zeros((), device=target.device))
    nll = gaussian_nll_2d(mean, log_var, target)  # [B, ...]
    nll = torch.where(mask, nll, torch.zeros_like(nll))
    if reduction == "tokens":
        n = mask.sum()
        if n == 0:
            return _zero_like_graph(mean, log_var)
        return nll.sum() / n
    if reduction == "samples":
        per_n = mask.flatten(1).sum(1)
        per_sum = nll.flatten(1).sum(1)
        has = per_n > 0
        if not has.any():
            return _zero_like_graph(mean, log_var)
        return (per_sum[has] / per_n[has]).mean()
    raise ValueError(f"reduction must be 'tokens' or 'samples', got {reduction!r}")


def position_loss(
    mean: torch.Tensor, log_var: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """L_pos: Gaussian NLL of the agent position, averaged over the samples with a situation.

    Args:
        mean: [B, 2] predicted (x̂, ŷ), BEV metres.
        log_var: [B, 2] (or [B, 1]) predicted log σ².
        target: [B, 2] ground-truth position, BEV metres.
        mask: [B] bool, False for samples without a ground-truth pose (pseudo-situation); None = all.

    Returns:
        Scalar float32 loss.
    """
    return bev_loss(mean, log_var, target, mask, reduction="tokens")


def orientation_targets(
    heading_rad: torch.Tensor, num_bins: int, sigma_rad: float, bin_offset: float = 0.0
) -> torch.Tensor:
    """Wrapped-Gaussian soft bin targets y_ori [..., num_bins] (method.md §4) for headings [...] (radians)."""
    centers = bin_centers(num_bins, bin_offset, dtype=torch.float32, device=heading_rad.device)
    return wrapped_gaussian_targets(heading_rad.float(), centers, sigma_rad)


def orientation_kl(
    logits: torch.Tensor,
    heading_rad: torch.Tensor,
    sigma_rad: float,
    mask: torch.Tensor | None = None,
    bin_offset: float = 0.0,
) -> torch.Tensor:
    """L_ori = KL(y_ori ‖ softmax(logits)), averaged over the samples with a situation.

    Args:
        logits: [B, num_bins] orientation logits.
        heading_rad: [B] ground-truth BEV heading, radians.
        sigma_rad: σ_ori of the wrapped-Gaussian target, radians.
        mask: [B] bool; None = all samples.
        bin_offset: bin-centre offset (``loc3r.geometry.bins.bin_centers``).

    Returns:
        Scalar float32 loss, ``Σ_b y_b (log y_b − log p_b)`` with ``0 log 0 = 0``.
    """
    logits = logits.float()
    if mask is None:
        mask = torch.ones(logits.shape[:-1], dtype=torch.bool, device=logits.device)
    mask = mask.to(device=logits.device, dtype=torch.bool)
    heading_rad = torch.where(mask, heading_rad.float(), torch.zeros((), device=logits.device))  # NaN-safe
    target = orientation_targets(heading_rad, logits.shape[-1], sigma_rad, bin_offset)
    log_p = torch.log_softmax(logits, dim=-1)
    kl = (torch.xlogy(target, target) - target * log_p).sum(-1)  # [B]
    if not mask.any():
        return _zero_like_graph(logits)
    return torch.where(mask, kl, torch.zeros_like(kl)).sum() / mask.sum()


def situation_loss(
    pos_mean: torch.Tensor,
    pos_log_var: torch.Tensor,
    ori_logits: torch.Tensor,
    pos_target: torch.Tensor,
    ori_target_rad: torch.Tensor,
    sit_mask: torch.Tensor | None,
    *,
    sigma_ori_rad: float,
    lambda_ori: float | None,
    bin_offset: float = 0.0,
) -> dict[str, torch.Tensor | None]:
    """L_sit = L_pos + λ_ori · L_ori (method.md §4).

    Returns:
        ``{"loss_pos", "loss_ori", "loss_sit"}``; ``loss_ori`` is None when ``lambda_ori`` is 0 or None.
    """
    loss_pos = position_loss(pos_mean, pos_log_var, pos_target, sit_mask)
    loss_ori = None
    loss_sit = loss_pos
    if lambda_ori:
        loss_ori = orientation_kl(ori_logits, ori_target_rad, sigma_ori_rad, sit_mask, bin_offset)
        loss_sit = loss_pos + lambda_ori * loss_ori
    return {"loss_pos": loss_pos, "loss_ori": loss_ori, "loss_sit": loss_sit}


def grounding_attention_loss(attention: torch.Tensor, query_positions: torch.Tensor,
                             token_positions: torch.Tensor, target_mask: torch.Tensor,
                             eps: float = 1e-6) -> torch.Tensor:
    """L_ground = mean over samples with a referent of ``-log`` (attention mass of a query on its referent).

    The mass is that of the head that puts the most on the referent (max over heads), so one head can
    specialise in the lookup while the others keep attending elsewhere [G].

    Args:
        attention: [B, H, L, L_kv] attention probabilities of one decoder layer.
        query_positions: [B] sequence index of the query token (``<Pos>`` or ``<Ori>``) per sample.
        token_positions: [B, N] sequence indices of the vision tokens (e.g. ``vision_positions`` flattened).
        target_mask: [B, N] bool, the vision tokens of the referred object; samples with none are left out.
        eps: floor of the mass inside the log.

    Returns:
        Scalar float32 loss: ``mean_b -log(eps + max_h Σ_{n: mask} attention[b, h, q_b, pos_{b,n}])``; an
        exact 0 connected to the graph when no sample has a referent.
    """
    b_idx = torch.arange(attention.shape[0], device=attention.device)
    rows = attention[b_idx, :, query_positions.to(attention.device)].float()  # [B, H, L_kv]
    index = token_positions.to(attention.device)[:, None, :].expand(-1, rows.shape[1], -1)
    mass_on = torch.gather(rows, 2, index)  # [B, H, N]
    mask = target_mask.to(attention.device, dtype=torch.bool)
    has = mask.any(1)
    if not has.any():
        return _zero_like_graph(attention)
    mass = torch.where(mask[:, None, :], mass_on, torch.zeros_like(mass_on)).sum(2).amax(1)  # [B]
    return -torch.log(mass[has] + eps).mean()


def causal_lm_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    ignore_index: int = -100,
    num_items_in_batch: int | torch.Tensor | None = None,
) -> torch.Tensor:
    """Next-token cross-entropy: position i predicts ``labels[i + 1]``; ``ignore_index`` labels are skipped.

    Args:
        logits: [B, L, V].
        labels: [B, L] token ids, ``ignore_index`` outside the answer.
        ignore_index: label value to skip.
        num_items_in_batch: if given (gradient accumulation), the sum is divided by it instead of by the
            number of supervised tokens in this batch.

    Returns:
        Scalar float32 loss (an exact 0 connected to the graph when no token is supervised).
    """
    shift_logits = logits[:, :-1, :].float()
    shift_labels = labels[:, 1:].to(logits.device)
    valid = shift_labels != ignore_index
    if not valid.any():
        return _zero_like_graph(logits)
    total = F.cross_entropy(
        shift_logits.reshape(-1, shift_logits.shape[-1]),
        shift_labels.reshape(-1),
        ignore_index=ignore_index,
        reduction="sum",
    )
    denom = valid.sum() if num_items_in_batch is None else num_items_in_batch
    if torch.is_tensor(denom):
        denom = denom.to(total.device)
    return total / denom


def combine_losses(
    *,
    loss_ce: torch.Tensor | None,
    loss_bev: torch.Tensor | None,
    loss_pos: torch.Tensor | None,
    loss_ori: torch.Tensor | None,
    lambda_bev: float | None,
    lambda_sit: float | None,
    lambda_ori: float | None,
    loss_sem: torch.Tensor | None = None,
    lambda_sem: float | None = None,
    loss_ground: torch.Tensor | None = None,
    lambda_ground: float | None = None,
    loss_local: torch.Tensor | None = None,
    lambda_local: float | None = None,
) -> dict[str, torch.Tensor | None]:
    """L = L_CE + λ_BEV · L_BEV + λ_sit · (L_pos + λ_ori · L_ori) (method.md §5.1) [+ λ_sem · L_sem]
    [+ λ_ground · L_ground] [+ λ_local · L_local].

    ``L_sem`` is the optional per-token semantic cross-entropy, ``L_ground`` the optional grounding-attention
    loss and ``L_local`` the optional local-layout NLL (none is in the paper; ``Loc3RConfig.lambda_sem`` /
    ``lambda_ground`` / ``lambda_local``).

    A component that is None (not computed) or whose weight is 0/None is left out of the total.

    Returns:
        ``{"loss", "loss_ce", "loss_bev", "loss_pos", "loss_ori", "loss_sit", "loss_sem", "loss_ground",
        "loss_local"}``; ``loss`` is None when no
        component is present.
    """
    loss_sit = None
    if loss_pos is not None:
        loss_sit = loss_pos
        if lambda_ori and loss_ori is not None:
            loss_sit = loss_pos + lambda_ori * loss_ori
    terms = []
    if loss_ce is not None:
        terms.append(loss_ce)
    if lambda_bev and loss_bev is not None:
        terms.append(lambda_bev * loss_bev)
    if lambda_sit and loss_sit is not None:
        terms.append(lambda_sit * loss_sit)
    if lambda_sem and loss_sem is not None:
        terms.append(lambda_sem * loss_sem)
    if lambda_ground and loss_ground is not None:
        terms.append(lambda_ground * loss_ground)
    if lambda_local and loss_local is not None:
        terms.append(lambda_local * loss_local)
    total = None
    for t in terms:
        total = t if total is None else total + t
    return {
        "loss": total,
        "loss_ce": loss_ce,
        "loss_bev": loss_bev,
        "loss_pos": loss_pos,
        "loss_ori": loss_ori,
        "loss_sit": loss_sit,
        "loss_sem": loss_sem,
        "loss_ground": loss_ground,
        "loss_local": loss_local,
    }
