"""Temporal workflows: deterministic orchestration only (no I/O, no clock, no env reads)."""

from adx_modules.workflows.install import InstallModuleWorkflow
from adx_modules.workflows.uninstall import UninstallModuleWorkflow
from adx_modules.workflows.update import UpdateModuleWorkflow

WORKFLOWS = (InstallModuleWorkflow, UpdateModuleWorkflow, UninstallModuleWorkflow)

__all__ = ["WORKFLOWS", "InstallModuleWorkflow", "UninstallModuleWorkflow", "UpdateModuleWorkflow"]
