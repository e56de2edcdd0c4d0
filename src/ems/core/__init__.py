"""Domain rules of EMS: no HTTP and no SQL live here."""
