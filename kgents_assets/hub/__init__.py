"""Code-node discovery and the incremental node-state model of a repository."""
