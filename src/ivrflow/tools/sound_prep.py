"""`ivrflow sounds prepare`: convert prompts to the WAV format FreeSWITCH plays without transcoding.

FreeSWITCH plays a file cheapest when it already matches the channel: 16-bit PCM at the call's
sample rate (8000 Hz for G.711), mono. Every WAV, MP3 and OGG under a source directory is
converted to that; files that cannot be converted faithfully are refused one by one, so a
single bad prompt never stops the others from being prepared.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import struct
import sys
import warnings
import wave
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

with warnings.catch_warnings():
    # pydub warns at import when ffmpeg is absent; WAV files need no ffmpeg.
    warnings.simplefilter("ignore", RuntimeWarning)
    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError

# The rates FreeSWITCH's own sound packs are published in (one directory per rate).
RATES = (8000, 16000, 32000, 48000)
CHANNELS = (1, 2)
INPUT_SUFFIXES = (".wav", ".mp3", ".ogg")
# pydub asks ffprobe for a compressed file's stream format, then decodes it with ffmpeg.
FFMPEG_TOOLS = ("ffmpeg", "ffprobe")

_OUTPUT_WIDTH = 2  # bytes per sample: 16-bit PCM
_WAVE_FORMAT_PCM = 0x0001
_WAVE_FORMAT_IEEE_FLOAT = 0x0003
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_PCM_BITS = (8, 16, 24, 32)


class Outcome(StrEnum):
    CONVERTED = "converted"
    REFUSED = "refused"
    SKIPPED = "skipped"
    IGNORED = "ignored"


@dataclass(frozen=True)
class FileResult:
    source: Path  # relative to the source directory
    outcome: Outcome
    line: str  # the report line for this file


@dataclass
class PrepareReport:
    results: list[FileResult] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for result in self.results if result.outcome is outcome)

    @property
    def ok(self) -> bool:
        """True when every audio file asked for was converted (ignored non-audio files do not count)."""
        return self.count(Outcome.REFUSED) == 0 and self.count(Outcome.SKIPPED) == 0

    def summary(self) -> str:
        counts = (f"{self.count(outcome)} {outcome}" for outcome in Outcome)
        return ", ".join(counts)


class _Refused(Exception):
    """A source file that cannot be converted; the message says why, for the report."""


@dataclass(frozen=True)
class _Format:
    rate: int
    channels: int
    encoding: str  # "16-bit" for PCM, the codec's file type for compressed sources

    def describe(self) -> str:
        return f"{self.rate} Hz {_channel_name(self.channels)} {self.encoding}"


@dataclass(frozen=True)
class _WavFmt:
    tag: int
    subformat: int | None  # the WAVE_FORMAT_EXTENSIBLE subformat GUID's leading code
    channels: int
    rate: int
    block_align: int
    bits: int


def prepare(src: Path, dst: Path, rate: int = 8000, channels: int = 1) -> PrepareReport:
    """Convert every WAV/MP3/OGG under `src` into `dst` (same relative paths, `.wav`)."""
    if rate not in RATES:
        raise ValueError(f"rate {rate} Hz is not one FreeSWITCH plays natively ({', '.join(map(str, RATES))})")
    if channels not in CHANNELS:
        raise ValueError(f"channels must be 1 or 2, not {channels}")
    if not src.is_dir():
        if src.exists():
            raise ValueError(
                f"{src} is a file; SRC_DIR is a directory of prompts (converted recursively): "
                f"give the directory that holds it, e.g. {src.parent}"
            )
        raise ValueError(f"{src} does not exist; SRC_DIR is a directory of prompts (converted recursively)")
    dst.mkdir(parents=True, exist_ok=True)
    src_root, dst_root = src.resolve(), dst.resolve()
    sources = _sources(src_root, dst_root)
    audio = [path for path in sources if path.suffix.lower() in INPUT_SUFFIXES]
    clashes = _clashing_outputs(src_root, audio)
    # Both spellings: an input may be a symbolic link, and an output path may reach a file through one.
    inputs = frozenset(audio) | {path.resolve() for path in audio}
    want = _Format(rate, channels, "16-bit")
    report = PrepareReport()
    for path in sources:
        report.results.append(_prepare_one(path, src_root, dst_root, inputs, clashes, want))
    return report


def _sources(src_root: Path, dst_root: Path) -> list[Path]:
    """Files under the source directory, leaving out a destination nested inside it (earlier outputs)."""
    nested_dst = dst_root != src_root and dst_root.is_relative_to(src_root)
    files = (path for path in src_root.rglob("*") if path.is_file())
    return sorted(path for path in files if not (nested_dst and path.is_relative_to(dst_root)))


def _clashing_outputs(src_root: Path, audio: Iterable[Path]) -> dict[Path, list[Path]]:
    """Sources whose outputs would collide (a.mp3 and a.wav both make a.wav), by source."""
    by_output: defaultdict[Path, list[Path]] = defaultdict(list)
    for path in audio:
        by_output[_output_name(path.relative_to(src_root))].append(path)
    return {path: group for group in by_output.values() if len(group) > 1 for path in group}


def _output_name(relative: Path) -> Path:
    return relative.with_suffix(".wav")


def _prepare_one(
    path: Path, src_root: Path, dst_root: Path, inputs: frozenset[Path], clashes: dict[Path, list[Path]], want: _Format
) -> FileResult:
    relative = path.relative_to(src_root)
    shown = relative.as_posix()
    if path.suffix.lower() not in INPUT_SUFFIXES:
        return FileResult(relative, Outcome.IGNORED, f"ignored {shown}: not a {', '.join(INPUT_SUFFIXES)} file")
    output = _output_name(relative)
    arrow = f"{shown} -> {output.as_posix()}"
    if path in clashes:
        others = ", ".join(other.relative_to(src_root).as_posix() for other in clashes[path] if other != path)
        return FileResult(relative, Outcome.SKIPPED, f"skipped {arrow}: {others} would make the same output")
    target = dst_root / output
    if target in inputs or target.resolve() in inputs:
        return FileResult(relative, Outcome.SKIPPED, f"skipped {arrow}: the output would overwrite an input file")
    try:
        done = _convert_file(path, target, dst_root, want)
    except _Refused as exc:
        return FileResult(relative, Outcome.REFUSED, f"refused {shown}: {exc}")
    return FileResult(relative, Outcome.CONVERTED, f"converted {arrow} ({done})")


def _convert_file(path: Path, target: Path, dst_root: Path, want: _Format) -> str:
    """Convert one file; returns the "from -> to, duration" description for the report."""
    source, segment = _read(path)
    converted = _convert(segment, want)
    _write_wav(converted, _checked_target(target, dst_root))
    seconds = converted.frame_count() / converted.frame_rate
    return f"{source.describe()} -> {want.describe()}, {seconds:.2f} s"


def _read(path: Path) -> tuple[_Format, AudioSegment]:
    if path.suffix.lower() == ".wav":
        return _read_wav(path)
    return _read_compressed(path)


def _read_wav(path: Path) -> tuple[_Format, AudioSegment]:
    data = _read_bytes(path)
    fmt, pcm = _parse_wav(data)
    _check_pcm(fmt, len(pcm))
    # pydub's own WAV reader trusts declared sizes and treats an extensible float file as integers;
    # handing it a freshly written plain PCM file of the checked samples leaves it nothing to guess.
    segment = AudioSegment(data=_plain_wav(fmt, pcm))
    return _Format(fmt.rate, fmt.channels, f"{fmt.bits}-bit"), segment


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _Refused(f"unreadable ({exc.strerror or exc})") from exc


def _parse_wav(data: bytes) -> tuple[_WavFmt, bytes]:
    """The fmt chunk and the sample bytes of a RIFF/WAVE file, refusing truncated or malformed ones."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        if b"RIFF".startswith(data[:4]) and len(data) < 12:
            raise _Refused("truncated (shorter than a WAV header)")
        raise _Refused("not audio (no RIFF/WAVE header)")
    fmt: _WavFmt | None = None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if body + size > len(data):
            name = chunk_id.decode("latin-1")
            raise _Refused(f"truncated ({name!r} chunk declares {size} bytes, {len(data) - body} present)")
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(data[body : body + size])
        elif chunk_id == b"data":
            if fmt is None:
                raise _Refused("malformed WAV (data chunk before fmt chunk)")
            return fmt, data[body : body + size]
        pos = body + size + (size & 1)  # chunks are padded to an even length
    raise _Refused("truncated (no fmt chunk)" if fmt is None else "truncated (no data chunk)")


