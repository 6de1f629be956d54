"""Recipes: shipped files, overrides, strict keys and types, the paper recipe against method.md §5."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import re

import pytest

from loc3r.training.arguments import TrainableArguments
from loc3r.training.recipe import (
    apply_overrides,
    list_package_recipes,
    load_recipe,
    package_configs_dir,
    recipe_from_dict,
    resolve_config_path,
)

SHIPPED = ["tiny-synthetic", "tiny-pretrain", "tiny-benchmark", "loc3r-llava-video-7b", "loc3r-llava-video-7b-lora"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_recipes_load_and_start_with_their_launch_command(name):
    path = resolve_config_path(f"configs/{name}.yaml")
    first = path.read_text().splitlines()[0]
    assert first.startswith("# ") and "loc3r train" in first  # bare or under torchrun
    assert f"configs/{name}.yaml" in first
    recipe = load_recipe(path)
    assert recipe.data.sources, "every shipped recipe trains on something"
    assert recipe.data.eval_sources, "every shipped recipe validates localization"
    from loc3r.backends.registry import backend_names
    from loc3r.data.sources.registry import SOURCES

    kinds = {s.kind for s in [*recipe.data.sources, *recipe.data.eval_sources]}
    assert kinds <= set(SOURCES) | {"jsonl"}, "every source kind has a reader"
    assert recipe.data.prior.backend in backend_names()


def test_package_recipes_are_the_shipped_ones():
    assert sorted(p.stem for p in list_package_recipes()) == sorted(SHIPPED)


def test_config_names_resolve_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    expected = package_configs_dir() / "tiny-synthetic.yaml"
    for name in ("configs/tiny-synthetic.yaml", "tiny-synthetic.yaml", "tiny-synthetic"):
        assert resolve_config_path(name) == expected
    local = tmp_path / "configs" / "tiny-synthetic.yaml"  # an existing file wins over the shipped one
    local.parent.mkdir()
    local.write_text("model: {preset: tiny}\n")
    assert resolve_config_path("configs/tiny-synthetic.yaml") == local.relative_to(tmp_path)
    with pytest.raises(FileNotFoundError, match="shipped recipes"):
        resolve_config_path("configs/nope.yaml")


def test_overrides_set_nested_fields_list_items_and_create_mappings():
    raw = {"data": {"sources": [{"name": "a", "ratio": 1.0}]}, "training": {"learning_rate": 1e-3}}
    out = apply_overrides(
        raw,
        [
            "training.learning_rate=1e-5",
            "data.sources.0.ratio=0.5",
            "data.synthetic.scenes=4",
            "training.report_to=[tensorboard, wandb]",
            "model.config_overrides.lambda_bev=0",
        ],
    )
    assert out["training"]["learning_rate"] == "1e-5"  # YAML 1.1 reads this as a string ...
    assert out["data"]["sources"][0]["ratio"] == 0.5
    assert out["data"]["synthetic"] == {"scenes": 4}
    assert out["training"]["report_to"] == ["tensorboard", "wandb"]
    assert out["model"]["config_overrides"] == {"lambda_bev": 0}
    assert raw["training"]["learning_rate"] == 1e-3, "the input is not modified"
    for bad, msg in (
        ("training.lr", "KEY=VALUE"),
        ("data.sources.x.ratio=1", "index it with a number"),
        ("data.sources.3.ratio=1", "out of range"),
        (".a=1", "empty key"),
    ):
        with pytest.raises(ValueError, match=msg):
            apply_overrides(raw, [bad])


def test_string_numbers_are_converted_to_the_field_type():
    recipe = load_recipe(
        "configs/tiny-synthetic.yaml",
        ["training.learning_rate=1e-5", "training.max_steps=7", "data.sources.0.ratio=2"],
    )
    assert recipe.training["learning_rate"] == pytest.approx(1e-5) and isinstance(
        recipe.training["learning_rate"], float
    )
    assert recipe.training["max_steps"] == 7
    assert recipe.data.sources[0].ratio == 2.0


@pytest.mark.parametrize(
    "override, key",
    [
        ("trainig.learning_rate=1", "trainig"),
        ("training.learnig_rate=1", "training.learnig_rate"),
        ("model.tiny.imag_size=3", "model.tiny.imag_size"),
        ("data.sources.1.fils=[a]", "data.sources.1.fils"),
        ("data.prior.backnd=pose", "data.prior.backnd"),
    ],
)
def test_unknown_keys_are_errors_naming_the_dotted_key(override, key):
    with pytest.raises(ValueError, match="unknown key " + re.escape(key)):
        load_recipe("configs/tiny-synthetic.yaml", [override])


def test_unknown_key_error_suggests_the_closest_name():
    with pytest.raises(ValueError, match="did you mean 'learning_rate'"):
        load_recipe("configs/tiny-synthetic.yaml", ["training.learnig_rate=1"])


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.sources.0.ratio=abc", r"data\.sources\.0\.ratio: expected a number"),
        ("training.max_steps=2.5", r"training\.max_steps: expected an integer"),
        ("model.preset=huge", r"model\.preset must be one of"),
        ("data.sources.0.alternative_situations=off", "expected a string, got False .YAML reads"),
        ("data.sources.0.alternative_situations=all", "alternative_situations must be one of"),
        ("data.sources.0.kind=csv", "kind must be one of"),
        ("data.num_frames=0", "num_frames must be >= 1"),
        ("data.prior.require_cached=true data.prior.cache_dir=null", "require_cached needs"),
        ("data.frame_sampling=jitter", "frame_sampling must be one of"),
        ("data.frame_pool=0", "frame_pool must be >= 1"),
    ],
)
def test_bad_values_are_errors_naming_the_field(override, message):
    with pytest.raises(ValueError, match=message):
        load_recipe("configs/tiny-synthetic.yaml", override.split(" "))


def test_duplicate_source_names_are_rejected():
    raw = {
        "data": {
            "sources": [
                {"name": "a", "kind": "jsonl", "files": ["x"]},
                {"name": "a", "kind": "jsonl", "files": ["y"]},
            ]
        }
    }
    with pytest.raises(ValueError, match="duplicate data source names"):
        recipe_from_dict(raw)


def test_to_yaml_round_trips():
    import yaml

    recipe = load_recipe("configs/tiny-synthetic.yaml", ["training.learning_rate=3e-4"])
    again = recipe_from_dict(yaml.safe_load(recipe.to_yaml()))
    assert again.to_dict() == recipe.to_dict()
    assert again.training["learning_rate"] == pytest.approx(3e-4)


def test_trainable_arguments_mirror_the_model_groups():
    from loc3r.modeling.trainable import TrainableParts

    assert [f.name for f in dataclasses.fields(TrainableArguments)] == [
        f.name for f in dataclasses.fields(TrainableParts)
    ]
    assert dataclasses.asdict(TrainableArguments()) == dataclasses.asdict(TrainableParts())


def test_global_batch_size_sets_gradient_accumulation(tmp_path):
    recipe = load_recipe(
        "configs/tiny-synthetic.yaml",
        [
            f"training.output_dir={tmp_path}",
            "training.per_device_train_batch_size=2",
            "training.global_batch_size=8",
        ],
    )
    assert recipe.training_arguments().gradient_accumulation_steps == 4  # 8 / (2 x 1 process)
    bad = load_recipe(
        "configs/tiny-synthetic.yaml",
        [
            f"training.output_dir={tmp_path}",
            "training.per_device_train_batch_size=3",
            "training.global_batch_size=8",
        ],
    )
    with pytest.raises(ValueError, match="not a multiple"):
        bad.training_arguments()


@pytest.mark.skipif(importlib.util.find_spec("deepspeed") is not None, reason="DeepSpeed is installed")
def test_a_deepspeed_recipe_without_deepspeed_fails_clearly():
    recipe = load_recipe("configs/loc3r-llava-video-7b.yaml", ["training.bf16=false"])
    with pytest.raises(ValueError, match="DeepSpeed is not installed.*pip install deepspeed"):
        recipe.training_arguments()


@pytest.mark.parametrize("stage", [2, 3])
def test_shipped_deepspeed_configs_are_valid(stage):
    path = resolve_config_path(f"configs/deepspeed/zero{stage}.json", suffix=".json")
    cfg = json.loads(path.read_text())
    known = {
        "bf16",
        "fp16",
        "zero_optimization",
        "gradient_accumulation_steps",
        "gradient_clipping",
        "train_batch_size",
        "train_micro_batch_size_per_gpu",
        "steps_per_print",
        "wall_clock_breakdown",
    }
    assert set(cfg) <= known
    assert cfg["zero_optimization"]["stage"] == stage
    # Batch sizes, accumulation, clipping and precision come from the recipe through HF's "auto" values.
    for key in (
        "train_batch_size",
        "train_micro_batch_size_per_gpu",
        "gradient_accumulation_steps",
        "gradient_clipping",
    ):
        assert cfg[key] == "auto"
    assert cfg["bf16"]["enabled"] == "auto" and cfg["fp16"]["enabled"] == "auto"
    assert "optimizer" not in cfg and "scheduler" not in cfg, "the recipe's AdamW + cosine schedule apply"
    if stage == 3:
        assert cfg["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True


def test_paper_recipe_matches_method_section_5():
    """method.md §5: data mixture and counts, AdamW, cosine peak 1e-5, batch 64, 1 epoch, 32 frames, frozen
    SigLIP and prior, bf16, activation checkpointing, DeepSpeed, loss weights."""
    r = load_recipe("configs/loc3r-llava-video-7b.yaml")
    t = r.training
    assert r.model.preset == "llava_video_7b" and r.model.name_or_path == "llava-hf/LLaVA-Video-7B-Qwen2-hf"
    assert not r.model.lora.enabled, "the paper fine-tunes the LLM fully"
    assert dataclasses.asdict(r.model.trainable) == {
        "vision_tower": False,
        "projector": True,
        "language_model": True,
        "camera_projector": True,
        "heads": True,
    }
    assert r.data.prior.backend == "cut3r" and r.data.prior.require_cached  # frozen, precomputed
    assert r.model.config_overrides == {
        "lambda_bev": 0.05,
        "lambda_sit": 0.075,
        "lambda_ori": 3.5,
        "sigma_ori_deg": 20.0,
    }
    assert t["optim"] == "adamw_torch" and t["lr_scheduler_type"] == "cosine"
    assert t["learning_rate"] == pytest.approx(1e-5)
    assert t["global_batch_size"] == 64 and t["num_train_epochs"] == 1
    assert t["bf16"] is True and t["activation_checkpointing"] is True
    assert resolve_config_path(t["deepspeed"], suffix=".json").is_file()
    assert r.data.num_frames == 32 and all(s.num_frames is None for s in r.data.sources)
    counts = {s.name: s.num_samples for s in r.data.sources}
    assert counts == {"scanqa": 26515, "sqa3d": 79445, "msqa": 49747, "vsibench": 9969, "vlm3r": 106890}
    assert sum(counts.values()) == 272566
    assert math.ceil(sum(counts.values()) / 64) == 4259  # "1 epoch ≈ 4.2k steps"
    sqa3d = next(s for s in r.data.sources if s.name == "sqa3d")
    assert sqa3d.alternative_situations == "expand"
    # 384x384 frames: the LLaVA-Video base's SigLIP-so400m-patch14-384 input (no override of it here).
    assert "image_size" not in r.model.config_overrides


def test_lora_recipe_fits_one_gpu():
    r = load_recipe("configs/loc3r-llava-video-7b-lora.yaml")
    assert r.model.lora.enabled and r.model.lora.r == 128
    assert r.model.dtype == "bfloat16" and r.training["bf16"] is True
    assert r.training.get("deepspeed") is None and r.training["per_device_train_batch_size"] == 1
    assert r.training["global_batch_size"] == 64 and r.training["activation_checkpointing"] is True
