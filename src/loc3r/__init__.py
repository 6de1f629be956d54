"""loc3r — reference implementation of Loc3R-VLM (language-based localization and 3D reasoning from video)."""

__version__ = "0.1.0"
