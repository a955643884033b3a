"""The process roles: ``adx-module-service operator|worker|api|dev`` and ``adx-module-cli``.
The composition root: the only place that wires the features together."""
