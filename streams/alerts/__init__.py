"""The alert engine: rules over the per-brand buckets and single posts, lifecycle, grouping and incidents."""
