"""Procedural synthetic indoor scenes in ScanNet's raw format, with truthful benchmark annotations."""
