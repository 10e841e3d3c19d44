"""Loudness: measured once when a cue is written (ITU-R BS.1770, in the worker), then used
for loudness-matched audition without touching the file; of every exported file; and
brought to a delivery spec (a preset's integrated loudness and true-peak ceiling).

BS.1770's K-weighting filters are pyloudnorm's, run here as one cascade by scipy's sosfilt
(which lets other threads run: an export measures its files side by side), and the gated
blocks are summed in one pass over the frames instead of a Python loop per block: the same
blocks and gates as pyloudnorm's `integrated_loudness` (the tests hold the two within
0.01 LU). True peak is BS.1770-4 annex 2's 4× oversampling, evaluated only where a peak
could be (see `_oversampled_peaks`)."""

import math
from dataclasses import dataclass

import numpy as np

AUDITION_TARGET_LUFS = -20.0
MAX_BOOST_DB = 24.0
PEAK_CEILING = 0.98  # never boost a cue into clipping


BLOCK = 0.4  # seconds of a BS.1770 gating block (a momentary window); shorter audio is padded to one
STEP = 0.25  # of a block: blocks overlap by 75 %
SHORT_TERM = 3.0  # seconds of an EBU Tech 3341 short-term window
ABSOLUTE_GATE = -70.0  # LUFS
RELATIVE_GATE = -10.0  # LU below the loudness of the blocks above the absolute gate
RANGE_GATE = -20.0  # LU: EBU Tech 3342's relative gate for the loudness range

# BS.1770-4 annex 2: the four phases (12 taps each) of the 48-tap 4× interpolation filter
OVERSAMPLING = np.array([
    [0.0017089843750, 0.0109863281250, -0.0196533203125, 0.0332031250000, -0.0594482421875, 0.1373291015625,
     0.9721679687500, -0.1022949218750, 0.0476074218750, -0.0266113281250, 0.0148925781250, -0.0083007812500],
    [-0.0291748046875, 0.0292968750000, -0.0517578125000, 0.0891113281250, -0.1665039062500, 0.4650878906250,
     0.7797851562500, -0.2003173828125, 0.1015625000000, -0.0582275390625, 0.0330810546875, -0.0189208984375],
    [-0.0189208984375, 0.0330810546875, -0.0582275390625, 0.1015625000000, -0.2003173828125, 0.7797851562500,
     0.4650878906250, -0.1665039062500, 0.0891113281250, -0.0517578125000, 0.0292968750000, -0.0291748046875],
    [-0.0083007812500, 0.0148925781250, -0.0266113281250, 0.0476074218750, -0.1022949218750, 0.9721679687500,
     0.1373291015625, -0.0594482421875, 0.0332031250000, -0.0196533203125, 0.0109863281250, 0.0017089843750]])
TAPS = OVERSAMPLING.shape[1]
# |an interpolated value| ≤ its phase's L2 norm × that of the 12 samples under it, and
# |a sample| ≤ the samples' norm: the larger factor bounds both
BOUND = max(1.0, float(np.sqrt(np.square(OVERSAMPLING).sum(axis=1)).max()))
PIECE = 1 << 19  # samples of a channel looked at at once: few, large numpy steps share the GIL best


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    lufs: float | None  # integrated target; None: as generated
    true_peak_db: float | None  # ceiling in dBTP


PRESETS = {p.name: p for p in (
    Preset("none", "None (as generated)", None, None),
    Preset("ebu-r128", "EBU R128 (−23 LUFS, −1 dBTP)", -23.0, -1.0),
    Preset("atsc-a85", "ATSC A/85 (−24 LKFS, −2 dBTP)", -24.0, -2.0),
    Preset("streaming-14", "Streaming (−14 LUFS, −1 dBTP)", -14.0, -1.0),
    Preset("streaming-16", "Streaming (−16 LUFS, −1 dBTP)", -16.0, -1.0),
)}
CUSTOM = "custom"  # a preset of the user's own target and ceiling


@dataclass(frozen=True)
class Levels:
    """What a delivery report gives for one file. Loudness in LUFS (None: silent)."""
    integrated: float | None
    range_lu: float | None  # EBU Tech 3342 loudness range (None: too short or silent)
    max_momentary: float | None
    max_short_term: float | None
    true_peak: float  # linear, 4× oversampled
    sample_peak: float

    def scaled(self, gain_db: float) -> "Levels":
        """The levels of the same audio `gain_db` louder (exact but for blocks that cross the
        −70 LUFS absolute gate, which count for nothing against a programme's loud ones)."""
        gain = 10 ** (gain_db / 20)

        def louder(value):
            return None if value is None else value + gain_db
        return Levels(louder(self.integrated), self.range_lu, louder(self.max_momentary), louder(self.max_short_term),
                      self.true_peak * gain, self.sample_peak * gain)

    @property
    def true_peak_db(self) -> float:
        return _db(self.true_peak)

    def to_dict(self) -> dict:
        def rounded(value):
            return None if value is None or not math.isfinite(value) else round(value, 2)
        return {"integrated_lufs": rounded(self.integrated), "loudness_range_lu": rounded(self.range_lu),
                "max_momentary_lufs": rounded(self.max_momentary),
                "max_short_term_lufs": rounded(self.max_short_term),
                "true_peak_dbtp": rounded(self.true_peak_db), "sample_peak_dbfs": rounded(_db(self.sample_peak))}

    def text(self) -> str:
        """One line for a notice: integrated loudness, range and true peak (the rest: to_dict)."""
        if self.integrated is None:
            return "silent"
        lra = "" if self.range_lu is None else f", LRA {self.range_lu:.1f} LU"
        return f"{self.integrated:.1f} LUFS{lra}, true peak {self.true_peak_db:+.1f} dBTP"


