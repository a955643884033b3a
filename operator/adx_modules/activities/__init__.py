"""Temporal activities: the side effects, as classes that receive their clients."""
