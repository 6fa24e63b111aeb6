"""Partition keys of sources: `<source>[@<revision>][~<k>of<n>]`, and the hash shards they name.

A configured source is one partition (`stdlib`); a hub source pinned to a commit is one per
revision (`magicoder@3f2a...`); a large source with `shards: n` in sources.yaml is n
partitions (`magicoder~0of4` ... `magicoder~3of4`), each holding the records whose
`record_id` hashes to its shard. The hash is md5 of the record_id, computed the same way in
Python (staging) and in DuckDB (the scope a shard's load replaces), so a shard always owns
exactly the rows it wrote, and re-sharding a source (2 -> 4) replaces its old rows shard by
shard instead of duplicating them. No Dagster here: keys are plain strings.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_KEY = re.compile(r"^(?P<name>[^@~]+)(?:@(?P<revision>[^~]+))?(?:~(?P<shard>\d+)of(?P<shards>\d+))?$")


@dataclass(frozen=True)
class SourceKey:
    """One source partition: the source, its pinned revision (if any) and its shard."""

    name: str
    revision: str | None = None
    shard: int = 0
    shards: int = 1

    @property
    def key(self) -> str:
        text = self.name + (f"@{self.revision}" if self.revision else "")
        return text + (f"~{self.shard}of{self.shards}" if self.shards > 1 else "")

    @classmethod
    def parse(cls, key: str) -> SourceKey:
        match = _KEY.match(key)
        if not match:
            raise ValueError(f"not a source partition key: {key!r} (expected <source>[@<revision>][~<k>of<n>])")
        shards = int(match["shards"] or 1)
        shard = int(match["shard"] or 0)
        if not 0 <= shard < shards:
            raise ValueError(f"partition key {key!r}: shard {shard} is not in 0..{shards - 1}")
        return cls(match["name"], match["revision"], shard, shards)

    def owns(self, record_id: str) -> bool:
        """True when `record_id` belongs to this shard (always, for an unsharded source)."""
        return self.shards == 1 or shard_of(record_id, self.shards) == self.shard

    def scope_sql(self, alias: str | None = "t") -> tuple[str, list]:
        """SQL condition (and its parameters) for the warehouse rows this partition owns
        (columns qualified with `alias`, bare when None)."""
        prefix = f"{alias}." if alias else ""
        condition = f"{prefix}source = ?"
        if self.shards > 1:
            condition += f" AND {shard_sql(f'{prefix}record_id', self.shards)} = {self.shard}"
        return condition, [self.name]


def shard_of(record_id: str, shards: int) -> int:
    """The shard of a record: the first 32 bits of md5(record_id), modulo the shard count."""
    return int(hashlib.md5(record_id.encode("utf-8")).hexdigest()[:8], 16) % shards


def shard_sql(column: str, shards: int) -> str:
    """`shard_of` as a DuckDB expression over `column`."""
    return f"(('0x' || md5({column})[1:8])::UBIGINT % {int(shards)})"


def keys_for_source(name: str, shards: int = 1, revision: str | None = None) -> list[str]:
    """Every partition key of a source with `shards` shards (and a pinned revision, if given)."""
    return [SourceKey(name, revision, k, shards).key for k in range(shards)]
