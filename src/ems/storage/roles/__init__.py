"""The store's operations written once for every driver, one module per role, over
:mod:`ems.storage.engine.statements`; each driver adds only what its dialect needs."""
