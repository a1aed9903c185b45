"""Result cache (exercise 2.14): SQLite, keyed by a hash of everything that decides
the output, so a repeated reproducible request costs a lookup instead of a generation.

A broken or locked cache file never breaks generation: it warns and counts a miss.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import sqlite3
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlesson import paths
from vlesson.facts import engine_facts
from vlesson.generate import Generation, generate, per_prompt_params
from vlesson.sampling import DELIVERY_FIELDS

if TYPE_CHECKING:
    from vllm import LLM, SamplingParams

logger = logging.getLogger(__name__)

GREEDY_EPS = 1e-5
"""vLLM's _SAMPLING_EPS: a temperature below this is greedy decoding."""

IGNORED_FIELDS = frozenset(DELIVERY_FIELDS)
"""SamplingParams fields that change how results are delivered, not what they are."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY, request TEXT NOT NULL, result TEXT NOT NULL, created REAL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


APPLICATION_ID = 0x766C6573  # "vles"
"""SQLite's application_id of a vlesson cache (header bytes 68-71): ``clear`` deletes
a file only if it says this, or holds exactly vlesson's tables."""
MEMORY = ":memory:"


class CacheWarning(UserWarning):
    """The cache file could not be used; the request was treated as a miss."""


class NotACacheError(ValueError):
    """The file is not a vlesson result cache: vlesson leaves it alone."""


