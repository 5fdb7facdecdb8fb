"""What a media file holds: container, streams, duration; or a :class:`MediaError` saying why not.

Probing reads the header and, to catch files that were cut short, the last few seconds of packets
(demuxing only, nothing is decoded). When the header states no duration (a WebM written to a pipe, a
raw H.264 stream) the whole file is demuxed to measure it, within a packet and wall-clock budget.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any

from mediarec.media._open import CheckedFile, check_file, ffmpeg_reason, import_av, open_container
from mediarec.media.errors import MediaError
from mediarec.records import MediaInfo

# Demuxers whose stated duration is a guess from the bit rate: when the packets end earlier, the guess
# was wrong. For every other format a header that promises more than the packets hold means damage.
_ESTIMATED_DURATION_DEMUXERS = {
    "mp3", "aac", "ac3", "eac3", "dts", "h264", "hevc", "m4v", "mpegvideo", "mjpeg",
}
_CLOCK_EVERY = 256  # packets between wall-clock checks; reading the clock per packet costs more than demuxing


@dataclass(frozen=True)
class ProbeOptions:
    """How much probing may read. The defaults suit uploads up to feature-film size."""

    # Larger files are refused before FFmpeg reads a byte; None lifts the limit. 64 GiB holds a
    # two-hour 4K film at a high bit rate.
    max_bytes: int | None = 64 * 2**30
    # Demux the last seconds of the file to catch a cut-short upload whose header still claims the
    # full length (an MP4 with its index at the front). Costs one seek and a few hundred packets.
    check_tail: bool = True
    tail_seconds: float = 5.0
    # Bounds on demuxing when measuring a duration or checking the tail: a file that needs more is
    # taken at its header's word rather than read to the end.
    max_packets: int = 2_000_000
    max_seconds: float = 60.0


def probe(path: str | os.PathLike[str], options: ProbeOptions | None = None) -> MediaInfo:
    """Describe ``path``; raises :class:`MediaError` with a reason for anything that is not usable media."""
    opts = options or ProbeOptions()
    checked = check_file(path, opts.max_bytes)
    av = import_av()
    container = open_container(checked)
    try:
        return _describe(av, container, checked, opts)
    except av.error.FFmpegError as exc:
        reason = f"corrupt: FFmpeg failed while reading it ({ffmpeg_reason(exc)})"
        raise MediaError(checked.path, reason) from None
    finally:
        container.close()


def _describe(av: Any, container: Any, checked: CheckedFile, opts: ProbeOptions) -> MediaInfo:
    path = checked.path
    fmt = container.format.name
    video = main_video_stream(av, container)
    audio = next((s for s in container.streams.audio if s.codec_context is not None), None)
    if video is None and audio is None:
        covers = any(_is_cover(av, s) for s in container.streams.video)
        detail = " (only a cover image)" if covers else ""
        raise MediaError(path, f"no audio or video stream{detail}")
    streams = [s for s in (video, audio) if s is not None]
    duration = _duration(av, container, streams, checked, opts)
    vctx = video.codec_context if video is not None else None
    actx = audio.codec_context if audio is not None else None
    rate = (video.average_rate or video.guessed_rate) if video is not None else None
    return MediaInfo(
        path=path,
        size_bytes=checked.size,
        container=fmt,
        duration=duration,
        has_video=video is not None,
        has_audio=audio is not None,
        width=(vctx.width or None) if vctx is not None else None,
        height=(vctx.height or None) if vctx is not None else None,
        fps=float(rate) if rate else None,
        video_codec=vctx.name if vctx is not None else None,
        audio_codec=actx.name if actx is not None else None,
        sample_rate=(actx.sample_rate or None) if actx is not None else None,
        channels=(actx.channels or None) if actx is not None else None,
        title=_title(container),
    )


TITLE_CHARS = 300  # a tag is uploader data: a longer one is cut rather than refused with the file


def _title(container: Any) -> str | None:
    """The container's title tag (``title``; Vorbis comments and Matroska may spell it ``TITLE``)."""
    meta = getattr(container, "metadata", None) or {}
    for key, value in meta.items():
        if str(key).lower() == "title" and str(value).strip():
            return " ".join(str(value).split())[:TITLE_CHARS]
    return None


def main_video_stream(av: Any, container: Any) -> Any:
    """The first real video stream: an MP3's cover art is a one-frame "video" stream and does not count."""
    for stream in container.streams.video:
        if stream.codec_context is not None and not _is_cover(av, stream):
            return stream
    return None


