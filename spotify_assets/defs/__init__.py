"""Definitions added with `dg scaffold defs ...` land here; ``definitions.py`` loads them
beside the project's own assets, schedules and sensors."""
