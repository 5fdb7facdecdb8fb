"""Opening and reading a media file: the checks before FFmpeg sees it, FFmpeg's refusals as
:class:`MediaError`, and decoding that steps over damaged packets.

Every public function in :mod:`mediarec.media` goes through here, so a missing file, a directory or an
unreadable one gets the same sentence whichever step meets it first.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from mediarec.media.errors import MediaError, missing_extra

_HEAD_BYTES = 64
# A run of undecodable packets this long means the rest of the stream is garbage, not a damaged spot.
MAX_CONSECUTIVE_FAILURES = 32
# Signatures of containers people hand us, so that a file FFmpeg rejects can be called "a damaged MP4"
# instead of "not media": the first needs re-uploading, the second a different file.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (4, b"ftyp", "an MP4/MOV file"),
    (0, b"\x1a\x45\xdf\xa3", "a Matroska/WebM file"),
    (0, b"RIFF", "a RIFF (WAV/AVI) file"),
    (0, b"OggS", "an Ogg file"),
    (0, b"fLaC", "a FLAC file"),
    (0, b"ID3", "an MP3 file"),
    (0, b"FLV", "an FLV file"),
)


# Demuxers that open without being audio or video: still images, playlists that point at other files
# (the reason every entry point refuses them: a playlist can name URLs, and fetching one can hang),
# and FFmpeg's ANSI-art reader, which turns any text file named *.txt into a "video".
_STILL_IMAGE_DEMUXERS = {"image2"}  # and every "*_pipe" demuxer, which are all single images
_PLAYLIST_DEMUXERS = {"hls", "concat", "dash"}
_TEXT_DEMUXERS = {"tty"}


@dataclass(frozen=True)
class CheckedFile:
    path: str
    size: int
    head: bytes  # the first bytes, for naming what a rejected file looks like


def import_av() -> ModuleType:
    try:
        import av
    except ImportError as exc:
        raise missing_extra("PyAV (av)", exc) from exc
    return av


def check_file(path: str | os.PathLike[str], max_bytes: int | None = None) -> CheckedFile:
    """Everything that can be said about ``path`` without FFmpeg; raises :class:`MediaError`."""
    p = os.fspath(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        if os.path.islink(p):
            target = os.readlink(p)
            raise MediaError(p, f"broken symlink: it points to {target!r}, which does not exist") from None
        raise MediaError(p, "file not found") from None
    except PermissionError:
        raise MediaError(p, "permission denied: a folder on the path cannot be entered") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise MediaError(p, "symlink loop: following its links never reaches a file") from None
        raise MediaError(p, f"cannot access the file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise MediaError(p, "a directory, not a media file")
    if not stat.S_ISREG(st.st_mode):
        # A FIFO or a device can block a reader forever; only regular files are read.
        raise MediaError(p, "not a regular file (a pipe, socket or device)")
    if st.st_size == 0:
        raise MediaError(p, "empty file (0 bytes)")
    if max_bytes is not None and st.st_size > max_bytes:
        raise MediaError(
            p, f"file is {_size(st.st_size)}, above the limit of {_size(max_bytes)} (ProbeOptions.max_bytes)"
        )
    if not os.access(p, os.R_OK):
        raise MediaError(p, "permission denied: this process may not read the file")
    try:
        with open(p, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except PermissionError:
        raise MediaError(p, "permission denied: this process may not read the file") from None
    except OSError as exc:
        raise MediaError(p, f"cannot read the file: {exc.strerror or exc}") from None
    return CheckedFile(path=p, size=st.st_size, head=head)


def open_container(checked: CheckedFile) -> Any:
    """An open PyAV input container; FFmpeg's refusals become :class:`MediaError`."""
    av = import_av()
    try:
        # "file:" stops FFmpeg reading a name such as "clip:1.mp4" as a protocol; the whitelist stops
        # a playlist fetching anything while it is opened, before it is refused below.
        container = av.open(
            "file:" + os.path.abspath(checked.path),
            container_options={"protocol_whitelist": "file"},
            metadata_errors="replace",
        )
    except (av.error.InvalidDataError, av.error.EOFError):
        # EOF while reading the header: a file cut off (or damaged) before its first packet.
        raise MediaError(checked.path, unreadable_reason(checked.head)) from None
    except av.error.PermissionError:
        raise MediaError(checked.path, "permission denied: this process may not read the file") from None
    except av.error.FileNotFoundError:
        raise MediaError(checked.path, "file not found (it disappeared while being opened)") from None
    except av.error.FFmpegError as exc:
        raise MediaError(checked.path, f"FFmpeg cannot open it: {ffmpeg_reason(exc)}") from None
    fmt = container.format.name
    refusal = None
    if fmt in _STILL_IMAGE_DEMUXERS or fmt.endswith("_pipe"):
        refusal = f"a still image ({fmt}), not audio or video"
    elif fmt in _PLAYLIST_DEMUXERS:
        refusal = f"a playlist ({fmt}) that refers to other files; give the media file itself"
    elif fmt in _TEXT_DEMUXERS:
        refusal = "not a media file: it holds text"
    if refusal is not None:
        container.close()
        raise MediaError(checked.path, refusal)
    return container


def decode(av: Any, container: Any, stream: Any, note: Callable[[str, str], None]) -> Iterator[Any]:
    """Decoded frames of ``stream``, skipping packets FFmpeg cannot read or decode.

    ``note(kind, message)`` hears of each problem: kind is "read" (demuxing failed and resumed),
    "decode" (a packet was dropped), "partial" (the file ends inside a packet) or "gave_up" (too many
    failures in a row; decoding stops there).
    """
    failures = 0
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except (StopIteration, av.error.EOFError):
            return
        except av.error.FFmpegError as exc:
            note("read", f"read error: {ffmpeg_reason(exc)}")
            failures += 1
            if failures >= MAX_CONSECUTIVE_FAILURES:
                note("gave_up", f"stopped after {failures} failures in a row")
                return
            # The demux generator is spent once it raises; a new one resumes after the bad spot.
            packets = container.demux(stream)
            continue
        if packet.is_corrupt:
            note("partial", f"incomplete packet at {_packet_time(packet)}")
        try:
            frames = packet.decode()
        except av.error.FFmpegError as exc:
            note("decode", f"undecodable packet at {_packet_time(packet)}: {ffmpeg_reason(exc)}")
            failures += 1
            if failures >= MAX_CONSECUTIVE_FAILURES:
                note("gave_up", f"stopped after {failures} failures in a row")
                return
            continue
        failures = 0
        yield from frames


def _packet_time(packet: Any) -> str:
    if packet.pts is None or not packet.time_base:
        return "an unknown time"
    return f"{float(packet.pts * packet.time_base):.2f} s"


def unreadable_reason(head: bytes) -> str:
    for offset, magic, kind in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return f"looks like {kind} but FFmpeg cannot read it: the file is truncated or corrupt"
    if _looks_like_text(head):
        return "not a media file: it holds text"
    return "not a media file: FFmpeg does not recognise its format"


def ffmpeg_reason(exc: BaseException) -> str:
    # PyAV's message ends with the file name, which MediaError already shows.
    return str(getattr(exc, "strerror", None) or exc)


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # The 64-byte cut may split a character; drop the last few bytes and retry once.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    return all(ch.isprintable() or ch in "\r\n\t" for ch in text)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    value, unit = float(n), "bytes"
    for unit in ("KiB", "MiB", "GiB"):  # noqa: B007 - the unit reached is the one to print
        value /= 1024
        if value < 1024:
            break
    return f"{value:.1f} {unit}"
