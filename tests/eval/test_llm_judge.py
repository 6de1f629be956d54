"""LLM judge: score parsing, caching (a re-score makes no call), cache robustness, env config; no network."""

from __future__ import annotations

import pytest

from loc3r.eval.metrics.llm_judge import (
    ENV_API_KEY,
    ENV_ENDPOINT,
    LLMJudge,
    judge_case_score,
    judge_from_env,
    parse_judge_score,
)
from loc3r.utils.io import DataError


@pytest.mark.parametrize(
    "reply, score",
    [("4", 4), ("Score: 5", 5), ("3.", 3), ("I'd say 2/5", 2), ("10", None), ("4.5", None), ("", None),
     ("zero", None), ("0", None), ("6", None)],
)
def test_parse_judge_score(reply, score):
    assert parse_judge_score(reply) == score


def test_case_score():
    assert judge_case_score([5, 5]) == pytest.approx(100.0)
    assert judge_case_score([1, 1]) == pytest.approx(0.0)
    assert judge_case_score([1, 5, 3]) == pytest.approx(50.0)
    assert judge_case_score([]) is None


class FakeClient:
    """Records calls; answers '4' unless the model answer is 'wrong'."""

    def __init__(self):
        self.calls = []

    def __call__(self, messages):
        self.calls.append(messages)
        return "1" if "Model answer: wrong" in messages[-1]["content"] else "Score: 4"


def test_judge_caches_replies_in_memory_and_on_disk(tmp_path):
    cache = tmp_path / "cache.jsonl"
    client = FakeClient()
    judge = LLMJudge(client, model="fake", cache_path=cache)
    r1 = judge.judge("What is it?", ["chair"], "a seat", situation="I sit.")
    r2 = judge.judge("What is it?", ["chair"], "wrong")
    assert (r1.score, r1.cached, r2.score) == (4, False, 1)
    assert "Situation: I sit." in client.calls[0][-1]["content"]
    again = judge.judge("What is it?", ["chair"], "a seat", situation="I sit.")
    assert again.cached and again.score == 4 and len(client.calls) == 2
    # a new judge on the same cache file: re-scoring costs nothing
    client2 = FakeClient()
    judge2 = LLMJudge(client2, model="fake", cache_path=cache)
    assert judge2.judge("What is it?", ["chair"], "wrong").score == 1
    assert client2.calls == [] and judge2.stats()["cache_hits"] == 1
    # another model is another cache key
    judge3 = LLMJudge(client2, model="other", cache_path=cache)
    judge3.judge("What is it?", ["chair"], "wrong")
    assert len(client2.calls) == 1


def test_unparsable_replies_are_counted(tmp_path):
    judge = LLMJudge(lambda m: "no idea", model="fake", cache_path=None)
    assert judge.judge("q", ["a"], "b").score is None
    assert judge.stats()["unparsable"] == 1


def test_cache_file_with_interrupted_last_line_is_read(tmp_path):
    cache = tmp_path / "cache.jsonl"
    judge = LLMJudge(FakeClient(), model="fake", cache_path=cache)
    judge.judge("q", ["a"], "b")
    with open(cache, "a", encoding="utf-8") as f:
        f.write('{"key": "abc", "resp')  # cut short
    assert len(LLMJudge(FakeClient(), model="fake", cache_path=cache)._cache) == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('not json\n{"key": "k", "response": "4"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.jsonl:1"):
        LLMJudge(FakeClient(), model="fake", cache_path=bad)


def test_judge_from_env_requires_endpoint_and_key(tmp_path):
    with pytest.raises(ValueError, match=ENV_ENDPOINT):
        judge_from_env(tmp_path / "c.jsonl", environ={})
    env = {ENV_ENDPOINT: "http://127.0.0.1:9", ENV_API_KEY: "k"}
    judge = judge_from_env(tmp_path / "c.jsonl", environ=env)
    assert judge.model == "gpt-4o"  # nothing is sent until judge() is called