def _parse_fmt(body: bytes) -> _WavFmt:
    if len(body) < 16:
        raise _Refused(f"malformed WAV (fmt chunk of {len(body)} bytes)")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", body)
    subformat = None
    if tag == _WAVE_FORMAT_EXTENSIBLE:
        if len(body) < 40:
            raise _Refused(f"malformed WAV (extensible fmt chunk of {len(body)} bytes)")
        # The SubFormat GUID starts at byte 24; its first two bytes are the plain format tag.
        subformat = struct.unpack_from("<H", body, 24)[0]
    return _WavFmt(tag, subformat, channels, rate, block_align, bits)


def _check_pcm(fmt: _WavFmt, data_size: int) -> None:
    encoding = fmt.subformat if fmt.tag == _WAVE_FORMAT_EXTENSIBLE else fmt.tag
    if encoding == _WAVE_FORMAT_IEEE_FLOAT:
        raise _Refused(f"{fmt.bits}-bit floating-point WAV; export it as integer PCM (16-bit) first")
    if encoding != _WAVE_FORMAT_PCM:
        raise _Refused(f"unsupported WAV encoding (format 0x{encoding:04X}); only integer PCM is read")
    if fmt.bits not in _PCM_BITS:
        raise _Refused(f"unsupported sample size ({fmt.bits} bits)")
    if fmt.channels == 0 or fmt.rate == 0 or fmt.block_align != fmt.channels * fmt.bits // 8:
        raise _Refused(f"malformed WAV ({fmt.channels} channels, {fmt.rate} Hz, block align {fmt.block_align})")
    if data_size % fmt.block_align:
        raise _Refused("truncated (the last sample frame is incomplete)")
    if data_size == 0:
        raise _Refused("no audio (0 sample frames)")