def _is_cover(av: Any, stream: Any) -> bool:
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def _declared_duration(av: Any, container: Any, streams: list[Any]) -> float | None:
    # The streams' own durations first: the container's covers every track, and a timecode or
    # subtitle track can outlast the audio and video.
    spans = [float(s.duration * s.time_base) for s in streams if s.duration and s.time_base]
    if spans:
        return max(spans)
    if container.duration is not None and container.duration > 0:
        return float(container.duration / av.time_base)
    return None


def _duration(av: Any, container: Any, streams: list[Any], checked: CheckedFile, opts: ProbeOptions) -> float:
    path = checked.path
    declared = _declared_duration(av, container, streams)
    if declared is not None and not opts.check_tail:
        return declared
    scan: _Scan | None
    if declared is None:
        scan = _demux(av, container, streams, opts)
    else:
        scan = _tail(av, container, streams, declared, opts)
    if scan is None:
        # A failed seek can leave the demuxer unusable and a seek past the data says nothing yet:
        # read from the start of a fresh container instead, within the same budget.
        fresh = open_container(checked)
        try:
            scan = _demux(av, fresh, [fresh.streams[s.index] for s in streams], opts)
        finally:
            fresh.close()
    if scan.end is None and scan.untimed_video and streams[0].type == "video":
        rate = streams[0].average_rate or streams[0].guessed_rate
        scan.end = scan.untimed_video / float(rate) if rate else None
    empty = "zero duration: the file holds no audio samples or video frames"
    if scan.packets == 0:
        if not declared:
            raise MediaError(path, empty)
        raise MediaError(path, f"truncated: no audio or video data after the header ({declared:.2f} s)")
    if scan.corrupt:
        raise MediaError(path, _cut_short(scan.end, declared))
    if declared is None:
        if not scan.end or scan.end <= 0:
            raise MediaError(path, empty)
        return scan.end
    if not scan.complete or scan.end is None or scan.end >= declared - max(1.0, 0.02 * declared):
        return declared
    if container.format.name not in _ESTIMATED_DURATION_DEMUXERS:
        raise MediaError(path, _cut_short(scan.end, declared))
    if scan.end <= 0:
        raise MediaError(path, empty)
    return scan.end  # the bit-rate guess was long; the packets are the truth


def _cut_short(end: float | None, declared: float | None) -> str:
    stop = f"media data stops at {end:.2f} s" if end is not None else "media data is unreadable"
    of = f" of the {declared:.2f} s its header declares" if declared else ""
    return f"truncated or corrupt: {stop}{of}"


def _tail(av: Any, container: Any, streams: list[Any], declared: float, opts: ProbeOptions) -> _Scan | None:
    origin = (container.start_time or 0) / av.time_base
    try:
        container.seek(int((origin + max(0.0, declared - opts.tail_seconds)) * av.time_base))
    except av.error.FFmpegError:
        return None  # not seekable
    scan = _demux(av, container, streams, opts)
    return scan if scan.packets else None


@dataclass
class _Scan:
    packets: int = 0
    end: float | None = None  # seconds from the container's start to the end of the last packet
    corrupt: bool = False
    complete: bool = True  # reached the end of the file within the budget
    untimed_video: int = 0  # video packets without timestamps (raw H.264/HEVC streams)


def _demux(av: Any, container: Any, streams: list[Any], opts: ProbeOptions) -> _Scan:
    scan = _Scan()
    origin = (container.start_time or 0) / av.time_base
    deadline = time.monotonic() + opts.max_seconds
    try:
        for packet in container.demux(*streams):
            if packet.size == 0:
                continue  # the flush packet PyAV yields at the end of each stream
            scan.packets += 1
            scan.corrupt = scan.corrupt or bool(packet.is_corrupt)
            stamp = packet.pts if packet.pts is not None else packet.dts
            if stamp is None and packet.stream.type == "video":
                scan.untimed_video += 1
            elif stamp is not None and packet.time_base:
                end = float((stamp + max(packet.duration or 0, 0)) * packet.time_base) - origin
                if math.isfinite(end) and (scan.end is None or end > scan.end):
                    scan.end = end
            if scan.packets >= opts.max_packets or (
                scan.packets % _CLOCK_EVERY == 0 and time.monotonic() > deadline
            ):
                scan.complete = False
                break
    except av.error.EOFError:
        pass
    except av.error.FFmpegError:
        scan.corrupt = True
    return scan
