"""Data-residency and data-sovereignty policy for AI workloads.

Compile policies, check requests (one, many, or JSON-lines files), explain decisions, find where a
request may go, tag gateway requests, and write and verify audit logs. Decisions are dicts shaped
like the JSON of `residency check`. `residency.dask` runs the same checks on a Dask cluster.
See docs/integration.md.
"""
from residency._residency import *  # noqa: F401,F403 (the compiled binding)
from residency._residency import __doc__ as _binding_doc  # noqa: F401
from residency._residency import __version__  # noqa: F401
