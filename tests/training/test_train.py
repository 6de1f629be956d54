"""End to end, in process: ``train(recipe)`` on the tiny synthetic set (outputs, loss terms, validation, NaN
guard, LoRA, the paper recipe with a tiny stand-in)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import yaml

from loc3r.training.recipe import load_recipe, recipe_from_dict
from loc3r.training.train import find_resumable_checkpoint, train
from loc3r.training.trainer import NonFiniteLossError

LAMBDA_BEV, LAMBDA_SIT, LAMBDA_ORI = 0.05, 0.075, 3.5


def test_a_tiny_run_writes_a_loadable_model(tiny_recipe):
    from loc3r.modeling.builders import load_loc3r

    result = train(tiny_recipe("training.max_steps=2"))
    out = result.output_dir
    assert result.global_step == 2 and result.resumed_from is None
    for name in (
        "config.json",
        "model.safetensors",
        "loc3r_processor.json",
        "prior_backend.json",
        "run_config.yaml",
        "data_report.json",
        "train_summary.json",
    ):
        assert (out / name).is_file(), name
    model, processor = load_loc3r(out)
    trained = result.model.state_dict()
    for k, v in model.state_dict().items():
        assert torch.equal(v, trained[k]), k
    assert json.loads((out / "prior_backend.json").read_text())["name"] == "pose"
    run = yaml.safe_load((out / "run_config.yaml").read_text())
    assert recipe_from_dict(run).to_dict() == tiny_recipe("training.max_steps=2").to_dict()
    report = json.loads((out / "data_report.json").read_text())
    assert set(report["train"]) == {"sqa3d", "sqa3d_localization", "scanqa", "vsibench"}
    assert report["samples_per_epoch"] == sum(v["per_epoch"] for v in report["train"].values())
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["global_step"] == 2 and "loss_ce" in summary["loss_curves"]


def test_a_run_with_random_frame_subsets_draws_them_per_sample(tiny_recipe, monkeypatch):
    from loc3r.data.frame_selection import select_uniform
    from loc3r.training import mixture

    drawn: list[tuple[int, ...]] = []
    real = mixture.select_stratified_random

    def spy(ids, k, rng):
        out = real(ids, k, rng)
        drawn.append(tuple(int(i) for i in out))
        return out

    monkeypatch.setattr(mixture, "select_stratified_random", spy)
    result = train(tiny_recipe("training.max_steps=2", "data.num_frames=4", "data.frame_sampling=random"))
    assert result.global_step == 2
    # 2 steps x batch of the recipe: one draw per training sample, from the 8 prepared frames, frame 0 kept
    assert len(drawn) >= 2 and all(len(d) == 4 and d[0] == 0 and max(d) < 8 for d in drawn)
    assert len(set(drawn)) > 1 and set(drawn) != {tuple(select_uniform(range(8), 4))}


def test_every_loss_term_falls_and_is_logged_separately(tiny_recipe):
    # Eight SQA3D samples (all carry a situation pose) seen again and again: every term must fall.
    recipe = tiny_recipe(
        "data.sources.0.num_samples=8",
        "data.sources.1.num_samples=0",
        "data.sources.2.num_samples=0",
        "data.sources.3.num_samples=0",
        "training.max_steps=40",
        "training.learning_rate=3e-3",
        "training.lr_scheduler_type=constant",
        "training.warmup_steps=0",
    )
    result = train(recipe)
    logs = [e for e in result.log_history if "loss" in e]
    assert len(logs) == 40
    for e in logs:  # the logged terms combine into the logged total exactly as method.md §5.1 says
        total = (
            e["loss_ce"]
            + LAMBDA_BEV * e["loss_bev"]
            + LAMBDA_SIT * (e["loss_pos"] + LAMBDA_ORI * e["loss_ori"])
        )
        assert e["loss"] == pytest.approx(total, rel=1e-4)
        assert e["loss_sit"] == pytest.approx(e["loss_pos"] + LAMBDA_ORI * e["loss_ori"], rel=1e-4)
    for term in ("loss", "loss_ce", "loss_bev", "loss_pos", "loss_ori"):
        first = np.mean([e[term] for e in logs[:5]])
        last = np.mean([e[term] for e in logs[-5:]])
        assert last < first, f"{term}: {first:.4f} -> {last:.4f}"


def test_localization_validation_reports_accuracy_against_the_ground_truth(tiny_recipe, synth_root):
    from loc3r.data.sources.registry import read_records
    from loc3r.geometry.frames import BevFrame

    result = train(tiny_recipe("training.max_steps=1"))
    m = result.eval_metrics
    for key in (
        "eval_loc_Acc@0.5m",
        "eval_loc_Acc@1.0m",
        "eval_loc_Acc@15deg",
        "eval_loc_Acc@30deg",
        "eval_loc_median_pos_err_m",
        "eval_loss_pos",
        "eval_loss_ori",
        "eval_loss_bev",
    ):
        assert key in m, key
    # The "origin" predictor (first camera position and heading) scored from the raw annotations here.
    ann = synth_root / "synthetic/annotations/sqa3d/v1_balanced_localization_val_scannetv2.json"
    recs = read_records("sqa3d", [ann])
    dist, ang = [], []
    for r in recs:
        meta = json.loads((synth_root / "prepared" / r.scene_id / "scene.json").read_text())
        first = meta["frame_selection"]["indices"][0]
        pose = np.loadtxt(synth_root / "prepared" / r.scene_id / "pose" / f"{first}.txt")
        bev = BevFrame.from_first_pose(pose)
        xy = bev.world_to_bev_xy(np.array([r.pose.x, r.pose.y]) + np.asarray(meta["mesh_bbox_center"])[:2])
        heading = bev.world_to_bev_heading(r.pose.yaw + math.pi)  # SQA3D yaw -> facing heading
        n = 1 + len(r.alternative_situations)  # the held-out source expands the alternative texts
        dist += [float(np.hypot(*xy))] * n
        ang += [abs(math.degrees(float(heading)))] * n
    assert m["eval_loc_samples"] == len(dist)
    assert m["eval_origin_Acc@1.0m"] == pytest.approx(100 * np.mean(np.asarray(dist) < 1.0))
    assert m["eval_origin_Acc@30deg"] == pytest.approx(100 * np.mean(np.asarray(ang) < 30.0))
    assert m["eval_origin_median_pos_err_m"] == pytest.approx(float(np.median(dist)), abs=1e-6)


def test_validation_reports_object_recognition_of_the_semantic_head(tiny_recipe):
    """``eval_sem_object_acc``: % of held-out tokens that see an object whose category the head gets right."""
    from loc3r.modeling.processing_loc3r import Loc3RProcessor
    from loc3r.training.collator import Loc3RCollator
    from loc3r.training.train import build_datasets, build_prior_backend

    classes = "[bed, chair, desk, door, window, table, sofa, lamp]"
    result = train(tiny_recipe("training.max_steps=1", f"model.config_overrides.semantic_classes={classes}",
                               "model.config_overrides.lambda_sem=0.5"))
    m = result.eval_metrics
    assert 0.0 <= m["eval_sem_object_acc"] <= 100.0 and "eval_loss_sem" in m
    # recomputed by hand from the saved model on the same held-out samples
    recipe = tiny_recipe(f"model.config_overrides.semantic_classes={classes}")
    model = result.model.eval()
    proc = Loc3RProcessor.from_pretrained(result.output_dir)
    backend = build_prior_backend(recipe.data.prior)
    _, ev, _ = build_datasets(recipe, proc, backend, semantic_classes=model.config.semantic_classes)
    hits = tokens = 0
    with torch.no_grad():
        for k in ev.eval_keys():
            batch = Loc3RCollator(proc)([ev[k]])
            batch.pop("sample_ids")
            out = model(**batch)
            t = batch["semantic_targets"]
            hits += int((out.semantic_logits.argmax(-1)[t > 0] == t[t > 0]).sum())
            tokens += int((t > 0).sum())
    assert tokens > 0
    assert m["eval_sem_object_acc"] == pytest.approx(100.0 * hits / tokens)


def test_a_nan_loss_stops_the_run_naming_the_batch(tiny_recipe):
    from transformers import TrainerCallback

    class Poison(TrainerCallback):
        def on_step_begin(self, args, state, control, model=None, **kwargs):
            if state.global_step == 1:
                with torch.no_grad():
                    model.pos_head.linear_2.bias.fill_(float("nan"))

    with pytest.raises(NonFiniteLossError) as err:
        train(tiny_recipe("training.max_steps=3"), callbacks=[Poison()])
    msg = str(err.value)
    assert "at step 2" in msg and "loss_pos=nan" in msg
    ids = msg.split("Samples of the batch: ")[1].split(". Training stopped")[0].split(", ")
    assert len(ids) == 8 and all(
        i.split("/")[0] in {"sqa3d", "sqa3d_localization", "scanqa", "vsibench"} for i in ids
    )


def test_lora_run_saves_the_adapter_and_a_merged_model(tiny_recipe):
    from loc3r.modeling.builders import load_loc3r

    result = train(
        tiny_recipe(
            "training.max_steps=2",
            "model.lora.enabled=true",
            "model.lora.r=4",
            "model.lora.alpha=8",
            "model.trainable.vision_tower=false",
        )
    )
    out = result.output_dir
    assert (out / "adapter" / "adapter_config.json").is_file()
    model, _ = load_loc3r(out)
    assert not any("lora" in k for k in model.state_dict()), "the saved model is merged"


def test_unknown_model_config_field_is_an_error(tiny_recipe):
    with pytest.raises(ValueError, match="unknown Loc3RConfig field.*'lamda_bev'.*did you mean 'lambda_bev'"):
        train(tiny_recipe("model.config_overrides.lamda_bev=0"))


def test_paper_recipe_runs_one_step_with_a_tiny_stand_in(tiny_recipe, tmp_path):
    """The paper's training section (AdamW, cosine, peak 1e-5, global batch 64, activation checkpointing)
    with the tiny model and the synthetic data in place of LLaVA-Video-7B and ScanNet."""
    paper = load_recipe("configs/loc3r-llava-video-7b.yaml").to_dict()
    tiny = tiny_recipe().to_dict()
    training = dict(
        paper["training"],
        bf16=False,
        deepspeed=None,
        max_steps=1,
        report_to="none",
        output_dir=str(tmp_path / "paper"),
        dataloader_num_workers=0,
        dataloader_persistent_workers=False,
        dataloader_pin_memory=False,
        eval_strategy="no",
        save_strategy="no",
        disable_tqdm=True,
        logging_steps=1,
    )
    model = dict(
        tiny["model"],
        config_overrides=paper["model"]["config_overrides"],
        trainable=paper["model"]["trainable"],
    )
    recipe = recipe_from_dict({"model": model, "data": tiny["data"], "training": training})
    args = recipe.training_arguments()
    assert args.gradient_accumulation_steps == 64 and args.learning_rate == 1e-5
    result = train(recipe)
    assert result.global_step == 1
    log = next(e for e in result.log_history if "loss" in e)
    assert math.isfinite(log["loss"]) and log["learning_rate"] == 0.0  # the first step of the linear warm-up
    assert args.get_warmup_steps(4259) == 128 and args.lr_scheduler_type == "cosine"  # 3% of the paper's run
    frozen = [n for n, p in result.model.named_parameters() if not p.requires_grad]
    assert frozen and all("vision_tower" in n for n in frozen), "SigLIP frozen, everything else trained"


def test_resume_skips_incomplete_checkpoints(tmp_path):
    for step, state in ((4, {"global_step": 4}), (8, {"global_step": 8}), (12, None)):
        d = tmp_path / f"checkpoint-{step}"
        d.mkdir()
        if state is not None:
            (d / "trainer_state.json").write_text(json.dumps(state))
    (tmp_path / "checkpoint-16").mkdir()
    (tmp_path / "checkpoint-16" / "trainer_state.json").write_text("{trunc")
    assert find_resumable_checkpoint(tmp_path) == str(tmp_path / "checkpoint-8")
    assert find_resumable_checkpoint(tmp_path / "nothing") is None


def test_build_model_adds_a_camera_prior_to_a_pretrained_checkpoint_without_one(tmp_path):
    from loc3r.modeling.builders import loc3r_tiny
    from loc3r.training.arguments import ModelArguments
    from loc3r.training.train import build_model

    model, proc = loc3r_tiny(seed=0, prior_token_dim=None)
    model.save_pretrained(tmp_path / "noprior")
    proc.save_pretrained(tmp_path / "noprior")
    m = ModelArguments(preset="pretrained", name_or_path=str(tmp_path / "noprior"))
    got, got_proc = build_model(m, prior_token_dim=10)
    assert got.config.prior_token_dim == 10 and got_proc.use_camera
    assert got.camera_projector.linear_1.in_features == 10
    assert all(p.requires_grad for p in got.camera_projector.parameters())  # f_cam trains
    same, same_proc = build_model(m, prior_token_dim=0)  # no prior wanted: loaded as saved
    assert same.camera_projector is None and not same_proc.use_camera

    got.save_pretrained(tmp_path / "prior")
    got_proc.save_pretrained(tmp_path / "prior")
    with pytest.raises(ValueError, match="takes 10-d camera-prior tokens, data.prior gives 0-d"):
        build_model(ModelArguments(preset="pretrained", name_or_path=str(tmp_path / "prior")), prior_token_dim=0)


def test_overrides_on_a_pretrained_checkpoint_switch_heads_off_but_never_silently_on(tmp_path):
    from loc3r.modeling.builders import loc3r_tiny
    from loc3r.training.arguments import ModelArguments
    from loc3r.training.train import build_model

    model, proc = loc3r_tiny(seed=0, prior_token_dim=None, use_local_head=True, lambda_local=0.5,
                             semantic_classes=["bed", "chair"], lambda_sem=0.5)
    model.save_pretrained(tmp_path / "ckpt")
    proc.save_pretrained(tmp_path / "ckpt")

    def build(**overrides):
        m = ModelArguments(preset="pretrained", name_or_path=str(tmp_path / "ckpt"), config_overrides=overrides)
        return build_model(m, prior_token_dim=0)[0]

    kept = build(lambda_local=0.0)  # a weight only: the head stays
    assert kept.local_head is not None and kept.config.lambda_local == 0.0
    off = build(use_local_head=False, lambda_local=0.0, semantic_classes=None, lambda_sem=0.0,
                use_situation_heads=False, lambda_sit=0.0)
    assert off.local_head is None and off.semantic_head is None and off.pos_head is None and off.ori_head is None
    assert not any(n.startswith(("local_head", "semantic_head", "pos_head")) for n, _ in off.named_parameters())
    assert not off.config.use_local_head and not off.config.use_situation_heads
    with pytest.raises(ValueError, match="semantic_classes would change the architecture"):
        build(semantic_classes=["bed", "sofa"])
    with pytest.raises(ValueError, match="num_ori_bins"):
        build(num_ori_bins=72)
    plain, plain_proc = loc3r_tiny(seed=0, prior_token_dim=None)
    plain.save_pretrained(tmp_path / "plain")
    plain_proc.save_pretrained(tmp_path / "plain")
    with pytest.raises(ValueError, match="use_local_head would change the architecture"):
        build_model(ModelArguments(preset="pretrained", name_or_path=str(tmp_path / "plain"),
                                   config_overrides={"use_local_head": True, "lambda_local": 0.5}), 0)


def test_a_recipe_takes_a_pretrained_siglip_vision_tower(tmp_path):
    from transformers import SiglipVisionConfig, SiglipVisionModel

    from loc3r.training.train import build_model

    torch.manual_seed(3)
    siglip = SiglipVisionModel(SiglipVisionConfig(image_size=64, patch_size=16, hidden_size=48, intermediate_size=96,
                                                  num_hidden_layers=2, num_attention_heads=4))
    siglip.save_pretrained(tmp_path / "siglip")
    recipe = load_recipe(
        "configs/tiny-pretrain.yaml",
        [f"model.tiny.vision_tower={tmp_path / 'siglip'}", "model.trainable.vision_tower=false"],
    )
    assert recipe.model.tiny.vision_tower == str(tmp_path / "siglip")
    model, proc = build_model(recipe.model, prior_token_dim=3)
    tower = model.vlm.base.model.vision_tower
    assert tower.config.hidden_size == 48 and proc.token_grid == (4, 4)  # 128 px / 16 -> 8x8 patches -> 4x4
    torch.testing.assert_close(tower.encoder.layers[0].self_attn.q_proj.weight,
                               siglip.encoder.layers[0].self_attn.q_proj.weight)
    assert not any(p.requires_grad for p in tower.parameters())  # frozen, as the paper keeps SigLIP
    assert model.vlm.base.model.multi_modal_projector.linear_1.in_features == 48
