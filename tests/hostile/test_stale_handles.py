"""A retried delete never removes another message (issue 14, item 0), through a real server.

On SQLite, deleting the newest message handed its number to the next message sent, so that
message's first receipt handle equalled the deleted one's: a consumer retrying its delete got
204 and removed a message another consumer held, unprocessed.
"""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.server import EmsServer

pytestmark = pytest.mark.e2e


def receive_one(http: httpx.Client, receive_id: str) -> str:
    (message,) = http.get(f"/ems/queue/{receive_id}/message").json()["messages"]
    handle: str = message["receipt_handle"]
    return handle


def test_a_retried_delete_never_removes_the_next_message(any_server: EmsServer) -> None:
    with httpx.Client(base_url=any_server.url) as http:
        queue = http.post("/ems/queue").json()
        send, receive = f"/ems/queue/{queue['send_id']}/message", queue["receive_id"]
        handles = []
        for restart in (False, True, False):
            if restart:
                any_server.stop()
                any_server.start()
            assert http.post(send, content=b"job").status_code == 201
            handles.append(receive_one(http, receive))
            assert http.delete(f"/ems/queue/{receive}/message/{handles[-1]}").status_code == 204
        # the same after a purge, whose rows the sweeper deletes within a second or two
        assert http.post(send, content=b"purged").status_code == 201
        handles.append(receive_one(http, receive))
        assert http.post(f"/ems/queue/{queue['queue_id']}/purge").status_code == 204
        assert len(set(handles)) == len(handles), "every receive issued a handle of its own"
        assert http.post(send, content=b"held").status_code == 201
        held = receive_one(http, receive)
        assert held not in handles
        for stale in handles:  # each retried delete: 204, and nothing removed
            assert http.delete(f"/ems/queue/{receive}/message/{stale}").status_code == 204
        peeked = http.get(f"/ems/queue/{queue['queue_id']}/peek").json()["messages"]
        assert [m["body"] for m in peeked] == ["held"], "the held message is still there"
        assert http.delete(f"/ems/queue/{receive}/message/{held}").status_code == 204
        assert http.get(f"/ems/queue/{queue['queue_id']}/peek").json()["messages"] == []
