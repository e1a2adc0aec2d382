"""A chat window in Tk over a pinned WebSocket connection.

    python examples/chat_tk.py                     # talks to `pinws demo --serve`
    python examples/chat_tk.py --pin sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
                                                   # the same server, wrong pin: refused
    python examples/chat_tk.py wss://host/chat --pin sha256/... --pin sha256/...

The connection runs on pinws's worker thread; TkExecutor runs every callback
on the Tk thread, so they may touch the widgets. Messages are sent from the
Tk thread while the worker receives.
"""

from __future__ import annotations

import tkinter as tk
from typing import Optional

import websocket
from chat_common import Target, parse_args, target

import pinws
from pinws.executors import TkExecutor


class ChatWindow:
    """A message list, an entry line and a connection status, in *root*."""

    def __init__(self, root: tk.Tk, server: Target) -> None:
        self.root = root
        self.dialog: Optional[tk.Toplevel] = None
        root.title("pinws chat (Tk)")
        root.geometry("520x360")
        self.status = tk.Label(root, text="connecting…", anchor="w")
        self.status.pack(side="bottom", fill="x", padx=6, pady=4)
        line = tk.Frame(root)
        line.pack(side="bottom", fill="x", padx=6)
        self.entry = tk.Entry(line)
        self.entry.pack(side="left", fill="x", expand=True)
        self.entry.bind("<Return>", lambda event: self.send())
        tk.Button(line, text="Send", command=self.send).pack(side="right")
        self.messages = tk.Listbox(root)
        self.messages.pack(fill="both", expand=True, padx=6, pady=6)
        self.app = pinws.PinnedWebSocketApp(
            server.url,
            pins=server.pins,
            ca_certs=server.ca_certs,
            on_open=lambda app: self.show_status(f"connected to {server.url}"),
            on_message=lambda app, message: self.messages.insert("end", message),
            on_error=self.on_error,
            on_close=self.on_close,
            callback_executor=TkExecutor(root),  # callbacks run on this thread
        )
        root.protocol("WM_DELETE_WINDOW", self.quit)

    def start(self) -> None:
        self.app.start(reconnect=5)

    def show_status(self, text: str) -> None:
        self.status["text"] = text

    def send(self) -> None:
        try:
            self.app.send(self.entry.get())
        except websocket.WebSocketConnectionClosedException:
            self.show_status("not connected")
            return
        self.entry.delete(0, "end")

    def on_error(self, app: pinws.PinnedWebSocketApp, error: Exception) -> None:
        if isinstance(error, pinws.PinningError):
            # The same server is refused again on every retry: stop and say why.
            app.close()
            self.show_status(f"refused: {error.summary}")
            self.dialog = refusal_dialog(self.root, error)
        else:
            self.show_status(f"error: {' '.join(str(error).split())}")

    def on_close(
        self, app: pinws.PinnedWebSocketApp, code: object, reason: object
    ) -> None:
        if not self.status["text"].startswith("refused"):
            self.show_status("disconnected")

    def quit(self) -> None:
        self.app.close()  # returns at once; the worker ends promptly
        self.app.join(timeout=1)
        self.root.destroy()


def refusal_dialog(parent: tk.Tk, error: pinws.PinningError) -> tk.Toplevel:
    """The one-line summary, and the full message to fix the pins with."""
    dialog = tk.Toplevel(parent)
    dialog.title("Connection refused")
    dialog.geometry("600x280")
    dialog.transient(parent)
    summary = tk.Label(dialog, text=error.summary, wraplength=540, justify="left")
    summary.pack(anchor="w", padx=8, pady=8)
    tk.Button(dialog, text="Close", command=dialog.destroy).pack(side="bottom", pady=6)
    scroll = tk.Scrollbar(dialog, orient="horizontal")
    scroll.pack(side="bottom", fill="x", padx=8)
    details = tk.Text(dialog, height=8, wrap="none", font="TkFixedFont")
    details.configure(xscrollcommand=scroll.set)
    scroll.configure(command=details.xview)
    details.insert("1.0", str(error))
    details.configure(state="disabled")
    details.pack(fill="both", expand=True, padx=8)
    return dialog


def main() -> None:
    args = parse_args("A Tk chat window over a pinned WebSocket connection.")
    with target(args) as server:
        root = tk.Tk()
        ChatWindow(root, server).start()
        root.mainloop()


if __name__ == "__main__":
    main()
