"""The ZStack REST client: auth, envelopes, async jobs, retries, typed errors and models.

This package never imports kopf or any operator layer (an import-linter contract checks it),
so it can be reused by the simulator, the benchmark and other tools. The names below are the
public API; ``docs/client.md`` shows how to use them.
"""

from .ai import AiApi
from .batch import BatchReader
from .client import QueryResult, ZStackClient
from .credentials import AccessKeyCredentials, AccountCredentials, Credentials
from .errors import (
    DuplicateJobError,
    ErrorKind,
    JobExpiredError,
    JobTimeoutError,
    ZStackAPIError,
    ZStackConfigError,
    ZStackError,
    ZStackRESTError,
    ZStackTimeSkewError,
    ZStackTransportError,
)
from .retry import PollPolicy, RetryPolicy
from .transport import RequestObserver

__all__ = [
    "AccessKeyCredentials",
    "AccountCredentials",
    "AiApi",
    "BatchReader",
    "Credentials",
    "DuplicateJobError",
    "ErrorKind",
    "JobExpiredError",
    "JobTimeoutError",
    "PollPolicy",
    "QueryResult",
    "RequestObserver",
    "RetryPolicy",
    "ZStackAPIError",
    "ZStackClient",
    "ZStackConfigError",
    "ZStackError",
    "ZStackRESTError",
    "ZStackTimeSkewError",
    "ZStackTransportError",
]
