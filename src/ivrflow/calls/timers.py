"""The engine's timers as deadlines, kept by the call layer for every switch alike."""

from __future__ import annotations

import heapq

from ..engine import Timer


class TimerHeap:
    """Deadlines on the call's own clock; whoever runs the call waits until the nearest one.

    No event-loop timer per engine timer: an idle call costs nothing until its
    switch or its nearest deadline wakes it. A cancelled timer is forgotten
    lazily, when it reaches the top of the heap.
    """

    __slots__ = ("_heap", "_live")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._live: dict[Timer, float] = {}

    def start(self, timer: Timer, deadline: float) -> None:
        self._live[timer] = deadline
        heapq.heappush(self._heap, (deadline, timer.seq, timer))

    def cancel(self, timer: Timer) -> None:
        self._live.pop(timer, None)

    def clear(self) -> None:
        self._heap.clear()
        self._live.clear()

    def _drop_dead(self) -> None:
        while self._heap and self._live.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)

    def next_deadline(self) -> float | None:
        self._drop_dead()
        return self._heap[0][0] if self._heap else None

    def next_timer(self) -> Timer | None:
        self._drop_dead()
        return self._heap[0][2] if self._heap else None

    def pop_due(self, now: float) -> list[Timer]:
        due = []
        while (deadline := self.next_deadline()) is not None and deadline <= now:
            _, _, timer = heapq.heappop(self._heap)
            del self._live[timer]
            due.append(timer)
        return due

    def __len__(self) -> int:
        return len(self._live)
