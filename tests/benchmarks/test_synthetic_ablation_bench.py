"""benchmarks/synthetic_ablation.py: its pieces on a shrunken benchmark (the real one is run by hand)."""

from __future__ import annotations

import importlib.util
import sys
import unittest.mock as mock
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "synthetic_ablation.py"
HELDOUT_SCRIPT = SCRIPT.with_name("synthetic_heldout.py")


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses resolve their module by name
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def ablation():
    yield _load(SCRIPT, "synthetic_ablation")
    sys.modules.pop("synthetic_ablation", None)
    sys.modules.pop("synthetic_heldout", None)


def test_heldout_sets_are_the_benchmark_world_with_other_seeds(ablation):
    """The held-out rooms: the reported benchmark's generator settings, other seeds, mostly held out."""
    from loc3r.data.synthetic.generate import assign_splits

    mod = _load(HELDOUT_SCRIPT, "synthetic_heldout")
    ref = ablation.BenchmarkSpec()
    assert sorted(mod.HELDOUT) == ["selection", "test72"]
    seeds = {ref.seed}
    for name, s in mod.HELDOUT.items():
        differ = {f for f in ref.__dataclass_fields__ if getattr(ref, f) != getattr(s, f)}
        assert differ == {"name", "num_scenes", "seed", "val_fraction", "test_fraction"} and s.name == name
        assert s.seed not in seeds  # another draw of rooms than the benchmark and the other set
        seeds.add(s.seed)
        assert assign_splits(s.num_scenes, s.seed, s.val_fraction, s.test_fraction).count("test") == 72


def test_heldout_arguments_are_checked_before_any_work(tmp_path, capsys):
    mod = _load(HELDOUT_SCRIPT, "synthetic_heldout")
    root = ["--data", str(tmp_path / "absent"), "--root", str(tmp_path / "absent2")]
    cases = ((["--group", "a-b=x"], "without '-'"), (["--group", "a=x", "--compare", "a-zz"], "a-zz"))
    for argv, msg in cases:
        with pytest.raises(SystemExit) as e:
            mod.main(["--heldout", "selection", *root, *argv])
        assert e.value.code == 2 and msg in capsys.readouterr().err
    assert not (tmp_path / "absent").exists() and not (tmp_path / "absent2").exists()  # nothing was built


def test_selection_aggregate_is_mean_and_t_half_interval():
    sel = _load(HELDOUT_SCRIPT, "synthetic_heldout")
    out = sel.aggregate([{"Acc@1.0m": 10.0, "in_view": None}, {"Acc@1.0m": 20.0, "in_view": None},
                         {"Acc@1.0m": 30.0, "in_view": None}])
    # t(0.975, 2 dof) = 4.3027; sd 10; half = 4.3027 * 10 / sqrt(3)
    assert out["n_runs"] == 3 and out["Acc@1.0m"] == 20.0
    assert out["Acc@1.0m_half_ci"] == pytest.approx(24.84, abs=0.01)
    assert "in_view" not in out


def _tiny_spec(mod):
    return mod.BenchmarkSpec(num_scenes=3, seed=5, frames_per_scene=6, width=32, height=24, val_fraction=0.2,
                             test_fraction=0.34, situations_per_scene=6, questions_per_situation=2,
                             prepare_frames=4, min_test_situations=1)


