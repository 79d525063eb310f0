"""FreeSWITCH's header-value URL encoding, both directions.

FreeSWITCH encodes every header value of a plain event (and of the ``connect``
reply) with ``switch_url_encode``.  That encoder is lossy: a ``%`` that is
already followed by two *uppercase* hex digits is copied unchanged, so a value
that contains a literal ``%41`` decodes to ``A`` on the client.  The decoder
here mirrors the reference C client: ``%XX`` (either case) becomes one byte,
anything else is copied.
"""

from __future__ import annotations

# Bytes that switch_url_encode escapes besides controls and non-ASCII.
_UNSAFE = frozenset(b'\r\n #%&+:;<=>?@[\\]^`{|}"')
_UPPER_HEX = frozenset(b"0123456789ABCDEF")
_ANY_HEX = frozenset(b"0123456789ABCDEFabcdef")

# One precomputed replacement per byte keeps encoding a table lookup.
_ESCAPED = tuple(f"%{c:02X}" for c in range(256))
_LITERAL = tuple(chr(c) for c in range(256))


def _needs_escape(c: int) -> bool:
    return c < 0x20 or c > 0x7E or c in _UNSAFE


_TABLE = tuple(_ESCAPED[c] if _needs_escape(c) else _LITERAL[c] for c in range(256))


def fs_url_encode(value: str) -> str:
    """Encode ``value`` exactly as FreeSWITCH's ``switch_url_encode`` does."""
    raw = value.encode("utf-8")
    if not any(_needs_escape(c) for c in raw):
        return value
    out: list[str] = []
    n = len(raw)
    for i, c in enumerate(raw):
        if (
            c == 0x25
            and i + 2 < n
            and raw[i + 1] in _UPPER_HEX
            and raw[i + 2] in _UPPER_HEX
        ):
            out.append("%")
        else:
            out.append(_TABLE[c])
    return "".join(out)


def url_decode_bytes(raw: bytes) -> bytes:
    """Turn every ``%XX`` into its byte; leave malformed escapes as they are."""
    if b"%" not in raw:
        return raw
    out = bytearray()
    i = 0
    n = len(raw)
    while i < n:
        c = raw[i]
        if c == 0x25 and i + 2 < n and raw[i + 1] in _ANY_HEX and raw[i + 2] in _ANY_HEX:
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return bytes(out)


def decode_text(raw: bytes) -> str:
    """Bytes to text: UTF-8 when valid, else Latin-1 so no byte is ever lost."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def fs_url_decode(value: bytes) -> str:
    """Decode one header value as received on the wire."""
    return decode_text(url_decode_bytes(value))
