"""Subcommands of the ``shiftvae`` command line (one module each)."""
