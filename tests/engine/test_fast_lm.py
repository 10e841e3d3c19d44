"""CueDeck's decoder against audiocraft's own LMModel.generate, on the tiny checkpoints:
the same tokens greedy (fp32), the same tokens sampled with the same per-candidate seeds,
each candidate's seed reproducing it alone or in any batch (in every precision); the faster precisions stay
close to fp32; streamed audio arrives before the end and joins up to the whole."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.nn.attention import SDPBackend
from audiocraft.modules.conditioners import ConditioningAttributes

from engine import registry, resources
from engine.worker import fast_lm
from engine.worker.fast_lm import PRECISIONS, FastDecoder, cpu_runs_bf16, cpu_runs_int8, supports
from engine.worker.generation import Generator, _per_candidate_sampling
from engine.worker.negative import steering_away_from, unconditional
from engine.request import GenerationRequest
from engine.worker.streaming import StreamingDecoder, reach

PROMPTS = ["warm pad", "rain on a tin roof", "door slam", "low drone"]


@pytest.fixture(scope="module")
def generator():
    return Generator()


def reference_tokens(model, prompts, frames, seeds=None, **params):
    model.set_generation_params(duration=frames / model.frame_rate, **params)
    with torch.inference_mode(), _per_candidate_sampling(seeds or list(range(len(prompts)))):
        return model.generate(prompts, return_tokens=True)[1]


@pytest.mark.parametrize("name", ["tiny-music", "tiny-sfx", "tiny-stereo"])
def test_greedy_fp32_tokens_equal_audiocrafts(generator, name):
    model = generator.load(registry.get(name), "cpu")
    assert supports(model.lm)
    expected = reference_tokens(model, PROMPTS[:3], 60, use_sampling=False, cfg_coef=3.0)
    with torch.inference_mode():
        ours = FastDecoder(model.lm).generate(PROMPTS[:3], 60, use_sampling=False, cfg_coef=3.0)
    assert torch.equal(ours, expected)


def test_sampled_tokens_equal_audiocrafts_with_the_same_seeds(generator):
    model = generator.load(registry.get("tiny-music"), "cpu")
    seeds = [11, 12, 13, 14]
    expected = reference_tokens(model, PROMPTS, 50, seeds, use_sampling=True, top_k=250, cfg_coef=3.0)
    with torch.inference_mode(), _per_candidate_sampling(seeds):
        ours = FastDecoder(model.lm).generate(PROMPTS, 50, top_k=250, cfg_coef=3.0)
    assert torch.equal(ours, expected)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_a_candidates_seed_reproduces_it_alone_or_in_any_batch(generator, precision):
    model = generator.load(registry.get("tiny-music"), "cpu")
    decoder = FastDecoder(model.lm, precision)
    with torch.inference_mode():
        with _per_candidate_sampling([7, 8, 9]):
            batch = decoder.generate(["pad"] * 3, 40, top_k=50, top_p=0.0)
        with _per_candidate_sampling([8]):
            alone = decoder.generate(["pad"], 40, top_k=50)
        with _per_candidate_sampling([9, 8]):
            swapped = decoder.generate(["pad"] * 2, 40, top_k=50)
    assert torch.equal(alone[0], batch[1]) and torch.equal(swapped[1], batch[1])


def test_a_negative_prompt_takes_the_null_conditions_place_in_guidance(generator):
    """Greedy tokens guided away from "drums" are, at every step, the argmax of
    `negative + (prompt - negative) * cfg` over audiocraft's own logits for the two texts;
    audiocraft's generate gives the same tokens, and no negative changes nothing."""
    model = generator.load(registry.get("tiny-music"), "cpu")
    lm, decoder, cfg = model.lm, FastDecoder(model.lm), 3.0
    with torch.inference_mode():
        ours = decoder.generate(PROMPTS[:2], 30, use_sampling=False, cfg_coef=cfg, negative="drums")
        assert torch.equal(decoder.generate(PROMPTS[:2], 30, use_sampling=False, cfg_coef=cfg, negative=""),
                           reference_tokens(model, PROMPTS[:2], 30, use_sampling=False, cfg_coef=cfg))
        with steering_away_from("drums"):
            assert torch.equal(ours, reference_tokens(model, PROMPTS[:2], 30, use_sampling=False, cfg_coef=cfg))
        pattern = lm.pattern_provider.get_pattern(30)
        sequence, _, mask = pattern.build_pattern_sequence(ours, lm.special_token_id)
        texts = lambda prompts: [ConditioningAttributes(text={"description": p}) for p in prompts]
        prompt, negative = lm(sequence, texts(PROMPTS[:2])), lm(sequence, texts(["drums"] * 2))  # [B, K, S, card]
        by_hand = (negative + (prompt - negative) * cfg).argmax(-1)[..., :-1]  # step s picks token s + 1
        null = lm(sequence, unconditional(texts(PROMPTS[:2])))
        away_from_nothing = (null + (prompt - null) * cfg).argmax(-1)[..., :-1]
    chosen, valid = sequence[..., 1:], mask[..., 1:].expand_as(sequence[..., 1:])
    assert valid.sum() > 100 and torch.equal(by_hand[valid], chosen[valid])
    assert not torch.equal(away_from_nothing[valid], chosen[valid])


