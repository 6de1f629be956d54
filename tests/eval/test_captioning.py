"""Captioning metrics through pycocoevalcap: hand-computed BLEU / ROUGE-L / CIDEr, the Java paths."""

from __future__ import annotations

import math
import shutil

import pytest

pytest.importorskip("pycocoevalcap.bleu.bleu")

from loc3r.eval.metrics.captioning import JAVA_PACKAGE, JavaNotFoundError, caption_scores  # noqa: E402


def _clean(refs, preds):
    return caption_scores(refs, preds, tokenizer="clean", meteor=False)


def test_identical_answers_bleu1_is_100():
    out = _clean({"q1": ["red chair"], "q2": ["wooden table"]}, {"q1": "red chair", "q2": "wooden table"})
    assert out["BLEU-1"] == pytest.approx(100.0, abs=1e-6)
    assert out["BLEU-2"] == pytest.approx(100.0, abs=1e-6)
    assert out["ROUGE-L"] == pytest.approx(100.0)
    assert "METEOR" not in out


def test_bleu1_with_brevity_penalty_hand_case():
    # 2 of 4 predicted unigrams match; closest reference length 5 > 4 -> BP = exp(1 - 5/4)
    out = _clean({"q": ["red big tall wide table"]}, {"q": "red big old chair"})
    assert out["BLEU-1"] == pytest.approx(100 * 0.5 * math.exp(1 - 5 / 4), rel=1e-6)


def test_rouge_l_hand_case():
    # LCS("red chair wall", "red table wall desk") = 2: P = 2/3, R = 2/4, beta = 1.2
    p, r, b2 = 2 / 3, 2 / 4, 1.2**2
    out = _clean({"q": ["red table wall desk"]}, {"q": "red chair wall"})
    assert out["ROUGE-L"] == pytest.approx(100 * (1 + b2) * p * r / (r + b2 * p))


def test_cider_hand_case_and_document_frequencies():
    # N = 2 documents. Sample 1: every n-gram of "red chair" occurs in 1 document -> tf-idf weight log(2) for
    # the 2 unigrams and the bigram; the cosine similarity is 1 for n = 1, 2 and 0 for n = 3, 4 (no such
    # n-grams) -> mean 0.5, times 10 -> 5. Sample 2 shares nothing -> 0. CIDEr = 2.5 (x100 = 250).
    out = _clean({"q1": ["red chair"], "q2": ["green"]}, {"q1": "red chair", "q2": "blue"})
    assert out["CIDEr"] == pytest.approx(250.0)
    # Scored alone, the same sample gets 0: with one document every idf is log(1) - log(1) = 0.
    alone = _clean({"q1": ["red chair"]}, {"q1": "red chair"})
    assert alone["CIDEr"] == pytest.approx(0.0)


def test_clean_tokenizer_applies_clean_answer():
    out = _clean({"q1": ["Two"], "q2": ["x"]}, {"q1": "2.", "q2": "x"})
    assert out["BLEU-1"] == pytest.approx(100.0, abs=1e-6)


def test_input_checks():
    with pytest.raises(ValueError, match="without prediction"):
        _clean({"a": ["x"], "b": ["y"]}, {"a": "x"})
    with pytest.raises(ValueError, match="no reference"):
        _clean({"a": []}, {"a": "x"})
    with pytest.raises(ValueError, match="tokenizer"):
        caption_scores({"a": ["x"]}, {"a": "x"}, tokenizer="spacy")


def test_missing_java_gives_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no java anywhere
    with pytest.raises(JavaNotFoundError, match=JAVA_PACKAGE):
        caption_scores({"a": ["x"]}, {"a": "x"}, tokenizer="ptb", meteor=False)
    with pytest.raises(JavaNotFoundError, match="METEOR"):
        caption_scores({"a": ["x"]}, {"a": "x"}, tokenizer="clean", meteor=True)
    # pure-Python metrics still work without Java
    assert _clean({"a": ["x"]}, {"a": "x"})["BLEU-1"] == pytest.approx(100.0, abs=1e-6)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason=f"needs java ({JAVA_PACKAGE})")
def test_ptb_tokenizer_and_meteor_with_java():
    refs = {"q1": ["wooden brown"], "q2": ["red"], "q3": ["kitchen"]}
    preds = {"q1": "Wooden, brown.", "q2": "red", "q3": "bathroom"}
    ptb = caption_scores(refs, preds, tokenizer="ptb", meteor=True)
    # PTB lower-cases and drops the punctuation tokens: q1 becomes identical to its reference
    assert ptb["ROUGE-L"] == pytest.approx(100 * 2 / 3)
    assert ptb["BLEU-1"] == pytest.approx(100 * 3 / 4, rel=1e-6)  # 3 of 4 unigrams match, no brevity penalty
    assert 0.0 < ptb["METEOR"] < 100.0
    # the clean variant keeps the comma ("wooden," != "wooden"): lower ROUGE-L
    clean = caption_scores(refs, preds, tokenizer="clean", meteor=False)
    assert clean["ROUGE-L"] < ptb["ROUGE-L"]
