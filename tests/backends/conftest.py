"""Fixtures for the prior-backend tests: fake CUT3R / VGGT packages written to ``tmp_path``.

CUT3R and VGGT cannot be installed in CI (no pip package, gigabyte checkpoints). The fakes below are tiny
torch modules with the **same module paths, class names, call signatures and attribute names** that the
adapters rely on (documented in ``loc3r/backends/cut3r.py`` and ``vggt.py``), and they record what they
receive so the tests can check the adapters' wiring end to end.

Fake CUT3R (``<root>/src/dust3r/model.py``): ``ARCroco3DStereoConfig(**kw)``;
``ARCroco3DStereo(config)`` with ``dec_norm`` (LayerNorm over ``dec_embed_dim``), ``enc_norm``,
``pose_token``; ``forward(views)`` encodes all views in one batched call (``enc_norm`` fires once), then
per view in order prepends a pose token (learned for view 0, read from the recurrent state later), mixes in
the state and applies ``dec_norm`` once; it records every position-0 ``dec_norm`` output (``ref_tokens``)
and the views it received. ``forward_recurrent(views, device)`` does the same view by view.

Fake VGGT (``vggt/models/vggt.py``): ``VGGT()`` and ``VGGT.from_pretrained(name, revision=None)``; its
``aggregator(images [B, S, 3, H, W])`` returns ``([layer0, layer1], 5)`` with ``[B, S, 5 + N, 2048]``
tokens (camera token at 0, frame half + global half) and records the images it received.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

FAKE_CUT3R_MODEL = textwrap.dedent(
    '''
    """Fake CUT3R model module (test double)."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    class ARCroco3DStereoConfig:
        def __init__(self, **kwargs):
            self.kwargs = kwargs


    class ARCroco3DStereo(nn.Module):
        def __init__(self, config):
            super().__init__()
            kw = config.kwargs
            self.config = config
            self.dec_embed_dim = kw.get("dec_embed_dim", 768)
            self.patch = 16
            g = torch.Generator().manual_seed(0)
            self.patch_proj = nn.Linear(3, self.dec_embed_dim)
            self.enc_norm = nn.LayerNorm(self.dec_embed_dim)
            self.pose_token = nn.Parameter(torch.randn(1, 1, self.dec_embed_dim, generator=g))
            self.dec_norm = nn.LayerNorm(self.dec_embed_dim)
            self.ref_tokens = []
            self.received_views = None
            self.calls = []

        def _check_view(self, v):
            img = v["img"]
            assert img.ndim == 4 and img.shape[0] == 1 and img.shape[1] == 3
            assert tuple(v["true_shape"][0].tolist()) == tuple(img.shape[-2:])
            assert img.shape[-1] % self.patch == 0 and img.shape[-2] % self.patch == 0

        def _encode(self, imgs):
            # imgs [N, 3, H, W] -> [N, P, D] (mean colour of each 16x16 patch, projected)
            x = F.avg_pool2d(imgs, self.patch).flatten(2).transpose(1, 2)
            return self.enc_norm(self.patch_proj(x))

        def _step(self, i, feat, state):
            pose = self.pose_token if i == 0 else state.mean(dim=1, keepdim=True)
            x = torch.cat([pose, feat + state.mean(dim=1, keepdim=True)], dim=1)
            out = self.dec_norm(x)
            self.ref_tokens.append(out[:, 0].detach().clone())
            return torch.cat([state, out.mean(dim=1, keepdim=True)], dim=1)  # remembers every frame

        def forward(self, views, ret_state=False):
            self.calls.append("forward")
            self.received_views = views
            for v in views:
                self._check_view(v)
            feats = self._encode(torch.cat([v["img"] for v in views]))  # batched encoder: one call
            state = torch.zeros(1, 1, self.dec_embed_dim, device=feats.device)
            for i in range(len(views)):
                state = self._step(i, feats[i : i + 1], state)
            return {"ress": [{} for _ in views], "views": views}

        def forward_recurrent(self, views, device, ret_state=False):
            self.calls.append("forward_recurrent")
            self.received_views = views
            state = torch.zeros(1, 1, self.dec_embed_dim, device=device)
            for i, v in enumerate(views):
                self._check_view(v)
                state = self._step(i, self._encode(v["img"]), state)
            return [{} for _ in views], views
    '''
)

FAKE_VGGT_MODEL = textwrap.dedent(
    '''
    """Fake VGGT model module (test double)."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    class Aggregator(nn.Module):
        def __init__(self, embed_dim=1024):
            super().__init__()
            g = torch.Generator().manual_seed(0)
            self.patch_proj = nn.Linear(3, embed_dim)
            self.camera_token = nn.Parameter(torch.randn(1, 2, 1, embed_dim, generator=g))
            self.register_token = nn.Parameter(torch.randn(1, 2, 4, embed_dim, generator=g))
            self.patch_start_idx = 5
            self.received = []

        def forward(self, images):
            B, S, C, H, W = images.shape
            assert C == 3 and H % 14 == 0 and W % 14 == 0
            assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
            self.received.append(images.detach().clone())
            patches = self.patch_proj(F.avg_pool2d(images.flatten(0, 1), 14).flatten(2).transpose(1, 2))
            patches = patches.view(B, S, -1, patches.shape[-1])
            cam = torch.cat([self.camera_token[:, :1].expand(B, 1, 1, -1),
                             self.camera_token[:, 1:].expand(B, S - 1, 1, -1)], dim=1)
            reg = self.register_token[:, :1].expand(B, S, 4, -1)
            frame = torch.cat([cam + patches.mean(2, keepdim=True), reg, patches], dim=2)
            glob = frame + frame.mean(dim=(1, 2), keepdim=True)  # mixes information across frames
            layer0 = torch.cat([frame, frame], dim=-1)
            layer1 = torch.cat([frame, glob], dim=-1)
            return [layer0, layer1], self.patch_start_idx


    class VGGT(nn.Module):
        pretrained_calls = []

        def __init__(self, img_size=518, patch_size=14, embed_dim=1024):
            super().__init__()
            self.aggregator = Aggregator(embed_dim)

        @classmethod
        def from_pretrained(cls, name, revision=None, **kwargs):
            cls.pretrained_calls.append((name, revision))
            return cls()
    '''
)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def isolated_imports(monkeypatch):
    """Restore ``sys.path`` and forget any ``dust3r``/``vggt`` modules after the test."""
    saved_path = list(sys.path)
    yield monkeypatch
    monkeypatch.undo()  # first, so that nothing it restores survives the cleanup below
    sys.path[:] = saved_path
    for name in [m for m in sys.modules if m.split(".")[0] in ("dust3r", "vggt")]:
        del sys.modules[name]


@pytest.fixture
def fake_cut3r_root(tmp_path, isolated_imports) -> Path:
    """A CUT3R-like clone: ``<root>/src/dust3r/model.py`` holding the fake model."""
    root = tmp_path / "CUT3R"
    _write(root / "src" / "dust3r" / "__init__.py", "")
    _write(root / "src" / "dust3r" / "model.py", FAKE_CUT3R_MODEL)
    return root


@pytest.fixture
def fake_vggt(tmp_path, isolated_imports) -> Path:
    """A fake ``vggt`` package importable from ``tmp_path/vggt_pkg``."""
    base = tmp_path / "vggt_pkg"
    _write(base / "vggt" / "__init__.py", "")
    _write(base / "vggt" / "models" / "__init__.py", "")
    _write(base / "vggt" / "models" / "vggt.py", FAKE_VGGT_MODEL)
    isolated_imports.syspath_prepend(str(base))
    return base


@pytest.fixture(scope="session")
def scannet_frames(realdata_dir):
    """The three real ScanNet colour frames (1296x968, scene0000_00) as ``uint8 [3, 968, 1296, 3]``."""
    import numpy as np

    from loc3r.backends.preprocessing import load_rgb_image

    folder = realdata_dir / "scannet" / "mmdet3d_tests_scannet" / "posed_images" / "scene0000_00"
    return np.stack([load_rgb_image(folder / f"{n}.jpg") for n in ("00000", "00011", "00102")])


@pytest.fixture(scope="session")
def scannet_info(realdata_dir):
    """Real color intrinsics (4x4) and the three camera-to-world poses of those frames."""
    import numpy as np

    from loc3r.utils.io import restricted_pickle_load

    info = restricted_pickle_load(realdata_dir / "scannet" / "mmdet3d_tests_scannet" / "scannet_infos.pkl")[0]
    return {"intrinsics": np.asarray(info["intrinsics"]), "poses_c2w": np.stack(info["extrinsics"])}
