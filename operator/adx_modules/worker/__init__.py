"""The Temporal worker process: runs the lifecycle workflows and their activities."""
