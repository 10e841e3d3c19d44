import math

import pytest

from engine.errors import BadInput
from engine.request import GenerationRequest


def test_defaults_validate_and_pick_a_recorded_seed():
    request = GenerationRequest("warm analog pad").validated()
    assert 0 <= request.seed < 2**32
    assert request.candidate_seeds() == [request.seed + i for i in range(4)]


def test_prompt_is_stripped_and_seed_kept():
    request = GenerationRequest("  rain on a tin roof  ", model="tiny-sfx", seed=7).validated()
    assert request.prompt == "rain on a tin roof"
    assert request.seed == 7


def test_round_trip_through_dict():
    request = GenerationRequest("x", candidates=2, seed=3).validated()
    assert GenerationRequest.from_dict(request.to_dict()) == request


@pytest.mark.parametrize("changes, words", [
    ({"prompt": ""}, "prompt is empty"),
    ({"prompt": "   \n"}, "prompt is empty"),
    ({"prompt": "a" * 1001}, "1001 characters"),
    ({"prompt": "a\x00b"}, "NUL"),
    ({"negative": "a" * 1001}, "negative prompt is 1001 characters"),
    ({"negative": "a\x00b"}, "negative prompt contains a NUL"),
    ({"negative": "drums", "cfg_coef": 1.0}, "raise cfg"),
    ({"model": "musicgen-huge"}, "unknown model"),
    ({"candidates": 0}, "candidates"),
    ({"candidates": 9}, "candidates"),
    ({"candidates": 2.5}, "candidates"),
    ({"candidates": True}, "candidates"),
    ({"duration": 0.1}, "duration"),
    ({"duration": 121.0}, "duration"),
    ({"duration": 41.0, "model": "tiny-sfx"}, "40 seconds for tiny-sfx (4 windows of 10 s)"),
    ({"duration": 11.0, "model": "magnet-small-10secs"}, "10 seconds for magnet-small-10secs"),
    ({"parent_id": 1, "model": "magnet-small-10secs", "duration": 5.0}, "cannot continue"),
    ({"parent_id": 1, "duration": 4.0, "prompt_seconds": 4.0}, "prompt seconds"),
    ({"parent_id": 0}, "the cue to continue"),
    ({"device": "tpu"}, "device is one of"),
    ({"duration": math.nan}, "duration"),
    ({"duration": math.inf}, "duration"),
    ({"top_k": -1}, "top-k"),
    ({"top_k": 257}, "tiny-music has 256 codes"),
    ({"top_p": 1.5}, "top-p"),
    ({"top_p": math.nan}, "top-p"),
    ({"temperature": -0.1}, "temperature"),
    ({"temperature": math.nan}, "temperature"),
    ({"cfg_coef": math.inf}, "cfg"),
    ({"cfg_coef": -1.0}, "cfg"),
    ({"seed": -1}, "seed"),
    ({"seed": 2**32}, "seed"),
])
def test_bad_input_is_one_actionable_line(changes, words):
    fields = {"prompt": "warm pad", **changes}
    with pytest.raises(BadInput) as caught:
        GenerationRequest(**fields).validated()
    message = str(caught.value)
    assert words in message
    assert "\n" not in message


def test_malformed_dict_is_bad_input():
    with pytest.raises(BadInput, match="malformed"):
        GenerationRequest.from_dict({"prompt": "x", "loudness": 3})
