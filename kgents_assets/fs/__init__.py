"""Filesystem helpers shared by every domain."""
