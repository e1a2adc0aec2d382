"""A chat window in Qt (PySide6) over a pinned WebSocket connection.

    python examples/chat_qt.py                     # talks to `pinws demo --serve`
    python examples/chat_qt.py --pin sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
                                                   # the same server, wrong pin: refused
    python examples/chat_qt.py wss://host/chat --pin sha256/... --pin sha256/...

The connection runs on pinws's worker thread; QtExecutor runs every callback
on the GUI thread, so they may touch the widgets. Messages are sent from the
GUI thread while the worker receives.
"""

from __future__ import annotations

import sys
from typing import Optional

import websocket
from chat_common import Target, parse_args, target
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

import pinws
from pinws.executors import QtExecutor


class ChatWindow(QWidget):
    """A message list, an entry line and a connection status."""

    def __init__(self, server: Target) -> None:
        super().__init__()
        self.dialog: Optional[QMessageBox] = None
        self.setWindowTitle("pinws chat (Qt)")
        self.resize(520, 360)
        self.messages = QListWidget()
        self.entry = QLineEdit()
        self.entry.returnPressed.connect(self.send)
        send = QPushButton("Send")
        send.clicked.connect(self.send)
        self.status = QLabel("connecting…")
        line = QHBoxLayout()
        line.addWidget(self.entry)
        line.addWidget(send)
        layout = QVBoxLayout(self)
        layout.addWidget(self.messages)
        layout.addLayout(line)
        layout.addWidget(self.status)
        self.app = pinws.PinnedWebSocketApp(
            server.url,
            pins=server.pins,
            ca_certs=server.ca_certs,
            on_open=lambda app: self.status.setText(f"connected to {server.url}"),
            on_message=lambda app, message: self.messages.addItem(message),
            on_error=self.on_error,
            on_close=self.on_close,
            callback_executor=QtExecutor(self),  # callbacks run on the GUI thread
        )

    def start(self) -> None:
        self.app.start(reconnect=5)

    def send(self) -> None:
        try:
            self.app.send(self.entry.text())
        except websocket.WebSocketConnectionClosedException:
            self.status.setText("not connected")
            return
        self.entry.clear()

    def on_error(self, app: pinws.PinnedWebSocketApp, error: Exception) -> None:
        if isinstance(error, pinws.PinningError):
            # The same server is refused again on every retry: stop and say why.
            app.close()
            self.status.setText(f"refused: {error.summary}")
            self.dialog = QMessageBox(
                QMessageBox.Icon.Critical,
                "Connection refused",
                error.summary,
                parent=self,
            )
            self.dialog.setDetailedText(str(error))  # everything to fix the pins
            self.dialog.open()  # window-modal, without blocking the event loop
        else:
            self.status.setText(f"error: {' '.join(str(error).split())}")

    def on_close(
        self, app: pinws.PinnedWebSocketApp, code: object, reason: object
    ) -> None:
        if not self.status.text().startswith("refused"):
            self.status.setText("disconnected")

    def closeEvent(self, event: object) -> None:  # Qt's name: the window closes
        self.app.close()  # returns at once; the worker ends promptly
        self.app.join(timeout=1)


def main() -> None:
    args = parse_args("A Qt chat window over a pinned WebSocket connection.")
    with target(args) as server:
        qt = QApplication(sys.argv)
        window = ChatWindow(server)
        window.show()
        window.start()
        qt.exec()


if __name__ == "__main__":
    main()
