"""Media fixtures: generated once per session by tests/media/fixtures.py."""

from tests.media.fixtures import corpus, cuts_video, media_dir, sine_wav  # noqa: F401
