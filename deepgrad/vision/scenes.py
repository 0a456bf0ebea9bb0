"""Procedurally drawn scenes with reference captions: a real image-captioning problem that needs no
download.

Each scene shows two coloured shapes (circle, square or triangle; six colours; small or large) on
a noisy background, placed so that one is clearly left of, right of, above or below the other. It
comes with several reference captions that vary the wording, the order in which the shapes are
named, and whether sizes are mentioned::

    a small red circle above a large blue square
    the large blue square is under the small red circle
    there is a small red circle over a large blue square
    a red circle above a blue square

Getting a caption right takes what real captioning takes: recognising colours and shapes,
comparing sizes, and relating positions. ``attribute_accuracy`` checks a generated caption against
the scene it describes.

Example::

    data = generate_scenes(1000, seed=0)          # SceneCorpus: images (1000, 3, 64, 64) uint8
    data.captions[0]                              # five reference captions
    attribute_accuracy(data.scenes, [c[0] for c in data.captions])["attributes"]   # 1.0
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import deepgrad as dg
from deepgrad import Tensor

from ..text.words import tokenize
from .captions import CaptionCorpus

__all__ = ["COLOURS", "SHAPES", "SIZES", "RELATIONS", "ShapeSpec", "Scene", "SceneCorpus", "sample_scenes",
           "draw_scenes", "scene_captions", "generate_scenes", "parse_caption", "attribute_accuracy"]

COLOURS = {"red": (0.90, 0.12, 0.12), "green": (0.15, 0.75, 0.20), "blue": (0.20, 0.35, 0.95),
           "yellow": (0.95, 0.85, 0.10), "purple": (0.60, 0.20, 0.80), "white": (0.95, 0.95, 0.95)}
SHAPES = ("circle", "square", "triangle")
# half-extent ranges in pixels of a 64 x 64 image; sizes scale with the image
SIZES = {"small": (4.5, 7.0), "large": (10.0, 13.0)}
RELATIONS = ("left", "right", "above", "below")
INVERSE = {"left": "right", "right": "left", "above": "below", "below": "above"}
PHRASES = {"left": ("left of", "to the left of"), "right": ("right of", "to the right of"),
           "above": ("above", "over"), "below": ("below", "under")}
RELATION_WORDS = {"left": "left", "right": "right", "above": "above", "over": "above", "below": "below",
                  "under": "below"}
TEMPLATES = ("a {X} {rel} a {Y}", "there is a {X} {rel} a {Y}", "the {X} is {rel} the {Y}",
             "a {x} {rel} a {y}", "a {X} is {rel} a {Y}")
_BASE = 64.0          # the geometry is sampled in pixels of a 64 x 64 image
_MARGIN, _GAP = 1.0, 3.0
_COLOUR_JITTER, _SQUARE_HALF, _TRIANGLE_HALF_BASE = 0.06, 0.88, 1.2


@dataclass(frozen=True)
class ShapeSpec:
    """One shape: its names and where it is, in fractions of the image side (x to the right, y down;
    ``r`` is the half-extent)."""

    shape: str
    colour: str
    size: str
    x: float
    y: float
    r: float
    rgb: tuple

    def words(self, with_size: bool = True) -> str:
        return f"{self.size} {self.colour} {self.shape}" if with_size else f"{self.colour} {self.shape}"


@dataclass(frozen=True)
class Scene:
    """Two shapes and ``relation``, where ``objects[0]`` is with respect to ``objects[1]`` ('left'
    means objects[0] is left of objects[1])."""

    objects: tuple
    relation: str
    background: tuple


@dataclass
class SceneCorpus(CaptionCorpus):
    """A ``CaptionCorpus`` of generated scenes that also keeps each scene's description."""

    scenes: list | None = None


def _lerp(lo: float, hi: float, u: float) -> float:
    return lo + (hi - lo) * u


def _place(relation: str, r_a: float, r_b: float, u: Sequence[float]) -> tuple:
    """Centres (x_a, y_a), (x_b, y_b) in pixels putting shape a ``relation`` of shape b: apart by a
    gap along the relation's axis and offset at most half that distance across it, so the
    relation is unambiguous."""
    a_first = relation in ("left", "above")        # a has the smaller coordinate along the axis
    r_lo, r_hi = (r_a, r_b) if a_first else (r_b, r_a)
    hi_edge = _BASE - _MARGIN
    p_lo = _lerp(r_lo + _MARGIN, hi_edge - r_hi - (r_lo + r_hi + _GAP), u[0])
    p_hi = _lerp(p_lo + r_lo + r_hi + _GAP, hi_edge - r_hi, u[1])
    q_lo = _lerp(r_lo + _MARGIN, hi_edge - r_lo, u[2])
    k = 0.5 * (p_hi - p_lo)
    q_min, q_max = max(r_hi + _MARGIN, q_lo - k), min(hi_edge - r_hi, q_lo + k)
    q_hi = _lerp(q_min, max(q_min, q_max), u[3])
    lo, hi = ((p_lo, q_lo), (p_hi, q_hi)) if relation in ("left", "right") else ((q_lo, p_lo), (q_hi, p_hi))
    return (lo, hi) if a_first else (hi, lo)


