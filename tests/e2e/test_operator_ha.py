"""A highly available operator: two replicas, one acts; failover; workers share the queue;
the liveness probe notices a watch that delivers nothing.

Real processes (``adx-module-service operator|worker``) against the real stack, with the
product's default timings (lease 15 s, renew deadline 10 s, retry 2 s). Each test keeps its
Lease in its own namespace (``POD_NAMESPACE``, as the chart sets it) and its own task queue.
What the asserts hold are correctness bounds the design promises (docs/reliability.md); the
measured failover times are bench_failover's (docs/benchmarks.md). These tests run before the
e2e session's shared operator starts (tests/conftest.py): while they run, their operators are
the only ones in the cluster.
"""

from __future__ import annotations

import signal
import socket
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus

from adx_modules.clients import temporal
from support.kube import Kubectl
from support.objects import installation_doc, module_doc, wait_condition, wait_phase
from support.operator import ServiceProcess
from support.proxy import SilencingProxy
from support.stack import StackInfo

LEASE = "adx-module-operator"
LEASE_DURATION, RENEW_DEADLINE, RETRY = 15.0, 10.0, 2.0  # the defaults, which these tests run
JITTER = 1.2
# a Kopf start plus one Module handled, on a busy 2-core machine: generous on purpose
STARTUP = 30.0


def identity(process: ServiceProcess) -> str:
    """The identity the operator holds its Lease as (service/leadership.py: host and pid)."""
    return f"{socket.gethostname()}_{process.pid}"


def lease(kubectl: Kubectl) -> dict[str, Any]:
    found: dict[str, Any] = kubectl.json("get", "lease", LEASE)
    return found


def holder(kubectl: Kubectl) -> str:
    found = kubectl("get", "lease", LEASE, "-o", "jsonpath={.spec.holderIdentity}", check=False)
    return found.stdout.strip() if found.returncode == 0 else ""


def healthz(process: ServiceProcess) -> tuple[int, dict[str, Any]]:
    answer = httpx.get(process.health_url, timeout=5)
    return answer.status_code, answer.json()


def reconciled(process: ServiceProcess, kind: str) -> float:
    """How many objects of ``kind`` this process's handlers judged (its own metrics)."""
    text = httpx.get(f"http://127.0.0.1:{process.metrics_port}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "adx_reconciles_total" and sample.labels.get("kind") == kind
    )


def waiting(process: ServiceProcess) -> float | None:
    """Seconds the leader's oldest renewal has waited to come back through its watch (None
    while it is not a healthy leader)."""
    status, body = healthz(process)
    return body.get("watchSilenceSeconds") if status == 200 else None


def exit_code(process: ServiceProcess, timeout: float) -> int:
    assert process._popen is not None
    return process._popen.wait(timeout)


@pytest.fixture
def env(stack: StackInfo, namespace: str, unique: str) -> dict[str, str]:
    return {
        **stack.env,
        "ADX_TEMPORAL_TASK_QUEUE": f"ha-{unique}",
        "ADX_DATABASE_SCHEMA_NAME": f"ha_{unique}",
        "ADX_SECURITY_SCANNING_ENABLED": "false",
        "POD_NAMESPACE": namespace,
    }


@contextmanager
def services(
    env: dict[str, str], logs: Path, *roles: str, admin: Kubectl
) -> Iterator[list[ServiceProcess]]:
    """Processes of ``roles`` (not started); on the way out the Modules and installations the
    test made are deleted while they still run (installations have finalizers), then they stop."""
    processes = [
        ServiceProcess(role, env, logs / f"{role}-{n}.log") for n, role in enumerate(roles)
    ]
    namespace = env["POD_NAMESPACE"]
    try:
        yield processes
    finally:
        admin("delete", "mi", "--all", "-n", namespace, "--timeout=120s", check=False)
        made = [
            module["metadata"]["name"]
            for module in admin.json("get", "modules")["items"]
            if module["metadata"]["name"].startswith(f"ha-{namespace[-8:]}")
        ]
        if made:
            admin("delete", "module", *made, "--wait=false", check=False)
        for process in processes:
            process.stop()


