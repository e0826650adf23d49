#!/usr/bin/env python3
"""bench/delay_proxy.py LISTEN_SOCKET TARGET_SOCKET DELAY_MS - a Unix-socket proxy that holds every
chunk DELAY_MS before passing it on, each way, in order: a round trip through it costs 2 x DELAY_MS
more. For measuring what a Redis across a network costs knock-server (bench/redis_workers.sh) on a
kernel without netem. A measurement aid, not a test; the Python standard library only.
"""
import asyncio
import os
import sys


async def pipe(reader, writer, delay):
    """Copies reader to writer, each chunk DELAY seconds after it was read, in order."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def send():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.create_task(send())
    try:
        while data := await reader.read(65536):
            queue.put_nowait((loop.time() + delay, data))
    finally:
        queue.put_nowait((0, None))
        await sender


async def main(listen, target, delay):
    async def serve(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_unix_connection(target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer, delay),
                             pipe(server_reader, client_writer, delay),
                             return_exceptions=True)

    if os.path.exists(listen):
        os.unlink(listen)
    server = await asyncio.start_unix_server(serve, path=listen)
    os.chmod(listen, 0o777)  # knock-server connects as its own user
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]) / 1000))
