"""EMS, the Easy Message Service: durable queues over plain HTTP."""

__version__ = "0.1.0"
