"""The ASGI application: routing, handlers per resource, problem+json errors."""
