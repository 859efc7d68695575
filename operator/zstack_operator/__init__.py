"""zstack-operator: manage ZStack AI model services as Kubernetes ModelService resources."""

__version__ = "0.1.0"
