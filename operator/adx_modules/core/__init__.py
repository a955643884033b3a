"""What every feature shares and nothing else owns: settings, the failure taxonomy's error
classes, status helpers, metrics and the operator's context. Imports nothing on purpose, so a
workflow importing one of its pure modules pulls in no client."""
