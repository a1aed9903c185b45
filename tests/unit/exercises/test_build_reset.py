"""`vlesson lesson reset` (``exercises/build.py``) never overwrites a kept copy: two resets
in the same second, or ``reset 01 01``, keep every edited notebook."""

from __future__ import annotations

import datetime as dt

from vlesson.cli import main
from vlesson.exercises import build

NAME = "01_parameters_and_cli.ipynb"


class _OneSecond(dt.datetime):
    """Every reset happens in the same second."""

    @classmethod
    def now(cls, tz=None):
        return cls(2026, 12, 2, 16, 0, 0)


def _edit(path, mark):
    path.write_text(path.read_text().replace("my_guess_2_3 = ...", f"my_guess_2_3 = {mark}"))


def test_two_resets_in_one_second_keep_both_edited_copies(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(build.dt, "datetime", _OneSecond)
    assert main(["lesson", "build", "--dest", str(tmp_path)]) == 0
    mine = tmp_path / NAME
    _edit(mine, "1.0")
    assert main(["lesson", "reset", "--dest", str(tmp_path), "01"]) == 0
    _edit(mine, "2.0")
    assert main(["lesson", "reset", "--dest", str(tmp_path), "01"]) == 0
    kept = sorted(tmp_path.glob("01_parameters_and_cli.old-*.ipynb"))
    assert len(kept) == 2
    texts = [p.read_text() for p in kept]
    assert any("my_guess_2_3 = 1.0" in t for t in texts)
    assert any("my_guess_2_3 = 2.0" in t for t in texts)
    assert "my_guess_2_3 = ..." in mine.read_text()


def test_reset_01_01_keeps_the_learners_copy(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(build.dt, "datetime", _OneSecond)
    assert main(["lesson", "build", "--dest", str(tmp_path)]) == 0
    _edit(tmp_path / NAME, "3.0")
    assert main(["lesson", "reset", "--dest", str(tmp_path), "01", "01"]) == 0
    kept = list(tmp_path.glob("01_parameters_and_cli.old-*.ipynb"))
    assert any("my_guess_2_3 = 3.0" in p.read_text() for p in kept)
