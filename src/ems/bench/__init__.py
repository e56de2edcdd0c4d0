"""Load generation for EMS: a lean HTTP/1.1 client that does not become the bottleneck."""
