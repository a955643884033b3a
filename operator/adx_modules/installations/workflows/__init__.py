"""Temporal workflows of installations: deterministic orchestration only (no I/O, no clock, no
env reads). Activities are called by name, so nothing here imports a side effect."""
