"""Temporal activities of installations: the side effects, as classes that receive their
clients."""
