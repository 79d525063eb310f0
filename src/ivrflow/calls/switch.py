"""What the call layer asks of a switch: the `Switch` protocol every adapter implements.

The driver calls these after the engine's `handle` has returned, one output
at a time, never from inside the engine. A method only starts the work: what
the switch says back (a playback ended, a transfer's verdict, the caller hung
up, the switch failed) reaches the call as an engine event posted to the
driver's inbox, never as a return value. A method may raise `UnsafeValue`
for a value it refuses to put on the wire; the driver then ends the call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from ..engine import Play, PlaySilence, SayDigits, Speak, StartSpeech

Playable = Play | PlaySilence | SayDigits


class UnsafeValue(ValueError):
    """A value that must not reach the switch (checks at load should have caught it)."""


class Switch(Protocol):
    def answer(self) -> None: ...

    def play(self, prompt: Playable) -> None:
        """Start a prompt; the switch reports PlaybackFinished(prompt.play_id) when it ends."""

    def stop_playback(self, play_id: int) -> None:
        """Stop a prompt that is queued or playing; its PlaybackFinished still follows if it started."""

    def speak(self, prompt: Speak) -> None:
        """Speak text as a prompt: PlaybackFinished(prompt.play_id) and stop_playback as for `play`.

        The engine asks only where the runtime configured speech synthesis for this switch.
        """

    def start_speech(self, listen: StartSpeech) -> None:
        """Recognise the caller's speech; the switch reports SpeechDetected(listen.listen_id) once.

        The engine asks only where the runtime configured speech recognition for this switch.
        """

    def stop_speech(self, listen_id: int) -> None:
        """Stop a recognition (a no-op when it already ended)."""

    def set_variable(self, name: str, value: str) -> None: ...

    def set_caller_id(self, field: Literal["number", "name"], value: str) -> None: ...

    def transfer(
        self, destinations: tuple[str, ...], kind: Literal["transfer", "simple_transfer"], ring_timeout: int | None = None
    ) -> None:
        """Hand the call on; the switch reports TransferFinished.

        With `ring_timeout` the call stays with the switch's control (a bridge)
        and TransferFinished says whether a destination answered within it.
        """

    def hang_up(self, cause: str) -> None: ...

    def record_message(self, job: int, path: Path, max_seconds: int, silence_threshold: int, silence_seconds: int) -> None:
        """Record the caller into `path` (a WAV file) until `#`, `max_seconds` or the silence cut-off;
        the switch reports MessageRecorded(job), also when the caller hangs up meanwhile."""

    def finished(self) -> None:
        """The engine is done with the call: let go of it by the adapter's release rules."""
