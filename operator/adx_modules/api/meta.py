"""What every kind shares: the API group, conditions, the status base, and each kind's CRD facts.

Why it exists: the three kinds follow one set of conventions (metav1.Condition, kstatus,
observedGeneration, a place for the operator's bookkeeping), and the CRD generator needs, per
kind, what is not in the pydantic models (scope, names, printer columns).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from adx_modules.api.types import ApiModel

GROUP = "modules.adxcore.com"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "adx"
FINALIZER = f"{GROUP}/cleanup"

ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(ApiModel):
    """One aspect of the object's state, as in Kubernetes' metav1.Condition."""

    type: Annotated[str, Field(max_length=316, pattern=r"^[A-Za-z][A-Za-z0-9]*$")]
    """What the condition is about: Ready, Reconciling, Stalled, Resolved, ..."""
    status: ConditionStatus
    """True, False or Unknown."""
    reason: Annotated[
        str, Field(max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    ]
    """Why, as a CamelCase word for programs (e.g. ModuleNotFound, Retrying, Blocked)."""
    message: Annotated[str, Field(max_length=32768)] = ""
    """Why, as a sentence for people; names the offending field when there is one."""
    observed_generation: Annotated[int, Field(ge=0)] = 0
    """The metadata.generation this condition was computed from."""
    last_transition_time: datetime
    """When the status last changed."""


Conditions = Annotated[
    list[Condition],
    Field(
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    ),
]


class ObjectStatus(BaseModel):
    """Fields every kind's status has."""

    model_config = ConfigDict(
        alias_generator=ApiModel.model_config.get("alias_generator"),
        populate_by_name=True,
        extra="ignore",
        use_attribute_docstrings=True,
    )

    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The metadata.generation the operator last reconciled."""
    conditions: Conditions = []
    """Ready (the rollup), Reconciling, Stalled and the kind's own conditions."""
    message: Annotated[str, Field(max_length=4096)] | None = None
    """A one-line summary of the current state, for people."""
    kopf: (
        Annotated[
            dict[str, Any],
            Field(json_schema_extra={"x-kubernetes-preserve-unknown-fields": True}),
        ]
        | None
    ) = None
    """The operator framework's own bookkeeping (handler progress, last handled spec). Kept in
    status, never in metadata, so GitOps tools (which ignore status) see no drift."""


@dataclass(frozen=True)
class PrinterColumn:
    """One column of ``kubectl get``."""

    name: str
    json_path: str
    type: str = "string"
    description: str = ""
    priority: int = 0


def ready_column() -> PrinterColumn:
    return PrinterColumn(
        "Ready", '.status.conditions[?(@.type=="Ready")].status', description="The Ready rollup"
    )


def age_column() -> PrinterColumn:
    return PrinterColumn("Age", ".metadata.creationTimestamp", type="date")


@dataclass(frozen=True)
class KindInfo:
    """What the CRD generator needs beyond the models."""

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    scope: Literal["Cluster", "Namespaced"]
    spec: type[ApiModel]
    status: type[ObjectStatus]
    description: str
    columns: tuple[PrinterColumn, ...] = ()
    selectable_fields: tuple[str, ...] = ()
    """Spec fields a list may select on (``fieldSelector=spec.module=...``)."""
    # CEL rules on the whole object (spec immutability is a rule on spec itself)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"