@pytest.mark.parametrize("precision, limit", [("bf16", 0.1), ("int8", 0.1)])
def test_faster_precisions_stay_close_to_fp32_logits(generator, precision, limit):
    model = generator.load(registry.get("tiny-music"), "cpu")
    tokens = reference_tokens(model, PROMPTS[:2], 30, use_sampling=False)
    pattern = model.lm.pattern_provider.get_pattern(30)
    sequence, _, _ = pattern.build_pattern_sequence(tokens, model.lm.special_token_id)
    exact = FastDecoder(model.lm).teacher_forced_logits(PROMPTS[:2], sequence)
    decoder = FastDecoder(model.lm, precision)
    assert decoder.precision == (precision if {"bf16": cpu_runs_bf16, "int8": cpu_runs_int8}[precision]() else "fp32")
    approx = decoder.teacher_forced_logits(PROMPTS[:2], sequence)
    assert ((approx - exact) ** 2).mean().sqrt() < limit * exact.std()
    assert (approx.argmax(-1) == exact.argmax(-1)).float().mean() > 0.9


def test_streamed_audio_arrives_before_the_end_and_covers_the_whole(generator):
    model = generator.load(registry.get("tiny-music"), "cpu")
    pieces, steps_done = [], []
    decoder = FastDecoder(model.lm)
    total_frames = 150
    stream = StreamingDecoder(model.compression_model, total_frames,
                              lambda audio, start: pieces.append((start, audio, len(steps_done))))
    with torch.inference_mode(), _per_candidate_sampling([1, 2]):
        tokens = decoder.generate(["a", "b"], total_frames, callback=lambda s, t: steps_done.append(s),
                                  on_frames=stream.frames_ready)
    assert len(pieces) >= 2 and pieces[0][2] < len(steps_done)  # first audio before the last step
    starts = [start for start, _, _ in pieces]
    assert starts[0] == 0 and starts == sorted(starts)
    streamed = torch.cat([audio for _, audio, _ in pieces], dim=-1)
    with torch.inference_mode():
        whole = model.compression_model.decode(tokens, None)
    assert streamed.shape == whole.shape  # every sample, once
    assert np.corrcoef(streamed.flatten().numpy(), whole.flatten().numpy())[0, 1] > 0.9


def test_a_streamed_window_holds_back_exactly_the_frames_its_audio_still_depends_on(generator):
    compression = generator.load(registry.get("tiny-music"), "cpu").compression_model
    codes = torch.randint(0, compression.cardinality, (2, compression.num_codebooks, 60),
                          generator=torch.Generator().manual_seed(5))
    hop, ahead = compression.sample_rate // compression.frame_rate, reach(compression)
    with torch.inference_mode():
        whole = compression.decode(codes, None)[..., :20 * hop]

        def first_20_frames(known: int):  # decoded from the first `known` frames only
            return compression.decode(codes[..., :known], None)[..., :20 * hop]

        assert 0 < ahead < 16
        assert torch.allclose(first_20_frames(20 + ahead), whole, atol=1e-6 * whole.abs().max())
        assert not torch.allclose(first_20_frames(20 + ahead - 1), whole, atol=1e-3 * whole.abs().max())


