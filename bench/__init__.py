"""pinws's benchmark suite: ``python -m bench`` (see bench/README.md).

Not part of the installed package. It starts its own loopback TLS WebSocket
server in a separate process and measures pinws side by side with
websocket-client over the standard library's ``ssl`` (unpinned, the
baseline), the ``websockets`` synchronous client and aiohttp's WebSocket
client with its ``Fingerprint`` pinning.
"""
