"""``predict``: eval -> score end to end on the synthetic test split, resume, cached == uncached, skips."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

pytest.importorskip("torch")

from loc3r.data.scene_inputs import load_prepared_scene, pose_to_bev  # noqa: E402
from loc3r.data.schema import Pose  # noqa: E402
from loc3r.data.sources.convert import read_records_jsonl  # noqa: E402
from loc3r.eval.predict import PredictConfig, predict, predict_with_report, resolve_prior_backend  # noqa: E402
from loc3r.eval.predictions import read_predictions  # noqa: E402
from loc3r.eval.score import ScoreOptions, score  # noqa: E402
from loc3r.utils.io import DataError  # noqa: E402

pytestmark = pytest.mark.usefixtures("single_thread")


def _cfg(eval_set, model_dir, out, benchmark="synthetic", annotations=None, **kw) -> PredictConfig:
    kw.setdefault("max_new_tokens", 3)
    return PredictConfig(
        model=model_dir,
        benchmark=benchmark,
        data=eval_set.prepared,
        annotations=annotations or eval_set.all_records,
        out=out,
        progress=False,
        **kw,
    )


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_eval_then_score_on_the_synthetic_test_split(eval_set, tiny_model_dir, tmp_path):
    out = tmp_path / "preds.jsonl"
    report = predict_with_report(_cfg(eval_set, tiny_model_dir(13), out, batch_size=4))
    records = [r for p in eval_set.all_records for r in read_records_jsonl(p)]
    assert report.written == len(records) and report.skipped_records == 0
    header, preds = read_predictions(out)
    assert header.settings["decoding"] == {"strategy": "greedy", "max_new_tokens": 3, "eos_token_ids": [2]}
    assert header.settings["prior_backend"]["name"] == "pose" and header.settings["scene_cache"] is True
    assert sorted(p.id for p in preds) == sorted(r.id for r in records)

    scene = load_prepared_scene(eval_set.prepared, eval_set.test_scene)
    by_id = {r.id: r for r in records}
    for p in preds:
        r = by_id[p.id]
        assert p.record == r  # embedded ground truth
        assert p.extra["frame_ids"] == list(scene.frame_ids)
        assert (p.raw_output is not None) == bool(r.question)  # localization records are not decoded
        assert bool(p.pose_bev) == bool(r.situation)  # no pose for the pseudo-situation
        if p.pose_bev:
            # the dataset-frame pose is the BEV pose moved with the first frame's camera pose
            d = p.pose_dataset[0]
            assert d.frame == r.pose.frame == "sqa3d"
            xy, h = pose_to_bev(
                Pose(
                    x=d.x, y=d.y, yaw=0.0, forward=(math.cos(d.heading), math.sin(d.heading)), frame="sqa3d"
                ),
                scene,
            )
            np.testing.assert_allclose(xy, [p.pose_bev[0].x, p.pose_bev[0].y], atol=1e-6)
            assert abs(math.remainder(h - p.pose_bev[0].heading, 2 * math.pi)) < 1e-6
            np.testing.assert_allclose(p.bev_anchor.first_frame_pose, scene.poses_c2w[0])

    result = score(out, options=ScoreOptions(caption_metrics=False))
    n_posed = sum(r.pose is not None for r in records)
    assert result["n"] == len(records) and result["metrics"]["localized_samples"] == n_posed
    assert result["metrics"]["missing_poses"] == 0 and result["metrics"]["missing_answers"] == 0


def test_resume_skips_done_ids_and_refuses_other_settings(eval_set, tiny_model_dir, tmp_path):
    out = tmp_path / "preds.jsonl"
    cfg = _cfg(eval_set, tiny_model_dir(13), out, benchmark="sqa3d", annotations=(eval_set.sqa3d,))
    first = predict_with_report(PredictConfig(**{**cfg.__dict__, "limit": 5}))
    assert first.written == 5
    head = out.read_text().splitlines()
    with out.open("a") as f:  # a run killed mid-line
        f.write('{"id": "truncat')
    second = predict_with_report(cfg)
    total = len(read_records_jsonl(eval_set.sqa3d))
    assert second.already_done == 5 and second.written == total - 5
    lines = out.read_text().splitlines()
    assert lines[:6] == head and len(lines) == total + 1
    assert len({json.loads(x)["id"] for x in lines[1:]}) == total
    third = predict_with_report(cfg)
    assert third.written == 0 and third.already_done == total
    with pytest.raises(DataError, match="cannot resume"):
        predict(PredictConfig(**{**cfg.__dict__, "max_new_tokens": 5}))
    fresh = predict_with_report(PredictConfig(**{**cfg.__dict__, "max_new_tokens": 5, "overwrite": True}))
    assert fresh.written == total


def test_cached_and_uncached_runs_give_the_same_predictions(eval_set, tiny_model_dir, tmp_path):
    model = tiny_model_dir(13)
    runs = {}
    for cached in (True, False):
        out = tmp_path / f"preds_{cached}.jsonl"
        predict(
            _cfg(
                eval_set,
                model,
                out,
                benchmark="sqa3d",
                annotations=(eval_set.sqa3d,),
                limit=10,
                max_new_tokens=4,
                scene_cache=cached,
                batch_size=3,
            )
        )
        runs[cached] = {p.id: p for p in read_predictions(out)[1]}
    assert runs[True].keys() == runs[False].keys()
    for i, a in runs[True].items():
        b = runs[False][i]
        assert a.raw_output == b.raw_output
        np.testing.assert_allclose(
            [a.pose_bev[0].x, a.pose_bev[0].y, a.pose_bev[0].heading],
            [b.pose_bev[0].x, b.pose_bev[0].y, b.pose_bev[0].heading],
            atol=1e-5,
        )


def test_localization_benchmark_and_unprepared_scenes(eval_set, tiny_model_dir, tmp_path):
    recs = read_records_jsonl(eval_set.sqa3d_loc)
    extra = tmp_path / "extra.jsonl"
    ghost = dict(recs[0].to_dict(), id="ghost-1", scene_id="scene0404_00")
    extra.write_text(json.dumps(ghost) + "\n")
    out = tmp_path / "loc.jsonl"
    report = predict_with_report(
        _cfg(
            eval_set,
            tiny_model_dir(13),
            out,
            benchmark="sqa3d-loc",
            annotations=(eval_set.sqa3d_loc, extra),
            max_new_tokens=None,
        )
    )
    assert report.written == len(recs) and report.skipped_records == 1
    assert (
        "scene0404_00" in report.skipped_scenes
        and "prepared scene not found" in report.skipped_scenes["scene0404_00"]
    )
    _, preds = read_predictions(out)
    assert all(p.raw_output is None and len(p.pose_bev) == 1 for p in preds)
    with pytest.raises(DataError, match="1 annotated samples have no prediction"):
        score(out, annotations=[eval_set.sqa3d_loc, extra])
    result = score(out, annotations=[eval_set.sqa3d_loc, extra], options=ScoreOptions(allow_missing=True))
    assert result["n"] == len(recs) and result["metrics"]["Acc@1.0m"] is not None


def test_runs_are_deterministic(eval_set, tiny_model_dir, tmp_path):
    outs = []
    for k in range(2):
        out = tmp_path / f"p{k}.jsonl"
        predict(
            _cfg(
                eval_set,
                tiny_model_dir(13),
                out,
                benchmark="vsibench",
                annotations=(eval_set.vsibench,),
                limit=6,
            )
        )
        outs.append(out.read_text().splitlines()[1:])
    assert outs[0] == outs[1]


def test_prior_backend_resolution(tiny_model_dir, tmp_path):
    from loc3r.modeling.configuration_loc3r import Loc3RConfig
    from loc3r.utils.import_utils import MissingDependencyError

    cfg13 = Loc3RConfig.from_pretrained(tiny_model_dir(13))
    b = resolve_prior_backend(cfg13, tmp_path)
    assert (b.name, b.mode, b.token_dim) == ("pose", "relative", 13)
    with pytest.raises(ValueError, match="no poses"):
        resolve_prior_backend(cfg13, tmp_path, have_poses=False)
    (tmp_path / "prior_backend.json").write_text('{"name": "pose", "kwargs": {"mode": "gravity"}}')
    with pytest.raises(ValueError, match="10-d tokens, the model expects 13-d"):
        resolve_prior_backend(cfg13, tmp_path)
    cfg0 = Loc3RConfig.from_pretrained(tiny_model_dir(0))
    assert resolve_prior_backend(cfg0, tmp_path / "x") is None
    with pytest.raises(ValueError, match="no camera prior"):
        resolve_prior_backend(cfg0, tmp_path / "x", name="pose")
    cfg768 = Loc3RConfig.from_pretrained(tiny_model_dir(768))
    with pytest.raises(MissingDependencyError, match="CUT3R"):
        resolve_prior_backend(cfg768, tmp_path / "x", have_poses=False)
