"""Metric definitions, each matching a named reference implementation (``data_formats.md`` §2.3-§5).

* ``localization``: SQA3D Acc@0.5m / 1.0m / 15deg / 30deg, median errors, BEV -> dataset-frame mapping;
* ``answer_norm``: ``clean_answer`` (SQA3D / LEO / MSR3D answer normalisation);
* ``exact_match``: EM / EM-R (LEO ``answer_match``), ScanQA's raw EM, question-type buckets;
* ``captioning``: BLEU-1..4, METEOR, ROUGE-L, CIDEr through pycocoevalcap (imported lazily; Java for
  METEOR and the PTB tokenizer);
* ``vsibench``: ``fuzzy_matching``, MRA, multiple-choice accuracy and the VSI-Bench aggregation;
* ``llm_judge``: optional cached LLM judge (off by default).
"""
