"""Presets: tiny determinism; adding the Loc3R tokens; building on a local LLaVA-OneVision checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from loc3r.modeling.builders import add_loc3r_tokens, loc3r_llava_video_7b, loc3r_tiny  # noqa: E402


def test_tiny_is_deterministic_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a, _ = loc3r_tiny(seed=0)
    b, _ = loc3r_tiny(seed=0)
    c, _ = loc3r_tiny(seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    n = sum(p.numel() for p in a.parameters())
    assert n < 5_000_000
    assert a.config.base_config.text_config.hidden_size == 64
    assert a.config.base_config.vision_config.patch_size == 8


def _small_tokenizer(extra=()):
    """A word-level tokenizer with the LLaVA placeholders but without <Pos>/<Ori>/<cam>."""
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>", "<video>", "<image>"]
    words = [
        "system",
        "user",
        "assistant",
        "you",
        "are",
        "a",
        "helpful",
        ".",
        "i",
        "am",
        "standing",
        "in",
        "the",
        "room",
        "what",
        "is",
        "it",
        "?",
        *extra,
    ]
    vocab = {t: i for i, t in enumerate(special + words)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in special])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<|endoftext|>", eos_token="<|im_end|>", unk_token="<unk>"
    )


def _small_base(tok, spare_rows=0):
    from loc3r.modeling.builders import tiny_base_config

    cfg = tiny_base_config(tok, image_size=32, patch_size=8)
    cfg.text_config.vocab_size = len(tok) + spare_rows
    torch.manual_seed(0)
    return transformers.LlavaOnevisionForConditionalGeneration(cfg)


@pytest.mark.parametrize("spare_rows", [0, 5])
def test_add_loc3r_tokens_initialises_new_rows_to_the_mean(spare_rows):
    tok = _small_tokenizer()
    base = _small_base(tok, spare_rows)
    n_old = len(tok)
    old_emb = base.get_input_embeddings().weight[:n_old].detach().clone()
    old_head = base.get_output_embeddings().weight[:n_old].detach().clone()
    ids = add_loc3r_tokens(tok, base, use_camera=True)
    assert len(tok) == n_old + 3
    assert sorted(ids.values()) == [n_old, n_old + 1, n_old + 2]
    emb = base.get_input_embeddings().weight
    head = base.get_output_embeddings().weight
    assert emb.shape[0] == max(n_old + 3, n_old + spare_rows)
    assert base.config.text_config.vocab_size == emb.shape[0]
    torch.testing.assert_close(emb[:n_old], old_emb)  # existing rows untouched
    for i in ids.values():
        torch.testing.assert_close(emb[i], old_emb.mean(0))
        torch.testing.assert_close(head[i], old_head.mean(0))
    again = add_loc3r_tokens(tok, base, use_camera=True)  # idempotent
    assert again == ids and len(tok) == n_old + 3


def test_build_on_a_local_llava_onevision_checkpoint(tmp_path):
    tok = _small_tokenizer()
    base = _small_base(tok)
    base.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    (tmp_path / "video_preprocessor_config.json").write_text(
        json.dumps(
            {
                "size": {"height": 32, "width": 32},
                "image_mean": [0.5, 0.5, 0.5],
                "image_std": [0.5, 0.5, 0.5],
                "resample": 3,
                "rescale_factor": 1 / 255,
            }
        )
    )
    model, proc = loc3r_llava_video_7b(
        str(tmp_path), dtype=torch.float32, prior_token_dim=8, attn_implementation="eager"
    )
    assert model.config.base_config is model.vlm.base.config
    assert model.vlm.base.config.text_config._attn_implementation == "eager"
    assert proc.frame_size == 32 and proc.token_grid == (2, 2)
    # the wrapped base kept its loaded weights
    ref = transformers.LlavaOnevisionForConditionalGeneration.from_pretrained(tmp_path)
    torch.testing.assert_close(
        model.vlm.base.model.language_model.layers[0].mlp.up_proj.weight,
        ref.model.language_model.layers[0].mlp.up_proj.weight,
    )
    rng = np.random.default_rng(0)
    video = rng.integers(0, 256, (2, 40, 40, 3), dtype=np.uint8)
    batch = proc(
        [video], ["i am in the room"], ["what is it ?"], answers=["a"], camera_tokens=torch.zeros(1, 2, 8)
    )
    out = model(**batch, pos_target=torch.zeros(1, 2), ori_target=torch.zeros(1))
    assert torch.isfinite(out.loss) and out.pos_mean.shape == (1, 2)
    model.save_pretrained(tmp_path / "loc3r")
    proc.save_pretrained(tmp_path / "loc3r")
    from loc3r.modeling.builders import load_loc3r

    back, bproc = load_loc3r(tmp_path / "loc3r", attn_implementation="eager")
    with torch.no_grad():
        o1 = model(**batch)
        o2 = back(
            **bproc(
                [video],
                ["i am in the room"],
                ["what is it ?"],
                answers=["a"],
                camera_tokens=torch.zeros(1, 2, 8),
            )
        )
    assert torch.equal(o1.logits, o2.logits) and torch.equal(o1.ori_logits, o2.ori_logits)


def test_add_camera_prior_to_a_checkpoint_without_one(tmp_path):
    from loc3r.modeling.builders import add_camera_prior, load_loc3r

    model, proc = loc3r_tiny(seed=0, prior_token_dim=None)
    assert not model.config.use_camera_prior and model.camera_projector is None
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = np.random.default_rng(0)
    videos = [rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)]
    plain = proc(videos, ["I am at the door"], ["what is on my left?"])
    n_plain = plain["input_ids"].shape[1]

    new_proc = add_camera_prior(model, proc, 8, seed=3)
    assert model.config.use_camera_prior and model.config.prior_token_dim == 8
    assert model.config.cam_token_id == proc.tokenizer.convert_tokens_to_ids("<cam>")
    assert new_proc.use_camera and new_proc.cam_token_id == model.config.cam_token_id
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # every old weight untouched
    assert {k for k in after if k not in before} == {k for k in after if k.startswith("camera_projector.")}
    cam = torch.randn(1, 3, 8)
    batch = new_proc(videos, ["I am at the door"], ["what is on my left?"], camera_tokens=cam)
    assert batch["input_ids"].shape[1] == n_plain + 3  # one <cam> per frame
    with torch.no_grad():
        out = model(**batch)
    assert torch.isfinite(out.pos_mean).all()
    with torch.no_grad():  # the camera tokens reach the output
        other = model(**{**batch, "camera_tokens": cam + 1.0})
    assert not torch.allclose(out.pos_mean, other.pos_mean)

    again, _ = loc3r_tiny(seed=0, prior_token_dim=None)
    add_camera_prior(again, loc3r_tiny(seed=0, prior_token_dim=None)[1], 8, seed=3)  # seeded projector
    assert torch.equal(again.camera_projector.linear_1.weight, model.camera_projector.linear_1.weight)

    model.save_pretrained(tmp_path / "ckpt")
    new_proc.save_pretrained(tmp_path / "ckpt")
    loaded, loaded_proc = load_loc3r(tmp_path / "ckpt")
    assert loaded.config.prior_token_dim == 8 and loaded_proc.use_camera
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch).pos_mean, out.pos_mean)

    with pytest.raises(ValueError, match="already has a camera prior"):
        add_camera_prior(model, new_proc, 8)
    with pytest.raises(ValueError, match="must be > 0"):
        add_camera_prior(loc3r_tiny(seed=0, prior_token_dim=None)[0], proc, 0)
