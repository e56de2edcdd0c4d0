"""The version and the distribution's name, in a module of their own: the client and the server
read them, and the package's ``__init__`` (which re-exports the client) must not be what they
import to get them.
"""

__version__ = "0.1.0"
# the name to `pip install`: "ems" on the package index is somebody else's project
DISTRIBUTION = "easy-message-service"
