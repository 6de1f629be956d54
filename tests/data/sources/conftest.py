"""Fixtures for the annotation-reader tests: real sample paths and a JSON writer for hand-made files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest


@pytest.fixture(scope="session")
def sqa3d_files(realdata_dir: Path) -> tuple[Path, Path]:
    """(questions, annotations) — the first 50 real SQA3D test items."""
    d = realdata_dir / "sqa3d"
    return (d / "v1_balanced_questions_test_scannetv2.first50.json",
            d / "v1_balanced_sqa_annotations_test_scannetv2.first50.json")


@pytest.fixture(scope="session")
def scanqa_file(realdata_dir: Path) -> Path:
    """The first 50 real ScanQA val items."""
    return realdata_dir / "scanqa" / "ScanQA_v1.0_val.first50.json"


@pytest.fixture(scope="session")
def beacon3d_dir(realdata_dir: Path) -> Path:
    """Folder of the real Beacon3D samples."""
    return realdata_dir / "beacon3d"


@pytest.fixture
def write_json(tmp_path: Path) -> Callable[[str, Any], Path]:
    """``write_json(name, obj) -> path`` under ``tmp_path``."""

    def _write(name: str, obj: Any) -> Path:
        p = tmp_path / name
        p.write_text(json.dumps(obj), encoding="utf-8")
        return p

    return _write