def _jitter(rgb: tuple, u: Sequence[float]) -> tuple:
    return tuple(min(1.0, max(0.0, c + _COLOUR_JITTER * (2 * v - 1))) for c, v in zip(rgb, u))


_UNIFORMS_PER_SCENE = 22


def sample_scenes(n: int, generator: dg.Generator | None = None) -> list[Scene]:
    """``n`` random scene descriptions: two shapes of different colours, independent shapes and
    sizes, a uniformly drawn relation, a dark background."""
    if n < 0:
        raise ValueError(f"sample_scenes: n must be >= 0, got {n}")
    if n == 0:
        return []
    colours, sizes = list(COLOURS), list(SIZES)
    scenes = []
    for u in dg.rand(n, _UNIFORMS_PER_SCENE, generator=generator, dtype=dg.float64).tolist():
        c_a = int(u[0] * len(colours))
        c_b = (c_a + 1 + int(u[1] * (len(colours) - 1))) % len(colours)
        kinds = [SHAPES[int(u[2] * len(SHAPES))], SHAPES[int(u[3] * len(SHAPES))]]
        size_names = [sizes[int(u[4] * 2)], sizes[int(u[5] * 2)]]
        radii = [_lerp(*SIZES[s], v) for s, v in zip(size_names, u[6:8])]
        relation = RELATIONS[int(u[8] * len(RELATIONS))]
        centres = _place(relation, radii[0], radii[1], u[9:13])
        objects = tuple(
            ShapeSpec(kinds[i], colours[c], size_names[i], centres[i][0] / _BASE, centres[i][1] / _BASE,
                      radii[i] / _BASE, _jitter(COLOURS[colours[c]], u[13 + 3 * i:16 + 3 * i]))
            for i, c in enumerate((c_a, c_b)))
        grey = _lerp(0.05, 0.3, u[19])
        background = tuple(min(1.0, grey + 0.05 * (v - 0.5)) for v in (u[20], u[21], 1 - u[20]))
        scenes.append(Scene(objects, relation, background))
    return scenes


def _shape_masks(kind: Tensor, cx: Tensor, cy: Tensor, r: Tensor, xs: Tensor, ys: Tensor) -> Tensor:
    """(n, S, S) bool masks of the n shapes (circle 0, square 1, triangle 2 pointing up)."""
    dx, dy = (xs - cx).abs(), ys - cy
    circle = dx * dx + dy * dy <= r * r
    square = dg.maximum(dx, dy.abs()) <= _SQUARE_HALF * r
    t = (dy + r) / (2 * r)                                  # 0 at the apex, 1 at the base
    triangle = (t >= 0) & (t <= 1) & (dx <= _TRIANGLE_HALF_BASE * r * t)
    return dg.where(kind == 0, circle, dg.where(kind == 1, square, triangle))


def _column(values: list, dtype=dg.float32) -> Tensor:
    return dg.tensor(values, dtype=dtype).reshape(-1, 1, 1)


def draw_scenes(scenes: Sequence[Scene], image_size: int = 64, noise: float = 0.03,
                generator: dg.Generator | None = None, chunk: int = 256) -> Tensor:
    """Render scene descriptions as a uint8 (n, 3, image_size, image_size) tensor, adding Gaussian
    pixel noise of standard deviation ``noise`` (in [0, 1] units)."""
    if image_size < 8:
        raise ValueError(f"draw_scenes: image_size must be >= 8 pixels, got {image_size}")
    coords = (dg.arange(image_size, dtype=dg.float32) + 0.5) / image_size
    xs, ys = coords.reshape(1, 1, image_size), coords.reshape(1, image_size, 1)
    out = []
    for start in range(0, len(scenes), chunk):
        part = scenes[start:start + chunk]
        n = len(part)
        img = dg.tensor([s.background for s in part], dtype=dg.float32).reshape(n, 3, 1, 1)
        img = img.expand(n, 3, image_size, image_size)
        for slot in range(2):
            objs = [s.objects[slot] for s in part]
            mask = _shape_masks(_column([SHAPES.index(o.shape) for o in objs], dg.int64),
                                _column([o.x for o in objs]), _column([o.y for o in objs]),
                                _column([o.r for o in objs]), xs, ys)
            rgb = dg.tensor([o.rgb for o in objs], dtype=dg.float32).reshape(n, 3, 1, 1)
            img = dg.where(mask.unsqueeze(1), rgb, img)
        if noise > 0:
            img = img + noise * dg.randn(n, 3, image_size, image_size, generator=generator)
        out.append((img.clamp(0, 1) * 255).round().to(dg.uint8))
    if not out:
        return dg.zeros(0, 3, image_size, image_size, dtype=dg.uint8)
    return dg.cat(out)


