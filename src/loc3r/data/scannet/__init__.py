"""ScanNet: raw scan folders (.sens, .txt, .ply, aggregation/segs) and common exported layouts."""
