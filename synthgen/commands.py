"""Render-side CLI commands (render, plan, validate, schema)."""
