"""Reusable Textual widgets; they import lifecycle types, never backends."""
