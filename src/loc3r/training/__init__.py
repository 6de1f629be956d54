"""Training: recipes (YAML + overrides -> typed arguments), the data mixture, the collator, the trainer.

``loc3r.training.train.train(recipe)`` runs a recipe; ``loc3r train RECIPE.yaml [key=value ...]`` is its
command line (also under ``torchrun -m loc3r train``). Names are imported lazily, so importing
``loc3r.training`` costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ModelArguments": "arguments",
    "DataArguments": "arguments",
    "SourceArguments": "arguments",
    "Loc3RTrainingArguments": "arguments",
    "Recipe": "recipe",
    "load_recipe": "recipe",
    "recipe_from_dict": "recipe",
    "SceneClip": "dataset",
    "SceneClipStore": "dataset",
    "MixtureDataset": "mixture",
    "MixtureSampler": "mixture",
    "Loc3RCollator": "collator",
    "Loc3RTrainer": "trainer",
    "NonFiniteLossError": "trainer",
    "TrainResult": "train",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'loc3r.training' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
