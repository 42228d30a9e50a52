"""Item pipelines, in data-path order: extract (300) -> archive (800)."""
