"""Negative prompts: classifier-free guidance steers away from a text instead of from nothing.

CFG mixes two rows per candidate, `uncond + (cond - uncond) * cfg_coef`; audiocraft makes the
second row by dropping every condition (`ClassifierFreeGuidanceDropout(p=1.0)`). With a
negative prompt that row is conditioned on the negative text instead (melody and other audio
conditions still dropped), so each step moves the distribution away from it. Without one,
nothing changes: the same rows, the same tokens.
"""

import contextlib

from audiocraft.models import lm, lm_magnet
from audiocraft.modules.conditioners import ClassifierFreeGuidanceDropout, ConditioningAttributes

TEXT = "description"  # the text condition of every MusicGen, AudioGen and MAGNeT checkpoint


def unconditional(conditions: list[ConditioningAttributes], negative: str = "") -> list[ConditioningAttributes]:
    """CFG's second rows for `conditions`: all dropped, then the negative text if any."""
    rows = ClassifierFreeGuidanceDropout(p=1.0)(conditions)
    if negative:
        for row in rows:
            row.text[TEXT] = negative
    return rows


@contextlib.contextmanager
def steering_away_from(negative: str):
    """audiocraft's own generate (continuations, melodies, long cues, MAGNeT) with `negative`
    as CFG's second condition: its language models build that row through the one name
    `ClassifierFreeGuidanceDropout(p=1.0)`, swapped here for the job."""
    if not negative:
        yield
        return

    class Negative(ClassifierFreeGuidanceDropout):
        def forward(self, samples):
            return unconditional(samples, negative) if self.p == 1.0 else super().forward(samples)

    modules = (lm, lm_magnet)
    try:
        for module in modules:
            module.ClassifierFreeGuidanceDropout = Negative
        yield
    finally:
        for module in modules:
            module.ClassifierFreeGuidanceDropout = ClassifierFreeGuidanceDropout
