"""Component tests of Loc3RForConditionalGeneration on the tiny preset (CPU)."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from loc3r.modeling.configuration_loc3r import SLOT_CAMERA, SLOT_NEWLINE, SLOT_TEXT, SLOT_VISION  # noqa: E402
from loc3r.modeling.modeling_loc3r import Loc3ROutput  # noqa: E402
from loc3r.modeling.trainable import TrainableParts, set_trainable  # noqa: E402


def _capture_lm_inputs(model):
    """Record the kwargs the LLM receives (inputs_embeds, position_ids, ...)."""
    seen = {}

    def hook(module, args, kwargs):
        seen.update(kwargs)

    handle = model.vlm.base.model.language_model.register_forward_pre_hook(hook, with_kwargs=True)
    return seen, handle


def _targets(proc, b, t, seed=0):
    g = torch.Generator().manual_seed(seed)
    rows, cols = proc.token_grid
    mask = torch.rand(b, t, rows, cols, generator=g) > 0.3
    tg = torch.randn(b, t, rows, cols, 2, generator=g) * 2
    tg[~mask] = float("nan")  # invalid tokens may hold garbage
    return {
        "bev_targets": tg,
        "bev_mask": mask,
        "pos_target": torch.randn(b, 2, generator=g),
        "ori_target": (torch.rand(b, generator=g) * 2 - 1) * math.pi,
    }


# ---------------------------------------------------------------------------------------------- splicing
def test_camera_tokens_sit_immediately_before_each_frames_visual_tokens(tiny, batch_factory):
    model, proc = tiny
    b, t = 2, 3
    batch, _, cam = batch_factory(proc, b=b, t=t)
    seen, h = _capture_lm_inputs(model)
    with torch.no_grad():
        out = model(**batch)
    h.remove()
    emb = seen["inputs_embeds"]
    ids = batch["input_ids"]
    rows, cols = proc.token_grid
    n = rows * cols
    with torch.no_grad():
        hf_video = model.vlm.base.model.get_video_features(batch["pixel_values_videos"], return_dict=True)
        hf_video = hf_video.pooler_output  # transformers' own [B, T*n + 1, D]
        cam_proj = model.camera_projector(cam)
    newline = model.vlm.base.model.image_newline
    table = model.get_input_embeddings().weight
    for i in range(b):
        for f in range(t):
            cpos = int(out.camera_positions[i, f])
            assert ids[i, cpos] == model.config.cam_token_id
            assert cpos + 1 == int(out.vision_positions[i, f, 0, 0])  # immediately before the frame's tokens
            torch.testing.assert_close(emb[i, cpos], cam_proj[i, f])
            for r in range(rows):
                for c in range(cols):
                    p = int(out.vision_positions[i, f, r, c])
                    torch.testing.assert_close(emb[i, p], hf_video[i, f * n + r * cols + c])
                # grid newline closes every row
                end = int(out.vision_positions[i, f, r, cols - 1]) + 1
                assert out.token_types[i, end] == SLOT_NEWLINE
                torch.testing.assert_close(emb[i, end], newline)
        text = out.token_types[i] == SLOT_TEXT
        torch.testing.assert_close(emb[i][text], table[ids[i][text]])
        kinds = out.token_types[i]
        assert int((kinds == SLOT_CAMERA).sum()) == t and int((kinds == SLOT_VISION).sum()) == t * n
        assert int((kinds == SLOT_NEWLINE).sum()) == t * rows


@pytest.mark.parametrize(
    "overrides",
    [
        dict(newline_layout="one_token"),
        dict(newline_layout="frame"),
        dict(newline_layout="none"),
        dict(camera_token_position="own_row"),
        dict(prior_token_dim=0),
    ],
)
def test_layout_variants_forward(tiny_factory, batch_factory, overrides):
    model, proc = tiny_factory(**overrides)
    batch, _, _ = batch_factory(proc, b=2, t=2)
    if not proc.use_camera:
        assert "camera_tokens" not in batch
        assert not (batch["input_ids"] == proc.tokenizer.convert_tokens_to_ids("<cam>")).any()
    with torch.no_grad():
        out = model(**batch, **_targets(proc, 2, 2))
    assert out.bev_pred.shape == (2, 2, 4, 4, 4)
    assert torch.isfinite(out.loss)
    if overrides.get("camera_token_position") == "own_row":
        cp = out.camera_positions
        assert (out.token_types.gather(1, cp + 1) == SLOT_NEWLINE).all()
        assert torch.equal(cp + 2, out.vision_positions[:, :, 0, 0])
    if proc.use_camera and "camera_token_position" not in overrides:
        assert torch.equal(out.camera_positions + 1, out.vision_positions[:, :, 0, 0])


# ------------------------------------------------------------------------------------------- situation tokens
@pytest.mark.parametrize("padding_side", ["left", "right"])
def test_pos_ori_found_in_padded_batches_and_match_unbatched(tiny, batch_factory, padding_side):
    model, proc = tiny
    sits = ["I am sitting on the bed facing the big window with a lamp on my right", None, "I am at the door"]
    qs = ["what is behind me?", "how many chairs?", "is the table on my left?"]
    batch, videos, cam = batch_factory(
        proc, b=3, t=2, answers=False, situations=sits, questions=qs, padding_side=padding_side
    )
    assert (batch["attention_mask"] == 0).any()  # really padded
    with torch.no_grad():
        out = model(**batch)
    for i in range(3):
        ids = batch["input_ids"][i].tolist()
        assert int(out.pos_positions[i]) == ids.index(proc.pos_token_id)
        assert int(out.ori_positions[i]) == ids.index(proc.ori_token_id)
        single = proc([videos[i]], [sits[i]], [qs[i]], camera_tokens=cam[i : i + 1])
        with torch.no_grad():
            one = model(**single)
        torch.testing.assert_close(out.pos_mean[i], one.pos_mean[0], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(out.pos_log_var[i], one.pos_log_var[0], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(out.ori_logits[i], one.ori_logits[0], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(out.bev_pred[i], one.bev_pred[0], atol=1e-5, rtol=1e-4)


def test_bad_placeholders_and_inputs_raise(tiny, batch_factory):
    model, proc = tiny
    batch, _, cam = batch_factory(proc, b=2, t=2)
    ids = batch["input_ids"].clone()
    first_video = int((ids[0] == proc.video_token_id).nonzero()[0])
    ids[0, first_video] = proc.tokenizer.convert_tokens_to_ids("chair")
    with pytest.raises(ValueError, match="Video placeholders"):
        model(**{**batch, "input_ids": ids})
    swapped = batch["input_ids"].clone()
    cam_at = int((swapped[0] == proc.cam_token_id).nonzero()[0])
    swapped[0, cam_at], swapped[0, cam_at + 1] = swapped[0, cam_at + 1].clone(), swapped[0, cam_at].clone()
    with pytest.raises(ValueError, match="contiguous block"):
        model(**{**batch, "input_ids": swapped})
    with pytest.raises(ValueError, match="camera_tokens"):
        model(**{k: v for k, v in batch.items() if k != "camera_tokens"})
    with pytest.raises(ValueError, match="camera_tokens must be"):
        model(**{**batch, "camera_tokens": cam[:, :1]})
    with pytest.raises(ValueError, match="no pixel_values_videos"):
        model(**{k: v for k, v in batch.items() if k != "pixel_values_videos"})
    two_pos = batch["input_ids"].clone()
    two_pos[1, -1] = proc.pos_token_id
    with pytest.raises(ValueError, match="exactly one <Pos>"):
        model(**{**batch, "input_ids": two_pos})


# ---------------------------------------------------------------------------------------------- losses
def _np_log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_each_loss_equals_hand_computation(tiny, batch_factory):
    model, proc = tiny
    b, t = 2, 2
    batch, _, _ = batch_factory(proc, b=b, t=t)
    tg = _targets(proc, b, t)
    batch["sit_mask"] = torch.tensor([True, True])
    with torch.no_grad():
        out = model(**batch, **tg)
    # CE: position i predicts label i+1, averaged over supervised tokens.
    logits, labels = out.logits.double().numpy(), batch["labels"].numpy()
    terms = [
        -_np_log_softmax(logits[i, j])[labels[i, j + 1]]
        for i in range(b)
        for j in range(labels.shape[1] - 1)
        if labels[i, j + 1] != -100
    ]
    assert out.loss_ce.item() == pytest.approx(np.mean(terms), rel=1e-5)
    # BEV: ½ Σ_axis [(t - m)² / σ² + log σ²], mean over valid tokens.
    pred = out.bev_pred.double().numpy()
    m = tg["bev_mask"].numpy()
    t_ = tg["bev_targets"].double().numpy()
    nll = 0.5 * (((t_ - pred[..., :2]) ** 2) / np.exp(pred[..., 2:]) + pred[..., 2:]).sum(-1)
    assert out.loss_bev.item() == pytest.approx(nll[m].mean(), rel=1e-5)
    # Position.
    pm, plv = out.pos_mean.double().numpy(), out.pos_log_var.double().numpy()
    pt = tg["pos_target"].double().numpy()
    lpos = (0.5 * (((pt - pm) ** 2) / np.exp(plv) + plv).sum(-1)).mean()
    assert out.loss_pos.item() == pytest.approx(lpos, rel=1e-5)
    # Orientation: KL(wrapped Gaussian (σ = 20°, centres -π + b·10°) ‖ softmax).
    centers = -math.pi + np.arange(36) * 2 * math.pi / 36
    kls = []
    for i in range(b):
        d = np.remainder(tg["ori_target"][i].item() - centers + math.pi, 2 * math.pi) - math.pi
        y = np.exp(-0.5 * (d / math.radians(20)) ** 2)
        y /= y.sum()
        logp = _np_log_softmax(out.ori_logits[i].double().numpy())
        kls.append(np.sum(y * (np.log(y) - logp)))
    assert out.loss_ori.item() == pytest.approx(np.mean(kls), rel=1e-5)
    total = np.mean(terms) + 0.05 * nll[m].mean() + 0.075 * (lpos + 3.5 * np.mean(kls))
    assert out.loss.item() == pytest.approx(total, rel=1e-5)
    assert out.loss_sit.item() == pytest.approx(lpos + 3.5 * np.mean(kls), rel=1e-5)


def test_pseudo_situation_samples_get_no_situation_loss(tiny, batch_factory):
    model, proc = tiny
    batch, _, _ = batch_factory(proc, b=2, t=2, situations=[None, None])
    assert not batch["sit_mask"].any()
    out = model(**batch, **_targets(proc, 2, 2))
    assert out.loss_pos.item() == 0.0 and out.loss_ori.item() == 0.0
    out.loss.backward()
    for p in list(model.pos_head.parameters()) + list(model.ori_head.parameters()):
        assert p.grad is not None and torch.all(p.grad == 0)


def test_disabled_terms_and_heads(tiny_factory, batch_factory):
    model, proc = tiny_factory(lambda_bev=0.0, lambda_sit=None)
    batch, _, _ = batch_factory(proc, b=2, t=2)
    out = model(**batch, **_targets(proc, 2, 2))
    assert out.loss_bev is None and out.loss_pos is None
    assert out.loss.item() == pytest.approx(out.loss_ce.item())
    bare, bproc = tiny_factory(use_bev_head=False, use_situation_heads=False)
    assert bare.bev_head is None and bare.pos_head is None and bare.ori_head is None
    o = bare(**batch_factory(bproc, b=1, t=2)[0])
    assert o.bev_pred is None and o.pos_mean is None and o.loss.item() == pytest.approx(o.loss_ce.item())


def test_camera_tokens_can_be_bev_supervised(tiny_factory, batch_factory):
    model, proc = tiny_factory(bev_tokens="patches+camera")
    batch, _, _ = batch_factory(proc, b=2, t=2)
    tg = _targets(proc, 2, 2)
    tg["bev_mask"][:] = False  # only the camera tokens count
    cam_t = torch.randn(2, 2, 2)
    with torch.no_grad():
        out = model(**batch, **tg, camera_bev_targets=cam_t)
    cp = out.camera_bev_pred.double().numpy()
    nll = 0.5 * (((cam_t.double().numpy() - cp[..., :2]) ** 2) / np.exp(cp[..., 2:]) + cp[..., 2:]).sum(-1)
    assert out.loss_bev.item() == pytest.approx(nll.mean(), rel=1e-5)


def test_bev_head_layer_reads_the_requested_hidden_state(tiny_factory, batch_factory):
    model, proc = tiny_factory(bev_head_layer=1)
    batch, _, _ = batch_factory(proc, b=2, t=2)
    seen, h = _capture_lm_inputs(model)
    with torch.no_grad():
        out = model(**batch)
        h.remove()
        lm = model.vlm.base.model.language_model(
            inputs_embeds=seen["inputs_embeds"],
            attention_mask=batch["attention_mask"],
            position_ids=seen["position_ids"],
            output_hidden_states=True,
        )
        bidx = torch.arange(2)[:, None, None, None]
        raw1 = model.bev_head(lm.hidden_states[1][bidx, out.vision_positions])
        raw_last = model.bev_head(lm.last_hidden_state[bidx, out.vision_positions])
    torch.testing.assert_close(out.bev_pred[..., :2], raw1[..., :2])
    torch.testing.assert_close(out.bev_pred[..., 2:], raw1[..., 2:].clamp(-10, 10))
    assert not torch.allclose(out.bev_pred[..., :2], raw_last[..., :2])
    # the situation heads still read the final layer
    default, _ = tiny_factory()
    with torch.no_grad():
        ref = default(**batch)
    torch.testing.assert_close(out.pos_mean, ref.pos_mean)


def test_semantic_head_reads_the_bev_layer_and_adds_its_cross_entropy(tiny_factory, batch_factory, tmp_path):
    classes = ["bed", "chair", "desk"]
    model, proc = tiny_factory(bev_head_layer=1, semantic_classes=classes, lambda_sem=0.5)
    assert model.semantic_head.out_features == 4
    assert any(p is model.semantic_head.weight for p in model.parameter_groups()["heads"])
    b, t = 2, 2
    batch, _, _ = batch_factory(proc, b=b, t=t)
    tg = _targets(proc, b, t)
    rows, cols = proc.token_grid
    sem = torch.randint(0, 4, (b, t, rows, cols), generator=torch.Generator().manual_seed(1))
    sem[0, 0] = -100  # a frame without targets
    seen, h = _capture_lm_inputs(model)
    with torch.no_grad():
        out = model(**batch, **tg, semantic_targets=sem)
        h.remove()
        lm = model.vlm.base.model.language_model(
            inputs_embeds=seen["inputs_embeds"], attention_mask=batch["attention_mask"],
            position_ids=seen["position_ids"], output_hidden_states=True,
        )
        ref = model.semantic_head(lm.hidden_states[1][torch.arange(b)[:, None, None, None], out.vision_positions])
    assert out.semantic_logits.shape == (b, t, rows, cols, 4)
    torch.testing.assert_close(out.semantic_logits, ref.float())
    logp = out.semantic_logits.double().log_softmax(-1).numpy()
    s = sem.numpy()
    ce = [-logp[i, j, r, c, s[i, j, r, c]] for i in range(b) for j in range(t) for r in range(rows)
          for c in range(cols) if s[i, j, r, c] != -100]
    assert out.loss_sem.item() == pytest.approx(np.mean(ce), rel=1e-5)
    without = model(**batch, **tg)
    assert without.loss_sem is None
    assert out.loss.item() == pytest.approx(without.loss.item() + 0.5 * np.mean(ce), rel=1e-5)
    # All targets ignored: an exact zero that still reaches the head (no unused parameters under DDP).
    zero = model(**batch, **tg, semantic_targets=torch.full_like(sem, -100))
    assert zero.loss_sem.item() == 0.0
    zero.loss.backward()
    assert model.semantic_head.weight.grad is not None
    # Saved and loaded with the model; the default model has no such head.
    model.save_pretrained(tmp_path)
    from loc3r.modeling.modeling_loc3r import Loc3RForConditionalGeneration

    again = Loc3RForConditionalGeneration.from_pretrained(tmp_path)
    assert again.config.semantic_classes == classes
    torch.testing.assert_close(again.semantic_head.weight, model.semantic_head.weight)
    plain, _ = tiny_factory()
    assert plain.semantic_head is None and not plain.config.use_semantic_head


def test_local_head_reads_the_bev_layer_and_adds_its_nll(tiny_factory, batch_factory, tmp_path):
    model, proc = tiny_factory(bev_head_layer=1, use_local_head=True, lambda_local=0.5)
    assert any(p is model.local_head.proj.weight for p in model.parameter_groups()["heads"])
    b, t = 2, 2
    batch, _, _ = batch_factory(proc, b=b, t=t)
    tg = _targets(proc, b, t)
    loc = _targets(proc, b, t, seed=3)
    local = {"local_targets": loc["bev_targets"], "local_mask": loc["bev_mask"]}
    seen, h = _capture_lm_inputs(model)
    with torch.no_grad():
        out = model(**batch, **tg, **local)
        h.remove()
        lm = model.vlm.base.model.language_model(
            inputs_embeds=seen["inputs_embeds"], attention_mask=batch["attention_mask"],
            position_ids=seen["position_ids"], output_hidden_states=True,
        )
        raw = model.local_head(lm.hidden_states[1][torch.arange(b)[:, None, None, None], out.vision_positions])
    rows, cols = proc.token_grid
    assert out.local_pred.shape == (b, t, rows, cols, 4)
    torch.testing.assert_close(out.local_pred[..., :2], raw[..., :2])
    assert not torch.allclose(out.local_pred[..., :2], out.bev_pred[..., :2])  # its own head
    # Hand-written Gaussian NLL over the valid tokens (NaN targets of invalid tokens are ignored).
    m = loc["bev_mask"]
    mu, lv, y = raw[..., :2].double()[m], raw[..., 2:].double().clamp(-10, 10)[m], loc["bev_targets"].double()[m]
    nll = (0.5 * ((y - mu) ** 2 * torch.exp(-lv) + lv).sum(-1)).mean().item()
    assert out.loss_local.item() == pytest.approx(nll, rel=1e-5)
    without = model(**batch, **tg)
    assert without.loss_local is None
    assert out.loss.item() == pytest.approx(without.loss.item() + 0.5 * nll, rel=1e-5)
    model(**batch, **tg, **local).loss.backward()
    assert model.local_head.proj.weight.grad.abs().sum() > 0
    # Saved and loaded with the model; fine-tuning may switch the loss off and keep the head.
    model.save_pretrained(tmp_path)
    from loc3r.modeling.modeling_loc3r import Loc3RForConditionalGeneration

    again = Loc3RForConditionalGeneration.from_pretrained(tmp_path)
    torch.testing.assert_close(again.local_head.proj.weight, model.local_head.proj.weight)
    again.config.lambda_local = 0.0
    assert again(**batch, **tg, **local).loss_local is None
    plain, _ = tiny_factory()
    assert plain.local_head is None and not plain.config.use_local_head


# ---------------------------------------------------------------------------------------------- gradients
@pytest.mark.parametrize(
    "parts",
    [
        TrainableParts(),
        TrainableParts(language_model=False, projector=False),
        TrainableParts(vision_tower=True, heads=False),
    ],
)
def test_gradients_reach_exactly_the_trainable_parts(tiny, batch_factory, parts):
    model, proc = tiny
    model.train()
    counts = set_trainable(model, parts)
    batch, _, _ = batch_factory(proc, b=2, t=2)
    batch["sit_mask"][:] = True
    out = model(**batch, **_targets(proc, 2, 2))
    out.loss.backward()
    flags = vars(parts)
    # transformers' LLaVA-OneVision reads SigLIP's pre-norm last hidden state: post_layernorm is never used.
    unused = {id(p) for n, p in model.named_parameters() if "vision_tower.post_layernorm" in n}
    for group, params in model.parameter_groups().items():
        assert (counts[group] > 0) == flags[group] or not params
        for p in params:
            if id(p) not in unused:
                assert (p.grad is not None) == flags[group], group
            else:
                assert p.grad is None
        if flags[group] and params:
            assert sum(float(p.grad.abs().sum()) for p in params if p.grad is not None) > 0, group


def test_parameter_groups_partition_the_model(tiny):
    model, _ = tiny
    ids = [id(p) for ps in model.parameter_groups().values() for p in ps]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))


def test_gradient_checkpointing_gives_identical_loss_and_grads(tiny_factory, batch_factory):
    from loc3r.modeling.trainable import enable_gradient_checkpointing

    grads = []
    for ckpt in (False, True):
        model, proc = tiny_factory()
        model.train()
        set_trainable(model)
        if ckpt:
            enable_gradient_checkpointing(model)
        batch, _, _ = batch_factory(proc, b=2, t=2)
        out = model(**batch, **_targets(proc, 2, 2))
        out.loss.backward()
        grads.append(
            (
                out.loss.detach(),
                {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None},
            )
        )
    torch.testing.assert_close(grads[0][0], grads[1][0])
    assert grads[0][1].keys() == grads[1][1].keys()
    for k in grads[0][1]:
        torch.testing.assert_close(grads[0][1][k], grads[1][1][k], atol=1e-6, rtol=1e-4)


def test_lora_trains_adapters_heads_and_new_token_rows_only(tiny, batch_factory):
    pytest.importorskip("peft")
    from loc3r.modeling.trainable import apply_lora

    model, proc = tiny
    peft_model = apply_lora(model, r=4, alpha=8, dropout=0.0)
    peft_model.train()
    batch, _, _ = batch_factory(proc, b=2, t=2)
    batch["sit_mask"][:] = True
    out = peft_model(**batch, **_targets(proc, 2, 2))
    out.loss.backward()
    trainable = {n for n, p in peft_model.named_parameters() if p.requires_grad}
    assert trainable and all(p.grad is not None for n, p in peft_model.named_parameters() if n in trainable)
    for n in trainable:
        ok = "lora_" in n or "modules_to_save" in n or "trainable_tokens" in n
        assert ok, n
        if "lora_" in n:
            assert ".language_model." in n  # never the vision tower
    assert any("pos_head.modules_to_save" in n for n in trainable)
    assert any("trainable_tokens" in n for n in trainable)
    assert not any("vision_tower" in n for n in trainable)


# ---------------------------------------------------------------------------------------------- inference
def test_circular_soft_argmax_handles_the_pi_wrap(tiny):
    model, _ = tiny
    centers = model.orientation_bin_centers()
    logits = torch.full((3, 36), -30.0)
    # sample 0: mass split between -170° (bin 1) and +170° (bin 35): the mean direction is ±π, not 0
    logits[0, 1] = logits[0, 35] = 0.0
    # sample 1: bins -π (bin 0) and +170° (bin 35): 175°
    logits[1, 0] = logits[1, 35] = 0.0
    # sample 2: one bin at 30°
    logits[2, 21] = 0.0
    out = Loc3ROutput(pos_mean=torch.zeros(3, 2), pos_log_var=torch.zeros(3, 2), ori_logits=logits)
    loc = model.decode_localization(out)
    assert abs(abs(loc.heading_bev[0].item()) - math.pi) < 1e-4
    assert loc.heading_bev[1].item() == pytest.approx(math.radians(175.0), abs=1e-4)
    assert loc.heading_bev[2].item() == pytest.approx(centers[21].item(), abs=1e-5)
    assert centers[21].item() == pytest.approx(math.radians(30.0), abs=1e-6)
    torch.testing.assert_close(loc.sigma_bev, torch.ones(3, 2))


def test_localize_maps_into_the_world_frame(tiny, videos_factory):
    model, proc = tiny
    videos = videos_factory(2, 2)
    cam = torch.randn(2, 2, 8)
    # first camera at (1, 2, 1.5) looking along world +y (optical axis = +z column)
    pose = np.eye(4)
    pose[:3, :3] = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])  # columns: x_cam, y_cam, z_cam in world
    pose[:3, 3] = [1.0, 2.0, 1.5]
    loc = model.localize(
        videos, ["I am at the door", None], processor=proc, camera_tokens=cam, first_frame_poses=[pose, None]
    )
    x, y = loc.position_bev[0].double().tolist()
    # BEV x = world +y, BEV y = world -x: world = origin + x·(0, 1) + y·(-1, 0)
    np.testing.assert_allclose(loc.position_world[0], [1.0 - y, 2.0 + x], atol=1e-6)
    expected = (loc.heading_bev[0].item() + math.pi / 2 + math.pi) % (2 * math.pi) - math.pi
    assert loc.heading_world[0] == pytest.approx(expected, abs=1e-6)
    assert np.isnan(loc.position_world[1]).all()
    one = model.localize(videos[:1], ["I am at the door"], processor=proc, camera_tokens=cam[:1])
    torch.testing.assert_close(one.position_bev[0], loc.position_bev[0], atol=1e-5, rtol=1e-4)
    assert loc.ori_probs.shape == (2, 36)
    torch.testing.assert_close(loc.ori_probs.sum(-1), torch.ones(2))


def test_batched_generation_matches_single(tiny, videos_factory):
    model, proc = tiny
    videos = videos_factory(2, 2)
    cam = torch.randn(2, 2, 8)
    sits = ["I am sitting on the sofa facing the tv", None]
    qs = ["what is on my left?", "how many lamps?"]
    both = model.answer(videos, sits, qs, processor=proc, camera_tokens=cam, max_new_tokens=6)
    for i in range(2):
        one = model.answer(
            videos[i : i + 1],
            sits[i : i + 1],
            qs[i : i + 1],
            processor=proc,
            camera_tokens=cam[i : i + 1],
            max_new_tokens=6,
        )
        assert one[0] == both[i]
    assert all(isinstance(a, str) for a in both)


def test_generate_matches_manual_greedy_decoding(tiny, batch_factory):
    model, proc = tiny
    batch, _, _ = batch_factory(proc, b=1, t=2, answers=False)
    seqs = model.generate(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        pixel_values_videos=batch["pixel_values_videos"],
        camera_tokens=batch["camera_tokens"],
        max_new_tokens=4,
        do_sample=False,
        eos_token_id=None,
        pad_token_id=0,
    )
    ids = batch["input_ids"]
    with torch.no_grad():
        for _ in range(4):
            logits = model(
                input_ids=ids,
                pixel_values_videos=batch["pixel_values_videos"],
                camera_tokens=batch["camera_tokens"],
            ).logits
            ids = torch.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], 1)
    assert torch.equal(seqs, ids)


# ---------------------------------------------------------------------------------------------- persistence
def test_save_load_gives_identical_outputs(tiny, batch_factory, tmp_path):
    from transformers import AutoModel

    from loc3r.modeling.builders import load_loc3r

    model, proc = tiny
    batch, _, _ = batch_factory(proc, b=2, t=2)
    with torch.no_grad():
        ref = model(**batch)
    model.save_pretrained(tmp_path)
    proc.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    assert "auto_map" not in (tmp_path / "config.json").read_text()  # no code is referenced
    loaded, lproc = load_loc3r(tmp_path)
    with torch.no_grad():
        got = loaded(**batch_factory(lproc, b=2, t=2)[0])
    for k in ("logits", "pos_mean", "pos_log_var", "ori_logits", "bev_pred"):
        assert torch.equal(ref[k], got[k]), k
    auto = AutoModel.from_pretrained(tmp_path)
    assert type(auto) is type(model)
    sd_a, sd_b = model.state_dict(), auto.state_dict()
    assert sd_a.keys() == sd_b.keys() and all(torch.equal(sd_a[k], sd_b[k]) for k in sd_a)


def test_grounding_loss_supervises_the_attention_of_pos_and_ori_on_their_referents(tiny_factory, batch_factory):
    model, proc = tiny_factory(bev_head_layer=1, lambda_ground=2.0)
    assert model.config.ground_attention_index == 1  # the layer after the one feeding the BEV head
    b, t = 2, 2
    batch, _, _ = batch_factory(proc, b=b, t=t)
    tg = _targets(proc, b, t)
    rows, cols = proc.token_grid
    pos_mask = torch.zeros(b, t, rows, cols, dtype=torch.bool)
    ori_mask = torch.zeros_like(pos_mask)
    pos_mask[0, 1, :2, :2] = True  # sample 0: the agent is at what these 4 tokens see
    ori_mask[0, 0, 3, :] = True  # ... and faces what these 4 see; sample 1: no referent
    with pytest.raises(RuntimeError, match="attn_implementation='eager'"):
        model(**batch, **tg, ground_pos_mask=pos_mask, ground_ori_mask=ori_mask)
    model.set_attn_implementation("eager")
    seen, h = _capture_lm_inputs(model)
    with torch.no_grad():
        out = model(**batch, **tg, ground_pos_mask=pos_mask, ground_ori_mask=ori_mask)
        h.remove()
        lm = model.vlm.base.model.language_model(
            inputs_embeds=seen["inputs_embeds"], attention_mask=batch["attention_mask"],
            position_ids=seen["position_ids"], output_attentions=True,
        )
    att = lm.attentions[1][0].double()  # sample 0, layer 2: [H, L, L]
    vis = out.vision_positions[0]
    mass_pos = att[:, out.pos_positions[0], vis[pos_mask[0]]].sum(-1).max()  # the head with the most
    mass_ori = att[:, out.ori_positions[0], vis[ori_mask[0]]].sum(-1).max()
    expected = 0.5 * (-torch.log(mass_pos + 1e-6) - torch.log(mass_ori + 1e-6))
    assert out.loss_ground.item() == pytest.approx(expected.item(), rel=1e-5)
    assert 0 < mass_pos < 1 and 0 < mass_ori < 1
    without = model(**batch, **tg)
    assert without.loss_ground is None
    assert out.loss.item() == pytest.approx(without.loss.item() + 2.0 * expected.item(), rel=1e-5)
    # Optimising the loss alone moves <Pos>'s attention onto its referent.
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(15):
        opt.zero_grad()
        loss = model(**batch, ground_pos_mask=pos_mask, ground_ori_mask=ori_mask).loss_ground
        first = loss.item() if first is None else first
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first
