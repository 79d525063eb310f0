"""`ivrflow sounds prepare`: what it writes (checked with the stdlib `wave`), and what it refuses."""

from __future__ import annotations

import argparse
import array
import os
import struct
import subprocess
import wave
from pathlib import Path

import pytest

from ivrflow.tools.sound_prep import PrepareReport, add_command, prepare


def write_wav(path: Path, *, channels: int, width: int, rate: int, frames: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(frames)
    return path


def constant_16bit(path: Path, *, value: int, seconds: float, rate: int = 44100, channels: int = 2) -> Path:
    frames = struct.pack(f"<{channels}h", *[value] * channels) * round(seconds * rate)
    return write_wav(path, channels=channels, width=2, rate=rate, frames=frames)


def header_wav(fmt_body: bytes, data: bytes) -> bytes:
    """A WAV file assembled by hand, for formats the `wave` module will not write."""
    chunks = b"fmt " + struct.pack("<I", len(fmt_body)) + fmt_body + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def float_fmt(tag: int = 3, channels: int = 1, rate: int = 8000) -> bytes:
    return struct.pack("<HHIIHH", tag, channels, rate, rate * 4 * channels, 4 * channels, 32)


def extensible_fmt(subformat: int, bits: int) -> bytes:
    width = bits // 8
    guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    return struct.pack("<HHIIHHHHI", 0xFFFE, 1, 8000, 8000 * width, width, bits, 22, bits, 0x4) + struct.pack(
        "<H", subformat
    ) + guid_tail


def samples(path: Path) -> tuple[wave._wave_params, array.array[int]]:
    with wave.open(str(path), "rb") as wav:
        params = wav.getparams()
        data = array.array("h", wav.readframes(params.nframes))
    return params, data


def only(report: PrepareReport, name: str) -> str:
    lines = [result.line for result in report.results if result.source == Path(name)]
    assert len(lines) == 1, report.results
    return lines[0]


def test_converts_16bit_stereo_44k_to_8k_mono_keeping_relative_paths(tmp_path: Path) -> None:
    constant_16bit(tmp_path / "src" / "menus" / "hello.wav", value=1000, seconds=3.2)
    report = prepare(tmp_path / "src", tmp_path / "dst")
    assert only(report, "menus/hello.wav") == (
        "converted menus/hello.wav -> menus/hello.wav (44100 Hz stereo 16-bit -> 8000 Hz mono 16-bit, 3.20 s)"
    )
    params, data = samples(tmp_path / "dst" / "menus" / "hello.wav")
    assert (params.nchannels, params.sampwidth, params.framerate, params.comptype) == (1, 2, 8000, "NONE")
    assert abs(params.nframes - 25600) <= 2
    # A constant level survives downmixing and resampling (away from the resampler's first frames).
    assert all(abs(sample - 1000) <= 2 for sample in data[16:])
    assert report.ok


def test_rate_and_channels_are_configurable(tmp_path: Path) -> None:
    constant_16bit(tmp_path / "src" / "a.wav", value=-500, seconds=1.0, rate=8000, channels=1)
    report = prepare(tmp_path / "src", tmp_path / "dst", rate=16000, channels=2)
    assert "(8000 Hz mono 16-bit -> 16000 Hz stereo 16-bit, 1.00 s)" in only(report, "a.wav")
    params, data = samples(tmp_path / "dst" / "a.wav")
    assert (params.nchannels, params.sampwidth, params.framerate) == (2, 2, 16000)
    assert abs(params.nframes - 16000) <= 2
    assert all(abs(sample + 500) <= 2 for sample in data[32:])


def test_8bit_unsigned_samples_become_signed_16bit(tmp_path: Path) -> None:
    # 8-bit WAV is unsigned around 128: 136 is +8 steps, +2048 at 16 bits.
    write_wav(tmp_path / "src" / "low.wav", channels=1, width=1, rate=8000, frames=bytes([136]) * 8000)
    report = prepare(tmp_path / "src", tmp_path / "dst")
    assert "(8000 Hz mono 8-bit -> 8000 Hz mono 16-bit, 1.00 s)" in only(report, "low.wav")
    params, data = samples(tmp_path / "dst" / "low.wav")
    assert (params.nchannels, params.sampwidth, params.framerate, params.nframes) == (1, 2, 8000, 8000)
    assert set(data) == {2048}


def test_24bit_samples_are_narrowed_to_16bit(tmp_path: Path) -> None:
    frame = (1000 << 8).to_bytes(3, "little", signed=True)
    write_wav(tmp_path / "src" / "deep.wav", channels=1, width=3, rate=16000, frames=frame * 16000)
    report = prepare(tmp_path / "src", tmp_path / "dst")
    assert "(16000 Hz mono 24-bit -> 8000 Hz mono 16-bit, 1.00 s)" in only(report, "deep.wav")
    params, data = samples(tmp_path / "dst" / "deep.wav")
    assert (params.sampwidth, params.framerate) == (2, 8000)
    assert all(abs(sample - 1000) <= 2 for sample in data[16:])


def test_extensible_pcm_is_read(tmp_path: Path) -> None:
    source = tmp_path / "src" / "ext.wav"
    source.parent.mkdir()
    source.write_bytes(header_wav(extensible_fmt(subformat=1, bits=16), struct.pack("<h", 700) * 8000))
    report = prepare(tmp_path / "src", tmp_path / "dst")
    assert report.ok, report.results
    _, data = samples(tmp_path / "dst" / "ext.wav")
    assert set(data) == {700}


@pytest.mark.parametrize(
    "fmt_body",
    [float_fmt(tag=3), extensible_fmt(subformat=3, bits=32)],
    ids=["ieee-float-tag", "extensible-float-subformat"],
)
def test_float_wav_is_refused(tmp_path: Path, fmt_body: bytes) -> None:
    source = tmp_path / "src" / "float.wav"
    source.parent.mkdir()
    source.write_bytes(header_wav(fmt_body, struct.pack("<f", 0.25) * 8000))
    report = prepare(tmp_path / "src", tmp_path / "dst")
    assert only(report, "float.wav") == (
        "refused float.wav: 32-bit floating-point WAV; export it as integer PCM (16-bit) first"
    )
    assert not (tmp_path / "dst" / "float.wav").exists()
    assert not report.ok


def test_truncated_data_is_refused(tmp_path: Path) -> None:
    whole = constant_16bit(tmp_path / "whole.wav", value=1, seconds=1.0, rate=8000, channels=1).read_bytes()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "cut.wav").write_bytes(whole[: len(whole) // 2])
    report = prepare(tmp_path / "src", tmp_path / "dst")
    assert only(report, "cut.wav") == "refused cut.wav: truncated ('data' chunk declares 16000 bytes, 7978 present)"
    assert not (tmp_path / "dst" / "cut.wav").exists()


def test_truncated_header_is_refused(tmp_path: Path) -> None:
    whole = constant_16bit(tmp_path / "whole.wav", value=1, seconds=0.1, rate=8000, channels=1).read_bytes()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "head.wav").write_bytes(whole[:30])
    (tmp_path / "src" / "stub.wav").write_bytes(whole[:6])
    report = prepare(tmp_path / "src", tmp_path / "dst")
    assert only(report, "head.wav").startswith("refused head.wav: truncated ('fmt ' chunk declares 16 bytes")
    assert only(report, "stub.wav") == "refused stub.wav: truncated (shorter than a WAV header)"


def test_text_named_wav_is_refused_as_not_audio(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "notes.wav").write_text("press 1 for sales\n")
    report = prepare(tmp_path / "src", tmp_path / "dst")
    assert only(report, "notes.wav") == "refused notes.wav: not audio (no RIFF/WAVE header)"


def test_other_files_are_ignored_without_failing(tmp_path: Path) -> None:
    constant_16bit(tmp_path / "src" / "a.wav", value=1, seconds=0.1)
    (tmp_path / "src" / "README.txt").write_text("prompts\n")
    report = prepare(tmp_path / "src", tmp_path / "dst")
    assert only(report, "README.txt") == "ignored README.txt: not a .wav, .mp3, .ogg file"
    assert report.ok
    assert sorted(p.name for p in (tmp_path / "dst").iterdir()) == ["a.wav"]


def test_an_output_that_would_overwrite_its_input_is_skipped(tmp_path: Path) -> None:
    source = constant_16bit(tmp_path / "sounds" / "a.wav", value=1, seconds=0.5)
    before = source.read_bytes()
    report = prepare(tmp_path / "sounds", tmp_path / "sounds")
    assert only(report, "a.wav") == "skipped a.wav -> a.wav: the output would overwrite an input file"
    assert source.read_bytes() == before
    assert not report.ok


def test_two_inputs_making_the_same_output_are_both_skipped(tmp_path: Path) -> None:
    constant_16bit(tmp_path / "src" / "a.wav", value=1, seconds=0.1)
    (tmp_path / "src" / "a.mp3").write_bytes(b"not decoded: the clash is found first")
    report = prepare(tmp_path / "src", tmp_path / "dst")
    assert only(report, "a.wav") == "skipped a.wav -> a.wav: a.mp3 would make the same output"
    assert only(report, "a.mp3") == "skipped a.mp3 -> a.wav: a.wav would make the same output"
    assert not (tmp_path / "dst" / "a.wav").exists()


def test_a_destination_inside_the_source_is_not_read_back(tmp_path: Path) -> None:
    constant_16bit(tmp_path / "src" / "a.wav", value=1, seconds=0.1)
    prepare(tmp_path / "src", tmp_path / "src" / "out")
    again = prepare(tmp_path / "src", tmp_path / "src" / "out")
    assert [result.source for result in again.results] == [Path("a.wav")]
    assert again.ok


def test_a_symbolic_link_in_the_destination_cannot_lead_writes_outside(tmp_path: Path) -> None:
    constant_16bit(tmp_path / "src" / "sub" / "a.wav", value=1, seconds=0.1)
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "sub").symlink_to(outside)
    report = prepare(tmp_path / "src", tmp_path / "dst")
    assert only(report, "sub/a.wav").startswith("refused sub/a.wav: the output")
    assert "through a symbolic link" in only(report, "sub/a.wav")
    assert list(outside.iterdir()) == []


