"""The socket `subtrail serve` listens on: its connections send each write at once (no Nagle)."""

from __future__ import annotations

import asyncio
import socket

from ingest.web.serve import listen_socket


def test_accepted_connections_have_nagle_off() -> None:
    """asyncio sets TCP_NODELAY only on sockets created as IPPROTO_TCP; without it a page written
    as headers then body waited 40 ms for the client's delayed ACK (every page at least 44 ms)."""
    seen: list[int] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        accepted = asyncio.Event()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                accepted.set()

        server = await loop.create_server(Probe, sock=listen_socket("127.0.0.1", 0))
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.wait_for(accepted.wait(), 10)
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())
    assert seen and seen[0] != 0
