"""What a delete or a visibility change by receipt handle did, decided the same way by every
store: DONE, FOREIGN (a receipt of another queue), STALE (the message was received again since)
or GONE (it no longer exists). A store acts on the receipts, then asks these functions."""

from __future__ import annotations

from collections.abc import Sequence

from ems.core.models import Outcome, Receipt

# (queue key, seq, receive count) of a message a statement acted on
Acted = tuple[int, int, int]


def why_not(found_in_partition: int | None, queue_partition: int) -> Outcome:
    """A receipt acted on nothing: STALE if its message is still in the queue (in
    ``found_in_partition``; None: nowhere), else GONE."""
    return Outcome.STALE if found_in_partition == queue_partition else Outcome.GONE


def unmatched(entries: Sequence[tuple[int, Receipt]], done: set[Acted]) -> list[tuple[int, int]]:
    """(queue key, seq) of the receipts of their own queue that acted on nothing: the messages
    whose presence decides between STALE and GONE."""
    return [
        (key, r.seq)
        for key, r in entries
        if r.queue_key == key and (key, r.seq, r.receive_count) not in done
    ]


def outcomes(
    entries: Sequence[tuple[int, Receipt]],
    done: set[Acted],
    present: set[tuple[int, int]],
    *,
    repeat: bool = False,
) -> list[Outcome]:
    """Per (queue key, receipt), as if handled one after the other. ``done`` holds the messages
    acted on, ``present`` those of :func:`unmatched` still there; ``repeat`` for visibility
    changes, which may act on a message more than once."""
    # (queue key, seq) -> index of the entry that acted on it first
    first: dict[tuple[int, int], int] = {}
    for index, (key, receipt) in enumerate(entries):
        if (key, receipt.seq, receipt.receive_count) in done and receipt.queue_key == key:
            first.setdefault((key, receipt.seq), index)
    answers = []
    for index, (key, receipt) in enumerate(entries):
        message = (key, receipt.seq)
        if receipt.queue_key != key:
            answers.append(Outcome.FOREIGN)
        elif (*message, receipt.receive_count) in done and (repeat or first[message] == index):
            answers.append(Outcome.DONE)
        elif message in present or first.get(message, -1) > index:
            answers.append(Outcome.STALE)  # still there when this receipt's turn came
        else:
            answers.append(Outcome.GONE)
    return answers
