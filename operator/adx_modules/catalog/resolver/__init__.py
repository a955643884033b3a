"""Dependency resolution: pure, fast, no I/O."""
