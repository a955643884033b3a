"""Whether a module's Deployment is healthy, and if not, why, in one sentence. Pure.

Why it exists: "not ready" is not an answer a tenant can act on; the rollout's own state and its
pods' container states say what holds it (an image that cannot be pulled, a crash loop, a
rollout not observed yet), and that sentence goes into the installation's status.
"""

from __future__ import annotations

from typing import Any

STUCK = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull")


def health_problem(deployment: dict[str, Any], pods: list[dict[str, Any]]) -> str | None:
    """Why the Deployment is not (yet) healthy, or None when it is."""
    spec, status = deployment.get("spec", {}), deployment.get("status", {})
    wanted = spec.get("replicas", 1)
    if status.get("observedGeneration", 0) < deployment["metadata"].get("generation", 1):
        return "the rollout has not been observed yet"
    for pod in pods:
        for state in pod.get("status", {}).get("containerStatuses", []):
            waiting = state.get("state", {}).get("waiting") or {}
            if waiting.get("reason") in STUCK:
                return (
                    f"pod {pod['metadata']['name']}: container {state['name']} is waiting "
                    f"({waiting['reason']}: {waiting.get('message', '')})"
                )
            terminated = state.get("state", {}).get("terminated")
            if terminated:
                return f"pod {pod['metadata']['name']}: container {state['name']} " + (
                    f"terminated ({terminated.get('reason', 'Error')}: "
                    f"{terminated.get('message', '')})"
                )
    counts = {
        k: status.get(k, 0) for k in ("updatedReplicas", "readyReplicas", "availableReplicas")
    }
    if any(count < wanted for count in counts.values()) or status.get("replicas", 0) > wanted:
        return f"{counts['readyReplicas']}/{wanted} ready, {counts['updatedReplicas']} updated"
    return None
