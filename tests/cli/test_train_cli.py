"""``loc3r train``: parsing, --dry-run, errors, and a fresh-folder run (data generated and prepared first)."""

from __future__ import annotations

import pytest
import yaml

from loc3r.cli.main import main

pytest.importorskip("torch")


def test_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert "KEY=VALUE" in text and "--dry-run" in text and "configs/tiny-synthetic.yaml" in text


def test_dry_run_prints_the_resolved_recipe(capsys):
    assert (
        main(
            [
                "train",
                "configs/tiny-synthetic.yaml",
                "--dry-run",
                "training.learning_rate=2e-4",
                "data.num_frames=4",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("# resolved from") and "training.learning_rate=2e-4" in out.splitlines()[0]
    resolved = yaml.safe_load(out)
    assert resolved["training"]["learning_rate"] == pytest.approx(2e-4)
    assert resolved["data"]["num_frames"] == 4


@pytest.mark.parametrize(
    "args, message",
    [
        (["configs/tiny-synthetic.yaml", "training.learnig_rate=1"], "unknown key training.learnig_rate"),
        (["configs/tiny-synthetic.yaml", "learning_rate"], "is not KEY=VALUE"),
        (["configs/tiny-synthetic.yaml", "--fast"], "unknown option"),
        (["configs/missing.yaml"], "no such file"),
    ],
)
def test_errors_are_one_clear_line(args, message, capsys):
    assert main(["train", *args, "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("loc3r train: error:") and message in err


def test_a_fresh_folder_generates_prepares_and_trains(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rc = main(
        [
            "train",
            "configs/tiny-synthetic.yaml",
            "data.synthetic.scenes=3",
            "data.synthetic.frames_per_scene=20",
            "data.synthetic.width=64",
            "data.synthetic.height=48",
            "training.max_steps=2",
            "training.logging_steps=1",
            "training.eval_on_start=false",
            "training.dataloader_num_workers=0",
            "training.dataloader_persistent_workers=false",
            "training.disable_tqdm=true",
            "training.torch_num_threads=1",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "loss term" in out and "loss_bev" in out and "held-out localization: loc_Acc@0.5m" in out
    data = tmp_path / "data" / "tiny-synthetic"
    assert (data / "synthetic" / "manifest.json").is_file()
    assert len(list((data / "prepared").glob("scene*/bev_targets.npz"))) == 3
    run = tmp_path / "runs" / "tiny-synthetic"
    assert (run / "model.safetensors").is_file() and (run / "train_summary.json").is_file()
    assert list((run / "runs").rglob("events.out.tfevents.*")), "TensorBoard logs by default"
