"""Captioning metrics for short answers (ScanQA): BLEU-1..4, METEOR, ROUGE-L, CIDEr through ``pycocoevalcap``.

Two variants, named explicitly (``data_formats.md`` §3):

* ``tokenizer="ptb"`` (official ScanQA ``scripts/score.py``): raw answers, ``PTBTokenizer`` (Stanford CoreNLP,
  lower-cases and drops punctuation tokens) on ground truths and prediction, then the scorers;
* ``tokenizer="clean"`` (LEO): ``clean_answer`` on every string, no PTB tokenization (whitespace split).

All metrics are computed over the **whole evaluated set in one call**: CIDEr's document frequencies (and
METEOR's corpus statistics) depend on every sample, so scoring a subset is not the subset of the full scores.
Scores are returned in percent (x100), as the papers report them.

``pycocoevalcap`` is imported lazily (optional ``eval`` extra). ``PTBTokenizer`` and ``METEOR`` run Java
(``java`` on ``PATH``; Debian/Ubuntu package ``openjdk-17-jre-headless``); BLEU, ROUGE-L and CIDEr are
pure Python.
"""

from __future__ import annotations

import contextlib
import shutil
from typing import Mapping, Sequence

from loc3r.eval.metrics.answer_norm import clean_answer
from loc3r.utils.import_utils import MissingDependencyError

__all__ = [
    "CAPTION_METRICS",
    "JAVA_PACKAGE",
    "JavaNotFoundError",
    "require_java",
    "caption_scores",
]

CAPTION_METRICS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr")
#: Debian/Ubuntu package that provides ``java`` for METEOR and the PTB tokenizer.
JAVA_PACKAGE = "openjdk-17-jre-headless"
_TOKENIZERS = ("ptb", "clean")
# Characters a caption must not contain: the PTB tokenizer is line-based (pycocoevalcap only replaces "\n").
_LINE_BREAKS = str.maketrans({c: " " for c in "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"})


class JavaNotFoundError(MissingDependencyError):
    """``java`` is needed (METEOR, PTB tokenizer) but not on ``PATH``."""


def require_java(what: str) -> str:
    """Path of the ``java`` executable.

    Raises:
        JavaNotFoundError: naming ``what`` needs it and the package to install.
    """
    java = shutil.which("java")
    if java is None:
        raise JavaNotFoundError(
            f"{what} runs Java (pycocoevalcap), but no `java` executable is on PATH. Install a Java "
            f"runtime, e.g. `sudo apt-get install {JAVA_PACKAGE}` (Debian/Ubuntu), or score without it "
            "(`loc3r score ... --caption-tokenizer clean --no-meteor`)."
        )
    return java


def _import_pycocoevalcap():
    try:
        from pycocoevalcap.bleu.bleu import Bleu
        from pycocoevalcap.cider.cider import Cider
        from pycocoevalcap.rouge.rouge import Rouge
    except ImportError as e:
        raise MissingDependencyError(
            "captioning metrics need pycocoevalcap: pip install 'pycocoevalcap==1.2' "
            "(or the project's extra: pip install -e '.[eval]')"
        ) from e
    return Bleu, Rouge, Cider


