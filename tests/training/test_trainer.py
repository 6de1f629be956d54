"""``Loc3RTrainer`` pieces: per-term loss bookkeeping and the split of the held-out set over processes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from loc3r.training.trainer import Loc3RTrainer, NonFiniteLossError


def _fake(world=1, rank=0, bs=2, max_eval=None):
    args = SimpleNamespace(
        world_size=world, process_index=rank, per_device_eval_batch_size=bs, nan_guard=True, device="cpu"
    )
    return SimpleNamespace(
        args=args, max_eval_samples=max_eval, _terms={}, state=SimpleNamespace(global_step=4), model=None
    )


def test_terms_are_averaged_over_the_micro_batches_that_supervise_them():
    fake = _fake()
    sup = {
        "labels": torch.tensor([[1, -100]]),
        "bev_mask": torch.tensor([True]),
        "sit_mask": torch.tensor([True]),
    }
    nosit = dict(sup, sit_mask=torch.tensor([False]))
    for out, inputs in (
        ({"loss_ce": torch.tensor(2.0), "loss_bev": torch.tensor(1.0), "loss_pos": torch.tensor(4.0)}, sup),
        ({"loss_ce": torch.tensor(4.0), "loss_bev": torch.tensor(3.0), "loss_pos": torch.tensor(0.0)}, nosit),
    ):
        Loc3RTrainer._accumulate_terms(fake, out, inputs)
    means = Loc3RTrainer._pop_terms(fake)
    # loss_pos of the batch without a situation pose (an exact 0) does not dilute the mean.
    assert means == {"loss_ce": 3.0, "loss_bev": 2.0, "loss_pos": 4.0}
    assert fake._terms == {} and Loc3RTrainer._pop_terms(fake) == {}


class _Eval:
    """Held-out keys 0..9; keys < 7 have 8 frames, the rest 16."""

    def eval_keys(self):
        return list(range(10))

    def frames_of_key(self, k):
        return 8 if k < 7 else 16


@pytest.mark.parametrize("world", [1, 2, 3])
def test_held_out_batches_cover_every_sample_once_with_equal_counts_per_process(world):
    shares = [Loc3RTrainer._eval_batches(_fake(world, r, bs=3), _Eval()) for r in range(world)]
    assert len({len(s) for s in shares}) == 1, "every process runs the same number of batches (ZeRO-3)"
    counted = sorted(k for s in shares for keys, counts in s if counts for k in keys)
    assert counted == list(range(10))
    for s in shares:
        for keys, _ in s:
            assert len(keys) <= 3 and len({_Eval().frames_of_key(k) for k in keys}) == 1
    capped = Loc3RTrainer._eval_batches(_fake(1, 0, bs=3, max_eval=4), _Eval())
    assert [k for keys, _ in capped for k in keys] == [0, 1, 2, 3]


def test_non_finite_loss_message_names_step_terms_and_samples():
    fake = _fake()
    out = {"loss_ce": torch.tensor(1.5), "loss_pos": torch.tensor(float("nan"))}
    with pytest.raises(NonFiniteLossError) as err:
        Loc3RTrainer._raise_non_finite(fake, torch.tensor(float("nan")), out, ["sqa3d/7", "scanqa/train-1"])
    msg = str(err.value)
    assert "at step 5" in msg and "loss_ce=1.5" in msg and "loss_pos=nan" in msg
    assert "sqa3d/7, scanqa/train-1" in msg
