"""``zstack-operator bench``: how close the operator comes to the floor, in time, requests, writes.

One run starts (or reuses) a dev cluster and a simulator subprocess, then measures four ways of
turning N ModelServices Ready: ``ideal`` (the ZStack calls plus one status patch each, nothing
else), ``barekopf`` (a kopf operator that only writes a status field), ``naive`` (the plain kopf
operator a user would write) and the operator itself, followed by the operator's restart and
steady-state cost; ``--sizes`` repeats it at several N and compares them. docs/bench.md
explains every figure.

Modules: ``cli`` (options, orchestration), ``context`` (options, shared clients, result
shapes), ``apimetrics`` and ``targets`` (pure parsing and judging), ``manifests`` (the N objects),
``kube`` (the bench's own Kubernetes calls), ``procs`` (child processes, CPU and memory),
``track`` (Ready over time, idleness), ``ideal``, ``runs`` (bare kopf, naive, the operator),
``profile`` (py-spy), ``report`` (tables, JSON, PNG), and ``barekopf`` and ``naive`` (the two
kopf programs, the only modules here that import kopf, each run as its own process).
"""
