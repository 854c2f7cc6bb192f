"""The one way in from the machine: a TCP forwarder from 127.0.0.1 of the machine to the API server.

The API server lives in the country's lab network namespace, where no process of the machine can reach
it. `up` binds a listening socket on the machine's 127.0.0.1 (never another address) and hands it to this
program, which then moves itself into the lab namespace (`setns`): the listening socket stays in the
machine's namespace, and every connection it opens to the API server is made from inside the lab. One
process, no route, no address, no firewall rule on the machine; `down` stops it by its recorded pid.

Usage (by `sitekit.cluster.controlplane`, not by hand): python -m sitekit.cluster.forward --fd N
--netns /run/netns/<name> --to <address>:<port> --lab <cluster folder>
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import os
import socket
import sys

CLONE_NEWNET = 0x40000000


def enter_netns(path: str) -> None:
    """Move this (single-threaded) process into the network namespace at `path`."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _serve(listener: socket.socket, host: str, port: int) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            print(f"forward: cannot reach {host}:{port}: {exc}", file=sys.stderr, flush=True)
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(handle, sock=listener)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    """Take over the listening socket, enter the lab namespace, forward until terminated."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--fd", type=int, required=True, help="inherited listening socket (machine namespace)")
    parser.add_argument("--netns", required=True, help="the lab namespace file, /run/netns/<name>")
    parser.add_argument("--to", required=True, help="address:port of the API server inside the namespace")
    parser.add_argument("--lab", required=True, help="the cluster folder (names this process for `down`)")
    args = parser.parse_args(argv)
    listener = socket.socket(fileno=args.fd)
    if listener.getsockname()[0] != "127.0.0.1":
        print("forward: refusing to listen anywhere but 127.0.0.1", file=sys.stderr)
        return 2
    enter_netns(args.netns)
    host, _, port = args.to.rpartition(":")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(listener, host, int(port)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
