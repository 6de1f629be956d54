"""``loc3r synth -> prepare -> data convert -> eval -> score`` and ``loc3r infer`` via the console command."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from loc3r.cli.main import main  # noqa: E402


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    import torch

    from loc3r.modeling.builders import loc3r_tiny

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("eval_cli")
    assert (
        main(
            [
                "synth",
                "--out",
                str(root / "synth"),
                "--scenes",
                "3",
                "--frames",
                "30",
                "--width",
                "96",
                "--height",
                "72",
                "--workers",
                "1",
                "--quiet",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "prepare",
                "scannet",
                "--scans",
                str(root / "synth" / "scans"),
                "--out",
                str(root / "prepared"),
                "--num-frames",
                "5",
                "--no-progress",
            ]
        )
        == 0
    )
    sqa = root / "synth" / "annotations" / "sqa3d"
    assert (
        main(
            [
                "data",
                "convert",
                "--source",
                "sqa3d",
                str(sqa / "v1_balanced_questions_test_scannetv2.json"),
                str(sqa / "v1_balanced_sqa_annotations_test_scannetv2.json"),
                "--out",
                str(root / "sqa3d_test.jsonl"),
            ]
        )
        == 0
    )
    model, processor = loc3r_tiny(prior_token_dim=13)
    model.save_pretrained(root / "model")
    processor.save_pretrained(root / "model")
    return root


def test_eval_score_and_resume(workspace, capsys):
    w = workspace
    args = [
        "eval",
        "--model",
        str(w / "model"),
        "--benchmark",
        "sqa3d",
        "--data",
        str(w / "prepared"),
        "--annotations",
        str(w / "sqa3d_test.jsonl"),
        "--out",
        str(w / "preds.jsonl"),
        "--max-new-tokens",
        "3",
        "--batch-size",
        "4",
        "--quiet",
    ]
    assert main(args) == 0
    n = len((w / "sqa3d_test.jsonl").read_text().splitlines())
    assert f"wrote {n} predictions" in capsys.readouterr().out
    assert main(["score", str(w / "preds.jsonl"), "--out", str(w / "metrics.json")]) == 0
    metrics = json.loads((w / "metrics.json").read_text())
    assert metrics["n"] == n and metrics["benchmark"] == "sqa3d" and metrics["metrics"]["EM@1"] is not None
    capsys.readouterr()
    assert main(args) == 0  # resumed: nothing left to do
    assert f"wrote 0 predictions to {w / 'preds.jsonl'} ({n} already there" in capsys.readouterr().out
    assert main(args[:-5] + ["--max-new-tokens", "4", "--quiet"]) == 1  # other settings: refused, clearly
    assert "cannot resume" in capsys.readouterr().err


def test_infer_command(workspace, capsys):
    w = workspace
    out = w / "infer"
    assert (
        main(
            [
                "infer",
                "--model",
                str(w / "model"),
                "--input",
                str(w / "prepared" / "scene9002_00"),
                "--situation",
                "I am facing the bed",
                "--question",
                "what is behind me?",
                "--question",
                "how many chairs are there?",
                "--max-new-tokens",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "position (BEV)" in printed and printed.count("Q: ") == 2
    result = json.loads((out / "result.json").read_text())
    assert len(result["answers"]) == 2 and (out / "bev.png").is_file()
    # frames without poses and a model whose prior needs poses: one clear line, exit code 1
    assert (
        main(
            [
                "infer",
                "--model",
                str(w / "model"),
                "--input",
                str(w / "prepared" / "scene9002_00" / "color"),
                "--situation",
                "I sit.",
            ]
        )
        == 1
    )
    assert "no poses" in capsys.readouterr().err
