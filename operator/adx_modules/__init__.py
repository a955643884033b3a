"""ADX Module Operator: pluggable tenant modules managed as Kubernetes custom resources."""

__version__ = "0.1.0"
