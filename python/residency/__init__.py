"""Data-residency and data-sovereignty policy for AI workloads.

Compile policies, check requests (one, many, or JSON-lines files), explain decisions, find where a
request may go, tag gateway requests, and write and verify audit logs. A decision is a typed
`Decision` (`.decision` an `Effect`, `.reasons`, `.obligations`, `.suggested_locations`, ...);
`Decision.to_dict()` is the JSON of `residency check`. `residency.dask` runs the same checks on a
Dask cluster. See docs/integration.md.
"""
import enum
import os
import warnings
from typing import Iterable, Union

from residency._residency import AuditError as AuditError
from residency._residency import AuditLog as AuditLog
from residency._residency import Decision as Decision
from residency._residency import Error as Error
from residency._residency import Obligation as Obligation
from residency._residency import Policies as Policies
from residency._residency import PolicyError as PolicyError
from residency._residency import PolicyStore as PolicyStore
from residency._residency import Reason as Reason
from residency._residency import RequestError as RequestError
from residency._residency import Router as Router
from residency._residency import Tagger as Tagger
from residency._residency import __version__ as __version__
from residency._residency import audit_keygen as audit_keygen
from residency._residency import audit_verify as audit_verify
from residency._residency import load_policies as load_policies
from residency._residency import lint as lint
from residency._residency import tag as tag



class Effect(str, enum.Enum):
    """A decision's or a reason's effect; a str, so `Effect.DENY == "deny"`."""

    ALLOW = "allow"
    ALLOW_WITH_OBLIGATIONS = "allow_with_obligations"
    ESCALATE = "escalate"
    DENY = "deny"

    def __str__(self) -> str:
        return str(self.value)


__all__ = [
    "AuditError", "AuditLog", "Decision", "Effect", "Error", "Obligation", "Policies",
    "PolicyError", "PolicyStore", "Reason", "RequestError", "Router", "Tagger", "audit_keygen",
    "audit_verify", "lint", "load_policies", "tag",
]


def compile(paths: Union[str, "os.PathLike[str]", Iterable[Union[str, "os.PathLike[str]"]]]
            ) -> Policies:  # noqa: A001 (the old name, kept for callers written against it)
    """Deprecated: `load_policies` (this name shadows the builtin `compile`)."""
    warnings.warn("residency.compile is now residency.load_policies (compile shadows a builtin)",
                  DeprecationWarning, stacklevel=2)
    return load_policies(paths)