def test_rates_freeswitch_does_not_play_natively_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    with pytest.raises(ValueError, match="44100 Hz"):
        prepare(tmp_path / "src", tmp_path / "dst", rate=44100)


def ffmpeg_encode(wav: Path, target: Path, *codec: str) -> Path:
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(wav), *codec, str(target)], check=True)
    return target


@pytest.mark.parametrize(("suffix", "codec"), [(".mp3", ()), (".ogg", ("-c:a", "libvorbis"))])
def test_compressed_files_are_decoded_with_ffmpeg(tmp_path: Path, suffix: str, codec: tuple[str, ...]) -> None:
    wav = write_wav(
        tmp_path / "tone.wav",
        channels=2,
        width=2,
        rate=44100,
        frames=struct.pack("<hh", 3000, -3000) * 44100 * 2,
    )
    (tmp_path / "src").mkdir()
    ffmpeg_encode(wav, tmp_path / "src" / f"tone{suffix}", *codec)
    report = prepare(tmp_path / "src", tmp_path / "dst")
    line = only(report, f"tone{suffix}")
    assert line.startswith(f"converted tone{suffix} -> tone.wav (44100 Hz stereo {suffix[1:]} -> 8000 Hz mono 16-bit, ")
    params, _ = samples(tmp_path / "dst" / "tone.wav")
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, 8000)
    # Encoders pad a little; the length must still be the two seconds encoded.
    assert abs(params.nframes / 8000 - 2.0) < 0.1