def measure(audio: np.ndarray, sample_rate: int) -> tuple[float | None, float]:
    """(integrated loudness in LUFS or None for silence, sample peak) of `audio` [frames, channels]."""
    audio = _padded(audio, sample_rate)
    return _integrated(_block_power(_energy(audio, sample_rate), sample_rate, BLOCK)), _sample_peak(audio)


def levels(audio: np.ndarray, sample_rate: int) -> Levels:
    """Integrated loudness, loudness range, max momentary and short-term loudness, true and
    sample peak of `audio` [frames, channels]."""
    audio = _padded(audio, sample_rate)
    energy = _energy(audio, sample_rate)
    momentary = _block_power(energy, sample_rate, BLOCK)
    short_term = _block_power(energy, sample_rate, SHORT_TERM) if len(audio) >= SHORT_TERM * sample_rate else None
    sample_peak = _sample_peak(audio)
    return Levels(_integrated(momentary), _range(short_term), _loudest(momentary), _loudest(short_term),
                  true_peak(audio, sample_peak), sample_peak)


def true_peak(audio: np.ndarray, sample_peak: float | None = None) -> float:
    """The largest magnitude of `audio` [frames, channels] 4× oversampled (BS.1770-4 annex 2)
    or its sample peak (if known, `sample_peak`) if larger, linear."""
    sample_peak = _sample_peak(audio) if sample_peak is None else sample_peak
    peaks = _oversampled_peaks(audio, sample_peak)[0]
    return max(sample_peak, float(peaks.max()) if peaks.size else 0.0)