def is_vlesson_cache(path: str | Path) -> bool:
    """Return True if ``path`` is a vlesson cache file (damaged or not): SQLite with
    vlesson's application id, or (older caches) exactly vlesson's two tables."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            header = handle.read(100)
    except OSError:
        return False
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        return False
    if int.from_bytes(header[68:72], "big") == APPLICATION_ID:
        return True
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            names = {
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            columns = [row[1] for row in conn.execute("PRAGMA table_info(results)")]
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return names == {"results", "counters"} and columns == [
        "key", "request", "result", "created"
    ]


def default_path() -> Path:
    """Return the per-user cache file ($VLESSON_HOME/cache/results.sqlite)."""
    return paths.subdir("cache") / "results.sqlite"


def canonical_json(obj: Any) -> str:
    """Return one JSON text per value: sorted keys, no spaces, numbers normalised."""
    return json.dumps(
        _canonical(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def _canonical(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, float):
        # 1 and 1.0 sample identically; big ints (seeds) stay exact as ints.
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
            return int(value)
        return value if math.isfinite(value) else str(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((_canonical(v) for v in value), key=canonical_json)
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _canonical(dataclasses.asdict(value))
    if hasattr(value, "__struct_fields__"):  # msgspec structs (vLLM's params)
        return _canonical({f: getattr(value, f) for f in value.__struct_fields__})
    return f"{type(value).__name__}:{value!r}"


def sampling_fields(params: SamplingParams | Mapping[str, Any]) -> dict[str, Any]:
    """Return every output-deciding sampling field, seed included, as a plain dict."""
    if isinstance(params, Mapping):
        return {k: v for k, v in params.items() if k not in IGNORED_FIELDS}
    return {
        name: getattr(params, name)
        for name in params.__struct_fields__
        if not name.startswith("_") and name not in IGNORED_FIELDS
    }


def engine_fingerprint(llm: LLM) -> dict[str, Any]:
    """Return the engine settings that decide outputs: model, dtype, quantization..."""
    return engine_facts(llm).fingerprint


def make_request(
    engine: Mapping[str, Any], prompt: str, params: SamplingParams | Mapping[str, Any]
) -> dict[str, Any]:
    """Return the request a cache key is made of: engine settings, prompt, sampling."""
    return {"engine": dict(engine), "prompt": prompt, "params": sampling_fields(params)}


def request_key(request: Mapping[str, Any]) -> str:
    """Return the sha256 of the canonical JSON of a request (key order does not count)."""
    return hashlib.sha256(canonical_json(request).encode("utf-8")).hexdigest()


def is_reproducible(params: SamplingParams | Mapping[str, Any]) -> bool:
    """Return True for greedy decoding or seeded sampling (same request, same tokens)."""
    fields = sampling_fields(params)
    return fields.get("temperature", 1.0) < GREEDY_EPS or fields.get("seed") is not None


class ResultCache:
    """A persistent SQLite cache of Generations, safe for concurrent processes.

    Args:
        path: the cache file; default ``$VLESSON_HOME/cache/results.sqlite``.
        timeout: seconds to wait for another writer before giving up (a miss).
    """

    def __init__(self, path: str | Path | None = None, *, timeout: float = 5.0):
        self.path = Path(path) if path is not None else default_path()
        self.timeout = timeout
        self._memory: sqlite3.Connection | None = None
        if str(path) == MEMORY:  # one connection: each new one would be a new database
            self._memory = sqlite3.connect(
                MEMORY, isolation_level=None, check_same_thread=False
            )
            self._memory.executescript(_SCHEMA)
        self.hits = 0
        self.misses = 0
        self.bypassed = 0
        """Requests not looked up because they are not reproducible."""

    def __repr__(self) -> str:
        return (
            f"ResultCache({str(self.path)!r}, hits={self.hits}, misses={self.misses})"
        )

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # No header yet: a file another vlesson process has only just created.
        new = not self.path.exists() or self.path.stat().st_size < 100
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        try:
            # Only a new, empty file or vlesson's own is changed: any other id (a
            # GeoPackage, MBTiles...) is another program's file.
            found = None if new else conn.execute("PRAGMA application_id").fetchone()[0]
            if found != APPLICATION_ID:
                if not (new or (found == 0 and is_vlesson_cache(self.path))):
                    raise NotACacheError(self._not_ours())
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            self._use_wal(conn)
            conn.executescript(_SCHEMA)
        except (sqlite3.Error, NotACacheError):
            conn.close()
            raise
        return conn

    @contextlib.contextmanager
    def _connection(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """Open the file (WAL, schema), yield the connection and close it; with
        ``write`` the block is one immediate transaction (one writer at a time)."""
        if self._memory is not None:
            if write:
                with self._memory:
                    self._memory.execute("BEGIN IMMEDIATE")
                    yield self._memory
            else:
                yield self._memory
            return
        conn = self._connect()
        try:
            if write:
                with conn:
                    conn.execute("BEGIN IMMEDIATE")
                    yield conn
            else:
                yield conn
        finally:
            conn.close()

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        """Switch the file to WAL: readers never wait for a writer, a writer waits
        ``timeout``. The switch itself skips SQLite's busy wait ("database is locked"
        when processes open a new file together), so it is retried here."""
        deadline = time.monotonic() + self.timeout
        while conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
                continue
            if mode != "wal":  # a file that cannot be WAL: keep its own journal
                return

    def _not_ours(self) -> str:
        return (
            f"{self.path} is not a vlesson result cache (or too damaged to tell) - "
            f"vlesson leaves it alone "
            f"(give --path a cache file, or leave it out for the default, "
            f"{default_path()})"
        )

    def _warn(self, action: str, exc: Exception) -> None:
        warnings.warn(
            f"result cache {self.path} could not {action} ({type(exc).__name__}: "
            f"{exc}); treating it as a miss - if this persists, run "
            "`vlesson cache clear`",
            CacheWarning,
            stacklevel=3,
        )

    def get_many(
        self, requests: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, Generation]:
        """Return the cached Generations of these {key: request}; count hits and misses."""
        found: dict[str, Generation] = {}
        try:
            with self._connection() as conn:
                for key, request in requests.items():
                    row = conn.execute(
                        "SELECT request, result FROM results WHERE key = ?", (key,)
                    ).fetchone()
                    gen = _decode(row, request) if row else None
                    if gen is not None:
                        found[key] = gen
        except (sqlite3.Error, OSError, NotACacheError) as exc:
            self._warn("be read", exc)
            found = {}
        self.hits += len(found)
        self.misses += len(requests) - len(found)
        return found

    def get(self, key: str, request: Mapping[str, Any]) -> Generation | None:
        """Return the cached Generation for this key, or None (a miss)."""
        return self.get_many({key: request}).get(key)

    def put_many(
        self, entries: Sequence[tuple[str, Mapping[str, Any], Generation]]
    ) -> None:
        """Store (key, request, Generation) entries in one transaction."""
        rows = [
            (key, canonical_json(request), _encode(gen), time.time())
            for key, request, gen in entries
        ]
        try:
            with self._connection(write=True) as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?)", rows
                )
        except (sqlite3.Error, OSError, NotACacheError) as exc:
            self._warn("be written", exc)

    def put(self, key: str, request: Mapping[str, Any], gen: Generation) -> None:
        """Store one Generation under its key."""
        self.put_many([(key, request, gen)])

    def record_totals(self, hits: int, misses: int) -> None:
        """Add to the lifetime hit and miss counts (best effort: skipped when locked)."""
        try:
            with self._connection(write=True) as conn:
                for name, value in (("hits", hits), ("misses", misses)):
                    conn.execute(
                        "INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) "
                        "DO UPDATE SET value = value + excluded.value",
                        (name, value),
                    )
        except (sqlite3.Error, OSError, NotACacheError) as exc:
            logger.debug("cache totals not recorded: %s", exc)

    def stats(self, *, strict: bool = False) -> dict[str, Any]:
        """Return entries, size on disk, this session's and the lifetime hits/misses;
        an unreadable file warns (``strict``: raises)."""
        stats: dict[str, Any] = {
            "path": str(self.path),
            "entries": 0,
            "bytes": self._bytes(),
            "hits": self.hits,
            "misses": self.misses,
            "bypassed": self.bypassed,
            "total_hits": 0,
            "total_misses": 0,
        }
        if self._memory is None and (
            not self.path.exists() or self.path.stat().st_size == 0
        ):
            return stats  # looking writes nothing (a mistyped --path stays absent)
        try:
            with self._connection() as conn:
                stats["entries"] = conn.execute(
                    "SELECT COUNT(*) FROM results"
                ).fetchone()[0]
                for name, value in conn.execute("SELECT name, value FROM counters"):
                    stats[f"total_{name}"] = value
        except (sqlite3.Error, OSError, NotACacheError) as exc:
            if strict:
                raise
            self._warn("be read", exc)
        return stats

    def _bytes(self) -> int:
        files = [
            self.path,
            *(self.path.with_name(self.path.name + s) for s in ("-wal",)),
        ]
        return sum(f.stat().st_size for f in files if f.is_file())

    def clear(self) -> bool:
        """Delete every entry and count; a damaged cache file is deleted and started
        anew. A file that is not a vlesson cache raises NotACacheError, untouched.
        Return False, creating nothing, when there is no file to clear."""
        if self._memory is None and not self.path.exists():
            return False
        if self._memory is None and not is_vlesson_cache(self.path):
            raise NotACacheError(self._not_ours())
        try:
            with self._connection(write=True) as conn:
                conn.execute("DELETE FROM results")
                conn.execute("DELETE FROM counters")
            if self._memory is None:
                with self._connection() as conn:
                    conn.execute("VACUUM")  # outside a transaction
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise
            logger.warning("cache file %s is damaged (%s): deleting it", self.path, exc)
            for suffix in ("", "-wal", "-shm"):
                self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
        self.hits = self.misses = self.bypassed = 0
        return True


def _encode(gen: Generation) -> str:
    return json.dumps(dataclasses.asdict(gen), ensure_ascii=False)


def _decode(row: tuple[str, str], request: Mapping[str, Any]) -> Generation | None:
    stored_request, result = row
    if stored_request != canonical_json(request):  # a collision or a damaged row
        return None
    try:
        data = json.loads(result)
        data["token_ids"] = tuple(data["token_ids"])
        data["logprobs"] = tuple(data["logprobs"])
        return Generation(**data)
    except (ValueError, TypeError, KeyError):
        return None


def cached_generate(
    llm: LLM,
    prompts: str | Sequence[str],
    params: Any = None,
    *,
    cache: ResultCache | str | Path | None = None,
    allow_unseeded: bool = False,
    use_tqdm: bool = True,
) -> list[Generation]:
    """Like ``generate``, but serve repeated reproducible requests from the cache.

    The misses are generated together in one batched call and stored. A hit returns
    the stored Generation unchanged (its ``seconds`` are those of the original call).

    Args:
        cache: a ResultCache or a file path; default the per-user cache file.
        allow_unseeded: also cache sampled requests without a seed (each repeat then
            returns the first sample instead of a new one).
    """
    cache = cache if isinstance(cache, ResultCache) else ResultCache(cache)
    prompts = [prompts] if isinstance(prompts, str) else list(prompts)
    per_prompt = per_prompt_params(llm, params, len(prompts))
    engine = engine_fingerprint(llm)
    requests = [make_request(engine, p, sp) for p, sp in zip(prompts, per_prompt)]
    keys = [
        request_key(r) if allow_unseeded or is_reproducible(sp) else None
        for r, sp in zip(requests, per_prompt)
    ]
    cache.bypassed += keys.count(None)
    wanted = {k: r for k, r in zip(keys, requests) if k is not None}
    found = cache.get_many(wanted) if wanted else {}
    todo = _unique_misses(keys, found)
    fresh = (
        dict(
            zip(
                todo,
                generate(
                    llm,
                    [prompts[i] for i in todo],
                    [per_prompt[i] for i in todo],
                    use_tqdm=use_tqdm,
                ),
            )
        )
        if todo
        else {}
    )
    stored = [(keys[i], requests[i], g) for i, g in fresh.items() if keys[i]]
    if stored:
        cache.put_many(stored)
    if wanted:
        cache.record_totals(len(found), len(wanted) - len(found))
    found.update((keys[i], g) for i, g in fresh.items() if keys[i])  # repeats of a key
    return [fresh[i] if i in fresh else found[k] for i, k in enumerate(keys)]


def _unique_misses(
    keys: list[str | None], found: Mapping[str, Generation]
) -> list[int]:
    """Return the indexes to generate: every uncached request, repeats of a key once."""
    seen: set[str] = set()
    todo = []
    for i, key in enumerate(keys):
        if key is None or (key not in found and key not in seen):
            todo.append(i)
            if key is not None:
                seen.add(key)
    return todo
