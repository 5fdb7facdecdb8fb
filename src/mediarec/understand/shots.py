"""The shots stage: cut detection plus one JPEG keyframe per shot, saved in the data home."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from mediarec.media.keyframes import KeyframeOptions
from mediarec.media.shots import ShotOptions
from mediarec.settings import Settings
from mediarec.understand.base import Extractor, Feature, ItemContext

# Bump when the payload layout or the keyframe choice changes without a detector change.
_REVISION = 1


@dataclass(frozen=True)
class ShotsStageOptions:
    shots: ShotOptions = field(default_factory=ShotOptions)
    keyframes: KeyframeOptions = field(default_factory=KeyframeOptions)


class ShotsExtractor(Extractor):
    name = "shots"
    needs_video = True

    def __init__(self, settings: Settings, options: ShotsStageOptions | None = None) -> None:
        self.settings = settings
        self.options = options or ShotsStageOptions()

    @property
    def version(self) -> str:
        from mediarec.media import detector_version

        k = self.options.keyframes
        keyframes = f"keyframes(side={k.max_side},samples={k.samples})"
        return f"{detector_version(self.options.shots)}+{keyframes}/{_REVISION}"

    def run(self, ctx: ItemContext) -> Feature:
        from mediarec.media import detect_shots, extract_keyframes

        shots = detect_shots(ctx.path, self.options.shots)
        from mediarec.media.paths import stored_path

        shots = extract_keyframes(ctx.path, shots, ctx.work_dir / "keyframes", self.options.keyframes)
        rows = [asdict(s) for s in shots]
        for row in rows:  # relative to the home, so that the home can move (mediarec.media.paths)
            if row.get("keyframe_path"):
                row["keyframe_path"] = stored_path(row["keyframe_path"], ctx.home)
        return self.feature({"fps": ctx.info.fps, "shots": rows})
