"""Shared test support: the local control plane, the ZStack simulator and polling helpers."""
