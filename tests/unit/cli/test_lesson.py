"""`vlesson lesson build|reset|progress`."""

from __future__ import annotations

from vlesson import envvars
from vlesson.cli import main


def test_build_then_reset_keeps_the_learners_copy(tmp_path, capsys):
    assert main(["lesson", "build", "--dest", str(tmp_path)]) == 0
    mine = tmp_path / "01_parameters_and_cli.ipynb"
    mine.write_text(
        mine.read_text().replace("my_guess_2_3 = ...", "my_guess_2_3 = 1.0")
    )
    assert main(["lesson", "build", "--dest", str(tmp_path)]) == 0
    assert "my_guess_2_3 = 1.0" in mine.read_text()
    assert main(["lesson", "reset", "--dest", str(tmp_path), "01"]) == 0
    assert "your old one" in capsys.readouterr().out
    assert "my_guess_2_3 = ..." in mine.read_text()
    old = list(tmp_path.glob("01_parameters_and_cli.old-*.ipynb"))
    assert len(old) == 1 and "my_guess_2_3 = 1.0" in old[0].read_text()


def test_reset_needs_a_known_notebook(tmp_path, capsys):
    assert main(["lesson", "reset", "--dest", str(tmp_path)]) == 2
    assert main(["lesson", "reset", "42", "--dest", str(tmp_path)]) == 2
    assert "there are: 00_contents" in capsys.readouterr().err


def test_progress_lists_the_sheet(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(envvars.PROGRESS, str(tmp_path / "p.json"))
    assert main(["lesson", "progress"]) == 0
    out = capsys.readouterr().out
    assert "2.15" in out and "self-7" in out and "not attempted" in out
