"""What only the command line needs (vlesson/cli/arguments.py): prompts files."""

from __future__ import annotations

import pytest

from vlesson.cli import arguments
from vlesson.settings import UsageError


def test_prompts_file_skips_blanks_and_comments(tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text(
        "# my prompts\nFirst one\n\n   \nSecond: ünïcode ✓\n", encoding="utf-8"
    )
    assert arguments.read_prompts_file(path) == ["First one", "Second: ünïcode ✓"]
    path.write_bytes(b"caf\xe9\n")
    with pytest.raises(UsageError, match="not UTF-8"):
        arguments.read_prompts_file(path)
    path.write_text("# only a comment\n")
    with pytest.raises(UsageError, match="holds no prompts"):
        arguments.read_prompts_file(path)
