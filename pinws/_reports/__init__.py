"""Sending pin failure reports: the HTTP side of ``report_uri``."""
