"""``ems.errors``: every exception the client raises, under the name the documentation uses.

The tree is defined, and explained, in :mod:`ems.client.errors`; this module holds the same
classes (not copies), so ``except ems.errors.QueueNotFound`` catches what the client raises.
``import ems.errors`` works, and so does ``ems.errors`` after a plain ``import ems``.
"""

from ems.client.errors import *  # noqa: F403 (the whole tree, by design)
