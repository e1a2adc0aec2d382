"""pinws: certificate pinning for WebSocket clients.

A pinned client refuses, inside the TLS handshake and before a single byte
of the WebSocket upgrade request is sent, any server whose verified
certificate chain matches none of its pins.

    >>> import pinws
    >>> pinws.Pin.parse("sha256//" + "A" * 43 + "=")
    Pin('sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')
"""

from . import _log  # noqa: F401 - first: the NullHandler on "pinws"
from ._client.app import PinnedWebSocketApp
from ._client.connect import create_connection
from ._client.websocket import PinnedWebSocket
from ._ct.ctpolicy import CTPolicy
from ._ct.loglist import CTLog, CTLogList
from ._ct.policy import CTVerdict, SCTResult
from ._errors import (
    CertificateVerificationError,
    ChainCertificate,
    CTPolicyError,
    HostnameMismatchError,
    InsecureRedirectError,
    InvalidPinError,
    PinConfigError,
    PinMismatchError,
    PinningError,
    StoredPinMismatchError,
    TLSHandshakeError,
    UnpinnedHostError,
)
from ._formats import POLICY_FILES as _POLICY_FILES
from ._pins.pin import Pin, spki_pin
from ._pins.pinset import PinSet
from ._pins.policy import PinPolicy, PolicyMatch
from ._pins.policy import use_policy_files as _use_policy_files
from ._pins.report import PinFailureReport
from ._store.store import PinStore, PinStoreEntry
from ._tls.fetch import FetchedChain, fetch_verified_chain
from ._tls.pinned import PinnedSocket
from ._tls.sessions import clear_session_cache
from ._transport.socket import ConnectionInterrupted
from ._version import __version__

# The pins core imports no file format; PinPolicy.from_file(), to_toml() and
# the Android methods delegate to pinws._formats through this one hand-over.
_use_policy_files(_POLICY_FILES)

__all__ = [
    "CTLog",
    "CTLogList",
    "CTPolicy",
    "CTPolicyError",
    "CTVerdict",
    "CertificateVerificationError",
    "ChainCertificate",
    "ConnectionInterrupted",
    "FetchedChain",
    "HostnameMismatchError",
    "InsecureRedirectError",
    "InvalidPinError",
    "Pin",
    "PinConfigError",
    "PinFailureReport",
    "PinMismatchError",
    "PinPolicy",
    "PinSet",
    "PinStore",
    "PinStoreEntry",
    "PinnedSocket",
    "PinnedWebSocket",
    "PinnedWebSocketApp",
    "PinningError",
    "PolicyMatch",
    "SCTResult",
    "StoredPinMismatchError",
    "TLSHandshakeError",
    "UnpinnedHostError",
    "__version__",
    "clear_session_cache",
    "create_connection",
    "fetch_verified_chain",
    "spki_pin",
]
