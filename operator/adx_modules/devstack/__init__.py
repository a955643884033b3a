"""The embedded local stack: a real Kubernetes control plane (with kwok nodes), Temporal and
PostgreSQL, built and started from the project's own files on a machine that reaches only
package registries. Used by ``make run``, ``make stack-up`` and the test session.
"""

from adx_modules.devstack.stack import DevStack, default_state_dir, read_env_file

__all__ = ["DevStack", "default_state_dir", "read_env_file"]
