"""Runs a document's Python blocks, one after another, in one namespace (like one REPL session).

Reads JSON lines on stdin: first ``{"context": {...}, "prelude": "..."}`` (placeholders.py's
PYTHON_PRELUDE, which makes names from the context), then ``{"code", "name"}`` per block; answers ``{"output", "error"}`` per block
on stdout, with what the block printed and its traceback, if it raised.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import traceback
from typing import Any


def main() -> None:
    sys.path[0] = ""  # imports from the reader's directory, as in `python -c`, not from here
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    protocol = sys.stdout
    for line in sys.stdin:
        message = json.loads(line)
        if "context" in message:
            namespace["CONTEXT"] = message["context"]
            exec(message["prelude"], namespace)
            continue
        captured = io.StringIO()
        error = None
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            try:
                exec(compile(message["code"], message["name"], "exec"), namespace)
            except BaseException:  # a block's failure is the test's to report
                error = traceback.format_exc()
        protocol.write(json.dumps({"output": captured.getvalue(), "error": error}) + "\n")
        protocol.flush()


if __name__ == "__main__":
    main()
