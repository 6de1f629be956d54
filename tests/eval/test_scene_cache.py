"""SceneSession (cached video prefix) vs the model's own uncached API: same heads, same greedy answers."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from loc3r.eval.scene_cache import SceneSession, run_queries_uncached  # noqa: E402
from loc3r.modeling.builders import loc3r_tiny  # noqa: E402

pytestmark = pytest.mark.usefixtures("single_thread")

T = 3
SITUATIONS = [
    "I am facing the red chair with the door behind me",
    None,
    "I sit on the bed",
    "The window is on my left and I am standing next to the tall wardrobe near the corner of the room",
]
QUESTIONS = ["what is on my left?", "how many chairs are there in the room?", "what color is the table?", ""]


def _strong_tiny(**kw):
    """A tiny model whose weights are large enough that positions, masks and inputs visibly change outputs
    (the default init is nearly an identity map, which would hide a caching bug)."""
    model, processor = loc3r_tiny(**kw)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim >= 2 and "vision_tower" not in name:
                p.copy_(torch.randn(p.shape, generator=gen) * (1.5 / p.shape[-1] ** 0.5))
    return model, processor


@pytest.fixture(scope="module")
def strong():
    torch.set_num_threads(1)
    return _strong_tiny(prior_token_dim=8)


@pytest.fixture(scope="module")
def video():
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (T, 40, 52, 3), dtype=np.uint8), torch.randn(
        T, 8, generator=torch.Generator().manual_seed(2)
    )


def test_prefix_plus_suffix_is_exactly_the_processor_prompt(strong, video):
    model, processor = strong
    frames, cam = video
    session = SceneSession(model, processor, frames, cam)
    for sit, q in zip(SITUATIONS, QUESTIONS, strict=True):
        full = processor([frames], [sit], [q], camera_tokens=cam[None])["input_ids"][0].tolist()
        assert session.prefix_ids + session.suffix_ids(sit, q) == full
    # the prefix ends with the video block: nothing query-specific is cached
    assert session.prefix_ids[-processor.num_video_tokens(T) :] == processor.video_placeholder_ids(T)


def test_cached_batch_equals_uncached_model_api(strong, video):
    model, processor = strong
    frames, cam = video
    session = SceneSession(model, processor, frames, cam)
    res = session.run(SITUATIONS, QUESTIONS, max_new_tokens=6)

    ref_loc = model.localize(
        [frames] * 4, SITUATIONS, processor=processor, camera_tokens=cam[None].expand(4, -1, -1)
    )
    loc = res.localization
    torch.testing.assert_close(loc.position_bev, ref_loc.position_bev, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(loc.sigma_bev, ref_loc.sigma_bev, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(loc.ori_probs, ref_loc.ori_probs, atol=1e-5, rtol=1e-5)
    # the heads do read the situation: different situations give different poses
    assert (loc.position_bev[0] - loc.position_bev[2]).abs().max() > 1e-3

    for i, (sit, q) in enumerate(zip(SITUATIONS, QUESTIONS, strict=True)):  # HF generate, one query at a time
        ref = model.answer(
            [frames], [sit], [q], processor=processor, camera_tokens=cam[None], max_new_tokens=6
        )
        assert res.answers[i] == ref[0]
    assert len(set(res.answers)) > 1  # the queries are told apart

    unc = run_queries_uncached(model, processor, frames, SITUATIONS, QUESTIONS, cam, max_new_tokens=6)
    assert unc.answer_token_ids == res.answer_token_ids
    torch.testing.assert_close(unc.localization.position_bev, loc.position_bev, atol=1e-5, rtol=1e-5)


def test_batched_suffixes_equal_single_queries_and_cache_is_reused_unchanged(strong, video):
    model, processor = strong
    frames, cam = video
    session = SceneSession(model, processor, frames, cam)
    shapes = [k.shape for k, _ in session._prefix_kv]
    batched = session.run(SITUATIONS, QUESTIONS, max_new_tokens=5)
    for i, (sit, q) in enumerate(zip(SITUATIONS, QUESTIONS, strict=True)):
        single = session.run([sit], [q], max_new_tokens=5)
        assert single.answer_token_ids[0] == batched.answer_token_ids[i]
        torch.testing.assert_close(
            single.localization.position_bev[0], batched.localization.position_bev[i], atol=1e-5, rtol=1e-5
        )
    assert [k.shape for k, _ in session._prefix_kv] == shapes  # the shared prefix cache is never extended
    again = session.run(SITUATIONS, QUESTIONS, max_new_tokens=5)
    assert again.answer_token_ids == batched.answer_token_ids


def test_wrong_positions_are_detected(strong, video):
    """Negative control: the equality above is not vacuous -- shifting the suffix positions by one changes the
    heads' outputs by far more than the tolerance."""
    model, processor = strong
    frames, cam = video
    session = SceneSession(model, processor, frames, cam)
    ids = torch.tensor([session.suffix_ids(SITUATIONS[0], QUESTIONS[0])])
    p, s = session.prefix_len, ids.shape[1]
    outs = []
    for shift in (0, 1):
        pos = torch.arange(p + shift, p + s + shift)[None]
        out = model(
            input_ids=ids,
            position_ids=pos,
            past_key_values=session.prefix_cache(1),
            use_cache=True,
            situation_heads=True,
            logits_to_keep=1,
        )
        outs.append(out.pos_mean)
    ref = session.run([SITUATIONS[0]], [QUESTIONS[0]]).localization.position_bev
    torch.testing.assert_close(outs[0], ref, atol=1e-5, rtol=1e-5)
    assert (outs[1] - outs[0]).abs().max() > 1e-3


def test_bev_predictions_equal_full_forward(strong, video):
    model, processor = strong
    frames, cam = video
    session = SceneSession(model, processor, frames, cam)
    batch = processor([frames], [SITUATIONS[0]], [QUESTIONS[0]], camera_tokens=cam[None])
    with torch.no_grad():
        full = model(
            input_ids=batch["input_ids"],
            pixel_values_videos=batch["pixel_values_videos"],
            camera_tokens=batch["camera_tokens"],
        )
    rows, cols = processor.token_grid
    assert session.bev_pred.shape == (T, rows, cols, 4)
    torch.testing.assert_close(session.bev_pred, full.bev_pred[0], atol=1e-5, rtol=1e-5)


def test_model_without_prior_or_situation_heads():
    model, processor = _strong_tiny(prior_token_dim=0, use_situation_heads=False)
    frames = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    session = SceneSession(model, processor, frames)
    res = session.run(
        [None, "I am near the door"], ["what is here?", "what is on my right?"], max_new_tokens=4
    )
    assert res.localization is None
    for i, (sit, q) in enumerate([(None, "what is here?"), ("I am near the door", "what is on my right?")]):
        assert res.answers[i] == model.answer([frames], [sit], [q], processor=processor, max_new_tokens=4)[0]
    with pytest.raises(ValueError, match="camera_tokens"):
        SceneSession(model, processor, frames, camera_tokens=torch.zeros(2, 8))
