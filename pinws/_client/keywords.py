"""Refusing misspelled keyword arguments, with a "did you mean".

websocket-client's ``create_connection`` and ``WebSocket`` swallow any
keyword (``**options``, ``**_``), so ``ca_cert=`` instead of ``ca_certs=``
silently runs with certifi's bundle. pinws's entry points check every
keyword against what they and websocket-client really accept.

What websocket-client accepts is read from its signatures, so a new
websocket-client option passes without a pinws release -- except the
connect options below, which websocket-client reads from a dict and
documents only in ``WebSocket.connect``'s docstring.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Collection, Iterable
from typing import Any, Union

import websocket

__all__ = [
    "APP",
    "CONNECT_OPTIONS",
    "CREATE_CONNECTION",
    "RUN_FOREVER",
    "WEBSOCKET",
    "check_keywords",
]

#: The options ``websocket.WebSocket.connect`` reads (websocket-client 1.9).
CONNECT_OPTIONS = frozenset(
    {
        "connection",
        "cookie",
        "header",
        "host",
        "http_no_proxy",
        "http_proxy_auth",
        "http_proxy_host",
        "http_proxy_port",
        "http_proxy_timeout",
        "origin",
        "proxy_type",
        "redirect_limit",
        "socket",
        "subprotocols",
        "suppress_host",
        "suppress_origin",
        "timeout",
    }
)

Source = Union[Callable[..., Any], Collection[str]]

# What each entry point accepts besides its own named parameters.
CREATE_CONNECTION: tuple[Source, ...] = (
    websocket.create_connection,
    websocket.WebSocket.__init__,
    CONNECT_OPTIONS,
)
#: ``create_connection`` hands its options to the constructor too, as
#: websocket-client's does.
WEBSOCKET: tuple[Source, ...] = (websocket.WebSocket.__init__, CONNECT_OPTIONS)
APP: tuple[Source, ...] = (websocket.WebSocketApp.__init__,)
RUN_FOREVER: tuple[Source, ...] = (websocket.WebSocketApp.run_forever,)


def _names(source: Source) -> frozenset[str]:
    if not callable(source):
        return frozenset(source)
    return frozenset(
        name
        for name, parameter in inspect.signature(source).parameters.items()
        if name != "self"
        and parameter.kind
        not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    )


@functools.cache
def _accepted(entry: Callable[..., Any], sources: tuple[Source, ...]) -> frozenset[str]:
    names = _names(entry)
    for source in sources:
        names |= _names(source)
    return names


def check_keywords(
    entry: Callable[..., Any], given: Iterable[str], sources: tuple[Source, ...]
) -> None:
    """Refuse a keyword that neither *entry* nor websocket-client accepts.

    Args:
        entry: the pinws function or method called (its own parameters are
            accepted, and named in messages).
        given: the keyword names it received in ``**kwargs``.
        sources: the websocket-client callables (read by signature) and name
            sets whose keywords *entry* passes on.

    Raises:
        TypeError: an unknown keyword, naming the closest known one.
    """
    accepted = _accepted(entry, sources)
    unknown = sorted(name for name in given if name not in accepted)
    if not unknown:
        return
    name = unknown[0]
    close = difflib.get_close_matches(name, sorted(accepted), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    where = entry.__qualname__.replace(".__init__", "")
    raise TypeError(f"{where}() got an unexpected keyword argument {name!r}{hint}")
