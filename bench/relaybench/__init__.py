"""Helpers of the relay benchmark: servers, load generator, report.

``bench/relay_vs_peerjs.py`` is the entry point; nothing here is part of
p2plab or its server.
"""
