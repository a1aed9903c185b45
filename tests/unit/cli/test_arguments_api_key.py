"""A key on the command line is refused in every spelling vLLM's parser (or argparse's
abbreviations) would take as ``--api-key``, before anything starts
(``cli.arguments.refuse_key_on_command_line``); vlesson's own parsers take no abbreviation
that could be mistaken for another option."""

from __future__ import annotations

import pytest

from vlesson import envvars
from vlesson.cli import classroom as classroom_cli
from vlesson.cli import main as cli_main
from vlesson.cli import serve as serve_cli

SECRET = "s3cret-Key-value"
SPELLINGS = [
    ["--api-key", SECRET],
    [f"--api-key={SECRET}"],
    ["--api_key", SECRET],
    [f"--api_key={SECRET}"],
    ["--api-ke", SECRET],
    ["--api_ke", SECRET],
    ["--api-k", SECRET],
    ["--api", SECRET],
    [f"--api-k={SECRET}"],
    ["--API-KEY", SECRET],
]
COMMANDS = [
    ["classroom-server", "--dry-run"],
    ["generate", "--server", "http://127.0.0.1:9/v1"],
    ["batch", "--prompts-file", "p.txt", "--out", "out"],
    ["sweep"],
    ["smart", "--topic", "tea"],
    ["serve"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("key", SPELLINGS, ids=lambda k: k[0].split("=")[0] + "=" * ("=" in k[0]))
def test_every_spelling_of_the_key_is_refused_before_anything_starts(
    command, key, capsys
):
    assert cli_main([*command, *key]) == 2
    captured = capsys.readouterr()
    assert "process list" in captured.err
    assert f"export {envvars.SERVER_API_KEY}=KEY" in captured.err
    assert SECRET not in captured.err + captured.out


@pytest.mark.parametrize("arg", ["--api-key-env", "--apikey", "--api-server-count",
                                 "--a", "api-key", "--model"])
def test_other_options_are_not_taken_for_the_key(arg):
    from vlesson.cli.arguments import is_key_option

    assert not is_key_option(arg)


def test_serve_takes_no_abbreviation_for_its_key_variable():
    """`vlesson serve --api-key X` was read as --api-key-env X (argparse's prefix
    matching): the server then started with no key."""
    parser = serve_cli.build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["--api-key-e", "X"])
    assert parser.parse_args(["--api-key-env", "MY_KEY"]).api_key_env == "MY_KEY"


def test_classroom_server_takes_no_abbreviation_of_its_own_options():
    args = classroom_cli.parse(classroom_cli.build_parser(), ["--no-api", "--dry"])
    assert not args.no_api_key and not args.dry_run
    assert args.extra == ["--no-api", "--dry"]  # vLLM's to judge
