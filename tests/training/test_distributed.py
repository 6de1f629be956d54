"""Two processes on CPU (gloo): ``loc3r train`` under torchrun runs DDP; the ranks end with equal weights."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch

from .conftest import FAST_TRAINING, SYNTH_OVERRIDES

# Runs the `loc3r train` command line in each process and, after training, stores that rank's weights.
RANK_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import torch
    from safetensors.torch import save_file
    import loc3r.training.train as T
    from loc3r.cli.main import main

    out = sys.argv[1]
    original = T.train

    def train_and_dump(recipe, callbacks=None):
        result = original(recipe, callbacks)
        rank = torch.distributed.get_rank()
        state = {k: v.detach().contiguous() for k, v in result.model.state_dict().items()}
        save_file(state, os.path.join(out, f"rank{rank}.safetensors"))
        info = {"world_size": torch.distributed.get_world_size(), "backend": torch.distributed.get_backend(),
                "global_step": result.global_step,
                "loss_logs": [e for e in result.log_history if "loss" in e]}
        with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
            json.dump(info, f)
        return result

    T.train = train_and_dump
    sys.exit(main(sys.argv[2:]))
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_ddp_ends_with_identical_weights(synth_root, tmp_path):
    from safetensors.torch import load_file

    script = tmp_path / "rank_main.py"
    script.write_text(RANK_SCRIPT)
    out = tmp_path / "dumps"
    out.mkdir()
    overrides = [
        f"data.root={synth_root}",
        *SYNTH_OVERRIDES,
        *FAST_TRAINING,
        f"training.output_dir={tmp_path / 'run'}",
        f"data.cache_dir={tmp_path / 'clips'}",
        "training.max_steps=3",
        "training.per_device_train_batch_size=2",
        "training.global_batch_size=8",
        "training.torch_num_threads=1",
        "training.use_cpu=true",
    ]
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        str(script),
        str(out),
        "train",
        "configs/tiny-synthetic.yaml",
        *overrides,
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    for i in info:
        assert i["world_size"] == 2 and i["backend"] == "gloo" and i["global_step"] == 3
    # Both processes log the same (all-reduced) losses, and they hold bit-identical weights afterwards.
    assert info[0]["loss_logs"] == info[1]["loss_logs"] and len(info[0]["loss_logs"]) == 3
    a, b = load_file(out / "rank0.safetensors"), load_file(out / "rank1.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # ... and they changed: training happened.
    from loc3r.modeling.builders import loc3r_tiny

    init = loc3r_tiny(prior_token_dim=13, head_hidden_size=64)[0].state_dict()
    assert any(not torch.equal(init[k], a[k]) for k in a if k in init)
    assert (tmp_path / "run" / "model.safetensors").is_file(), "rank 0 saved the final model"
