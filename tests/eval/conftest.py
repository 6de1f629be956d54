"""Fixtures for the eval / infer tests: one small synthetic benchmark set and saved tiny models (per session).

``eval_set``: ``loc3r synth`` (3 scenes x 30 frames, 96x72) -> ``loc3r prepare`` (6 frames per scene, BEV
targets) -> test-split records (SQA3D QA + localization, ScanQA, VSI-Bench) of the one test scene.
``tiny_model_dir(prior_token_dim)``: a saved, untrained tiny Loc3R model (+ processor).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest


@pytest.fixture()
def single_thread():
    """Tiny models run fastest single-threaded (no OpenMP spinning on a shared CPU); restored afterwards."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@dataclass(frozen=True)
class EvalSet:
    """Paths of the synthetic evaluation set."""

    synth: Path
    prepared: Path
    test_scene: str
    sqa3d: Path
    sqa3d_loc: Path
    scanqa: Path
    vsibench: Path

    @property
    def all_records(self) -> tuple[Path, ...]:
        return (self.sqa3d, self.sqa3d_loc, self.scanqa, self.vsibench)


@pytest.fixture(scope="session")
def eval_set(tmp_path_factory) -> EvalSet:
    from loc3r.data.prepare import PrepareConfig, prepare_scannet
    from loc3r.data.sources.convert import convert_to_jsonl
    from loc3r.data.synthetic.config import SynthConfig
    from loc3r.data.synthetic.generate import generate_synthetic

    root = tmp_path_factory.mktemp("eval_set")
    synth, prepared = root / "synth", root / "prepared"
    generate_synthetic(
        SynthConfig(
            out=synth,
            num_scenes=3,
            frames_per_scene=30,
            color_width=96,
            color_height=72,
            depth_width=96,
            depth_height=72,
            workers=1,
            progress=False,
        )
    )
    report = prepare_scannet(
        PrepareConfig(
            scans_dir=synth / "scans",
            out_dir=prepared,
            num_frames=6,
            bev_targets=True,
            image_size=64,
            patch_size=8,
            progress=False,
        )
    )
    assert not report.failed
    test_scene = (synth / "splits" / "test.txt").read_text().split()[0]
    ann = synth / "annotations"
    recs = root / "records"
    sqa = ann / "sqa3d"
    convert_to_jsonl(
        "sqa3d",
        [
            sqa / "v1_balanced_questions_test_scannetv2.json",
            sqa / "v1_balanced_sqa_annotations_test_scannetv2.json",
        ],
        recs / "sqa3d.jsonl",
    )
    convert_to_jsonl(
        "sqa3d", [sqa / "v1_balanced_localization_test_scannetv2.json"], recs / "sqa3d_loc.jsonl"
    )
    convert_to_jsonl("scanqa", [ann / "scanqa" / "ScanQA_v1.0_test.json"], recs / "scanqa.jsonl")
    convert_to_jsonl("vsibench", [ann / "vsibench" / "vsibench_test.json"], recs / "vsibench.jsonl")
    return EvalSet(
        synth=synth,
        prepared=prepared,
        test_scene=test_scene,
        sqa3d=recs / "sqa3d.jsonl",
        sqa3d_loc=recs / "sqa3d_loc.jsonl",
        scanqa=recs / "scanqa.jsonl",
        vsibench=recs / "vsibench.jsonl",
    )


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """``make(prior_token_dim=13, **overrides) -> Path``: a saved tiny model (cached per argument set)."""
    from loc3r.modeling.builders import loc3r_tiny

    made: dict[tuple, Path] = {}

    def make(prior_token_dim: int | None = 13, **overrides) -> Path:
        key = (prior_token_dim, tuple(sorted(overrides.items())))
        if key not in made:
            d = tmp_path_factory.mktemp("tiny_model")
            model, processor = loc3r_tiny(prior_token_dim=prior_token_dim, **overrides)
            model.save_pretrained(d)
            processor.save_pretrained(d)
            made[key] = d
        return made[key]

    return make
