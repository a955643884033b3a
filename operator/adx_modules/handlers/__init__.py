"""Kopf handlers, one module per kind: thin, validate and start workflows (no long work)."""
