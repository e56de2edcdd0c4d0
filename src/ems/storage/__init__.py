"""Storage backends behind one interface, :class:`ems.storage.base.Store`."""
