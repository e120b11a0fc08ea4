"""Everything that moves data: sources, the Faust agents, the Redis sink, local services, the CLI."""
