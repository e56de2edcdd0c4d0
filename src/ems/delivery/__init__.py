"""Webhook push: the dispatcher, its HTTP client, the SSRF guard, signing and retries."""
