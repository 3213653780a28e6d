"""Repositories: the many code repositories one store and one Dagster instance model.

Each repository is a Dagster partition (its name is the partition key); every row of the
store that belongs to a repository carries its name.
"""
