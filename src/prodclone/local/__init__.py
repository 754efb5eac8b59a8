"""The local PostgreSQL server: embedded or external, its databases and client tools."""
