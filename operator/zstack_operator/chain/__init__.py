"""The chain from a model to a serving endpoint: Model and ModelServiceDeployment reconcile.

Submodules: ``seam`` (what the reconcilers are given and talk to), ``refs`` (references
between objects, and who uses whom), ``common`` (the pass, connection, failure and waiting
shared by both kinds), ``models`` (Model: AddModel, UpdateModel, DeleteModel) and
``deployments`` (ModelServiceDeployment: one instance group, deployed exactly once). Nothing
here imports kopf: ``handlers`` wires these to it, as it does ``reconcile`` for ModelService.
"""
