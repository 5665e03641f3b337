"""The transport reads whole data frames itself and leaves every other frame to the protocol.
Cut into reads anywhere, any stream of frames, valid or not, is read as the protocol reads
it one frame at a time: the same messages, the same answers, the first broken rule ends it."""

from __future__ import annotations

import asyncio
import gc
import random
import struct
import weakref
from typing import Any

import pytest
from websockets.http11 import Request, Response
from websockets.protocol import State

from csms.transport import Socket, WsServer
from tests.csms.test_transport import OPTIONS  # max_size 1024

REQUEST = (
    b"GET /ocpp/T HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
)


class _Wire:
    """What the socket writes, in place of a TCP transport."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.out += data

    def close(self) -> None:
        self.closed = True

    abort = close

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 50000) if name == "peername" else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _accept(sock: Socket, request: Request) -> Response | None:
    return None


Reading = tuple[list[str | bytes], bytes, State, int | None]


async def _read(
    reads: list[bytes],
    *,
    fast: bool,
    upgrade: tuple[bytes, ...] = (REQUEST,),
    each: bool = True,
) -> Reading:
    """The messages a socket hands on, what it writes after the upgrade, its final state;
    `each`: every read is read as it comes (else they wait for the server's slice, joined)."""
    got: list[str | bytes] = []
    listening = asyncio.Event()

    async def handler(sock: Socket) -> None:
        sock.listen(got.append)
        listening.set()
        await sock.wait_closed()

    server = WsServer(handler, _accept, OPTIONS)
    sock, wire = Socket(server), _Wire()
    sock.connection_made(wire)
    for data in upgrade:
        sock.data_received(data)
    await asyncio.wait_for(listening.wait(), 5)
    assert sock._framing is (upgrade == (REQUEST,))
    sock._framing = sock._framing and fast
    sock.prompt = each
    upgraded = len(wire.out)
    for data in reads:
        sock.data_received(data)
    await asyncio.sleep(0)  # the server's slice reads what was left for it
    assert sock._unread is None
    state, code = sock.ws.state, sock.ws.close_code
    sock.connection_lost(None)
    await asyncio.wait_for(server.wait_closed(), 5)
    return got, bytes(wire.out[upgraded:]), state, code


def _frame(
    opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, masked: bool = True
) -> bytes:
    """A client frame as bytes, allowed to break any rule of RFC 6455."""
    n = len(payload)
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    if n < 126:
        head = struct.pack("!BB", first, (0x80 if masked else 0) | n)
    elif n < 65536:
        head = struct.pack("!BBH", first, (0x80 if masked else 0) | 126, n)
    else:
        head = struct.pack("!BBQ", first, (0x80 if masked else 0) | 127, n)
    if not masked:
        return head + payload
    mask = bytes(random.getrandbits(8) for _ in range(4))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _close_sent(written: bytes) -> int:
    """The code of the close frame the socket wrote, when that is all it wrote."""
    assert written[0] == 0x88, written
    return int.from_bytes(written[2:4], "big")


def _text(rng: random.Random, n: int) -> bytes:
    return bytes(rng.choice(b'[]{}",:0123456789abcdefXYZ ') for _ in range(n))


def _stream(rng: random.Random) -> list[bytes]:
    """A charger's frames: mostly whole messages, with everything else now and then."""
    out = []
    for _ in range(rng.randint(1, 12)):
        kind = rng.random()
        size = rng.choice((0, 1, 60, 125, 126, 300, 1024))
        if kind < 0.45:
            out.append(_frame(0x1, _text(rng, size)))
        elif kind < 0.55:
            out.append(_frame(0x2, rng.randbytes(size)))
        elif kind < 0.63:  # a fragmented message
            out.append(_frame(0x1, _text(rng, 10), fin=False))
            out.append(_frame(0x0, _text(rng, size // 2), fin=False))
            out.append(_frame(0x0, _text(rng, 5)))
        elif kind < 0.71:
            out.append(_frame(0x9, rng.randbytes(rng.randint(0, 125))))
        elif kind < 0.76:
            out.append(_frame(0xA, b"unsolicited"))
        else:  # one rule broken: the connection ends, both readings the same way
            out.append(
                rng.choice(
                    (
                        _frame(0x1, _text(rng, 1025)),  # over max_size: 1009
                        _frame(0x1, b"\xff\xfe"),  # invalid UTF-8: 1007
                        _frame(0x1, b"x", rsv=rng.choice((1, 2, 4))),  # 1002
                        _frame(0x1, b"[]", masked=False),  # 1002
                        _frame(0x3, b"?"),  # unknown opcode: 1002
                        _frame(0x0, b"stray"),  # a continuation of nothing: 1002
                        # a whole message inside a fragmented one: 1002
                        _frame(0x1, b"[", fin=False) + _frame(0x1, b"[]"),
                        _frame(0x9, b"x", fin=False),  # a fragmented ping: 1002
                        _frame(0x8, struct.pack("!H", 1000) + b"bye"),  # a close, echoed
                    )
                )
            )
    return out


def _cut(rng: random.Random, data: bytes) -> list[bytes]:
    """The stream as reads of any size, down to one byte."""
    reads, at = [], 0
    while at < len(data):
        n = rng.choice((1, 2, 3, 7, 14, 64, 500, len(data)))
        reads.append(data[at : at + n])
        at += n
    return reads


@pytest.mark.parametrize("seed", range(8))
async def test_any_stream_cut_anywhere_is_read_as_the_protocol_reads_it_frame_by_frame(
    seed: int,
) -> None:
    rng = random.Random(seed)
    for _ in range(40):
        frames = _stream(rng)
        if rng.random() < 0.3:  # the peer stops partway through its last frame
            frames[-1] = frames[-1][: rng.randrange(1, len(frames[-1]) + 1)]
        expected = await _read(frames, fast=False)  # a read per frame, all by the protocol
        reads = _cut(rng, b"".join(frames))
        assert await _read(reads, fast=True) == expected
        assert await _read(reads, fast=True, each=False) == expected  # joined in a slice


async def test_whole_messages_in_one_read_are_read_by_the_transport() -> None:
    frames = [_frame(0x1, b'[2,"1","Heartbeat",{}]'), _frame(0x2, b"\x00\x01")]
    got, written, state, _ = await _read([b"".join(frames)], fast=True)
    assert got == ['[2,"1","Heartbeat",{}]', b"\x00\x01"]
    assert written == b"" and state is State.OPEN


@pytest.mark.parametrize(
    ("start", "code"),
    [
        (b"\x83\x80", 1002),  # an unknown opcode, its mask not sent yet
        (b"\x81\x05", 1002),  # an unmasked frame
        (b"\x81\xfe\xff\xff", 1009),  # a length over the limit
        (b"\x81\xff" + struct.pack("!Q", 1 << 63), 1009),  # a 64-bit length, top bit set
    ],
)
async def test_a_header_that_breaks_a_rule_ends_the_connection_before_it_is_whole(
    start: bytes, code: int
) -> None:
    """The peer is not left waiting for a refusal until the rest of the header comes."""
    got, written, state, _ = await _read([_frame(0x1, b"hi") + start], fast=True)
    assert got == ["hi"] and state is State.CLOSING
    assert _close_sent(written) == code


@pytest.mark.parametrize("fast", [True, False])
async def test_nothing_read_after_a_message_that_failed_the_connection_is_handed_on(
    fast: bool,
) -> None:
    """A message behind invalid UTF-8 in the same read is neither handled nor answered."""
    read = _frame(0x1, b"\xff") + _frame(0x1, b'[2,"2","Heartbeat",{}]')
    got, written, state, _ = await _read([read], fast=fast)
    assert got == [] and state is State.CLOSING
    assert _close_sent(written) == 1007


async def test_frames_sent_before_the_upgrade_answer_are_left_to_the_protocol() -> None:
    """Bytes after the request in its read may have reached the protocol's parser: the
    transport cannot know where a frame begins, and does not read frames itself."""
    early = _frame(0x1, b"early")
    got, _, state, _ = await _read([_frame(0x1, b"later")], fast=True, upgrade=(REQUEST + early,))
    assert got == ["early", "later"] and state is State.OPEN


async def test_an_upgrade_request_cut_in_two_reads_is_served_by_the_protocol_alone() -> None:
    got, _, state, _ = await _read(
        [_frame(0x1, b"hello")], fast=True, upgrade=(REQUEST[:40], REQUEST[40:])
    )
    assert got == ["hello"] and state is State.OPEN


async def test_the_upgrade_request_is_not_kept_once_the_connection_is_open() -> None:
    """Its headers are ~2.7 KiB a connection; the handler takes what it needs and drops it."""
    requests: list[weakref.ref[Request]] = []
    opened = asyncio.Event()

    async def handler(sock: Socket) -> None:
        assert sock.request is not None
        requests.append(weakref.ref(sock.request))
        sock.request = None
        opened.set()
        await sock.wait_closed()

    server = WsServer(handler, _accept, OPTIONS)
    sock = Socket(server)
    sock.connection_made(_Wire())
    sock.data_received(REQUEST)
    await asyncio.wait_for(opened.wait(), 5)
    gc.collect()
    assert requests[0]() is None
    sock.data_received(_frame(0x1, b"[]"))  # and the protocol's new parser is where it was
    assert sock.ws.state is State.OPEN
    sock.connection_lost(None)
    await asyncio.wait_for(server.wait_closed(), 5)
