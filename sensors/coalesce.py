"""Merging two events with the same key into the one that describes both.

The merge never returns "nothing": a file created and deleted again becomes a *transient*
delete, so whoever consumes it still knows the path was touched (the run stats it and
finds it gone) while reports can leave it out.
"""

from __future__ import annotations

from sensors.events import (
    Event,
    FileCreated,
    FileDeleted,
    FileModified,
    FileRenamed,
    RescanRequested,
)


def merge_absorbed(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    out = dict(a)
    for kind, n in b.items():
        out[kind] = out.get(kind, 0) + n
    return out


def coalesce(prev: Event, new: Event) -> Event:
    """The net effect of ``prev`` followed by ``new`` (same key)."""
    if isinstance(prev, RescanRequested) and isinstance(new, RescanRequested):
        return new.model_copy(update={"absorbed": merge_absorbed(prev.absorbed, new.absorbed)})
    file_types = (FileCreated, FileModified, FileDeleted, FileRenamed)
    if not (isinstance(prev, file_types) and isinstance(new, file_types)):
        return new  # same commit / test / CI run seen again: the newest report wins
    if isinstance(new, FileRenamed):
        return new  # something became this path by a rename: that is what happened last
    if isinstance(prev, FileCreated):
        if isinstance(new, FileDeleted):
            return new.model_copy(update={"transient": True})
        return prev.model_copy(update={"at": new.at})  # still new, just with more content
    if isinstance(prev, FileRenamed):
        if isinstance(new, FileDeleted):
            return new
        return prev.model_copy(update={"at": new.at})  # renamed, then edited
    if isinstance(prev, FileDeleted):
        if isinstance(new, FileDeleted):
            return new.model_copy(update={"transient": prev.transient})
        # deleted then back again: for the model it is a modification of the old file,
        # unless the deletion was of something that never existed.
        if prev.transient:
            return FileCreated(path=new.path, at=new.at, source=new.source)
        return FileModified(path=new.path, at=new.at, source=new.source)
    # prev is FileModified
    if isinstance(new, FileDeleted):
        return new
    return FileModified(path=new.path, at=new.at, source=new.source)
