"""Data layer: raw readers (ScanNet, synthetic) -> unified records -> model inputs."""