def test_jobs_use_the_fast_decoder_and_keep_their_seeds(generator):
    request = GenerationRequest("pad", model="tiny-music", candidates=2, duration=1.0, seed=30)
    heard = []
    batch = generator.generate(request, on_audio=lambda audio, start, rate: heard.append((start, audio.shape, rate)))
    assert heard and heard[0][0] == 0.0 and heard[0][2] == 32000 and heard[0][1][0] == 2
    alone = generator.generate(GenerationRequest("pad", model="tiny-music", candidates=1, duration=1.0, seed=31))
    assert np.array_equal(alone.tokens[0], batch.tokens[1])
    fast = generator.generate(GenerationRequest("pad", model="tiny-music", candidates=1, duration=1.0, seed=31,
                                                precision="int8"))
    assert fast.audio.shape == alone.audio.shape and np.isfinite(fast.audio).all()
    assert (alone.precision, fast.precision) == ("fp32", "int8" if cpu_runs_int8() else "fp32")


def test_bf16_runs_where_the_cpu_computes_it_and_the_cue_says_what_ran(generator):
    """The window reads the CPU's flags, the worker asks torch: they agree; on a CPU without
    bf16 a bf16 job runs (and is recorded) in fp32."""
    assert resources.cpu_has_bf16() == cpu_runs_bf16()
    batch = generator.generate(GenerationRequest("pad", model="tiny-music", candidates=1, duration=0.5, seed=3,
                                                 precision="bf16"))
    assert batch.precision == ("bf16" if cpu_runs_bf16() else "fp32")


@pytest.mark.parametrize("precision", PRECISIONS)
def test_a_decoder_that_frees_each_weight_matrix_as_it_copies_it_makes_the_same_tokens(precision):
    """The reduced copies are built within the fp32 model's memory: the peak stays the model's."""
    kept, freed = (Generator().load(registry.get("tiny-music"), "cpu").lm for _ in range(2))
    decoder = FastDecoder(freed, precision, release=True)
    assert decoder.released == fast_lm.packs_weights(decoder.precision, torch.device("cpu"))
    assert all(p.dim() == 1 for p in [*freed.transformer.parameters(), *freed.linears.parameters()]) \
        == decoder.released
    tokens = []
    for lm_decoder in (FastDecoder(kept, precision), decoder):
        with torch.inference_mode(), _per_candidate_sampling([3, 4]):
            tokens.append(lm_decoder.generate(["pad", "door slam"], 30, top_k=50))
    assert torch.equal(*tokens)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_every_attention_of_a_step_takes_the_fused_kernel(generator, precision, monkeypatch):
    """torch silently falls back to unfused attention, which scales the whole cache at every
    step (a fp32 step 23 % slower), when a query or key is not contiguous in its last dimension."""
    decoder = FastDecoder(generator.load(registry.get("tiny-music"), "cpu").lm, precision)
    attention, kernels = torch.nn.functional.scaled_dot_product_attention, []

    def recorded(q, k, v, **kwargs):
        kernels.append(SDPBackend(torch._fused_sdp_choice(q, k, v, **kwargs)))
        return attention(q, k, v, **kwargs)

    monkeypatch.setattr(fast_lm.F, "scaled_dot_product_attention", recorded)
    with torch.inference_mode():
        decoder.generate(["pad"] * 2, 5, top_k=50)
    layers = len(decoder.layers)
    assert kernels == [SDPBackend.FLASH_ATTENTION] * (2 * layers * (5 + 3))  # self and cross; 3 delay steps


def test_a_reduced_precision_frees_the_fp32_weights_and_a_job_that_needs_them_loads_them_again(generator):
    info = registry.get("tiny-music")
    request = GenerationRequest("pad", model="tiny-music", candidates=2, duration=1.0, seed=5)
    exact = Generator().generate(request)
    reduced = generator.generate(replace(request, precision="int8"))
    lm = generator.load(info, "cpu", "int8").lm  # the same model, its int8 decoder built
    assert all(p.dim() == 1 for p in lm.transformer.parameters()) == cpu_runs_int8()  # no weight matrix left
    assert np.array_equal(generator.generate(replace(request, precision="int8")).tokens, reduced.tokens)
    assert np.array_equal(generator.generate(request).tokens, exact.tokens)  # fp32: loaded again
    generator.generate(replace(request, precision="int8"))
    continued = generator.generate(replace(request, precision="int8", duration=2.0),  # audiocraft's generate
                                   prompt_audio=(exact.audio[0], exact.sample_rate))
    assert continued.audio.shape[:2] == (2, 1) and np.isfinite(continued.audio).all()
