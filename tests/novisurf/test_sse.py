"""novisurf.client.parse_sse: events as the HTML standard parses them, wherever reads split them."""

from __future__ import annotations

import pytest

from novisurf.client import EndpointUnavailable, ServerSentEvent, parse_sse

STREAM = (
    b": a comment\r\n"
    b"event: image_generation.partial_image\r\n"
    b'data: {"b64_json": "' + b"A" * 300 + b'"}\r\n'
    b"\r\n"
    b"id: 7\n"
    b"data: first line\n"
    b"data:second line\n"
    b"\n"
    b"event: done\r"
    b"data: cr only\r"
    b"\r"
    b"data: ends without its blank line\n"
)
EXPECTED = [
    ServerSentEvent(
        event="image_generation.partial_image", data='{"b64_json": "' + "A" * 300 + '"}'
    ),
    ServerSentEvent(event=None, data="first line\nsecond line"),
    ServerSentEvent(event="done", data="cr only"),
]


def events(chunks, max_event_bytes: int = 1 << 20) -> list[ServerSentEvent]:
    return list(parse_sse(iter(chunks), max_event_bytes=max_event_bytes))


def test_the_whole_stream_in_one_read():
    assert events([STREAM]) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_events_split_across_every_read_size(size):
    assert events(STREAM[i : i + size] for i in range(0, len(STREAM), size)) == EXPECTED


def test_events_split_at_every_single_boundary():
    for cut in range(len(STREAM) + 1):
        assert events([STREAM[:cut], STREAM[cut:]]) == EXPECTED, cut


def test_a_crlf_split_between_two_reads_is_one_line_end():
    # A CR at the end of a read is held until the next read says whether an LF follows.
    assert events([b"data: x\r", b"\n\r", b"\n"]) == [ServerSentEvent(event=None, data="x")]


def test_an_event_is_passed_on_before_the_stream_ends():
    def chunks():
        yield b"data: one\n\n"
        raise AssertionError("read past the first event before yielding it")

    assert next(parse_sse(chunks(), max_event_bytes=100)).data == "one"


def test_a_line_longer_than_the_cap_is_refused_without_its_end():
    with pytest.raises(EndpointUnavailable, match="line longer than"):
        events([b"data: " + b"x" * 60] * 3, max_event_bytes=100)


def test_an_event_larger_than_the_cap_is_refused():
    with pytest.raises(EndpointUnavailable, match="event larger than"):
        events([b"data: " + b"x" * 60 + b"\n"] * 3, max_event_bytes=100)
