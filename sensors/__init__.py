"""Event sources and the Dagster sensors built on them ("the daemon listens").

- ``events``: the event models and their priorities; ``coalesce``: merging same-key events
- ``bus``: bounded coalescing priority queue; ``debounce``: bursts -> change sets
- ``journal``: the event journal in the store (cursor = seq)
- ``fs_source`` (watchfiles), ``git_source`` (git), ``pytest_plugin``, ``ci_webhook``
- ``trust``: trust levels 0-3 and the action executor
- ``change_index``, ``failure_context``, ``run_spec``: what the sensors compute and request
- ``daemon``: ``kg hub --watch``; ``lock``: one daemon per repository
- ``dagster_sensors``: the Dagster wiring (the only module here that imports Dagster)
"""
