"""Runs of many fits: their records, shared by the runners and their reports."""
