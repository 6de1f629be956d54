"""``loc3r data convert`` end to end, in process."""

from __future__ import annotations

import json
import math

import pytest

from loc3r.cli.main import main
from loc3r.data.sources.convert import read_records_jsonl


@pytest.fixture(scope="module")
def sqa3d_files(realdata_dir):
    d = realdata_dir / "sqa3d"
    return (d / "v1_balanced_questions_test_scannetv2.first50.json",
            d / "v1_balanced_sqa_annotations_test_scannetv2.first50.json")


def test_convert_sqa3d(sqa3d_files, tmp_path, capsys):
    out = tmp_path / "records.jsonl"
    # annotations first: the file kinds are recognised from content
    questions, annotations = (str(p) for p in sqa3d_files)
    rc = main(["data", "convert", "--source", "sqa3d", annotations, questions, "--out", str(out)])
    assert rc == 0
    assert f"sqa3d: wrote 50 records to {out}; skipped 0" in capsys.readouterr().out
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 50
    raw = json.loads(sqa3d_files[1].read_text(encoding="utf-8"))
    anns = {a["question_id"]: a for a in raw["annotations"]}
    for row in rows:
        a = anns[int(row["id"])]
        pose = row["pose"]
        assert (pose["x"], pose["y"]) == (a["position"]["x"], a["position"]["y"])
        yaw = 2 * math.atan2(a["rotation"]["_z"], a["rotation"]["_w"])
        assert math.cos(pose["yaw"] - yaw) == pytest.approx(1.0)
        assert pose["forward"] == pytest.approx([-math.cos(yaw), -math.sin(yaw)], abs=1e-12)
        assert row["answers"] == [x["answer"] for x in a["answers"]]
    assert len(read_records_jsonl(out)) == 50


def test_convert_skips_and_reports(sqa3d_files, tmp_path, capsys):
    ann = json.loads(sqa3d_files[1].read_text(encoding="utf-8"))
    ann["annotations"][4]["rotation"]["_x"] = 0.5
    bad = tmp_path / "ann_bad.json"
    bad.write_text(json.dumps(ann), encoding="utf-8")
    out = tmp_path / "records.jsonl"
    args = ["data", "convert", "--source", "sqa3d", str(sqa3d_files[0]), str(bad), "--out", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    qid = ann["annotations"][4]["question_id"]
    assert "wrote 49 records" in text and "skipped 1" in text
    assert f"skipped: {bad}: annotation 4 (question_id {qid}): rotation: not a pure yaw" in text
    assert len(out.read_text(encoding="utf-8").splitlines()) == 49

    out.unlink()
    assert main(args + ["--strict"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("loc3r data: error: ") and str(bad) in err and str(qid) in err
    assert not out.exists()


def test_convert_errors(tmp_path, capsys):
    missing = tmp_path / "missing.json"
    out = str(tmp_path / "o.jsonl")
    assert main(["data", "convert", "--source", "scanqa", str(missing), "--out", out]) == 1
    assert "missing.json" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["data", "convert", "--source", "nope", str(missing), "--out", out])
    assert e.value.code == 2
    parquet = tmp_path / "rows.parquet"
    parquet.write_bytes(b"PAR1")
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        assert main(["data", "convert", "--source", "vsibench", str(parquet), "--out", out]) == 1
        assert "pyarrow" in capsys.readouterr().err
