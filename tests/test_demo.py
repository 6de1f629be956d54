"""`loc3r demo` end to end (the README's main command), shrunk: few scenes, few training steps."""

from __future__ import annotations

import json

import pytest

from loc3r.cli.main import main
from loc3r.data.sources.convert import read_records_jsonl
from loc3r.eval.predictions import read_predictions


@pytest.mark.slow
def test_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    rc = main(["demo", "--out", str(out), "--steps", "6", "--scenes", "6", "--pictures", "2", "--quiet",
               "training.logging_steps=2"])
    assert rc == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["training"]["global_step"] == 6
    assert (out / "run" / "config.json").is_file()  # the trained model was saved and then loaded by eval/infer
    for term in ("loss_ce", "loss_bev", "loss_pos", "loss_ori"):
        assert term in summary["training"]["loss_curves"]
        assert term in printed
    # every test-split localization record was predicted and scored with the official metric
    loc_records = read_records_jsonl(out / "records" / "sqa3d_localization_test.jsonl")
    _, preds = read_predictions(out / "eval" / "sqa3d-loc.predictions.jsonl")
    assert sorted(p.id for p in preds) == sorted(r.id for r in loc_records)
    loc = summary["metrics"]["sqa3d-loc"]
    assert json.dumps(loc)  # JSON-able
    assert "Acc@1.0m" in printed and "EM@1" in printed
    assert len(summary["pictures"]) == 2
    for pic in summary["pictures"]:
        with open(pic, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
