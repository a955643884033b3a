"""Pure builders of what a sandbox is made of (Kubernetes manifests per isolation level)."""

# the isolation levels this version can provision; the others are refused before anything runs
AVAILABLE_ISOLATION = ("container",)
