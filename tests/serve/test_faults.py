"""``serve`` under hostile clients (issue 38), without a server process: the read deadline, admission after
the body, the byte budget, disconnects and deadlines on the pipeline's jobs, JSON depth, the cap on
points, malformed URL hosts and the log settings. ``test_serve.py`` checks the same against a real server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bgapp.serve.config import ServeConfig, config_problem
from bgapp.serve.fields import MAX_JSON_DEPTH, json_depth, json_object, marks_from_fields, parse_json
from bgapp.serve.gate import ApiError, Gate, read_body
from bgapp.serve.guard import UrlRefused, check_url, host_refusal, system_resolver
from bgapp.serve.limits import Admission, ByteBudget, Reservation
from bgapp.serve.protocol import timeout_answer
from bgapp.serve.work import ClientGone, JobTimeout, Pool, run_job

Message = dict[str, Any]


def messages(*items: Message, then_stall: bool = True) -> Callable[[], Awaitable[Message]]:
    """An ASGI ``receive`` that hands out ``items`` and then waits for ever (a stalled client)."""
    queue = list(items)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        if then_stall:
            await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    return receive


def body(data: bytes, more: bool = False) -> Message:
    return {"type": "http.request", "body": data, "more_body": more}


# ---------------------------------------------------------------- reading a body


def test_a_stalled_body_ends_in_408_and_gives_its_bytes_back() -> None:
    held = Reservation(ByteBudget(1000))
    with pytest.raises(ApiError) as caught:
        asyncio.run(read_body(messages(body(b"--B\r\n", more=True)), 10_000, 0.05, held))
    assert caught.value.status == 408 and "stalled" in caught.value.title
    assert held.count == 5  # the gate releases it
    held.release()
    assert held.count == 0


def test_a_body_cut_short_by_a_disconnect_is_never_handed_on() -> None:
    receive = messages(body(b"half of it", more=True), {"type": "http.disconnect"})
    with pytest.raises(ClientGone):
        asyncio.run(read_body(receive, 10_000, 5.0, Reservation(ByteBudget(1000))))


def test_body_limit_and_byte_budget() -> None:
    budget = ByteBudget(10)
    complete = Reservation(budget)
    assert asyncio.run(read_body(messages(body(b"abc", True), body(b"def")), 100, 5.0, complete)) == b"abcdef"
    assert budget.held == 6
    with pytest.raises(ApiError) as busy:
        asyncio.run(read_body(messages(body(b"12345")), 100, 5.0, Reservation(budget)))
    assert busy.value.status == 429 and (b"retry-after", b"1") in busy.value.headers
    with pytest.raises(ApiError) as large:
        asyncio.run(read_body(messages(body(b"x" * 101)), 100, 5.0, Reservation(ByteBudget(1000))))
    assert large.value.status == 413
    complete.release()
    complete.release()  # given back once
    assert budget.held == 0


class _Recorder:
    """A stand-in for the FastAPI app behind the gate: records what reached it and answers 200."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.bodies.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _scope() -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": "/cut", "headers": [(b"x-api-key", b"k")]}


def test_a_stalled_upload_holds_no_slot_and_gets_408() -> None:
    """Issue 38, defect 1: with one slot, a client that stops mid-body used to answer everyone else 429."""
    app = _Recorder()
    gate = Gate(app, ServeConfig(api_key="k", queue=1, read_timeout_s=0.3), Admission(1), ByteBudget(10_000))

    async def scenario() -> tuple[list[Message], list[Message]]:
        stalled_sent: list[Message] = []
        real_sent: list[Message] = []

        async def record(into: list[Message], message: Message) -> None:
            into.append(message)

        stalled = asyncio.ensure_future(
            gate(_scope(), messages(body(b"--B\r\n", more=True)), lambda m: record(stalled_sent, m))
        )
        await asyncio.sleep(0.05)
        await gate(_scope(), messages(body(b"a whole body"), then_stall=False), lambda m: record(real_sent, m))
        assert not stalled.done()  # still waiting for its body while the real request was answered
        await stalled
        return stalled_sent, real_sent

    stalled_sent, real_sent = asyncio.run(scenario())
    assert real_sent[0]["status"] == 200 and app.bodies == [b"a whole body"]
    assert stalled_sent[0]["status"] == 408 and (b"connection", b"close") in stalled_sent[0]["headers"]
    assert gate.admission.held == 0 and gate.budget.held == 0


@pytest.mark.parametrize("full_when", ["headers", "body"])
def test_a_full_queue_answers_429_before_or_after_the_upload(full_when: str) -> None:
    """Full when the headers arrive: 429 before the upload (a client waiting for 100 Continue sends none);
    full by the time the body is complete (another request got the last slot meanwhile): 429 then."""
    admission = Admission(1)
    if full_when == "headers":
        assert admission.try_enter()
    app = _Recorder()
    gate = Gate(app, ServeConfig(api_key="k", queue=1), admission, ByteBudget(10_000))
    sent: list[Message] = []
    pieces = [body(b"pay", more=True), body(b"load")]

    async def receive() -> Message:
        if len(pieces) == 1 and full_when == "body":
            assert admission.try_enter()  # the slot goes to another request while this one uploads
        return pieces.pop(0)

    async def record(message: Message) -> None:
        sent.append(message)

    asyncio.run(gate(_scope(), receive, record))
    assert sent[0]["status"] == 429 and not app.bodies and not pieces  # the body was read (and dropped) first
    assert (b"connection", b"close") not in sent[0]["headers"]  # so the connection stays usable
    assert gate.budget.held == 0 and admission.held == 1


