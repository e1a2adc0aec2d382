"""Test helpers: certificate authorities and real servers on loopback."""
