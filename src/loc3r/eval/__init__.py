"""Evaluation: predictions files, benchmark metrics and ``loc3r score``.

Modules:
  * ``predictions``: the predictions JSONL format (header + one line per sample), reader and writers;
  * ``score``: benchmark ``Task`` classes and ``score(preds_path, benchmark, annotations, out_json)``;
  * ``metrics``: the metric definitions (localization, ``clean_answer``, EM / EM-R, captioning, VSI-Bench,
    optional LLM judge).

Run: ``loc3r score preds.jsonl --benchmark sqa3d --annotations records.jsonl --out metrics.json``.
"""