def limit(audio: np.ndarray, sample_rate: int, ceiling: float) -> bool:
    """`audio` held under `ceiling` (linear true peak) by a look-ahead limiter, in place: the
    gain each oversampled peak needs, its minimum over ±5 ms, smoothed by a ±5 ms moving
    average (never above what any peak within reach needs, and no clicks). Untouched where
    the true peak is under the ceiling; a last plain trim if the smoothed gain left a hair.
    Whether it had anything to do."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    reach = max(1, round(0.005 * sample_rate))
    for attempt in range(3):
        peaks, samples = _oversampled_peaks(audio, ceiling)
        hot = peaks > ceiling
        if not hot.any():
            return attempt > 0
        needed = np.ones(len(audio))
        np.minimum.at(needed, samples[hot], ceiling * 0.999 / peaks[hot])
        gain = uniform_filter1d(minimum_filter1d(needed, 2 * reach + 1 + TAPS), 2 * reach + 1)
        audio *= np.minimum(gain, needed).astype(audio.dtype)[:, None]
    peak = true_peak(audio)
    if peak > ceiling:
        audio *= np.asarray(ceiling / peak, audio.dtype)
    return True


def audition_gain(lufs: float | None, peak: float, target: float = AUDITION_TARGET_LUFS) -> float:
    """Linear playback gain toward `target` LUFS: at most +24 dB, never past the ceiling."""
    if lufs is None or peak <= 0.0:
        return 1.0
    gain = 10 ** (min(target - lufs, MAX_BOOST_DB) / 20)
    return min(gain, PEAK_CEILING / peak)


# -- pieces ------------------------------------------------------------------------------

def _padded(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    if audio.shape[0] < BLOCK * sample_rate:
        pad = np.zeros((int(BLOCK * sample_rate) - audio.shape[0] + 1, audio.shape[1]), audio.dtype)
        audio = np.concatenate([audio, pad])
    return audio


def _sample_peak(audio: np.ndarray) -> float:
    return max(float(audio.max()), -float(audio.min())) if audio.size else 0.0


def _energy(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """K-weighted power of each frame, channels summed (mono, left and right weigh 1)."""
    from pyloudnorm import IIRfilter  # scipy: only where audio is measured
    from scipy.signal import sosfilt

    k_weighting = [IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sample_rate, "high_shelf"),
                   IIRfilter(0.0, 0.5, 38.0, sample_rate, "high_pass")]
    sections = np.array([np.concatenate([f.b * f.passband_gain, f.a]) for f in k_weighting])
    # float32 keeps the loudness within 0.001 LU of float64 (a 40 Hz tone is the worst) in half the time
    weighted = sosfilt(sections.astype(np.float32), np.asarray(audio, np.float32), axis=0)
    return np.einsum("ij,ij->i", weighted, weighted)


def _block_power(energy: np.ndarray, sample_rate: int, seconds: float) -> np.ndarray:
    """Mean K-weighted power of windows `seconds` long every 100 ms (BS.1770's blocks for 0.4 s)."""
    frames = len(energy)
    hop = BLOCK * STEP
    blocks = int(np.round((frames / sample_rate - seconds) / hop)) + 1
    starts = (hop * np.arange(blocks) * sample_rate).astype(int)
    ends = np.minimum(((hop * np.arange(blocks) + seconds) * sample_rate).astype(int), frames)
    # the energy before each window edge: sums between consecutive edges, then their running sum
    edges = np.unique(np.concatenate([[0], starts, ends]))
    before = np.concatenate([[0.0], np.cumsum(np.add.reduceat(energy, edges[edges < frames], dtype=np.float64))])
    return (before[np.searchsorted(edges, ends)] - before[np.searchsorted(edges, starts)]) / (seconds * sample_rate)


def _lufs(power):
    with np.errstate(divide="ignore"):
        return -0.691 + 10 * np.log10(power)


def _integrated(power: np.ndarray) -> float | None:
    block_lufs = _lufs(power)
    above = block_lufs >= ABSOLUTE_GATE
    if not above.any():
        return None
    relative = _lufs(power[above].mean()) + RELATIVE_GATE
    gated = (block_lufs > relative) & (block_lufs > ABSOLUTE_GATE)
    lufs = _lufs(power[gated].mean()) if gated.any() else -math.inf
    return float(lufs) if math.isfinite(lufs) else None


def _range(power: np.ndarray | None) -> float | None:
    """EBU Tech 3342: the spread (10th to 95th percentile) of the short-term loudness above
    the absolute gate and 20 LU under their power mean."""
    if power is None:
        return None
    short_term = _lufs(power)
    above = power[short_term >= ABSOLUTE_GATE]
    if not above.size:
        return None
    kept = short_term[short_term >= max(ABSOLUTE_GATE, _lufs(above.mean()) + RANGE_GATE)]
    low, high = np.percentile(kept, [10, 95])
    return float(high - low)


def _loudest(power: np.ndarray | None) -> float | None:
    if power is None or not power.size:
        return None
    loudest = float(_lufs(power.max()))
    return loudest if loudest >= ABSOLUTE_GATE else None


def _oversampled_peaks(audio: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """(the largest of |sample| and its four interpolated values, at which samples), of every
    channel, for the samples whose values could exceed `floor`. By Cauchy–Schwarz an
    interpolated value is at most the filter phase's L2 norm times that of the 12 samples
    under it: a sliding energy rules out all but a few samples of music or noise, and the
    filter runs on those only (a loud steady tone, the worst case, costs the full filter).
    In pieces that stay in the CPU's cache."""
    audio = audio if audio.ndim == 2 else audio[:, None]
    found_peaks, found_samples = [np.zeros(0)], [np.zeros(0, np.int64)]
    lead = TAPS // 2  # the window of sample n is x[n - 6 … n + 5]
    for start in range(0, len(audio), PIECE):
        first, end = start - lead, min(start + PIECE, len(audio)) + TAPS - lead - 1  # zeros beyond the audio
        for channel in range(audio.shape[1]):
            x = np.zeros(end - first, np.float32)
            x[max(0, -first):len(x) - max(0, end - len(audio))] = audio[max(0, first):end, channel]
            energy = _sliding_sum_12(x * x)
            samples = np.flatnonzero(energy > (floor / BOUND) ** 2)
            if samples.size:
                windows = np.lib.stride_tricks.sliding_window_view(x, TAPS)[samples]
                # einsum, not matmul: BLAS would wake its threads, which spin on the cores the export uses
                values = np.einsum("nt,pt->np", windows.astype(np.float64), OVERSAMPLING[:, ::-1])  # [n, phases]
                found_peaks.append(np.maximum(np.abs(values).max(axis=1), np.abs(windows[:, lead])))
                found_samples.append(samples + start)
    return np.concatenate(found_peaks), np.concatenate(found_samples)


def _sliding_sum_12(values: np.ndarray) -> np.ndarray:
    """values[n] + … + values[n + 11] for each n, by doubling (no running sum to lose precision)."""
    two = values[:-1] + values[1:]
    four = two[:-2] + two[2:]
    eight = four[:-4] + four[4:]
    return eight[:-4] + four[8:]


def _db(value: float) -> float:
    return 20 * math.log10(value) if value > 0 else -math.inf