def publish(admin: Kubectl, namespace: str, tag: str) -> tuple[str, float]:
    """A new Module, and when it was created (time.monotonic)."""
    module_id = f"ha-{namespace[-8:]}-{tag}"
    admin.apply(module_doc(module_id, "1.0.0"))
    return f"{module_id}-1-0-0", time.monotonic()


def leader_and_standby(
    processes: list[ServiceProcess], kubectl: Kubectl
) -> tuple[ServiceProcess, ServiceProcess]:
    """Start the first, wait until it holds the Lease, then start the second as its standby."""
    first, second = processes
    first.start()
    kubectl.wait_for(lambda: holder(kubectl) == identity(first), timeout=STARTUP)
    second.start()
    kubectl.wait_for(lambda: healthz(second)[1].get("leader") == identity(first), timeout=10)
    return first, second


def test_two_replicas_one_acts_and_a_standby_takes_over_from_a_killed_leader(
    env: dict[str, str], kubectl: Kubectl, namespace: str, stack: StackInfo, tmp_path: Path
) -> None:
    admin = Kubectl(stack.kubeconfig)
    with services(env, tmp_path, "operator", "operator", admin=admin) as processes:
        leader, standby = leader_and_standby(processes, kubectl)
        assert healthz(standby) == (
            200,
            {"role": "standby", "identity": identity(standby), "leader": identity(leader)},
        )
        first, _ = publish(admin, namespace, "one")
        wait_condition(admin, f"module/{first}", "Ready", timeout=STARTUP)
        # exactly one acts: the leader judged the Module, the standby ran no handler at all
        assert reconciled(leader, "Module") >= 1
        assert reconciled(standby, "Module") == 0
        transitions = lease(kubectl)["spec"].get("leaseTransitions", 0)

        leader.kill()  # kill -9: no release, the Lease runs out on the standby's clock
        killed_at, killed_wall = time.monotonic(), time.time()
        second, created_at = publish(admin, namespace, "two")
        kubectl.wait_for(lambda: holder(kubectl) == identity(standby), timeout=60)
        taken = lease(kubectl)["spec"]
        wait_condition(admin, f"module/{second}", "Ready", timeout=STARTUP)
        handled_after = time.monotonic() - killed_at
        assert reconciled(standby, "Module") >= 1  # the new leader handled it

    acquired = datetime.fromisoformat(taken["acquireTime"]).timestamp() - killed_wall
    # the standby waited for the record to stand still for a lease duration (the dead leader's
    # last renewal came at most one retry period before the kill) ...
    assert acquired >= LEASE_DURATION - RETRY - 0.5, f"taken over {acquired:.1f} s after the kill"
    # ... and took over within the bound: a lease duration and two jittered retry periods
    assert acquired <= LEASE_DURATION + 2 * RETRY * JITTER + 1, f"took {acquired:.1f} s"
    assert taken["leaseTransitions"] == transitions + 1
    # the Module created after the kill was handled by the new leader within the bound
    assert handled_after <= LEASE_DURATION + 2 * RETRY * JITTER + STARTUP
    assert created_at - killed_at < 5
    assert "became leader" in standby.log()
    assert f"waiting for leader {identity(leader)}" in standby.log()
    # and said so where `kubectl describe lease` shows it
    events = kubectl.json("get", "events", "--field-selector", "reason=LeaderElection")["items"]
    said = {(e["involvedObject"]["name"], e["message"]) for e in events}
    assert (LEASE, f"{identity(standby)} became leader") in said


