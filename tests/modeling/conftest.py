"""Fixtures for the model tests: the tiny preset and small synthetic batches."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(autouse=True)
def _single_thread():
    """Tiny models run fastest single-threaded (no OpenMP spinning on a shared CPU); restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tiny_factory():
    """``make(**overrides) -> (model, processor)``: a fresh tiny Loc3R (deterministic weights)."""
    from loc3r.modeling.builders import loc3r_tiny

    def make(**overrides):
        return loc3r_tiny(**overrides)

    return make


@pytest.fixture()
def tiny(tiny_factory):
    """A fresh tiny model + processor (64² frames -> 4x4 tokens per frame, camera prior width 8)."""
    return tiny_factory()


def make_videos(batch: int, frames: int, size: int = 32, seed: int = 0) -> list[np.ndarray]:
    """``batch`` random uint8 videos [T, size, size, 3]."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (frames, size, size, 3), dtype=np.uint8) for _ in range(batch)]


@pytest.fixture()
def batch_factory():
    """``make(processor, B, T, answers=True, situations=None, padding_side=None)`` -> (batch, videos, cam)."""

    def make(processor, b=2, t=3, answers=True, situations=None, questions=None, padding_side=None, seed=0):
        videos = make_videos(b, t, seed=seed)
        gen = torch.Generator().manual_seed(seed)
        cam = torch.randn(b, t, 8, generator=gen) if processor.use_camera else None
        situations = (
            situations
            if situations is not None
            else (["I am facing the red chair with the door behind me"] + [None] * (b - 1))
        )
        questions = (
            questions
            if questions is not None
            else (["what is on my left?"] + ["how many chairs are there in the room?"] * (b - 1))
        )
        ans = (["a table"] + ["two"] * (b - 1)) if answers else None
        batch = processor(
            videos, situations, questions, answers=ans, camera_tokens=cam, padding_side=padding_side
        )
        return batch, videos, cam

    return make


@pytest.fixture()
def videos_factory():
    """``make(B, T, size=32, seed=0)`` -> B random uint8 videos [T, size, size, 3]."""
    return make_videos
