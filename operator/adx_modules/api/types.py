"""Constrained field types shared by the kinds: IDs, versions, constraints, permissions, quantities.

Why it exists: one definition per rule, used by every model, so the apiserver (through the
generated CRD), the operator and the author CLI accept and refuse exactly the same strings. A
``pattern`` that carries an ``x-adx-message`` becomes a CEL rule with that message in the CRD,
so a refusal reads as a sentence instead of a regular expression.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

MESSAGE_KEY = "x-adx-message"


def rule(pattern: str, message: str, *, min_length: int = 1, max_length: int) -> Any:
    """A string field matching ``pattern``; the CRD refuses others with ``message``."""
    return Field(
        pattern=pattern,
        min_length=min_length,
        max_length=max_length,
        json_schema_extra={MESSAGE_KEY: message},
    )


class ApiModel(BaseModel):
    """Base of the API models: camelCase on the wire, field docstrings become descriptions."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=True,
        frozen=True,
    )


DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
ModuleId = Annotated[
    str,
    rule(
        DNS_LABEL,
        "must be a lowercase DNS label: a-z, 0-9 and '-', starting and ending with a letter "
        "or digit (e.g. analytics-dashboard)",
        max_length=63,
    ),
]
"""A module's identity, shared by all its versions."""

Name = Annotated[
    str,
    rule(DNS_LABEL, "must be a lowercase DNS label (a-z, 0-9, '-')", max_length=63),
]

# SemVer 2.0 restricted to pre-releases alpha, beta and rc (optionally numbered): the subset
# on which SemVer and PEP 440 agree about order, so `packaging` compares them correctly.
SEMVER = (
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(-(alpha|beta|rc)(\.?(0|[1-9][0-9]*))?)?(\+[0-9A-Za-z.-]+)?$"
)
SemVer = Annotated[
    str,
    rule(
        SEMVER,
        "must be a semantic version MAJOR.MINOR.PATCH, optionally with a pre-release alpha, "
        "beta or rc (e.g. 1.4.0, 2.0.0-rc.1)",
        max_length=64,
    ),
]

_VERSIONISH = r"v?(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*|x|\*)){0,2}(-(alpha|beta|rc)(\.?[0-9]+)?)?"
_CLAUSE = rf"(==|!=|>=|<=|~=|>|<|=|\^|~)?\s*{_VERSIONISH}"
CONSTRAINT = rf"^\s*(\*|{_CLAUSE}((\s*,\s*|\s+){_CLAUSE})*)\s*$"
VersionConstraint = Annotated[
    str,
    rule(
        CONSTRAINT,
        "must be a version constraint: '*', an exact version (1.2.3), a range (>=1.2, <2.0), "
        "a caret or tilde range (^1.2, ~1.2.3) or a wildcard (1.2.x)",
        max_length=128,
    ),
]

PERMISSION = (
    r"^(database:(read|write|admin):[A-Za-z0-9_.*-]{1,128}"
    r"|network:(access|listen):([A-Za-z0-9*]([A-Za-z0-9.*-]{0,252})|[0-9a-fA-F:./]{2,64})(:[0-9]{1,5})?"
    r"|file:(read|write):/[^\s]*"
    r"|workflow:(execute|create):[A-Za-z0-9_.*-]{1,128}"
    r"|api:(call|expose):[A-Za-z0-9_.*/-]{1,253}"
    r"|event:(publish|subscribe):[A-Za-z0-9_.*-]{1,253}"
    r"|secret:read:[A-Za-z0-9_.*-]{1,253}"
    r"|storage:(read|write):[A-Za-z0-9_.*/-]{1,253})$"
)
Permission = Annotated[
    str,
    rule(
        PERMISSION,
        "must be <resource>:<action>:<target>, e.g. database:read:user_data, "
        "network:access:api.example.com, file:read:/tmp/cache, workflow:execute:data_processing; "
        "resources and actions: database read|write|admin, network access|listen, "
        "file read|write (absolute path), workflow execute|create, api call|expose, "
        "event publish|subscribe, secret read, storage read|write",
        max_length=1100,
    ),
]

Url = Annotated[
    str,
    rule(r"^https?://[^\s]+$", "must be an http(s) URL", max_length=2048),
]

ShortText = Annotated[str, Field(min_length=1, max_length=128)]
Keyword = Annotated[
    str,
    rule(
        r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "must be lowercase a-z, 0-9, '-', '.'", max_length=32
    ),
]

QUANTITY_MESSAGE = "must be a Kubernetes quantity, e.g. 250m, 1, 1.5, 128Mi, 2Gi"


def _quantity(what: str, smallest: str, largest: str) -> Any:
    """A quantity the apiserver parses and bounds: more than zero and at most ``largest``."""
    parsed = "quantity(string(self))"
    return Field(
        json_schema_extra={
            "x-kubernetes-int-or-string": True,
            "x-kubernetes-validations": [
                {"rule": "isQuantity(string(self))", "message": QUANTITY_MESSAGE},
                {
                    "rule": f"!isQuantity(string(self)) || "
                    f"{parsed}.compareTo(quantity('{smallest}')) >= 0",
                    "message": f"must be at least {smallest} ({what}); zero and negative "
                    "amounts are refused",
                },
                {
                    "rule": f"!isQuantity(string(self)) || "
                    f"{parsed}.compareTo(quantity('{largest}')) <= 0",
                    "message": f"must be at most {largest} ({what})",
                },
            ],
        }
    )


CpuQuantity = Annotated[int | str, _quantity("CPU", "1m", "64")]
"""CPU in cores or millicores, as Kubernetes writes it: from 1m to 64 cores."""
MemoryQuantity = Annotated[int | str, _quantity("memory", "1Mi", "256Gi")]
"""Memory in bytes with a suffix, as Kubernetes writes it: from 1Mi to 256Gi."""


class ResourceList(ApiModel):
    """CPU and memory amounts."""

    cpu: CpuQuantity | None = None
    """CPU, in cores or millicores (``250m``): from 1m to 64."""
    memory: MemoryQuantity | None = None
    """Memory, in bytes with a suffix (``128Mi``, ``1Gi``): from 1Mi to 256Gi."""


def _requests_within_limits(resource: str) -> JsonDict:
    present = (
        f"has(self.requests) && has(self.limits) && has(self.requests.{resource}) && "
        f"has(self.limits.{resource})"
    )
    compare = (
        f"quantity(string(self.requests.{resource}))"
        f".compareTo(quantity(string(self.limits.{resource}))) <= 0"
    )
    return {
        "rule": f"!({present}) || {compare}",
        "message": f"requests.{resource} must not exceed limits.{resource}",
        "fieldPath": f".requests.{resource}",
    }


class ResourceRequirements(ApiModel):
    """Requests (what the scheduler reserves) and limits (what the sandbox may use)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _requests_within_limits("cpu"),
                _requests_within_limits("memory"),
            ]
        }
    )

    requests: ResourceList | None = None
    """Reserved for the module."""
    limits: ResourceList | None = None
    """The most the module may use; requests may not exceed them."""
