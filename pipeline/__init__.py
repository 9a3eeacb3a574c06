"""Wiring of the tfxgate TFX pipeline: a typed config and `create_pipeline`."""
