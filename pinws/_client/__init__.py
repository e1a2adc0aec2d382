"""The client: the pinned WebSocket, the app around it, create_connection."""
