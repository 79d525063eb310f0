"""Uploaded sounds: WAV or MP3, checked, and a telephony copy (mono 16-bit PCM WAV, 8 kHz) made."""

from __future__ import annotations

import io
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError

from ..tools.sound_prep import _parse_wav, _plain_wav, _check_pcm, _Refused

MAX_BYTES = 10 * 1024 * 1024


class BadAudio(ValueError):
    pass


def telephony_copy(data: bytes, filename: str) -> bytes:
    """The file as the switch plays it; BadAudio says why a file is refused."""
    if len(data) > MAX_BYTES:
        raise BadAudio(f"the file has {len(data)} bytes, at most {MAX_BYTES} (10 MB) are accepted")
    if data[:4] == b"RIFF":
        try:
            fmt, pcm = _parse_wav(data)
            _check_pcm(fmt, len(pcm))
        except _Refused as exc:
            raise BadAudio(str(exc)) from exc
        segment = AudioSegment(data=_plain_wav(fmt, pcm))
    elif filename.lower().endswith(".mp3") or data[:3] == b"ID3" or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        try:
            segment = AudioSegment.from_file(io.BytesIO(data), format="mp3")
        except (CouldntDecodeError, IndexError, KeyError, OSError) as exc:
            raise BadAudio("not a readable MP3 file") from exc
    else:
        raise BadAudio("not a WAV or MP3 file")
    if segment.frame_count() == 0:
        raise BadAudio("no audio (0 sample frames)")
    out = io.BytesIO()
    # ffmpeg resamples (swresample's windowed-sinc low-pass), unlike pydub's own set_frame_rate.
    segment.export(out, format="wav", parameters=["-ac", "1", "-ar", "8000", "-acodec", "pcm_s16le"])
    return out.getvalue()
