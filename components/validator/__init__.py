"""DataValidator: statistics against the curated schema in a named environment, with skew and drift."""
