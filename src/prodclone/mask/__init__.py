"""Masking personal data: rules per column, applied as set-based UPDATEs before a dump leaves."""
