"""First audio before the job ends: EnCodec decoding in overlapping windows as the tokens
of every candidate become final.

Each window is decoded with some frames before it as context and holds back its last frames
until the next window brings what follows them (the decoder's convolutions look both ways,
its LSTM looks back), so the pieces join without a seam: with 16 frames of context the
joined audio is within about −100 dB (rms) of decoding all tokens at once
(benchmarks/engine.py measures it). The joined pieces are the cue, so streaming costs no
second decode.
"""

import typing as tp

import torch


class StreamingDecoder:
    def __init__(self, compression_model, total_frames: int,
                 on_audio: tp.Callable[[torch.Tensor, float], None],
                 window_frames: int = 50, context_frames: int = 16):
        """`on_audio(chunk [B, C, samples], start_seconds)` receives each new piece of the
        `total_frames` the job makes."""
        self.model, self.total = compression_model, total_frames
        self.on_audio = on_audio
        self.window, self.context = window_frames, context_frames
        self.done = 0  # frames already sent as audio
        self.pieces: list[torch.Tensor] = []
        self.hop = int(round(compression_model.sample_rate / compression_model.frame_rate))

    @torch.inference_mode()
    def frames_ready(self, codes: tp.Callable[[], torch.Tensor], ready: int) -> None:
        """Called with a way to get the codes so far ([B, K, T], -1 where not final) and how
        many leading frames are final; decodes when a window's worth (or the end) is there."""
        if ready - self.done < self.window + self.context and ready < self.total:
            return
        codes = codes()
        last = ready == codes.shape[-1]
        end = ready if last else ready - self.context
        first = max(0, self.done - self.context)
        audio = self.model.decode(codes[..., first:ready].clamp(min=0), None)
        skip = (self.done - first) * self.hop
        piece = audio[..., skip:skip + (end - self.done) * self.hop]
        self.pieces.append(piece)
        self.on_audio(piece, self.done / self.model.frame_rate)
        self.done = end

    def audio(self) -> torch.Tensor:
        """Everything decoded, joined: [B, C, samples]."""
        return torch.cat(self.pieces, dim=-1)