def scene_captions(scene: Scene, k: int, u: Sequence[float]) -> list[str]:
    """``k`` reference captions of ``scene`` from the uniform numbers ``u`` (3 per caption): the
    templates in a shuffled order (all of them appear when k >= their number), each naming the
    shapes in a random order with a random wording of the relation."""
    a, b = scene.objects
    order = sorted(range(len(TEMPLATES)), key=lambda i: u[i % len(u)])
    captions = []
    for j in range(k):
        v = u[3 * j:3 * j + 3]
        x, y, rel = (a, b, scene.relation) if v[0] < 0.5 else (b, a, INVERSE[scene.relation])
        template = TEMPLATES[order[j % len(TEMPLATES)]]
        captions.append(template.format(X=x.words(), Y=y.words(), x=x.words(False), y=y.words(False),
                                        rel=PHRASES[rel][int(v[1] * 2)]))
    return captions


def generate_scenes(n: int, image_size: int = 64, captions_per_scene: int = 5, seed: int = 0,
                    noise: float = 0.03) -> SceneCorpus:
    """``n`` scenes drawn at ``image_size`` pixels with ``captions_per_scene`` reference captions
    each, all determined by ``seed``."""
    if captions_per_scene < 1:
        raise ValueError(f"generate_scenes: captions_per_scene must be >= 1, got {captions_per_scene}")
    gen = dg.Generator().manual_seed(seed)
    scenes = sample_scenes(n, gen)
    u = dg.rand(n, max(3 * captions_per_scene, len(TEMPLATES)), generator=gen, dtype=dg.float64).tolist()
    captions = [scene_captions(s, captions_per_scene, row) for s, row in zip(scenes, u)]
    images = draw_scenes(scenes, image_size, noise, gen)
    return SceneCorpus(images, captions, [f"scene-{seed}-{i}" for i in range(n)], scenes)


# ------------------------------------------------------------------------------------ evaluation
def parse_caption(caption: str | Sequence[str]) -> tuple[list, str | None]:
    """The shapes a caption mentions, as (size or None, colour, shape) in order, and the relation
    word between the first two ('left', 'right', 'above', 'below', or None)."""
    tokens = tokenize(caption) if isinstance(caption, str) else list(caption)
    mentions, relation, i = [], None, 0
    while i < len(tokens):
        size = tokens[i] if tokens[i] in SIZES else None
        j = i + (size is not None)
        if j + 1 < len(tokens) and tokens[j] in COLOURS and tokens[j + 1] in SHAPES:
            mentions.append((size, tokens[j], tokens[j + 1]))
            i = j + 2
            continue
        if len(mentions) == 1 and relation is None and tokens[i] in RELATION_WORDS:
            relation = RELATION_WORDS[tokens[i]]
        i += 1
    return mentions, relation


def _score_caption(scene: Scene, caption) -> dict:
    """Per-slot correctness of one caption: colours, shapes and sizes of the two shapes (matched to
    the scene's in the order that fits best) and the relation."""
    mentions, relation = parse_caption(caption)
    mentions = (mentions + [(None, None, None)] * 2)[:2]
    a, b = scene.objects

    def fits(mention, obj):
        return (mention[1] == obj.colour) + (mention[2] == obj.shape)
    straight = fits(mentions[0], a) + fits(mentions[1], b)
    swapped = fits(mentions[0], b) + fits(mentions[1], a)
    objs, rel = ((a, b), scene.relation) if straight >= swapped else ((b, a), INVERSE[scene.relation])
    return {"colour": sum(m[1] == o.colour for m, o in zip(mentions, objs)) / 2,
            "shape": sum(m[2] == o.shape for m, o in zip(mentions, objs)) / 2,
            "size": sum(m[0] == o.size for m, o in zip(mentions, objs)) / 2,
            "relation": float(relation == rel)}


def attribute_accuracy(scenes: Sequence[Scene], captions: Sequence[str | Sequence[str]]) -> dict:
    """How well ``captions`` (one per scene, strings or word lists) describe ``scenes``.

    Returns fractions in [0, 1]: ``colour``, ``shape`` and ``size`` (over the two shapes of every
    scene; an attribute not mentioned counts as wrong), ``relation``, ``attributes`` (the mean over
    the five slots colour x 2, shape x 2, relation) and ``exact`` (scenes whose colours, shapes and
    relation are all right).
    """
    if len(scenes) != len(captions):
        raise ValueError(f"attribute_accuracy: {len(scenes)} scenes but {len(captions)} captions")
    if not scenes:
        raise ValueError("attribute_accuracy: no scenes to score")
    rows = [_score_caption(s, c) for s, c in zip(scenes, captions)]
    mean = {k: sum(r[k] for r in rows) / len(rows) for k in ("colour", "shape", "size", "relation")}
    mean["attributes"] = sum(2 * r["colour"] + 2 * r["shape"] + r["relation"] for r in rows) / (5 * len(rows))
    mean["exact"] = sum(r["colour"] == r["shape"] == r["relation"] == 1 for r in rows) / len(rows)
    return mean