def test_variants_are_well_formed_recipes(ablation, tmp_path):
    """Every variant's overrides load into a valid recipe (unknown keys would raise)."""
    from loc3r.training.recipe import load_recipe

    data = ablation.BenchmarkData(root=tmp_path, synth=tmp_path / "synthetic", prepared=tmp_path / "prepared",
                                  records={}, counts={})
    keys = [v.key for v in ablation.VARIANTS]
    assert keys == ["sitonly", "layout", "full", "nosit"]
    for pretrained in (None, tmp_path / "ckpt"):
        for v in ablation.VARIANTS:
            ov = ablation.finetune_overrides(v, data, ablation.Budget(steps=7), 3, tmp_path / v.key, pretrained)
            r = load_recipe(ablation.RECIPE, ov)
            assert r.data.synthetic is None and r.data.eval_sources == []
            assert (r.data.prior.backend == "pose") == v.camera_prior
            assert r.training["max_steps"] == 7 and r.training["seed"] == 3
            assert r.training["learning_rate"] == ablation.Budget().learning_rate
            co = r.model.config_overrides
            assert (co.get("lambda_bev", 0.05) == 0) == (v.key == "sitonly")
            assert (co.get("lambda_sit", 0.075) == 0) == (not v.localizes)
            assert co["lambda_sem"] == 0 and co["lambda_local"] == 0  # pretraining-only auxiliaries
            assert r.model.preset == ("tiny" if pretrained is None else "pretrained")
            # grounding situations stay mixed into the situated stage
            assert "grounding" in [src.name for src in r.data.sources]
    # common overrides (--set) reach every variant, and a variant's own setting wins over them
    budget = ablation.Budget(steps=7, overrides=("model.config_overrides.lambda_sit=1.0",
                                                 "model.config_overrides.lambda_bev=0.5"))
    for v in ablation.VARIANTS:
        co = load_recipe(ablation.RECIPE, ablation.finetune_overrides(v, data, budget, 0, tmp_path / v.key,
                                                                       None)).model.config_overrides
        assert co["lambda_sit"] == (1.0 if v.localizes else 0)
        assert co["lambda_bev"] == (0 if v.key == "sitonly" else 0.5)


def test_key_figures_and_table(ablation):
    rows = {"mean": {"ci": {"Acc@1.0m": {"mean": 10.0, "low": 8.0, "high": 12.0, "n": 3, "confidence": 0.95,
                                         "method": "t"}}},
            "rule": {"ci": {"Acc@1.0m": {"mean": 95.0, "low": 93.0, "high": 97.0, "n": 50, "confidence": 0.95,
                                         "method": "bootstrap"}}}}
    fig = ablation.key_figures(rows)
    assert fig == {"mean_acc1m": 10.0, "rule_acc1m": 95.0, "rule_over_mean_acc1m": 9.5,
                   "headroom_acc1m": 85.0}
    table = ablation.markdown_table(rows, {"rule": "oracle"})
    assert "| oracle |" in table and "95.0 ± 2.0" in table and "10.0 ± 2.0" in table


def test_room_intervals_pair_on_rooms(ablation):
    """Every room holds one hit of two for "full" and none for "sitonly": the paired difference is 50 points
    in every resample of rooms; rows of absent keys are skipped."""
    hits = {"full": [[100.0, 0.0, 100.0, 0.0, 0.0, 100.0]], "sitonly": [[0.0] * 6]}
    rooms = ["r0", "r0", "r1", "r1", "r2", "r2"]
    out = ablation.room_intervals(hits, rooms)
    assert out["n_rooms"] == 3 and out["rows"]["sitonly"] == [0.0, 0.0, 0.0]
    assert out["rows"]["full"][0] == 50.0
    assert out["pairs"] == {"full-sitonly": [50.0, 50.0, 50.0]}  # ("full", "mean") etc.: no such rows
    assert ablation.acc1m_hits([{"id": "a", "pos_err_m": 0.99}, {"id": "b", "pos_err_m": 1.0},
                                {"id": "c", "pos_err_m": None}]) == {"a": 100.0, "b": 0.0, "c": 0.0}


