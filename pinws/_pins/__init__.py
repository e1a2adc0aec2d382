"""Pins: parsing, hashing and (later) the policy that says which apply where."""
