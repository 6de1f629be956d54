"""Annotation readers (SQA3D, ScanQA, VSI-Bench, MSQA, Beacon3D) -> unified ``Record``s."""
