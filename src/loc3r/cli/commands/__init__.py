"""One module per ``loc3r`` subcommand; each defines ``register(subparsers)``."""