def _ptb_tokenize(texts: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    require_java("the PTB tokenizer")
    captions = {k: [{"caption": t.translate(_LINE_BREAKS)} for t in v] for k, v in texts.items()}
    out = PTBTokenizer().tokenize(captions)
    # pycocoevalcap zips keys with output lines and would silently drop a mismatch: check it.
    bad = [k for k, v in texts.items() if len(out.get(k, [])) != len(v)]
    if bad:
        raise RuntimeError(f"PTB tokenizer output does not line up with its input (e.g. id {bad[0]!r})")
    return out


def caption_scores(
    refs: Mapping[str, Sequence[str]],
    preds: Mapping[str, str],
    tokenizer: str = "ptb",
    meteor: bool = True,
) -> dict[str, float]:
    """BLEU-1..4, METEOR, ROUGE-L and CIDEr of predictions against references, over the whole set.

    Args:
        refs: sample id -> acceptable answers (at least one each).
        preds: sample id -> predicted answer; the same ids as ``refs``.
        tokenizer: ``"ptb"`` (official ScanQA: raw strings, PTB tokenizer, needs Java) or ``"clean"`` (LEO:
            ``clean_answer``, whitespace split).
        meteor: compute METEOR (needs Java); when False the key is absent.

    Returns:
        ``{"BLEU-1": pct, ..., "BLEU-4": pct, "METEOR": pct, "ROUGE-L": pct, "CIDEr": pct}`` (x100).

    Raises:
        ValueError: ids differ, a sample has no reference, empty input or unknown tokenizer.
        JavaNotFoundError: Java is needed and missing (the message names the package to install).
        MissingDependencyError: pycocoevalcap is not installed.
    """
    if tokenizer not in _TOKENIZERS:
        raise ValueError(f"unknown tokenizer {tokenizer!r} (known: {', '.join(_TOKENIZERS)})")
    if set(refs) != set(preds):
        raise ValueError(f"caption_scores: {len(set(refs) - set(preds))} ids without prediction and "
                         f"{len(set(preds) - set(refs))} predictions without references")
    if not refs:
        raise ValueError("caption_scores: nothing to score")
    empty = [k for k, v in refs.items() if isinstance(v, str) or len(v) == 0]
    if empty:
        raise ValueError(f"caption_scores: sample {empty[0]!r} has no reference answers (a list is expected)")
    if meteor:
        require_java("METEOR")
    Bleu, Rouge, Cider = _import_pycocoevalcap()
    keys = [str(k) for k in refs]
    if tokenizer == "ptb":
        gts = _ptb_tokenize({str(k): list(v) for k, v in refs.items()})
        res = _ptb_tokenize({str(k): [preds[k]] for k in refs})
    else:
        gts = {str(k): [clean_answer(r) for r in v] for k, v in refs.items()}
        res = {str(k): [clean_answer(preds[k])] for k in refs}
    gts = {k: gts[k] for k in keys}
    res = {k: res[k] for k in keys}

    out: dict[str, float] = {}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    for n, b in enumerate(bleu, start=1):
        out[f"BLEU-{n}"] = 100.0 * float(b)
    if meteor:
        from pycocoevalcap.meteor.meteor import Meteor

        scorer = Meteor()
        try:
            m, _ = scorer.compute_score(gts, res)
        finally:
            _close_meteor(scorer)
        out["METEOR"] = 100.0 * float(m)
    rouge, _ = Rouge().compute_score(gts, res)
    out["ROUGE-L"] = 100.0 * float(rouge)
    cider, _ = Cider().compute_score(gts, res)
    out["CIDEr"] = 100.0 * float(cider)
    return out


def _close_meteor(scorer) -> None:
    """Stop METEOR's Java process now, also after a failed ``compute_score``.

    pycocoevalcap stops it only in ``Meteor.__del__``, which acquires the scorer's lock first: after an
    exception inside ``compute_score`` (which leaves the lock held) that would hang. So: stop the process,
    swap in an inert stand-in and release the lock, which makes ``__del__`` harmless.
    """
    proc = getattr(scorer, "meteor_p", None)
    if proc is None:
        return
    with contextlib.suppress(OSError, ValueError):
        proc.stdin.close()
    proc.kill()
    proc.wait()
    scorer.meteor_p = _StoppedProcess()
    if scorer.lock.locked():
        scorer.lock.release()


class _StoppedProcess:
    """Inert stand-in for a stopped METEOR process (what ``Meteor.__del__`` touches)."""

    class _Stdin:
        def close(self) -> None:
            pass

    stdin = _Stdin()

    def kill(self) -> None:
        pass

    def wait(self) -> int:
        return 0
