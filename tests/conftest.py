"""Fixtures shared by every test layer; each family lives in its own support module."""

pytest_plugins = [
    "tests.support.kube_fixtures",
    "tests.support.modern_fixtures",
    "tests.support.sim_fixtures",
    "tests.support.operator_fixtures",
]
