"""Temporal workflows of the marketplace: purchases and refunds. Deterministic orchestration only;
activities and the installations' revocation workflow are called by name."""
