"""Alembic revisions of our tables (see bot/migrate.py and the README's "Schema changes")."""