def test_a_leader_stopped_gracefully_releases_the_lease_and_hands_over_at_once(
    env: dict[str, str], kubectl: Kubectl, namespace: str, stack: StackInfo, tmp_path: Path
) -> None:
    admin = Kubectl(stack.kubeconfig)
    with services(env, tmp_path, "operator", "operator", admin=admin) as processes:
        leader, standby = leader_and_standby(processes, kubectl)
        stopping_at = time.monotonic()
        assert leader._popen is not None
        leader._popen.send_signal(signal.SIGTERM)  # what a rollout does
        assert exit_code(leader, timeout=30) == 0
        kubectl.wait_for(lambda: holder(kubectl) == identity(standby), timeout=30)
        handed_over = time.monotonic() - stopping_at
        # faster than the Lease could run out: only a released Lease is taken this soon
        assert handed_over < LEASE_DURATION, f"handed over after {handed_over:.1f} s"
        assert "released Lease" in leader.log()
        module, _ = publish(admin, namespace, "after")
        wait_condition(admin, f"module/{module}", "Ready", timeout=STARTUP)
        assert reconciled(standby, "Module") >= 1


async def test_two_workers_share_the_task_queue_and_every_install_completes_once(
    env: dict[str, str], kubectl: Kubectl, namespace: str, stack: StackInfo, tmp_path: Path
) -> None:
    """Temporal hands each task to whichever poller of the queue asks: which worker runs an
    install is not ours to choose, so installs come in rounds until both workers have run one
    (a fair split leaves one worker idle after a round of 4 one time in 8, after 4 rounds one
    time in 32,768); a worker that does not poll the shared queue never shows up at all."""
    admin = Kubectl(stack.kubeconfig)
    client = await temporal.connect(stack.temporal_address, stack.temporal_namespace)
    per_round, rounds = 4, 4
    with services(env, tmp_path, "operator", "worker", "worker", admin=admin) as processes:
        _, *workers = processes
        for process in processes:
            process.start()
        expected = {f"{worker.pid}@{socket.gethostname()}" for worker in workers}
        module_id = f"ha-{namespace[-8:]}-shared"
        admin.apply(module_doc(module_id, "1.0.0"))
        wait_condition(admin, f"module/{module_id}-1-0-0", "Ready", timeout=STARTUP)
        ran_on: Counter[str] = Counter()
        names: list[str] = []
        for _ in range(rounds):
            batch = [f"shared-{len(names) + n}" for n in range(per_round)]
            names += batch
            kubectl.apply(*(installation_doc(name, module_id) for name in batch))
            for name in batch:
                installation = wait_phase(kubectl, f"mi/{name}", "Active", 180)
                ran_on.update(await activities_ran_on(client, installation))
            if set(ran_on) == expected:
                break
        # both workers polled the one task queue, and both got work from it
        assert set(ran_on) == expected, ran_on
        # one workflow per installation, none run twice
        executions = [
            execution
            async for execution in client.list_workflows(
                f'TaskQueue = "{env["ADX_TEMPORAL_TASK_QUEUE"]}" '
                'AND WorkflowType = "InstallModuleWorkflow"'
            )
        ]
        assert len(executions) == len(names)


