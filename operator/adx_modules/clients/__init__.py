"""Adapters to the outside world (Kubernetes, PostgreSQL, Trivy, WASM, HTTP); they know
nothing of Kopf or Temporal and never import each other."""
