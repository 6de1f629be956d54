"""``loc3r score`` end to end, in process."""

from __future__ import annotations

import json

import pytest

from loc3r.cli.main import main
from loc3r.data.schema import Record
from loc3r.data.sources.convert import write_records_jsonl
from loc3r.eval.metrics.llm_judge import ENV_API_KEY, ENV_ENDPOINT
from loc3r.eval.predictions import Prediction, PredictionsHeader, write_predictions


def _setup(tmp_path, source="sqa3d", n_preds=3):
    qa = [("What is it?", "piano"), ("Is it open?", "yes"), ("How many?", "2")]
    records = [Record(id=str(i), source=source, task="t", scene_id="scene0000_00", question=q, answers=[a])
               for i, (q, a) in enumerate(qa)]
    ann = tmp_path / "records.jsonl"
    write_records_jsonl(records, ann)
    answers = ["piano", "no", "two"]
    preds = tmp_path / "preds.jsonl"
    write_predictions(preds, PredictionsHeader.new(source, {"model": "test"}),
                      [Prediction(id=str(i), benchmark=source, answer=answers[i]) for i in range(n_preds)])
    return preds, ann


def test_score_prints_table_and_writes_json(tmp_path, capsys):
    preds, ann = _setup(tmp_path)
    out = tmp_path / "metrics.json"
    rc = main(["score", str(preds), "--benchmark", "sqa3d", "--annotations", str(ann), "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "sqa3d: 3 samples scored" in text and "EM@1" in text and "66.67" in text
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["metrics"]["EM@1"] == pytest.approx(200 / 3)
    assert result["header"]["settings"] == {"model": "test"}


def test_default_benchmark_and_out_path(tmp_path, capsys):
    preds, ann = _setup(tmp_path)
    assert main(["score", str(preds), "--annotations", str(ann)]) == 0
    assert (tmp_path / "preds.sqa3d.metrics.json").exists()


def test_id_mismatch_is_one_clear_error_line(tmp_path, capsys):
    preds, ann = _setup(tmp_path, n_preds=2)
    rc = main(["score", str(preds), "--annotations", str(ann)])
    err = capsys.readouterr().err
    assert rc == 1 and "1 annotated samples have no prediction" in err and "Traceback" not in err
    assert main(["score", str(preds), "--annotations", str(ann), "--allow-missing"]) == 0


def test_missing_java_names_the_package(tmp_path, capsys, monkeypatch):
    pytest.importorskip("pycocoevalcap.bleu.bleu")
    preds, ann = _setup(tmp_path, source="scanqa")
    monkeypatch.setenv("PATH", str(tmp_path))
    rc = main(["score", str(preds), "--annotations", str(ann)])
    assert rc == 1 and "openjdk-17-jre-headless" in capsys.readouterr().err
    rc = main(["score", str(preds), "--annotations", str(ann), "--caption-tokenizer", "clean", "--no-meteor"])
    assert rc == 0 and "CIDEr" in capsys.readouterr().out


def test_judge_needs_environment(tmp_path, capsys, monkeypatch):
    preds, ann = _setup(tmp_path, source="msqa")
    monkeypatch.delenv(ENV_ENDPOINT, raising=False)
    monkeypatch.delenv(ENV_API_KEY, raising=False)
    rc = main(["score", str(preds), "--annotations", str(ann), "--judge"])
    assert rc == 1 and ENV_ENDPOINT in capsys.readouterr().err
