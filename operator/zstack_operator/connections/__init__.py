"""ZStack connections: which one a ModelService uses, and one pooled client per connection.

Submodules: ``keys`` (naming and resolving a connection), ``sources`` (a connection's
configuration from a ZStackConnection, a ClusterZStackConnection or the operator's flags, and
the registry of them), ``service`` (``Connection``, reconcile's ``ServiceAPI``), ``pool``
(building connections, the checks before any ZStack call) and ``secretwatch`` (one watch per
credentials Secret). Nothing here imports kopf; ``connection_status`` feeds the registry from
the connection resources' watch events and reports each connection's health.
"""

from .keys import OPERATOR_DEFAULT
from .pool import ConnectionPool, CredentialsError
from .secretwatch import SecretWatcher
from .service import Connection
from .sources import Registry, Source

__all__ = [
    "OPERATOR_DEFAULT",
    "Connection",
    "ConnectionPool",
    "CredentialsError",
    "Registry",
    "SecretWatcher",
    "Source",
]