def test_a_damaged_compressed_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "junk.mp3").write_text("this is not an mp3\n")
    report = prepare(tmp_path / "src", tmp_path / "dst")
    assert only(report, "junk.mp3").startswith("refused junk.mp3: not audio, or damaged (ffmpeg: ")


def test_without_ffmpeg_compressed_files_are_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    constant_16bit(tmp_path / "src" / "a.wav", value=1, seconds=0.1)
    (tmp_path / "src" / "b.ogg").write_bytes(b"OggS")
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools-here"))
    report = prepare(tmp_path / "src", tmp_path / "dst")
    assert only(report, "b.ogg") == (
        "refused b.ogg: decoding OGG needs ffmpeg, which is not installed (missing: ffmpeg, ffprobe)"
    )
    # WAV needs no ffmpeg.
    assert only(report, "a.wav").startswith("converted a.wav -> a.wav")


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="ivrflow")
    add_command(parser.add_subparsers(required=True))
    args = parser.parse_args(list(argv))
    return int(args.run(args))


def test_cli_converts_the_good_files_and_fails_at_the_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    constant_16bit(tmp_path / "src" / "a.wav", value=1, seconds=0.5)
    (tmp_path / "src" / "b.wav").write_text("not audio")
    (tmp_path / "src" / "c.wav").write_bytes(header_wav(float_fmt(), b"\0" * 400))
    constant_16bit(tmp_path / "src" / "d.wav", value=1, seconds=0.5)
    code = run_cli("sounds", "prepare", str(tmp_path / "src"), str(tmp_path / "dst"), "--rate", "16000")
    out, err = capsys.readouterr()
    assert code == 1
    assert out.splitlines() == [
        "converted a.wav -> a.wav (44100 Hz stereo 16-bit -> 16000 Hz mono 16-bit, 0.50 s)",
        "converted d.wav -> d.wav (44100 Hz stereo 16-bit -> 16000 Hz mono 16-bit, 0.50 s)",
    ]
    assert err.splitlines() == [
        "refused b.wav: not audio (no RIFF/WAVE header)",
        "refused c.wav: 32-bit floating-point WAV; export it as integer PCM (16-bit) first",
        "2 converted, 2 refused, 0 skipped, 0 ignored",
    ]
    assert sorted(os.listdir(tmp_path / "dst")) == ["a.wav", "d.wav"]


def test_cli_succeeds_when_every_file_converts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    constant_16bit(tmp_path / "src" / "a.wav", value=1, seconds=0.5)
    assert run_cli("sounds", "prepare", str(tmp_path / "src"), str(tmp_path / "dst")) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 converted, 0 refused, 0 skipped, 0 ignored"


def test_cli_reports_a_missing_source_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("sounds", "prepare", str(tmp_path / "nope"), str(tmp_path / "dst")) == 1
    assert "nope does not exist; SRC_DIR is a directory of prompts" in capsys.readouterr().err
    assert not (tmp_path / "dst").exists()


def test_cli_says_a_file_is_not_the_directory_it_wants(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    constant_16bit(tmp_path / "src" / "a.wav", value=1, seconds=0.5)
    assert run_cli("sounds", "prepare", str(tmp_path / "src" / "a.wav"), str(tmp_path / "dst")) == 1
    err = capsys.readouterr().err
    assert "a.wav is a file; SRC_DIR is a directory of prompts" in err and f"e.g. {tmp_path / 'src'}" in err
    assert not (tmp_path / "dst").exists()

