"""Transport: a socket-like object over a pyOpenSSL connection."""
