"""TLS: the pyOpenSSL context, and the checks made inside every handshake."""
