"""Generic PostgreSQL plumbing for every package above it.

Connection strings, client tools, dump files, database marks and names, catalog
fingerprints. It knows no AWS, no app and no settings.
"""
