"""What of the World is visible at a sandbox clock value, indexed for fast paging.

A HubSpot `Snapshot` holds, for one object type, clock value and archived flag, the visible records
in ascending id order together with the index of their current version (see `world.py` for the
visibility rule). Snapshots are cached per clock value, so paging at a fixed clock costs a bisect.
Associations are indexed in both directions once, whichever side the generator recorded them on.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from dataclasses import dataclass

from leadflow.sandbox.world import HUBSPOT_OBJECTS, Record, World


@dataclass(slots=True)
class Snapshot:
    ids: list[int]  # ascending
    entries: list[tuple[Record, int]]  # (record, index of its current version)


def version_index(rec: Record, t_ms: int, times: list[int]) -> int:
    """Index of the version current at `t_ms` (-1 when none is)."""
    if t_ms < rec.created_ms:
        return -1
    return bisect.bisect_right(times, t_ms) - 1


class HubSpotIndex:
    """Per object type: records by id, version times, both-way associations, cached snapshots."""

    def __init__(self, world: World, cache_size: int = 64) -> None:
        self.records: dict[str, list[Record]] = {}
        self.by_id: dict[str, dict[str, Record]] = {}
        self.times: dict[tuple[str, str], list[int]] = {}
        for obj in HUBSPOT_OBJECTS:
            recs = sorted(world.hubspot.get(obj, []), key=lambda r: int(r.id))
            self.records[obj] = recs
            self.by_id[obj] = {r.id: r for r in recs}
            for r in recs:
                self.times[(obj, r.id)] = [v.at_ms for v in r.versions]
        # (from_type, from_id) -> to_type -> set of ids
        self.assoc: dict[tuple[str, str], dict[str, set[str]]] = {}
        for obj, recs in self.records.items():
            for r in recs:
                for to_type, ids in r.associations.items():
                    if to_type not in self.by_id:
                        continue
                    for to_id in ids:
                        to_id = str(to_id)
                        self.assoc.setdefault((obj, r.id), {}).setdefault(to_type, set()).add(to_id)
                        self.assoc.setdefault((to_type, to_id), {}).setdefault(obj, set()).add(r.id)
        self._cache: OrderedDict[tuple[str, int, bool], Snapshot] = OrderedDict()
        self._cache_size = cache_size

    def current(self, obj: str, rec: Record, t_ms: int) -> int:
        return version_index(rec, t_ms, self.times[(obj, rec.id)])

    def snapshot(self, obj: str, t_ms: int, archived: bool) -> Snapshot:
        """Records of `obj` visible at `t_ms`: live ones, or (archived=True) only archived ones."""
        key = (obj, t_ms, archived)
        snap = self._cache.get(key)
        if snap is not None:
            self._cache.move_to_end(key)
            return snap
        ids: list[int] = []
        entries: list[tuple[Record, int]] = []
        for rec in self.records[obj]:
            if rec.created_ms > t_ms or rec.is_archived_at(t_ms) != archived:
                continue
            vi = self.current(obj, rec, t_ms)
            if vi < 0:
                continue
            ids.append(int(rec.id))
            entries.append((rec, vi))
        snap = Snapshot(ids, entries)
        self._cache[key] = snap
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return snap

    def visible(self, obj: str, record_id: str, t_ms: int) -> bool:
        """True when the record exists and is live at `t_ms`."""
        rec = self.by_id[obj].get(record_id)
        return rec is not None and rec.created_ms <= t_ms and not rec.is_archived_at(t_ms)

    def associated(self, obj: str, record_id: str, to_type: str, t_ms: int) -> list[str]:
        """Ids of live `to_type` records associated with the record at `t_ms`, ascending."""
        ids = self.assoc.get((obj, record_id), {}).get(to_type, ())
        return sorted((i for i in ids if self.visible(to_type, i, t_ms)), key=int)
