"""A real Kubernetes control plane on loopback for tests, demos and development.

kube-apiserver v1.20.2 and kube-controller-manager built once per machine from Debian's source
package (``build``), run with Debian's etcd (``cluster``), driven by ``zstack-operator
dev-cluster`` (``cli``) and by the pytest fixtures in ``tests/support/kube_fixtures.py``.
See docs/dev-cluster.md.
"""

from .build import BuildError, NotBuiltError, cached_binaries, ensure_built, is_built
from .cluster import ClusterError, DevCluster
from .kubectl import kubectl_path
from .procs import ProcessRecord

__all__ = [
    "BuildError",
    "ClusterError",
    "DevCluster",
    "NotBuiltError",
    "ProcessRecord",
    "cached_binaries",
    "ensure_built",
    "is_built",
    "kubectl_path",
]