@pytest.mark.slow
def test_baselines_and_finetune_smoke(ablation, tmp_path):
    """Data -> baselines -> 2-step fine-tunings of every variant -> predict -> score, on 3 tiny scenes."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _smoke(ablation, tmp_path)
    finally:
        torch.set_num_threads(threads)


def _smoke(ablation, tmp_path):
    data = ablation.build_benchmark(_tiny_spec(ablation), tmp_path / "data", prepare=True)
    assert data.counts["scenes"] == {"train": 1, "val": 1, "test": 1}
    assert data.counts["test_situations"] >= 1
    (tmp_path / "preds").mkdir()
    rows = ablation.run_baselines(data, [0, 1], tmp_path / "preds")
    assert set(rows) == {"mean", "random", "campath", "ffmean", "rule"}
    assert len(rows["mean"]["runs"]) == 2 and len(rows["rule"]["runs"]) == 1
    assert rows["rule"]["ci"]["Acc@1.0m"]["method"] == "bootstrap"
    assert rows["mean"]["ci"]["Acc@1.0m"]["method"] == "t"

    base = ablation.grounding_mean_baseline(data)
    assert 0.0 <= base["Acc@1.0m"] <= 100.0
    with pytest.raises(FileNotFoundError, match="tiny-pretrain"):
        ablation.ensure_pretrained(data, tmp_path / "pre", True, train_missing=False)
    from loc3r.training.recipe import load_recipe

    tiny = load_recipe(ablation.PRETRAIN_RECIPE)
    assert tiny.model.config_overrides["bev_head_layer"] == 1 and tiny.model.config_overrides["lambda_sem"] > 0
    pre = {}
    for prior in (True, False):
        path = tmp_path / ("pre" if prior else "pre_np")
        # a 2-step pretraining of the committed recipe on the shrunken benchmark
        assert ablation.PRETRAIN_RECIPE == "tiny-pretrain"
        with mock.patch.object(ablation, "PRETRAIN_RECIPE", _pretrain_yaml(tmp_path)):
            pre[prior] = ablation.ensure_pretrained(data, path, prior, train_missing=True)
        assert (path / "config.json").is_file()
        report = ablation.evaluate_pretrained(path, data, limit=2)
        assert set(report) >= {"grounding", "scanqa"} and "EM@1" in report["scanqa"]
    budget = ablation.Budget(steps=2, batch_size=2, num_frames=4, predict_limit=2)
    for v in ablation.VARIANTS:
        res = ablation.run_variant(v, data, budget, seed=0, run_dir=tmp_path / v.key,
                                   pretrained=pre[v.camera_prior])
        assert res["steps"] == 2
        assert res["missing_poses"] == (0 if v.localizes else None)
        assert 0.0 <= res["metrics"]["EM@1"] <= 100.0
        for k in ("Acc@1.0m", "Acc@30deg"):
            assert (k in res["metrics"]) == v.localizes
            if v.localizes:
                assert 0.0 <= res["metrics"][k] <= 100.0
        # resumable: the finished run is not trained again
        with mock.patch("loc3r.training.train.train", side_effect=AssertionError("trained again")):
            again = ablation.run_variant(v, data, budget, seed=0, run_dir=tmp_path / v.key,
                                         pretrained=pre[v.camera_prior])
        assert again == res
        # a retrained starting checkpoint (other weights) is part of the settings: the run is not reused
        digest = res["settings"]["pretrained_sha256"]
        assert digest and digest == ablation._weights_digest(pre[v.camera_prior])
    from loc3r.data.sources.convert import read_records_jsonl

    rid = read_records_jsonl(data.records["test_loc"])[0].id
    (tmp_path / "runs").mkdir()
    for v in ablation.VARIANTS:
        (tmp_path / "runs" / f"{v.key}_seed0").symlink_to(tmp_path / v.key)
    (tmp_path / "predictions").symlink_to(tmp_path / "preds")
    view = ablation.view_breakdown(data, tmp_path, ["mean", "ffmean", "rule", "absent"], [0, 1])
    n_test = len(read_records_jsonl(data.records["test_loc"]))
    assert view["n_in_view"] + view["n_out_of_view"] == n_test and 0 < view["half_fov_deg"] < 90
    assert sorted(view["rows"]) == ["ffmean", "mean", "rule"]  # rows without prediction files are left out
    sides = [s for s in ("in_view", "out_of_view") if view[f"n_{s}"]]
    assert all(view["rows"]["rule"][s] == 100.0 for s in sides)  # the oracle is right everywhere
    hits, rooms = ablation.situation_hits(data, tmp_path, ["mean", "ffmean", "absent"], [0, 1])
    assert sorted(hits) == ["ffmean", "mean"] and len(hits["mean"]) == 2
    assert len(rooms) == n_test and all(len(h) == n_test for h in hits["mean"])
    assert sum(hits["mean"][0]) / n_test == pytest.approx(rows["mean"]["runs"][0]["Acc@1.0m"])
    from loc3r.utils.io import DataError

    with pytest.raises(DataError, match="have no prediction"):  # the runs predicted 2 situations only
        ablation.situation_hits(data, tmp_path, ["sitonly"], [0])
    _selection_on(data, tmp_path, rows)
    pics = ablation.draw_pictures(data, ablation.VARIANTS, tmp_path, [rid])
    assert sorted(pics) == ["full", "layout", "sitonly"]
    for paths in pics.values():
        assert len(paths) == 1 and open(paths[0], "rb").read(4) == b"\x89PNG"


def _selection_on(data, tmp_path, rows):
    """benchmarks/synthetic_heldout.py on the same tiny set as benchmark and selection set: its constants are
    the ablation's own (the training rooms' cameras are re-keyed, as both sets number rooms from 9000), and a
    run's predictions are cached."""
    from loc3r.data.sources.convert import read_records_jsonl
    from loc3r.eval.baselines import prepared_cameras
    from loc3r.eval.breakdown import first_view_mask

    sel = _load(HELDOUT_SCRIPT, "synthetic_heldout")
    test = read_records_jsonl(data.records["test_loc"])
    cams = prepared_cameras(data.prepared, sorted({r.scene_id for r in test}), 8)
    in_view = first_view_mask(test, cams, 29.0)
    base = sel.baselines(data, data, in_view)
    for name in ("mean", "ffmean"):
        assert base[name]["Acc@1.0m"] == pytest.approx(rows[name]["runs"][0]["Acc@1.0m"])
        assert base[name]["median_pos_err_m"] == pytest.approx(rows[name]["runs"][0]["median_pos_err_m"])
    first = sel.score_run(tmp_path / "sitonly", data, in_view)
    assert 0.0 <= first["Acc@1.0m"] <= 100.0
    assert first["n_in_view"] + first["n_out_of_view"] == len(test)
    assert (tmp_path / "sitonly" / "eval" / f"{data.spec.name}_loc.predictions.jsonl").is_file()
    em = sel.score_qa(tmp_path / "nosit", data)  # the QA-only variant: its answers to every situated question
    assert 0.0 <= em <= 100.0
    assert (tmp_path / "nosit" / "eval" / f"{data.spec.name}_qa.predictions.jsonl").is_file()
    with mock.patch("loc3r.eval.predict.predict", side_effect=AssertionError("predicted again")):
        assert sel.score_run(tmp_path / "sitonly", data, in_view) == first
        assert sel.score_qa(tmp_path / "nosit", data) == em


