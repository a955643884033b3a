"""Temporal workflows: deterministic orchestration only (no I/O, no clock, no env reads)."""
