"""This repository's demo of prodclone on the example app (examples/orcha).

Not part of the prodclone package: a project that uses prodclone has its own app, and
`inv --list` there shows prodclone's tasks only. This repository's tasks.py adds the
`demo` task to them.
"""
