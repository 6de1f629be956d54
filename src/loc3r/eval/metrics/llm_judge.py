"""Optional LLM judge for open answers (MSQA / Beacon3D "GPT score"), off by default, with a response cache.

The MSQA and Beacon3D papers grade answers with GPT-4o on a 1-5 scale and report ``(mean - 1) / 4 * 100``
(``data_formats.md`` §5). This module provides that judge as an injectable callable:

* ``LLMJudge(client, model, cache_path)``: builds the chat messages for one (question, references,
  prediction), asks ``client`` (any ``messages -> text`` callable) and parses the first integer 1-5 of the
  reply. Every reply is appended to a JSONL cache keyed by a hash of (model, messages), so re-scoring the same
  predictions costs nothing and gives the same numbers.
* ``openai_chat_client``: a small OpenAI-compatible ``/chat/completions`` client on ``urllib``
  (temperature 0).
* ``judge_from_env``: endpoint, key and model from ``LOC3R_JUDGE_ENDPOINT``, ``LOC3R_JUDGE_API_KEY``,
  ``LOC3R_JUDGE_MODEL``.

The default prompt is this project's own wording; the benchmarks' official prompts (e.g. Beacon3D's
``data/system_prompt.json``) can be passed as ``system_prompt`` — scores are only comparable to published ones
with the same judge model and prompt. Judges are non-deterministic across model versions; the cache pins them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from loc3r.utils.io import DataError

__all__ = [
    "ENV_ENDPOINT",
    "ENV_API_KEY",
    "ENV_MODEL",
    "DEFAULT_JUDGE_MODEL",
    "DEFAULT_SYSTEM_PROMPT",
    "Messages",
    "JudgeClient",
    "JudgeResult",
    "parse_judge_score",
    "judge_case_score",
    "LLMJudge",
    "openai_chat_client",
    "judge_from_env",
]

ENV_ENDPOINT = "LOC3R_JUDGE_ENDPOINT"
ENV_API_KEY = "LOC3R_JUDGE_API_KEY"
ENV_MODEL = "LOC3R_JUDGE_MODEL"
DEFAULT_JUDGE_MODEL = "gpt-4o"  # the judge of the MSQA / Beacon3D papers [G: exact snapshot not stated]

DEFAULT_SYSTEM_PROMPT = (
    "You grade answers to questions about 3D indoor scenes. You are given a question, one or more correct "
    "reference answers and a model's answer. Rate how correct the model's answer is on an integer scale "
    "from 1 to 5: 5 = fully correct (same meaning as a reference answer), 4 = mostly correct, "
    "3 = partially correct, 2 = mostly wrong, 1 = wrong or no answer. Reply with the integer only."
)

Messages = list[dict[str, str]]
JudgeClient = Callable[[Messages], str]


@dataclass(frozen=True)
class JudgeResult:
    """One judged answer.

    Attributes:
        score: integer 1-5, or None when the reply had no score.
        response: the judge's raw reply.
        cached: whether it came from the cache.
    """

    score: int | None
    response: str
    cached: bool


def parse_judge_score(text: str) -> int | None:
    """The first standalone integer 1-5 of a judge reply (``"Score: 4"`` -> 4), else None."""
    m = re.search(r"(?<![\d.])([1-5])(?![\d.]*\d)", text)
    return int(m.group(1)) if m else None


def judge_case_score(scores: Sequence[float]) -> float | None:
    """``(mean - 1) / 4 * 100`` of 1-5 scores (None for no score)."""
    return None if not scores else (sum(scores) / len(scores) - 1.0) / 4.0 * 100.0


class LLMJudge:
    """Grades answers 1-5 with an LLM, caching every reply.

    Args:
        client: ``messages -> reply text`` (e.g. ``openai_chat_client(...)``, or a fake in tests).
        model: judge model name (part of the cache key).
        cache_path: JSONL cache file (created when missing), or None for no cache.
        system_prompt: grading instructions.
    """

    def __init__(self, client: JudgeClient, model: str = DEFAULT_JUDGE_MODEL,
                 cache_path: str | os.PathLike | None = None,
                 system_prompt: str = DEFAULT_SYSTEM_PROMPT) -> None:
        self.client = client
        self.model = model
        self.system_prompt = system_prompt
        self.cache_path = None if cache_path is None else Path(cache_path)
        self._cache: dict[str, str] = {} if self.cache_path is None else _load_cache(self.cache_path)
        self.calls = 0
        self.cache_hits = 0
        self.unparsable = 0

    def messages(self, question: str, answers: Sequence[str], prediction: str,
                 situation: str | None = None) -> Messages:
        """The chat messages for one answer (system prompt + one user turn)."""
        lines = []
        if situation:
            lines.append(f"Situation: {situation}")
        lines += [f"Question: {question}", "Reference answer(s): " + " | ".join(answers),
                  f"Model answer: {prediction}", "Score (1-5):"]
        return [{"role": "system", "content": self.system_prompt},
                {"role": "user", "content": "\n".join(lines)}]

    def cache_key(self, messages: Messages) -> str:
        """sha256 of (model, messages)."""
        blob = json.dumps({"model": self.model, "messages": messages}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def judge(self, question: str, answers: Sequence[str], prediction: str,
              situation: str | None = None) -> JudgeResult:
        """Score one answer (from the cache when possible; a new reply is appended to the cache)."""
        msgs = self.messages(question, answers, prediction, situation)
        key = self.cache_key(msgs)
        if key in self._cache:
            self.cache_hits += 1
            response, cached = self._cache[key], True
        else:
            self.calls += 1
            response, cached = str(self.client(msgs)), False
            self._cache[key] = response
            if self.cache_path is not None:
                _append_cache(self.cache_path, key, self.model, response)
        score = parse_judge_score(response)
        if score is None:
            self.unparsable += 1
        return JudgeResult(score=score, response=response, cached=cached)

    def stats(self) -> dict[str, object]:
        """Model, counts of new calls / cache hits / unparsable replies, and the cache file."""
        cache = None if self.cache_path is None else str(self.cache_path)
        return {"model": self.model, "calls": self.calls, "cache_hits": self.cache_hits,
                "unparsable": self.unparsable, "cache": cache}


def _load_cache(path: Path) -> dict[str, str]:
    """Read a judge cache; an incomplete last line (interrupted write) is ignored, other bad lines raise."""
    if not path.exists():
        return {}
    cache: dict[str, str] = {}
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            cache[str(obj["key"])] = str(obj["response"])
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            if lineno == len(lines):  # no trailing newline: the last append was cut short
                break
            raise DataError(f"{path}:{lineno}: not a judge-cache line ({e})") from e
    return cache


def _append_cache(path: Path, key: str, model: str, response: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"key": key, "model": model, "response": response}, ensure_ascii=False) + "\n")
        f.flush()


def openai_chat_client(endpoint: str, api_key: str, model: str = DEFAULT_JUDGE_MODEL, timeout_s: float = 60.0,
                       max_retries: int = 4, max_tokens: int = 16) -> JudgeClient:
    """A ``messages -> text`` client for an OpenAI-compatible chat-completions endpoint (temperature 0).

    Args:
        endpoint: API base URL (``https://api.openai.com/v1``) or the full ``.../chat/completions`` URL.
        api_key: bearer token.
        model: model name.
        timeout_s: per-request timeout.
        max_retries: retries on HTTP 429 / 5xx and network errors, with exponential back-off.
        max_tokens: reply length limit.
    """
    url = endpoint.rstrip("/")
    if not url.endswith("/chat/completions"):
        url += "/chat/completions"

    def client(messages: Messages) -> str:
        body = json.dumps({"model": model, "messages": messages, "temperature": 0, "max_tokens": max_tokens})
        req = urllib.request.Request(url, data=body.encode("utf-8"), method="POST", headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {api_key}"})
        for attempt in range(max_retries + 1):
            try:
                with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                    reply = json.loads(resp.read().decode("utf-8"))
                return str(reply["choices"][0]["message"]["content"])
            except urllib.error.HTTPError as e:
                if (e.code != 429 and e.code < 500) or attempt == max_retries:
                    raise RuntimeError(f"LLM judge request to {url} failed: HTTP {e.code} {e.reason}") from e
            except (urllib.error.URLError, TimeoutError) as e:
                if attempt == max_retries:
                    raise RuntimeError(f"LLM judge request to {url} failed: {e}") from e
            except (KeyError, IndexError, json.JSONDecodeError) as e:
                raise RuntimeError(f"LLM judge at {url} returned an unexpected reply: {e}") from e
            time.sleep(2.0 ** attempt)
        raise AssertionError("unreachable")

    return client


def judge_from_env(cache_path: str | os.PathLike | None, environ: Mapping[str, str] | None = None,
                   system_prompt: str = DEFAULT_SYSTEM_PROMPT) -> LLMJudge:
    """Build the judge from ``LOC3R_JUDGE_ENDPOINT`` / ``LOC3R_JUDGE_API_KEY`` / ``LOC3R_JUDGE_MODEL``.

    Raises:
        ValueError: the endpoint or the key is not set.
    """
    env = os.environ if environ is None else environ
    endpoint, key = env.get(ENV_ENDPOINT), env.get(ENV_API_KEY)
    if not endpoint or not key:
        raise ValueError(f"the LLM judge needs {ENV_ENDPOINT} (e.g. https://api.openai.com/v1) and "
                         f"{ENV_API_KEY} in the environment ({ENV_MODEL} optional, "
                         f"default {DEFAULT_JUDGE_MODEL})")
    model = env.get(ENV_MODEL) or DEFAULT_JUDGE_MODEL
    return LLMJudge(openai_chat_client(endpoint, key, model), model=model, cache_path=cache_path,
                    system_prompt=system_prompt)