# ---------------------------------------------------------------- the pipeline's jobs


def test_a_job_whose_client_left_is_never_run_and_deadlines_hold() -> None:
    pool = Pool(1, "test-pool")
    release = threading.Event()
    ran: list[str] = []

    def blocker() -> str:
        release.wait(10)
        ran.append("blocker")
        return "done"

    async def scenario() -> None:
        first = asyncio.ensure_future(run_job(pool, blocker, 10.0))
        gone = asyncio.Event()
        second = asyncio.ensure_future(run_job(pool, lambda: ran.append("gone"), 10.0, gone))
        await asyncio.sleep(0.05)
        gone.set()
        with pytest.raises(ClientGone):
            await second
        with pytest.raises(JobTimeout, match="longer than this server's 0.05 s limit"):
            await run_job(pool, lambda: ran.append("late"), 0.05)
        release.set()
        assert await first == "done"
        assert await run_job(pool, lambda: "after", 10.0) == "after"

    asyncio.run(scenario())
    assert ran == ["blocker"] and pool.ran == 2 and pool.skipped == 2


# ---------------------------------------------------------------- bad input


def test_nested_json_is_a_400_not_a_recursion_error() -> None:
    assert json_depth({"a": [1, {"b": 2}]}) == 3 and json_depth(4) == 0 and json_depth([]) == 1
    ok = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert json_depth(parse_json(ok, "settings")) == MAX_JSON_DEPTH
    for text in ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), "[" * 100_000, '{"a":' * 100_000):
        with pytest.raises(ApiError, match=f"nested more than {MAX_JSON_DEPTH} levels") as caught:
            parse_json(text, "settings")
        assert caught.value.status == 400
    with pytest.raises(ApiError, match="framing is not valid JSON"):
        json_object("{", "framing")


def test_points_and_boxes_are_capped_before_they_are_parsed() -> None:
    forty = ";".join(f"{i},{i}" for i in range(40))
    marks = marks_from_fields({"keep": forty, "remove": "", "box": "1,2,30,40"}, 40)
    assert len(marks.keep) == 40 and marks.box == (1.0, 2.0, 30.0, 40.0)
    for texts, words in [
        ({"keep": forty, "remove": "5,5"}, "41 keep/remove points"),
        ({"keep": ";".join(["1,1"] * 20_000)}, "20000 keep/remove points"),
        ({"box": "1,1,5,5;2,2,6,6"}, "one box per request"),
        ({"keep": "1," + "1" * 500}, "too long"),
    ]:
        with pytest.raises(ApiError, match=words) as caught:
            marks_from_fields(texts, 40)
        assert caught.value.status == 400 and len(caught.value.title) < 200


@pytest.mark.parametrize(
    "url",
    [
        "http://a..b/",
        "http://.a/",
        f"http://{'a' * 64}.example/",
        "http://[zz]/",
        "http://[::1/",
        "http://a b/",
        "http://-a.example/",
        f"http://{'a.' * 130}example/",
    ],
)
def test_malformed_hosts_are_refused_with_one_line(url: str) -> None:
    """Issue 38, defect 7: these raised ValueError or UnicodeError (a 500) before any address was checked."""
    with pytest.raises(UrlRefused, match="image_url: ") as caught:
        check_url(url, lambda host, port: ["93.184.215.14"])
    assert "\n" not in str(caught.value)


def test_good_hosts_still_pass_and_the_resolver_never_raises_unicode() -> None:
    for host in ("shop.example", "bücher.example", "xn--bcher-kva.example", "a_b.example.", "93.184.215.14", "::1"):
        assert host_refusal(host) is None, host
    with pytest.raises(UrlRefused, match="cannot resolve"):
        system_resolver("a..b", 80)  # the IDNA codec fails before any lookup: no network needed


# ---------------------------------------------------------------- settings


def test_new_limits_are_checked_and_the_access_log_is_at_info() -> None:
    from bgapp.cli.serve import log_config

    assert config_problem(ServeConfig()) is None
    assert "--read-timeout must be more than 0" in (config_problem(ServeConfig(read_timeout_s=0)) or "")
    assert "--grace must be more than 0" in (config_problem(ServeConfig(grace_s=-1)) or "")
    assert "--max-points must be 1 or more" in (config_problem(ServeConfig(max_points=0)) or "")
    assert ServeConfig(queue=4).body_budget_bytes == 4 * ServeConfig().max_body_bytes
    loggers = log_config(True)["loggers"]
    assert loggers["uvicorn.access"]["level"] == "INFO" and loggers["uvicorn.error"]["level"] == "WARNING"
    assert log_config(False)["loggers"]["uvicorn.access"]["level"] == "WARNING"
    answer = timeout_answer(3.0)
    head, _, text = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ") and f"content-length: {len(text)}".encode() in head
