"""Kill-and-resume: a run killed with SIGKILL mid-way resumes from its last checkpoint with the same data
order, optimiser and LR schedule, so its losses after the resume equal those of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import torch

from loc3r.training.train import TEST_SIGKILL_ENV, train

from .conftest import FAST_TRAINING, SYNTH_OVERRIDES


def _overrides(synth_root, out):
    return [
        f"data.root={synth_root}",
        *SYNTH_OVERRIDES,
        *FAST_TRAINING,
        f"training.output_dir={out}",
        f"data.cache_dir={out.parent / 'clips'}",
        "training.max_steps=8",
        "training.save_strategy=steps",
        "training.save_steps=4",
        "training.warmup_steps=2",
        "training.dataloader_num_workers=1",
    ]


def _step_logs(history):
    return {e["step"]: e for e in history if "loss" in e}


@pytest.mark.slow
def test_a_killed_run_resumes_exactly(synth_root, tmp_path):
    from loc3r.training.recipe import load_recipe

    ref = train(load_recipe("configs/tiny-synthetic.yaml", _overrides(synth_root, tmp_path / "ref")))

    out = tmp_path / "killed"
    env = dict(os.environ, **{TEST_SIGKILL_ENV: "6", "OMP_NUM_THREADS": "1"})
    proc = subprocess.run(
        [sys.executable, "-m", "loc3r", "train", "configs/tiny-synthetic.yaml", *_overrides(synth_root, out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert (out / "checkpoint-4").is_dir() and not (out / "checkpoint-8").exists()
    assert not (out / "model.safetensors").exists(), "the killed run never finished"

    resumed = train(load_recipe("configs/tiny-synthetic.yaml", _overrides(synth_root, out)))
    assert resumed.resumed_from == str(out / "checkpoint-4") and resumed.global_step == 8
    a, b = _step_logs(ref.log_history), _step_logs(resumed.log_history)
    assert sorted(b) == list(range(1, 9))  # steps 1-4 come from the checkpoint's state
    for step in range(5, 9):
        assert b[step]["learning_rate"] == pytest.approx(a[step]["learning_rate"], rel=1e-9)
        for term in ("loss", "loss_ce", "loss_bev", "loss_pos", "loss_ori"):
            assert b[step][term] == pytest.approx(a[step][term], rel=1e-5, abs=1e-6), (step, term)
    ref_w, res_w = ref.model.state_dict(), resumed.model.state_dict()
    for k, v in ref_w.items():
        torch.testing.assert_close(res_w[k], v, rtol=1e-5, atol=1e-6, msg=k)
