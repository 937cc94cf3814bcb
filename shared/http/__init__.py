"""Scheduled HTTP calls: the guarded transport, redirects and signing, classification and decoding, SSRF."""
