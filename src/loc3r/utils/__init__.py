"""Small shared utilities (I/O safety, optional-import checks)."""
