"""This repository's tasks: prodclone's own, driven by invoke.yaml (the example app)."""

from prodclone.tasks import ns

__all__ = ["ns"]
