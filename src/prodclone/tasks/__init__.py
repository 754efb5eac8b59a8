"""The root Invoke namespace: `from prodclone.tasks import ns` in a project's tasks.py.

The same namespace is the `prodclone` program's (`prodclone.program`).
"""

from invoke.collection import Collection

from prodclone.settings import default_config
from prodclone.tasks import check, db_cloud, db_local, db_mask, db_references, db_schema

# Every db task sits directly under `db`, whichever module defines it.
db = Collection("db")
for module in (db_local, db_schema, db_references, db_cloud, db_mask):
    for task in Collection.from_module(module).tasks.values():
        db.add_task(task)

ns = Collection(db)
ns.add_task(check.refactor_check)
ns.configure(default_config())
