"""CueDeck's EnCodec decoder for the CPU: audiocraft's SEANet decoder with the same weights and
the same operations, laid out for oneDNN's convolution kernels.

audiocraft's decoder runs its convolutions on [batch, channels, time] tensors; on a CPU,
torch's transposed 1-d convolutions there take a slow path and copy their whole output into
place. Here every convolution is the same 2-d one of height 1, on tensors kept channels-last
([batch, time, channels] in memory) from the first layer to the last, activations write over
their input where nothing else reads it, and the weight norm is applied once, not at every
call. A window of 70 frames of four candidates decodes in 0.33-0.37 s, not 0.54-0.63 s
(musicgen-small's EnCodec, two cores); the audio is audiocraft's within float rounding
(tests/engine/test_fast_codec.py).

Other codecs (causal, reflect padding, other layers) decode through audiocraft.
"""

import typing as tp
import weakref

import torch
import torch.nn.functional as F
from torch.nn.utils.weight_norm import WeightNorm
from audiocraft.models.encodec import EncodecModel, InterleaveStereoCompressionModel
from audiocraft.modules.conv import StreamableConv1d, StreamableConvTranspose1d
from audiocraft.modules.lstm import StreamableLSTM
from audiocraft.modules.seanet import SEANetDecoder, SEANetResnetBlock

Decode = tp.Callable[[torch.Tensor], torch.Tensor]
_ELEMENTWISE = (torch.nn.ELU, torch.nn.LeakyReLU, torch.nn.ReLU, torch.nn.GELU, torch.nn.SiLU, torch.nn.Tanh)
# built once per codec; a decoder holds the codec's parts, not the codec, which stays freeable
_DECODERS: "weakref.WeakKeyDictionary[torch.nn.Module, FastCodecDecoder | None]" = weakref.WeakKeyDictionary()


def decoder_for(codec) -> Decode:
    """codes [B, K, T] -> audio [B, C, samples], as `codec.decode(codes, None)`: through this
    module's decoder where it supports `codec` (or, for a stereo model, the mono codec it wraps)."""
    if type(codec) is InterleaveStereoCompressionModel and supports(codec.model):
        mono = decoder_for(codec.model)

        def stereo(codes):  # as the wrapper decodes: each channel's codes on the mono codec (here in one batch)
            channels = torch.cat(codec.get_left_right_codes(codes))
            return torch.cat(mono(channels).split(len(codes)), dim=1)
        return stereo
    if codec not in _DECODERS:
        _DECODERS[codec] = FastCodecDecoder(codec) if supports(codec) else None
    fast = _DECODERS[codec]
    return fast.decode if fast is not None else lambda codes: codec.decode(codes, None)


def supports(codec) -> bool:
    """True for a mono or multichannel EnCodec on the CPU whose decoder is the non-causal SEANet
    of audiocraft's releases: zero padding, centred kernels, no norm layers beyond weight norm."""
    if type(codec) is not EncodecModel or next(codec.parameters()).device.type != "cpu":
        return False
    if not isinstance(codec.decoder, SEANetDecoder):
        return False
    layers = []
    for layer in codec.decoder.model:
        layers += [layer, *layer.block] if isinstance(layer, SEANetResnetBlock) else [layer]
    return all(isinstance(layer, (StreamableLSTM, *_ELEMENTWISE)) or _supported_conv(layer)
               or (isinstance(layer, SEANetResnetBlock) and isinstance(layer.shortcut, torch.nn.Identity))
               for layer in layers)


def _supported_conv(layer) -> bool:
    if isinstance(layer, StreamableConv1d):
        conv = layer.conv.conv
        reach = (conv.kernel_size[0] - 1) * conv.dilation[0]
        return (not layer.causal and layer.pad_mode == "constant" and conv.stride[0] == 1 and conv.groups == 1
                and reach % 2 == 0 and isinstance(layer.conv.norm, torch.nn.Identity))
    if isinstance(layer, StreamableConvTranspose1d):
        conv = layer.convtr.convtr
        return (not layer.causal and conv.groups == 1 and conv.stride[0] > 1 and conv.dilation[0] == 1
                and conv.kernel_size[0] >= conv.stride[0] and isinstance(layer.convtr.norm, torch.nn.Identity))
    return False


class FastCodecDecoder:
    def __init__(self, codec: EncodecModel):
        assert supports(codec), "decode through codec.decode"
        self.quantizer = codec.quantizer
        self.layers = [_layer(layer) for layer in codec.decoder.model]

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        x = _channels_last(self.quantizer.decode(codes))  # [B, D, 1, T], as EncodecModel.decode_latent
        for layer in self.layers:
            x = layer(x)
        return x[:, :, 0].contiguous()  # (EncodecModel.postprocess leaves it as is without a scale)


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    """[B, C, T] as [B, C, 1, T] laid out [B, T, C]."""
    return x[:, :, None, :].contiguous(memory_format=torch.channels_last)


def _layer(layer, in_place: bool = True) -> tp.Callable[[torch.Tensor], torch.Tensor]:
    if isinstance(layer, StreamableConv1d):
        conv = layer.conv.conv
        weight, bias = _weight(conv), _bias(conv)
        pad = (conv.kernel_size[0] - 1) * conv.dilation[0] // 2  # audiocraft pads both sides alike here
        return lambda x: F.conv2d(x, weight, bias, padding=(0, pad), dilation=(1, conv.dilation[0]))
    if isinstance(layer, StreamableConvTranspose1d):
        conv = layer.convtr.convtr
        weight, bias = _weight(conv), _bias(conv)
        stride = conv.stride[0]
        # audiocraft trims kernel - stride samples: the odd one from the left
        right = (conv.kernel_size[0] - stride) // 2
        left = conv.kernel_size[0] - stride - right
        return lambda x: F.conv_transpose2d(x, weight, bias, stride=(1, stride), padding=(0, left),
                                            output_padding=(0, left - right))
    if isinstance(layer, StreamableLSTM):
        def lstm(x):
            sequence = x[:, :, 0].permute(2, 0, 1)  # [T, B, C]
            y, _ = layer.lstm(sequence)
            return _channels_last((y + sequence if layer.skip else y).permute(1, 2, 0))
        return lstm
    if isinstance(layer, SEANetResnetBlock):
        block = [_layer(inner, in_place=i > 0) for i, inner in enumerate(layer.block)]  # x stays for the skip

        def residual(x):
            y = x
            for inner in block:
                y = inner(y)
            return y.add_(x)
        return residual
    if isinstance(layer, torch.nn.ELU) and in_place:
        # over the layer before's output, which nothing else reads: new memory costs page
        # faults at these sizes (a window 15 % faster in place)
        return lambda x: F.elu(x, layer.alpha, inplace=True)
    return layer  # elementwise: the same on any layout


def _weight(conv) -> torch.Tensor:
    """The convolution's weight as a 2-d one's, channels-last, with its weight norm applied."""
    weight = conv.weight
    for hook in conv._forward_pre_hooks.values():
        if isinstance(hook, WeightNorm):
            weight = hook.compute_weight(conv)
    return weight.detach()[:, :, None, :].contiguous(memory_format=torch.channels_last)


def _bias(conv) -> torch.Tensor | None:
    return None if conv.bias is None else conv.bias.detach()
