"""Revision scripts, one a file; Alembic finds them by their `revision` / `down_revision`."""
