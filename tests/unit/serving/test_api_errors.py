"""Which engine errors the web API (``serving/api.py``) shows a client: only vLLM's
request-validation errors are 422s with their text; any other error, a ValueError
among them, is a 500 whose text stays in the server's log."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.unit.serving.test_api import FakeEngine, app_with

SECRET = "/srv/engine/internal-state-7"


def test_a_plain_value_error_from_the_engine_is_a_500_without_its_text():
    engine = FakeEngine({"a": ValueError(f"tensor shape mismatch in {SECRET}")})
    client = TestClient(app_with(engine), raise_server_exceptions=False)
    response = client.post("/generate", json={"prompt": ["a", "b"]})
    assert response.status_code == 500
    assert SECRET not in response.text
