"""The HTTP API (``adx-module-service api``): FastAPI over the same custom resources and tables."""
