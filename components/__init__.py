"""tfxgate's own TFX components, one folder each."""
