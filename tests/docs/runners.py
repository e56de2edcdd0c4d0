"""Running a document's blocks in order, as a reader pasting them into one terminal would.

Shell blocks run in bash, one process each, with ``set -e -o pipefail``; the shell variables,
functions and working directory a block leaves are carried to the next block of the same
document, so ``Q=$(...)`` in one block is ``$Q`` in the next. Python blocks run in one Python
process per document (tests/docs/kernel.py), so names carry over the same way.

What a block must show is read from the block itself:

- every command succeeds (a Python block raises nothing);
- every curl answer is below 400, unless the block says ``# answers NNN`` for that status;
- each ``# prints: TEXT`` comment's TEXT appears in the block's output.
"""

from __future__ import annotations

import json
import re
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BLOCK_SECONDS = 90.0
_STATUS = re.compile(r"<<docs-test curl (\d{3})>>")
_ANSWERS = re.compile(r"#.*?\banswers (\d{3})")
_PRINTS = re.compile(r"#\s*prints:\s*(.+?)\s*$", re.MULTILINE)

SHELL_PROLOGUE = r"""
__docs_known=" $(compgen -v | tr '\n' ' ') "
source "$DOCS_STATE/state.sh"
__docs_receipt_handle() {  # the Nth-last receipt handle curl printed
    grep -o '"receipt_handle": *"[^"]*"' "$DOCS_STATE/curl.out" | tail -n "$1" | head -n 1 \
        | sed 's/.*"\([^"]*\)"$/\1/'
}
__docs_save() {
    local name
    {
        for name in $(compgen -v); do
            case "$__docs_known" in *" $name "*) continue ;; esac
            case "$name" in __docs_*) continue ;; esac
            declare -p "$name" 2>/dev/null || true
        done
        declare -f
        printf 'cd %q\n' "$PWD"
    } > "$DOCS_STATE/state.next" && mv "$DOCS_STATE/state.next" "$DOCS_STATE/state.sh"
}
trap __docs_save EXIT
set -e -o pipefail
"""


@dataclass
class Outcome:
    ok: bool
    output: str  # what the block printed (stdout, then stderr)
    problem: str = ""

    def describe(self, code: str) -> str:
        return f"{self.problem}\n--- block as run:\n{code}--- output:\n{self.output}"


def check_output(code: str, stdout: str, outcome: Outcome) -> Outcome:
    """The block's own claims: ``# prints:`` texts and ``# answers`` statuses."""
    if not outcome.ok:
        return outcome
    missing = [text for text in _PRINTS.findall(code) if text not in stdout]
    if missing:
        return Outcome(False, outcome.output, f"the block says it prints {missing!r}")
    return outcome


class Shell:
    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.directory = directory
        self.env = env
        (Path(env["DOCS_STATE"]) / "state.sh").write_text(f"cd {directory}\n")
        (Path(env["DOCS_STATE"]) / "curl.out").touch()

    def run(self, code: str) -> Outcome:
        script = Path(self.env["DOCS_STATE"]) / "block.sh"
        script.write_text(SHELL_PROLOGUE + code)
        try:
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", str(script)],
                cwd=self.directory,
                env=self.env,
                capture_output=True,
                timeout=BLOCK_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as timeout:
            output = (timeout.stdout or b"").decode(errors="replace")
            return Outcome(False, output, f"did not finish in {BLOCK_SECONDS:.0f} s")
        stdout = done.stdout.decode(errors="replace")
        stderr = done.stderr.decode(errors="replace")
        output = stdout + stderr
        if done.returncode != 0:
            return Outcome(False, output, f"a command failed (exit status {done.returncode})")
        allowed = {int(s) for s in _ANSWERS.findall(code)}
        refused = [s for s in map(int, _STATUS.findall(stderr)) if s >= 400 and s not in allowed]
        if refused:
            return Outcome(
                False, output, f"curl got {refused} (say `# answers NNN` if that is the point)"
            )
        return check_output(code, stdout, Outcome(True, output))


class Python:
    """One Python process for a document's Python blocks (tests/docs/kernel.py)."""

    def __init__(
        self, directory: Path, env: dict[str, str], context: dict[str, object], prelude: str
    ) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("kernel.py"))],
            cwd=directory,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._send({"context": context, "prelude": prelude})

    def _send(self, message: dict[str, object]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def run(self, code: str, name: str) -> Outcome:
        self._send({"code": code, "name": name})
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], BLOCK_SECONDS)
        if not ready:
            self.close()
            return Outcome(False, "", f"did not finish in {BLOCK_SECONDS:.0f} s")
        line = self.process.stdout.readline()
        if not line:
            return Outcome(False, "", "the Python process died")
        result = json.loads(line)
        outcome = Outcome(result["error"] is None, result["output"], result["error"] or "")
        return check_output(code, result["output"], outcome)

    def close(self) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        if not self.process.stdin.closed:
            self.process.stdin.close()  # the kernel's end of input: it returns
        # a moment for a clean exit; threads a block left running (a worker in a long poll)
        # would hold it for up to 20 s more
        deadline = time.monotonic() + 2
        while self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.process.stdout.close()