def _plain_wav(fmt: _WavFmt, pcm: bytes) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(fmt.channels)
        out.setsampwidth(fmt.bits // 8)
        out.setframerate(fmt.rate)
        out.writeframes(pcm)
    return buffer.getvalue()


def _read_compressed(path: Path) -> tuple[_Format, AudioSegment]:
    kind = path.suffix.lower().lstrip(".")
    missing = [tool for tool in FFMPEG_TOOLS if shutil.which(tool) is None]
    if missing:
        raise _Refused(f"decoding {kind.upper()} needs ffmpeg, which is not installed (missing: {', '.join(missing)})")
    try:
        segment = AudioSegment.from_file(path, format=kind)
    except CouldntDecodeError as exc:
        raise _Refused(f"not audio, or damaged (ffmpeg: {_last_line(str(exc))})") from exc
    except (IndexError, KeyError) as exc:
        # ffprobe read the file but listed no audio stream for pydub to pick.
        raise _Refused("not audio (no audio stream)") from exc
    if segment.frame_count() == 0:
        raise _Refused("no audio (0 sample frames)")
    return _Format(segment.frame_rate, segment.channels, kind), segment


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _convert(segment: AudioSegment, want: _Format) -> AudioSegment:
    try:
        # Widen or narrow to 16-bit first so mixing and resampling round at the output's precision.
        return segment.set_sample_width(_OUTPUT_WIDTH).set_channels(want.channels).set_frame_rate(want.rate)
    except ValueError as exc:
        raise _Refused(f"cannot convert {segment.channels} channels to {want.channels}") from exc


def _checked_target(target: Path, dst_root: Path) -> Path:
    """The output path, once sure that no symbolic link inside the destination leads it elsewhere."""
    if not target.resolve().is_relative_to(dst_root):
        raise _Refused(f"the output {target} would land outside {dst_root} through a symbolic link")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _write_wav(segment: AudioSegment, target: Path) -> None:
    # Written beside the target and renamed over it: the destination is often the live sound
    # directory, and FreeSWITCH must never play a half-written prompt.
    partial = target.with_name(f".{target.name}.part")
    partial.unlink(missing_ok=True)
    try:
        # "x" refuses to follow a symbolic link planted at the temporary name.
        with open(partial, "xb") as raw, wave.open(raw, "wb") as out:
            out.setnchannels(segment.channels)
            out.setsampwidth(segment.sample_width)
            out.setframerate(segment.frame_rate)
            out.writeframes(segment.raw_data)
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise _Refused(f"cannot write {target} ({exc.strerror or exc})") from exc


def _channel_name(channels: int) -> str:
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}-channel")


def add_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `sounds prepare` on the main parser's subcommands."""
    sounds = subparsers.add_parser("sounds", help="work on prompt sound files")
    actions = sounds.add_subparsers(required=True, metavar="ACTION")
    command = actions.add_parser(
        "prepare", help="convert WAV/MP3/OGG prompts to 16-bit PCM WAV at the rate FreeSWITCH plays"
    )
    command.add_argument("src", type=Path, metavar="SRC_DIR", help="directory of prompts, read recursively")
    command.add_argument("dst", type=Path, metavar="DST_DIR", help="directory for the .wav outputs (same relative paths)")
    command.add_argument("--rate", type=int, choices=RATES, default=8000, help="output sample rate in Hz (default 8000)")
    command.add_argument("--channels", type=int, choices=CHANNELS, default=1, help="output channels (default 1)")
    command.set_defaults(run=_run_prepare)


def _run_prepare(args: argparse.Namespace) -> int:
    try:
        report = prepare(args.src, args.dst, rate=args.rate, channels=args.channels)
    except (ValueError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 1
    for result in report.results:
        failed = result.outcome in (Outcome.REFUSED, Outcome.SKIPPED)
        print(result.line, file=sys.stderr if failed else sys.stdout)
    print(report.summary(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1
