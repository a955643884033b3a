"""Temporal: a workflow with an activity completes; histories survive a server restart."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from adx_modules.devstack.temporal import TemporalDevServer
from support.stack import StackInfo


@activity.defn
async def greet(name: str) -> str:
    return f"hello, {name}"


@workflow.defn
class GreetingWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            greet, name, start_to_close_timeout=timedelta(seconds=30)
        )


async def test_a_workflow_with_an_activity_runs_to_completion(
    stack: StackInfo, task_queue: str
) -> None:
    client = await Client.connect(stack.temporal_address, namespace=stack.temporal_namespace)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[GreetingWorkflow],
        activities=[greet],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        result = await client.execute_workflow(
            GreetingWorkflow.run, "tenant", id=f"greet-{uuid.uuid4()}", task_queue=task_queue
        )
    assert result == "hello, tenant"


async def test_a_workflow_survives_a_restart_of_the_dev_server(tmp_path: Path) -> None:
    server = TemporalDevServer(tmp_path)
    server.start()
    try:
        client = await Client.connect(server.address, namespace=server.namespace)
        # no worker polls this queue: the workflow stays Running across the restart
        handle = await client.start_workflow(
            GreetingWorkflow.run, "later", id="survivor", task_queue="nobody-polls"
        )
        run_id = handle.result_run_id
    finally:
        server.stop()

    restarted = TemporalDevServer(tmp_path, port=server.port, ui_port=server.ui_port)
    restarted.start()
    try:
        client = await Client.connect(restarted.address, namespace=restarted.namespace)
        description = await client.get_workflow_handle("survivor").describe()
        assert description.run_id == run_id
        assert description.status == WorkflowExecutionStatus.RUNNING
        assert description.workflow_type == "GreetingWorkflow"
    finally:
        restarted.stop()
