"""The classroom server's command and environment: the key goes to vLLM in the
environment, never on a command line."""

from __future__ import annotations

from vlesson.serving import classroom

SECRET = "s3cret-key-of-the-class"


def test_the_key_goes_to_vllm_in_its_environment_never_on_the_command_line():
    command = classroom.server_command(port=8123)
    assert "--api-key" not in command
    env = classroom.server_environment(api_key=SECRET)
    assert env["VLLM_API_KEY"] == SECRET
    assert "VLLM_API_KEY" not in classroom.server_environment(api_key=None)
