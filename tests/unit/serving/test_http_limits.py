"""The web API's HTTP layer (``serving/http_limits.py``): the key is checked before a
request takes a concurrency slot or has its body read, a slow body times out, and a
body that is not UTF-8 gets the documented 400."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient

from vlesson.serving import api
from vlesson.serving.http_limits import HttpLimits

KEY = "k-123"


async def _app(scope, receive, send):
    """The app behind the limits: reads the body, answers 200."""
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _limits(**kwargs):
    return HttpLimits(
        _app, max_body_bytes=1000, max_concurrent=1, api_key=KEY,
        guarded={"/generate"}, **{"body_seconds": 30.0, **kwargs},
    )


async def _status(limits, key, receive) -> int:
    headers = [(b"authorization", f"Bearer {key}".encode())] if key else []
    scope = {"type": "http", "method": "POST", "path": "/generate", "headers": headers}
    sent = []

    async def send(message):
        sent.append(message)

    await limits(scope, receive, send)
    return sent[0]["status"]


async def _whole(body=b"{}"):
    return {"type": "http.request", "body": body, "more_body": False}


async def _trickle():
    """A client sending its body one byte an hour."""
    await asyncio.sleep(3600)
    return {"type": "http.request", "body": b"{", "more_body": True}


def test_keyless_clients_trickling_bodies_take_no_slot_from_the_key_holder():
    async def scenario():
        limits = _limits()
        keyless = [asyncio.ensure_future(_status(limits, None, _trickle))
                   for _ in range(2)]
        await asyncio.sleep(0.05)
        mine = await asyncio.wait_for(_status(limits, KEY, _whole), 5)
        done = await asyncio.wait_for(asyncio.gather(*keyless), 5)
        return mine, done

    mine, keyless = asyncio.run(scenario())
    assert mine == 200
    assert keyless == [401, 401]


def test_a_body_that_does_not_arrive_in_time_gets_408_and_frees_its_slot():
    async def scenario():
        limits = _limits(body_seconds=0.2)
        slow = await asyncio.wait_for(_status(limits, KEY, _trickle), 5)
        return slow, await asyncio.wait_for(_status(limits, KEY, _whole), 5)

    assert asyncio.run(scenario()) == (408, 200)


def test_a_body_that_is_not_utf8_gets_the_documented_400():
    client = TestClient(api.create_app(api_key=KEY))
    response = client.post(
        "/generate", content=b'{"prompt": "caf\xe9"}',
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 400, response.text
    assert "not UTF-8" in response.json()["detail"]
    documented = client.get("/openapi.json").json()["paths"]["/generate"]["post"]
    assert "400" in documented["responses"]


def test_the_apps_guarded_routes_check_the_key_before_the_body():
    """create_app hands its key and its keyed routes to the limits: a keyless
    request is a 401 even with a body the limits would refuse."""
    client = TestClient(api.create_app(api_key=KEY, limits=api.Limits(max_body_bytes=10)))
    for method, path in (("post", "/generate"), ("get", "/models")):
        response = client.request(method, path, content=b"\xff" * 50)
        assert response.status_code == 401, (path, response.text)
        assert api.API_KEY_ENV in response.json()["detail"]
        assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/docs").status_code == 200  # the pages stay open