async def activities_ran_on(client: Client, installation: dict[str, Any]) -> Counter[str]:
    """Which workers ran the activities of an installation's install workflow (from its
    history), after checking that it completed and that each activity ran exactly once."""
    meta = installation["metadata"]
    workflow = f"mi/{meta['namespace']}/{meta['name']}/{meta['uid']}/g{meta['generation']}"
    handle = client.get_workflow_handle(workflow)
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    counts: Counter[EventType.ValueType] = Counter()
    ran_on: Counter[str] = Counter()
    for event in (await handle.fetch_history()).events:
        counts[event.event_type] += 1
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            ran_on[event.activity_task_started_event_attributes.identity] += 1
    scheduled = counts[EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
    started = counts[EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED]
    completed = counts[EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED]
    assert scheduled == started == completed > 0, f"{workflow}: {counts}"
    return ran_on


@pytest.fixture
def proxied(
    stack: StackInfo, env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[SilencingProxy, dict[str, str]]]:
    """A proxy between the operator and the apiserver, and the environment that uses it."""
    server = stack.kubeconfig.read_text().split("server: https://127.0.0.1:", 1)[1]
    port = int(server.split()[0].strip("'\""))
    with SilencingProxy("127.0.0.1", port) as proxy:
        kubeconfig = proxy.kubeconfig(stack.kubeconfig, tmp_path / "proxied.kubeconfig")
        yield proxy, {**env, "KUBECONFIG": str(kubeconfig)}


def test_healthz_fails_while_the_watch_delivers_nothing_and_recovers_when_it_does(
    proxied: tuple[SilencingProxy, dict[str, str]], kubectl: Kubectl, tmp_path: Path
) -> None:
    proxy, env = proxied
    silence = 6.0  # short, to see it here; the default (180 s) leaves room for a cold start
    operator = ServiceProcess(
        "operator", {**env, "ADX_OPERATOR_WATCH_SILENCE_SECONDS": str(silence)}, tmp_path / "o.log"
    )
    try:
        operator.start()
        kubectl.wait_for(lambda: holder(kubectl) == identity(operator), timeout=STARTUP)
        # Kopf runs and its watch brings the renewals back: nothing is waiting
        kubectl.wait_for(lambda: waiting(operator) == 0, timeout=STARTUP)
        renewed = lease(kubectl)["spec"]["renewTime"]
        silenced = proxy.freeze()  # every stream open now (the watches) passes nothing more
        assert silenced > 0
        frozen_at = time.monotonic()
        _, body = kubectl.wait_for(
            lambda: (answer := healthz(operator))[0] == 500 and answer,
            timeout=silence + RENEW_DEADLINE + 10,
        )
        assert time.monotonic() - frozen_at >= silence
        assert body["role"] == "leader"
        assert "have not come back through the operator's watch" in body["reason"]
        # meanwhile the leader kept renewing (over new connections): only the watch is silent
        assert lease(kubectl)["spec"]["renewTime"] != renewed
        assert holder(kubectl) == identity(operator)
        proxy.thaw()  # what waited arrives: the renewals come back through the watch
        kubectl.wait_for(lambda: healthz(operator)[0] == 200, timeout=10)
        assert operator._popen is not None
        assert operator._popen.poll() is None  # healthy again without a restart
    finally:
        operator.stop()


def test_a_leader_that_cannot_renew_stops_and_exits_before_a_standby_may_take_over(
    proxied: tuple[SilencingProxy, dict[str, str]], kubectl: Kubectl, tmp_path: Path
) -> None:
    proxy, env = proxied
    operator = ServiceProcess("operator", env, tmp_path / "operator.log")
    try:
        operator.start()
        kubectl.wait_for(lambda: holder(kubectl) == identity(operator), timeout=STARTUP)
        kubectl.wait_for(lambda: waiting(operator) == 0, timeout=STARTUP)  # Kopf runs
        proxy.cut_off()  # the apiserver is out of reach, for this process only
        cut_at = time.monotonic()
        code = exit_code(operator, timeout=LEASE_DURATION + 10)
        exited_at, exited_after = time.time(), time.monotonic() - cut_at
    finally:
        proxy.thaw()
        operator.stop()
    assert code == 1
    assert "lost lease" in operator.log()
    # it kept trying until the renew deadline (its last renewal came at most a retry period
    # before the cut) ...
    assert exited_after >= RENEW_DEADLINE - RETRY - 0.5, f"gave up after {exited_after:.1f} s"
    # ... and was gone before its last renewal could run out on a standby's clock: no moment
    # with two replicas acting
    last_renewal = datetime.fromisoformat(lease(kubectl)["spec"]["renewTime"]).timestamp()
    assert exited_at - last_renewal < LEASE_DURATION, f"{exited_at - last_renewal:.1f} s"
