"""The result cache (``workflows/cache.py``) changes no file that is not its own: a
SQLite file of another program (any application id but vlesson's) is refused by every
way in (``vlesson cache stats|clear --path``, ``ResultCache`` as ``cached_generate``
uses it), unless it is new and empty; ``cache clear`` on a missing path creates
nothing."""

from __future__ import annotations

import sqlite3

import pytest

from vlesson.cli import main as cli_main
from vlesson.generate import Generation
from vlesson.workflows.cache import (
    APPLICATION_ID,
    CacheWarning,
    NotACacheError,
    ResultCache,
)

GEN = Generation(
    prompt="p", text="t", token_ids=(1,), finish_reason="stop", prompt_tokens=1,
    params={"temperature": 0.0}, seconds=0.1,
)
GEOPACKAGE = 0x47504B47  # "GPKG"
MBTILES = 0x4D504258  # "MPBX"


def _foreign(path, application_id):
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA application_id = {application_id}")
        conn.execute("CREATE TABLE tiles (zoom INTEGER, data BLOB)")
        conn.execute("INSERT INTO tiles VALUES (3, x'00ff')")
    conn.close()
    return path.read_bytes()


@pytest.mark.parametrize("application_id", [GEOPACKAGE, MBTILES])
def test_another_programs_sqlite_file_is_never_changed(tmp_path, capsys, application_id):
    path = tmp_path / "map.sqlite"
    before = _foreign(path, application_id)
    assert cli_main(["cache", "stats", "--path", str(path)]) == 1
    assert "not a vlesson result cache" in capsys.readouterr().err
    assert cli_main(["cache", "clear", "--path", str(path)]) == 2
    cache = ResultCache(path)
    with pytest.warns(CacheWarning, match="not a vlesson result cache"):
        cache.put_many([("k", {"prompt": "p"}, GEN)])
    with pytest.warns(CacheWarning):
        assert cache.get_many({"k": {"prompt": "p"}}) == {}
    assert path.read_bytes() == before  # no tables, no journal mode, no id
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.sqlite"]


def test_a_damaged_file_that_is_not_vlessons_is_left_by_clear(tmp_path, capsys):
    """clear() deletes a damaged vlesson cache; a damaged file of another program
    (a SQLite header, then garbage) is refused before any attempt to open it."""
    path = tmp_path / "other.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    assert cli_main(["cache", "clear", "--path", str(path)]) == 2
    assert path.read_bytes() == b"SQLite format 3\x00" + b"\xff" * 4000


def test_a_new_or_empty_file_becomes_a_cache(tmp_path):
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    for path in (empty, tmp_path / "new" / "results.sqlite"):
        ResultCache(path).record_totals(1, 1)
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        conn.close()
        assert ResultCache(path).stats(strict=True)["total_hits"] == 1


def test_an_older_cache_without_the_id_is_still_used(tmp_path):
    path = tmp_path / "old.sqlite"
    ResultCache(path).record_totals(2, 0)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA application_id = 0")
    conn.close()
    assert ResultCache(path).stats(strict=True)["total_hits"] == 2


def test_an_unknown_database_without_an_id_is_refused(tmp_path):
    path = tmp_path / "shop.sqlite"
    before = _foreign(path, 0)
    with pytest.raises(NotACacheError):
        ResultCache(path).stats(strict=True)
    assert path.read_bytes() == before


def test_clear_on_a_missing_path_says_so_and_creates_nothing(tmp_path, capsys):
    path = tmp_path / "typo" / "results.sqlite"
    assert cli_main(["cache", "clear", "--path", str(path)]) == 0
    assert "nothing to clear" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []
    assert ResultCache(path).clear() is False
