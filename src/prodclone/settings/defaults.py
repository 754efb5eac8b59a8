"""The long defaults of `prodclone.check`: the spec's error patterns and UI checklist."""

from __future__ import annotations

# The errors the spec's ingestion step watches the logs for: queries against renamed
# columns or relations, decode errors, trigger payload key mismatches, foreign-key
# violations. Case-insensitive regular expressions.
DEFAULT_LOG_PATTERNS: tuple[str, ...] = (
    r"column .* does not exist",
    r"relation .* does not exist",
    r"function .* does not exist",
    r"type .* does not exist",
    r"record \"?new\"? has no field",
    r"record \"?old\"? has no field",
    r"violates foreign key constraint",
    r"decode error|could not decode|DecodeError|UnicodeDecodeError",
    r"invalid input (syntax|value) for",
    r"KeyError",
    r"payload .*(key|field).*(missing|mismatch|has no)",
    r"Traceback \(most recent call last\)",
)

# The spec's manual UI checklist; `{app}`, `{clone_db}` and `{url}` are filled in.
DEFAULT_UI_CHECKLIST: tuple[str, ...] = (
    "Start {app} against {clone_db} and open {url}",
    "The main list page loads and paginates",
    "Open a record: its view renders without errors",
    "Every admin page that shows a renamed table loads and shows its rows",
    "Browser devtools and the app log show no 500s",
)