def _pretrain_yaml(tmp_path):
    """The committed pretraining recipe, shortened to 2 steps without validation (a YAML path)."""
    import yaml

    from loc3r.training.recipe import load_recipe

    d = load_recipe("tiny-pretrain").to_dict()
    d["training"].update(max_steps=2, eval_strategy="no", save_strategy="no", report_to="none",
                         disable_tqdm=True, per_device_train_batch_size=2)
    d["data"]["num_frames"] = 4
    path = tmp_path / "pretrain.yaml"
    path.write_text(yaml.safe_dump(d))
    return str(path)


def test_worlds_are_valid_generator_settings_and_children_get_the_world(ablation, tmp_path):
    from loc3r.data.synthetic.config import SynthConfig

    assert ablation.WORLDS["realistic"] == ablation.BenchmarkSpec()  # the reference table's benchmark
    for name, spec in ablation.WORLDS.items():
        assert spec.name == name
        SynthConfig(num_objects=spec.num_objects, object_categories=spec.object_categories)  # validates keys
    assert ablation.WORLDS["simple"].object_categories
    # a child fine-tuning rebuilds the same benchmark: the command names the world (another spec would
    # regenerate the data root under the parent)
    calls = []

    def fake_run(cmd, **kw):
        calls.append(cmd)
        (tmp_path / "run").mkdir(exist_ok=True)
        (tmp_path / "run" / "result.json").write_text("{}")
        return mock.Mock(returncode=0)

    with mock.patch("subprocess.run", fake_run):
        ablation._run_one_in_subprocess(("sitonly", 0, "data", "{}", None, str(tmp_path / "run"), "simple"))
    cmd = calls[0]
    assert cmd[cmd.index("--world") + 1] == "simple" and cmd[cmd.index("--one") + 1] == "sitonly"


def test_missing_checkpoint_names_the_command_and_world_paths(ablation, tmp_path):
    data = ablation.BenchmarkData(root=tmp_path, synth=tmp_path / "synthetic", prepared=tmp_path / "prepared",
                                  records={}, counts={})
    assert ablation.WORLD_SUFFIX == {"realistic": "", "simple": "-simple"}
    with pytest.raises(FileNotFoundError, match=r"data.prior.backend=none"):
        ablation.ensure_pretrained(data, tmp_path / "pre", False, train_missing=False)
