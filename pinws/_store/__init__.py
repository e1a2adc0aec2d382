"""Remembered pins: the pin store, HPKP headers and trust on first use."""
