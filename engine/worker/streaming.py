"""First audio before the job ends: EnCodec decoding in overlapping windows as the tokens
of every candidate become final.

The decoder's convolutions look both ways and its LSTM looks back. So each window is decoded
with 16 frames before it as context (then it joins the last within about −100 dB rms of
decoding all tokens at once; benchmarks/engine.py measures it), and holds back the last
frames whose audio still depends on frames not yet generated: as many as the decoder looks
ahead, measured once per model (4 at MusicGen's and AudioGen's rates), so those it sends are
exact. The first window is half a second, to be heard sooner; the others a second. The
joined pieces are the cue, so streaming costs no second decode. Windows decode through
CueDeck's EnCodec decoder where it runs the model (engine.worker.fast_codec).
"""

import typing as tp
import weakref

import torch

from . import fast_codec

_REACH: "weakref.WeakKeyDictionary[torch.nn.Module, int]" = weakref.WeakKeyDictionary()


class StreamingDecoder:
    def __init__(self, compression_model, total_frames: int,
                 on_audio: tp.Callable[[torch.Tensor, float], None],
                 window_frames: int = 50, first_window_frames: int = 25, context_frames: int = 16):
        """`on_audio(chunk [B, C, samples], start_seconds)` receives each new piece of the
        `total_frames` the job makes."""
        self.model, self.total = compression_model, total_frames
        self.decode = fast_codec.decoder_for(compression_model)
        self.on_audio = on_audio
        self.window, self.first_window, self.context = window_frames, first_window_frames, context_frames
        self.ahead = reach(compression_model)
        self.done = 0  # frames already sent as audio
        self.pieces: list[torch.Tensor] = []
        self.hop = int(round(compression_model.sample_rate / compression_model.frame_rate))

    @torch.inference_mode()
    def frames_ready(self, codes: tp.Callable[[], torch.Tensor], ready: int) -> None:
        """Called with a way to get the codes so far ([B, K, T], -1 where not final) and how
        many leading frames are final; decodes when a window's worth (or the end) is there."""
        window = self.window if self.done else self.first_window
        if ready - self.done < window + self.ahead and ready < self.total:
            return
        codes = codes()
        end = ready if ready == codes.shape[-1] else ready - self.ahead
        first = max(0, self.done - self.context)
        audio = self.decode(codes[..., first:ready].clamp(min=0))
        skip = (self.done - first) * self.hop
        piece = audio[..., skip:skip + (end - self.done) * self.hop]
        self.pieces.append(piece)
        self.on_audio(piece, self.done / self.model.frame_rate)
        self.done = end

    def audio(self) -> torch.Tensor:
        """Everything decoded, joined: [B, C, samples]."""
        return torch.cat(self.pieces, dim=-1)


def prepare(compression_model) -> None:
    """What streaming `compression_model` needs, done before the first window: its reach,
    measured, and its decoder, built."""
    reach(compression_model)
    fast_codec.decoder_for(compression_model)


@torch.inference_mode()
def reach(compression_model, frames: int = 16) -> int:
    """How many frames ahead `compression_model`'s decoder looks: the audio of frame t changes
    with the codes of frames up to t + reach. Measured by changing the last frame of a short
    sequence and finding the earliest sample that moves."""
    if compression_model not in _REACH:
        codes = torch.zeros(1, compression_model.num_codebooks, frames, dtype=torch.long,
                            device=next(compression_model.parameters()).device)
        changed = codes.clone()
        changed[..., -1] = 1
        moved = (compression_model.decode(changed, None) - compression_model.decode(codes, None)).abs().amax(dim=(0, 1))
        hop = moved.shape[-1] // frames
        _REACH[compression_model] = frames - 1 - int(moved.nonzero()[0]) // hop
    return _REACH[compression_model]
