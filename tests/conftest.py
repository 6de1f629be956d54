"""Shared pytest fixtures and markers."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REALDATA_DIR = REPO_ROOT.parent / "shared" / "realdata"


@pytest.fixture(scope="session")
def realdata_dir() -> Path:
    """The real data samples (``../shared/realdata``); tests that need them skip loudly when absent."""
    if not REALDATA_DIR.is_dir():
        pytest.skip(f"real data samples not found at {REALDATA_DIR}")
    return REALDATA_DIR


def pytest_collection_modifyitems(config, items):
    """Skip ``gpu`` tests where CUDA is unavailable (everything else always runs)."""
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:  # pragma: no cover
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
