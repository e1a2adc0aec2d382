"""The public surface: what pinws exports, and that each name is documented."""

from __future__ import annotations

import inspect

import websocket

import pinws

CONTRACT = {
    "PinnedWebSocketApp",
    "create_connection",
    "spki_pin",
    "PinningError",
    "PinMismatchError",
    "InvalidPinError",
    "PinSet",
    "PinPolicy",
}


def test_contract_names_are_exported() -> None:
    assert set(pinws.__all__) >= CONTRACT


def test_all_is_exactly_what_the_package_defines_publicly() -> None:
    public = {name for name in dir(pinws) if not name.startswith("_")}
    modules = {name for name in public if inspect.ismodule(getattr(pinws, name))}
    assert set(pinws.__all__) - {"__version__"} == public - modules


def test_every_exported_name_has_a_docstring() -> None:
    for name in pinws.__all__:
        if name == "__version__":
            continue
        obj = getattr(pinws, name)
        assert inspect.getdoc(obj), name


def test_error_hierarchy() -> None:
    assert issubclass(pinws.PinningError, websocket.WebSocketException)
    for name in (
        "PinMismatchError",
        "CertificateVerificationError",
        "HostnameMismatchError",
        "TLSHandshakeError",
        "InsecureRedirectError",
        "UnpinnedHostError",
    ):
        assert issubclass(getattr(pinws, name), pinws.PinningError), name
    assert issubclass(pinws.HostnameMismatchError, pinws.CertificateVerificationError)
    assert issubclass(pinws.InvalidPinError, ValueError)
    assert not issubclass(pinws.InvalidPinError, pinws.PinningError)


def test_app_is_a_websocket_app() -> None:
    assert issubclass(pinws.PinnedWebSocketApp, websocket.WebSocketApp)
    assert issubclass(pinws.PinnedWebSocket, websocket.WebSocket)


def test_py_typed_is_shipped() -> None:
    from importlib import resources

    assert resources.files("pinws").joinpath("py.typed").is_file()
