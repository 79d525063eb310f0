"""Digits on an emulated channel: one ChannelDtmfReceived per digit, at the digit's end (02a, 02b)."""

from __future__ import annotations

import functools

from .ari_model import Asterisk, Channel

__all__ = ["send_dtmf"]


def send_dtmf(ast: Asterisk, to: Channel, digits: str, duration_ms: int, between_ms: int, after: float = 0.0) -> None:
    """Digits arriving on `to`: one ChannelDtmfReceived per valid digit, at each digit's end (02a)."""
    step = (duration_ms + between_ms) / 1000.0
    for i, digit in enumerate(digits):
        if digit in "0123456789*#ABCD":  # others only log "Illegal DTMF character"
            ast.digits.append(to.later(after + i * step + duration_ms / 1000.0, functools.partial(_dtmf, ast, to, digit, duration_ms)))


def _dtmf(ast: Asterisk, ch: Channel, digit: str, duration_ms: int) -> None:
    if ch.alive and ch.app is not None:
        ast.chan_event(ch, "ChannelDtmfReceived", digit=digit, duration_ms=duration_ms)
