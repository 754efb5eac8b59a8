"""prodclone: prove a migration on a clone of production before it ships."""

__version__ = "0.1.0"
