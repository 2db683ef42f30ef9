"""Data-residency and data-sovereignty policy for AI workloads.

Compile policies, check requests (one, many, or JSON-lines files), explain decisions, find where a
request may go, tag gateway requests, and write and verify audit logs. Decisions are dicts shaped
like the JSON of `residency check`. `residency.dask` runs the same checks on a Dask cluster.
See docs/integration.md.
"""
from residency._residency import AuditError as AuditError
from residency._residency import AuditLog as AuditLog
from residency._residency import Error as Error
from residency._residency import Policies as Policies
from residency._residency import PolicyError as PolicyError
from residency._residency import RequestError as RequestError
from residency._residency import Tagger as Tagger
from residency._residency import __version__ as __version__
from residency._residency import audit_keygen as audit_keygen
from residency._residency import audit_verify as audit_verify
from residency._residency import compile as compile
from residency._residency import lint as lint
from residency._residency import tag as tag

__all__ = [
    "AuditError", "AuditLog", "Error", "Policies", "PolicyError", "RequestError", "Tagger",
    "audit_keygen", "audit_verify", "compile", "lint", "tag",
]
