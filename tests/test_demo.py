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
    rc = main(["demo", "--out", str(out), "--train", "--steps", "6", "--scenes", "6", "--pictures", "2",
               "--quiet", "training.logging_steps=2"])
    assert rc == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["training"]["global_step"] == 6
    assert (out / "run" / "config.json").is_file()  # the trained model was saved and then loaded by eval/infer
    for term in ("loss_ce", "loss_bev", "loss_pos", "loss_ori"):
        assert term in summary["training"]["loss_curves"]
        assert term in printed
    # every test-split localization record was predicted and scored with the official metric
    loc_records = read_records_jsonl(out / "records" / "sqa3d_localization.jsonl")
    _, preds = read_predictions(out / "eval" / "sqa3d-loc.predictions.jsonl")
    assert sorted(p.id for p in preds) == sorted(r.id for r in loc_records)
    loc = summary["metrics"]["sqa3d-loc"]
    assert json.dumps(loc)  # JSON-able
    assert "Acc@1.0m" in printed and "EM@1" in printed
    assert len(summary["pictures"]) == 2
    for pic in summary["pictures"]:
        with open(pic, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_demo_with_a_trained_model_scores_it_against_the_baselines(tmp_path, capsys):
    """The default path (a trained model on fresh scenes): every situation of every split is scored, with the
    baselines on the same situations; the model is the one given (here a 2-step tiny run)."""
    from loc3r.training.recipe import load_recipe
    from loc3r.training.train import train

    run = tmp_path / "model"
    train(load_recipe("tiny-pretrain", [f"data.root={tmp_path / 'train_data'}", "data.synthetic.scenes=3",
                                        "data.synthetic.frames_per_scene=8", "data.synthetic.grounding_per_scene=2",
                                        f"training.output_dir={run}", "training.max_steps=2",
                                        "training.eval_strategy=no", "training.save_strategy=no",
                                        "training.report_to=none", "training.disable_tqdm=true"]))
    out = tmp_path / "demo"
    rc = main(["demo", "--out", str(out), "--model", str(run), "--scenes", "3", "--pictures", "1", "--quiet",
               "data.synthetic.frames_per_scene=8"])
    assert rc == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == str(run) and summary["training"] is None
    loc_records = read_records_jsonl(out / "records" / "sqa3d_localization.jsonl")
    splits = {s: (out / "data" / "synthetic" / "splits" / f"{s}.txt").read_text().split()
              for s in ("train", "val", "test")}
    assert {r.scene_id for r in loc_records} == {sid for ids in splits.values() for sid in ids}
    assert summary["metrics"]["sqa3d-loc"]["n"] == len(loc_records)
    assert set(summary["baselines"]) == {"mean of these positions + uniform heading", "uniform free floor",
                                         "rule oracle (text + scene geometry)"}
    assert summary["baselines"]["rule oracle (text + scene geometry)"]["Acc@1.0m"] > 50
    assert "localization vs baselines" in printed and "rule oracle" in printed
    assert len(summary["pictures"]) == 1


def test_the_committed_checkpoint_loads_and_matches_its_recipe():
    """The demo's default model is committed, loads without remote code, and takes the recipe's inputs."""
    from loc3r.demo import DATA_RECIPE, packaged_checkpoint
    from loc3r.modeling.builders import load_loc3r
    from loc3r.training.recipe import load_recipe

    path = packaged_checkpoint()
    model, processor = load_loc3r(path)
    recipe = load_recipe(DATA_RECIPE)
    assert processor.frame_size == recipe.model.tiny.image_size
    assert model.config.prior_token_dim == 10  # the gravity-mode pose prior of the recipes
    assert model.config.use_situation_heads and model.config.use_bev_head
    import yaml

    run = yaml.safe_load((path / "run_config.yaml").read_text())  # how it was trained: the committed recipe
    assert run["model"]["preset"] == "pretrained" and run["data"]["prior"]["backend"] == "pose"
    assert run["model"]["config_overrides"]["lambda_sem"] == 0
    shipped = load_recipe("tiny-benchmark").model.config_overrides  # the committed recipe's loss weights
    for key in ("lambda_sit", "lambda_bev"):
        assert run["model"]["config_overrides"][key] == shipped[key], key
