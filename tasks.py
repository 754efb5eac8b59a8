"""This repository's tasks: prodclone's own, driven by invoke.yaml (the example app), and the demo.

A project that uses prodclone writes `from prodclone.tasks import ns`. The demo belongs
to this repository (it runs examples/orcha), so it is added here, not in the package.
"""

from invoke.collection import Collection

from demo.task import demo
from prodclone.tasks import ns as prodclone_ns

ns = Collection()
for name, collection in prodclone_ns.collections.items():
    ns.add_collection(collection, name)
for name, task in prodclone_ns.tasks.items():
    ns.add_task(task, name)
ns.add_task(demo)
ns.configure(prodclone_ns.configuration())

__all__ = ["ns"]
