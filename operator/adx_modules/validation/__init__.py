"""Checks beyond the CRD schema: pure functions over specs and the catalog of Modules."""
