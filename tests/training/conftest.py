"""Fixtures of the training tests: one tiny synthetic dataset per session and tiny-recipe factories."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

#: The synthetic set of the tests (smaller than the shipped recipe's): 6 scenes -> train 4, val 1, test 1.
SYNTH_OVERRIDES = (
    "data.synthetic.scenes=6",
    "data.synthetic.frames_per_scene=30",
    "data.synthetic.width=128",
    "data.synthetic.height=96",
)
#: Fast, quiet training settings for in-process runs.
FAST_TRAINING = (
    "training.report_to=none",
    "training.disable_tqdm=true",
    "training.dataloader_num_workers=0",
    "training.dataloader_persistent_workers=false",
    "training.eval_on_start=false",
    "training.eval_strategy=no",
    "training.save_strategy=no",
    "training.logging_steps=1",
    "training.max_steps=3",
)


@pytest.fixture(autouse=True)
def _single_thread():
    """Tiny models run fastest single-threaded on a shared CPU; restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> Path:
    """``data.root`` of a generated + prepared tiny synthetic set (``synthetic/``, ``prepared/``)."""
    from loc3r.training.recipe import load_recipe
    from loc3r.training.train import prepare_synthetic_data

    root = tmp_path_factory.mktemp("tiny_synthetic")
    recipe = load_recipe("configs/tiny-synthetic.yaml", [f"data.root={root}", *SYNTH_OVERRIDES])
    prepare_synthetic_data(recipe.data, recipe.model.tiny.image_size, recipe.model.tiny.patch_size)
    return root


@pytest.fixture()
def tiny_recipe(synth_root, tmp_path):
    """``make(*overrides)`` -> the shipped tiny recipe on the session's synthetic set, writing to tmp_path."""
    from loc3r.training.recipe import load_recipe

    def make(*overrides: str, fast: bool = True):
        base = [
            f"data.root={synth_root}",
            *SYNTH_OVERRIDES,
            f"training.output_dir={tmp_path / 'run'}",
            f"data.cache_dir={tmp_path / 'clips'}",
        ]
        return load_recipe(
            "configs/tiny-synthetic.yaml", [*base, *(FAST_TRAINING if fast else ()), *overrides]
        )

    return make


@pytest.fixture()
def tiny_processor():
    """The tiny preset's processor (64x64 frames, 4x4 tokens, 13-d pose prior)."""
    from loc3r.modeling.builders import loc3r_tiny

    return loc3r_tiny(prior_token_dim=13)[1]
