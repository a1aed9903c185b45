"""vlesson's own options are refused before vLLM is imported (``cli/arguments.py``): a
max_tokens over the model's context, a config key no option has. A config file may set
every SamplingParams field vlesson passes on (``ignore_eos``...), and a "did you mean"
never offers an engine option for a sampling name, nor the reverse."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import warnings

import pytest

from vlesson import sampling, settings
from vlesson.cli import arguments
from vlesson.settings import UsageError


def _refused_at_once(argv: list[str]) -> tuple[int, bool, str, float]:
    """Run `vlesson ARGV` in a fresh interpreter: (exit code, vLLM imported?, stderr,
    seconds)."""
    code = (
        "import sys\nfrom vlesson.cli import main\n"
        f"rc = main({argv!r})\n"
        "print(rc, 'vllm' in sys.modules)\n"
    )
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, timeout=300, check=False)
    seconds = time.monotonic() - start
    rc, imported = result.stdout.split()[-2:]
    return int(rc), imported == "True", result.stderr, seconds


def test_max_tokens_over_the_context_is_refused_without_vllm():
    rc, imported, err, seconds = _refused_at_once(
        ["generate", "--max-tokens", "100000", "--prompt", "hi"]
    )
    assert rc == 2 and not imported, err
    assert "context length (8192)" in err
    assert err.count("very high") <= 1
    assert seconds < 10  # about 0.3 s here; vLLM's import alone takes 10 s or more


def test_max_model_len_given_is_the_bound():
    with pytest.raises(sampling.ParamError, match=r"context length \(512\)"):
        arguments.check_before_engine(
            ["--max-tokens", "1000", "--max-model-len", "512", "--prompt", "hi"]
        )


def test_an_unknown_config_key_is_refused_without_vllm(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"temprature": 0.7}))
    rc, imported, err, _ = _refused_at_once(["generate", "--config", str(config)])
    assert rc == 2 and not imported, err
    assert "unknown key 'temprature'. did you mean 'temperature'?" in err


def test_the_very_high_warning_is_printed_once_by_the_command_line(capsys):
    """`vlesson generate --max-tokens 5000` checks the values before the engine and
    again after it started: the warning is printed once."""
    from vlesson import cli

    with warnings.catch_warnings():
        cli._quiet("vlesson generate", verbose=False)
        sampling.validate({"max_tokens": 5000})
        # What importing vLLM does: a new filter resets the once-only registry.
        warnings.filterwarnings("ignore", message="something else entirely")
        sampling.validate({"max_tokens": 5000})
    err = capsys.readouterr().err
    assert err.count("max_tokens=5000 is very high") == 1, err


@pytest.fixture(scope="module")
def parser():
    return settings.generate_parser()


def _config(tmp_path, data):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    return path


EXTRA = {"ignore_eos": True, "stop": ["\n\n"], "stop_token_ids": [2],
         "skip_special_tokens": False}


def test_every_sampling_field_vlesson_passes_on_is_taken_from_a_config(
    parser, tmp_path
):
    assert set(EXTRA) == set(sampling.EXTRA_FIELDS)
    path = _config(tmp_path, {**EXTRA, "max_tokens": 8})
    arguments.check_before_engine(["--config", str(path)])
    args = settings.parse_with_config(parser, ["--config", str(path)])
    engine, overrides = settings.split_args(parser, args, settings.GENERATE_OWN_OPTIONS)
    given = {k: v for k, v in overrides.items() if v is not None}
    assert given == {**EXTRA, "max_tokens": 8}
    assert not set(EXTRA) & set(engine)
    from vllm import SamplingParams

    assert SamplingParams(**given).ignore_eos is True


@pytest.mark.parametrize(
    ("key", "suggested", "not_suggested"),
    [
        ("ignore_eo", "'ignore_eos'", "ignore_patterns"),
        ("temprature", "'temperature'", None),
        ("max_num_seq", "'max_num_seqs'", None),
        ("bad_words", "SamplingParams field vlesson does not take", "did you mean"),
    ],
)
def test_a_suggestion_stays_within_its_kind(parser, tmp_path, key, suggested,
                                             not_suggested):
    path = _config(tmp_path, {key: 1})
    for check in (
        lambda: arguments.check_before_engine(["--config", str(path)]),
        lambda: settings.load_config(parser, path),
    ):
        with pytest.raises(UsageError) as error:
            check()
        message = str(error.value).split("Valid keys")[0]
        assert suggested in message
        if not_suggested:
            assert not_suggested not in message


def test_a_wrong_type_for_a_passed_on_field_is_named(parser, tmp_path):
    with pytest.raises(UsageError, match="'ignore_eos' must be true or false"):
        settings.load_config(parser, _config(tmp_path, {"ignore_eos": "yes"}))


def test_the_early_check_knows_every_option_of_each_command(tmp_path):
    """No option the full parser takes is refused by the check before vLLM (a key
    read from vLLM's source, or a command's own)."""
    import importlib

    from vlesson.cli import CHECKED_BEFORE_ENGINE, COMMANDS

    for name in sorted(CHECKED_BEFORE_ENGINE):
        module = importlib.import_module(COMMANDS[name])
        dests = {a.dest for a in module.build_parser()._actions} - {"help", "config"}
        path = _config(tmp_path, {dest: None for dest in dests})
        arguments.check_before_engine(["--config", str(path)], module.OWN_OPTIONS)
