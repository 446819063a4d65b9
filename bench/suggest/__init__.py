"""Mapping suggestions measured against Valentine (run_suggest.py)."""
