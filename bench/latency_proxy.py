#!/usr/bin/env python3
"""A TCP relay that adds a fixed round-trip time, for the benchmarks.

Why: the lab VMs answer over a veth pair on this machine (round trip ~0.05 ms), but publishers
certify Azure VMs from a build agent or a workstation, tens of milliseconds away. What a tool
pays per round trip only shows at such a distance, and this kernel has no `netem` qdisc, so the
delay is added here: every chunk read from one side is written to the other side RTT/2 later,
in order, in both directions (latency only; no bandwidth limit, no loss). TCP_NODELAY is set on
both sockets (asyncio does it for TCP streams), so the relay adds no Nagle delay of its own.

Usage: latency_proxy.py --to HOST:PORT --rtt-ms MS  -> prints the listening port on stdout,
then relays until killed.
"""

import argparse
import asyncio
import sys


async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    async def take() -> None:
        while True:
            data = await reader.read(65536)
            await queue.put((loop.time() + delay, data))
            if not data:
                return

    async def give() -> None:
        while True:
            at, data = await queue.get()
            wait = at - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    try:
        await asyncio.gather(take(), give())
    except (ConnectionError, OSError):
        pass


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--to", required=True, help="HOST:PORT to relay to")
    ap.add_argument("--rtt-ms", type=float, required=True, help="round-trip time to add")
    a = ap.parse_args()
    host, port = a.to.rsplit(":", 1)
    one_way = a.rtt_ms / 2000.0

    async def on_client(cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        # The TCP handshake's round trip: the server's first bytes come one RTT later.
        await asyncio.sleep(2 * one_way)
        try:
            sr, sw = await asyncio.open_connection(host, int(port))
        except OSError:
            cw.close()
            return
        await asyncio.gather(relay(cr, sw, one_way), relay(sr, cw, one_way))
        for w in (sw, cw):
            w.close()

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
