"""Catalog-based schema comparison: the gate between the prod clone and a fresh build.

result = compare_databases(url_a, url_b, DiffOptions(ignore=("rds",)))
print(render_text(result)); sys.exit(result.exit_code)
"""

from prodclone.schema.compare import compare_databases
from prodclone.schema.errors import SchemaDiffError
from prodclone.schema.model import Difference
from prodclone.schema.render import JSON_FORMAT_VERSION, render_hidden, render_json, render_text
from prodclone.schema.result import DiffOptions, DiffResult

__all__ = [
    "JSON_FORMAT_VERSION",
    "DiffOptions",
    "DiffResult",
    "Difference",
    "SchemaDiffError",
    "compare_databases",
    "render_hidden",
    "render_json",
    "render_text",
]
