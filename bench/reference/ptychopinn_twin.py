#!/usr/bin/env python3
"""Plain-PyTorch twin of ptychopinn-node's network, physics and training step.

Mirrors native/network.cc, native/physics.cc (Intensity, PoissonNll) and native/training.cc
(BatchLoss, Train) so that a benchmark can measure PyTorch and the addon in the same run:
the same module and parameter names (state_dict keys equal the bundle's safetensors names,
e.g. encoder.blocks.0.conv1.weight, decoder_amp.amp.conv1.weight,
decoder_phase.phase.conv_up_block.conv1.weight), the same layer shapes, activations,
amplitude-bias initialisation, physics and Poisson NLL.

Standard library + torch + numpy only. Prints ONE JSON line, e.g.

  python ptychopinn_twin.py --threads 2 --mode train --batch 16 --steps 20 --warmup 3 [--bf16]
  python ptychopinn_twin.py --threads 2 --mode infer --batch 16 --patterns 256 [--bf16] [--channels-last]
"""

import argparse
import json
import math
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------
# Network (native/network.cc)
# ---------------------------------------------------------------------------------------------

# Pre-activation at which the amplitude activation gives 1 (sigmoid, bounded by 1: 0.9).
AMPLITUDE_BIAS = {"silu": 1.2785, "softplus": 0.5413, "relu": 1.0, "sigmoid": 2.1972}


def activate(x, name):
    if name == "silu":
        return F.silu(x)
    if name == "sigmoid":
        return torch.sigmoid(x)
    if name == "softplus":
        return F.softplus(x)
    if name == "relu":
        return torch.relu(x)
    raise ValueError("unknown activation " + name)


def conv3x3(cin, cout):
    return nn.Conv2d(cin, cout, 3, padding=1, bias=True)


def upsample2(x):
    # nearest, x2 (torch::upsample_nearest2d to 2H x 2W)
    return F.interpolate(x, scale_factor=2, mode="nearest")


def encoder_depth(n):
    """Number of encoder blocks: N / 2^blocks = 8."""
    if n not in (64, 128, 256):
        raise ValueError("N must be 64, 128 or 256, got %d" % n)
    return int(round(math.log2(n))) - 3


class ConvBlock(nn.Module):
    """conv -> ReLU -> conv -> ReLU (3x3, padding 1, biases)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = conv3x3(cin, cout)
        self.conv2 = conv3x3(cout, cout)

    def forward(self, x):
        return torch.relu(self.conv2(torch.relu(self.conv1(x))))


class Encoder(nn.Module):
    def __init__(self, n, channels, f):
        super().__init__()
        depth = encoder_depth(n)
        blocks = []
        cin = channels
        for i in range(depth):
            # channels double each block and end at 128f
            cout = (128 * f) >> (depth - 1 - i)
            blocks.append(ConvBlock(cin, cout))
            cin = cout
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x):
        for block in self.blocks:
            x = F.max_pool2d(block(x), 2)
        return x


class DecoderLast(nn.Module):
    """Last stage of a decoder, on 32f channels at N/2 x N/2.

    Path 1 (conv1) on all but the last c_outer channels fills the patch centre (zero-padded by
    N/4); path 2 (conv_up_block, conv2; probe_big) on the last c_outer channels covers the
    whole patch.
    """

    def __init__(self, n, channels, f, kind, amp_activation="silu", probe_big=True):
        super().__init__()
        self.kind = kind
        self.activation = amp_activation if kind == "amp" else "silu"
        self.n = n
        self.outer_channels = 32 * f // 8
        self.probe_big = probe_big
        width = 32 * f
        self.conv1 = conv3x3(width - self.outer_channels, channels)
        if kind == "amp":
            with torch.no_grad():
                self.conv1.bias.fill_(AMPLITUDE_BIAS[amp_activation])
        if probe_big:
            self.conv_up_block = ConvBlock(self.outer_channels, width)
            self.conv2 = conv3x3(width, channels)

    def forward(self, x):
        width = x.size(1)
        inner = self.conv1(x.narrow(1, 0, width - self.outer_channels))
        if self.kind == "phase":
            inner = math.pi * torch.tanh(inner)
        else:
            inner = activate(inner, self.activation)
        pad = self.n // 4
        out = F.pad(inner, (pad, pad, pad, pad), mode="constant", value=0.0)
        if self.probe_big:
            outer = x.narrow(1, width - self.outer_channels, self.outer_channels)
            full = upsample2(self.conv_up_block(outer))
            out = out + F.silu(self.conv2(full))
        return out


class Decoder(nn.Module):
    def __init__(self, n, channels, f, kind, amp_activation="silu", probe_big=True):
        super().__init__()
        depth = encoder_depth(n) - 1
        blocks = []
        cin = 128 * f
        for i in range(depth):
            # 32f * 2^(depth-1-i): 64f, 32f at N = 64; 128f, 64f, 32f at N = 128
            cout = (32 * f) << (depth - 1 - i)
            blocks.append(ConvBlock(cin, cout))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        # registered as "amp" or "phase", as in the C++
        setattr(self, kind, DecoderLast(n, channels, f, kind, amp_activation, probe_big))
        self._last_name = kind

    def forward(self, x):
        for block in self.blocks:
            x = upsample2(block(x))
        return getattr(self, self._last_name)(x)


class PtychoPinn(nn.Module):
    def __init__(self, n=64, channels=1, filter_scale=2, amp_activation="silu", probe_big=True):
        super().__init__()
        self.encoder = Encoder(n, channels, filter_scale)
        self.decoder_amp = Decoder(n, channels, filter_scale, "amp", amp_activation, probe_big)
        self.decoder_phase = Decoder(n, channels, filter_scale, "phase", amp_activation, probe_big)

    def forward(self, x):
        """(B, C, N, N) normalised amplitudes -> complex (B, C, N, N) object patches."""
        features = self.encoder(x)
        # fp32 from here on whatever precision the convolutions ran in: the physics needs it
        amplitude = self.decoder_amp(features).float()
        phase = self.decoder_phase(features).float()
        # not torch.polar: SiLU amplitudes may be slightly negative
        return torch.complex(amplitude * torch.cos(phase), amplitude * torch.sin(phase))


# ---------------------------------------------------------------------------------------------
# Physics and loss (native/physics.cc)
# ---------------------------------------------------------------------------------------------

def intensity(patch, probe):
    """|fftshift(fft2(patch * probe, norm='ortho'))|^2 over the last two axes."""
    field = torch.fft.fft2(patch * probe, dim=(-2, -1), norm="ortho")
    shifted = torch.fft.fftshift(field, dim=(-2, -1))
    parts = torch.view_as_real(shifted)
    return parts[..., 0].square() + parts[..., 1].square()


def poisson_nll(pred_intensity, measured):
    """sum over (C, N, N) of (I - xlogy(X^2, I)), mean over the batch."""
    per_pixel = pred_intensity - torch.xlogy(measured.square(), pred_intensity)
    return per_pixel.reshape(per_pixel.size(0), -1).sum(1).mean()


# ---------------------------------------------------------------------------------------------
# Synthetic data
# ---------------------------------------------------------------------------------------------

def smooth_noise(rng, count, n, cutoff):
    """Real random fields (count, n, n), low-pass filtered, zero mean, unit std."""
    white = rng.standard_normal((count, n, n))
    k = np.fft.fftfreq(n)
    kk = np.sqrt(k[:, None] ** 2 + k[None, :] ** 2)
    filt = np.exp(-0.5 * (kk / cutoff) ** 2)
    field = np.fft.ifft2(np.fft.fft2(white) * filt).real
    field -= field.mean(axis=(1, 2), keepdims=True)
    field /= field.std(axis=(1, 2), keepdims=True) + 1e-12
    return field


def make_data(count, n, c, seed):
    """Diffraction amplitudes (count, C, N, N) float32 and the probe (N, N) complex64.

    Object patches: amplitude 0.5..1, phase within +-pi/2, smooth random. Probe: Gaussian with a
    slight quadratic phase. Amplitudes = |fftshift(fft2(patch * probe, ortho))| with Poisson
    counts, the probe scaled so the mean total intensity of a pattern is (N/2)^2.
    """
    rng = np.random.default_rng(seed)
    m = count * c
    amp = 0.75 + 0.25 * np.tanh(smooth_noise(rng, m, n, 0.08))
    phase = 0.5 * math.pi * np.tanh(smooth_noise(rng, m, n, 0.08))
    obj = amp * np.exp(1j * phase)
    y, x = np.mgrid[0:n, 0:n] - n / 2.0
    r2 = x ** 2 + y ** 2
    sigma = n / 8.0
    probe = np.exp(-r2 / (2 * sigma ** 2)) * np.exp(1j * 0.3 * r2 / sigma ** 2)
    field = np.fft.fftshift(np.fft.fft2(obj * probe, norm="ortho"), axes=(-2, -1))
    inten = np.abs(field) ** 2
    gain = (n / 2.0) ** 2 / inten.sum(axis=(1, 2)).mean()
    probe = probe * math.sqrt(gain)
    counts = rng.poisson(inten * gain)
    diff = np.sqrt(counts).astype(np.float32).reshape(count, c, n, n)
    return torch.from_numpy(diff), torch.from_numpy(probe.astype(np.complex64))


def intensity_scale(diff, n):
    """SPEC section 4: s = sqrt(mean_i sum_pixels X_i^2) / (N/2) over the training groups."""
    total = diff.double().square().reshape(diff.size(0), -1).sum(1).mean().item()
    return math.sqrt(total) / (n / 2.0)


# ---------------------------------------------------------------------------------------------
# Benchmark
# ---------------------------------------------------------------------------------------------

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=("train", "infer"), default="train")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=20, help="timed training steps (train)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps / batches first")
    p.add_argument("--patterns", type=int, default=256,
                   help="patterns timed (infer); size of the training pool (train)")
    p.add_argument("--bf16", action="store_true", help="autocast the network to bfloat16")
    p.add_argument("--channels-last", action="store_true",
                   help="network weights and input in channels-last (NHWC) memory format")
    p.add_argument("--n", type=int, default=64, help="pattern size N (64, 128, 256)")
    p.add_argument("--channels", type=int, default=1, help="C = gridsize^2")
    p.add_argument("--filter-scale", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args(argv)

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)

    n, c = a.n, a.channels
    net = PtychoPinn(n=n, channels=c, filter_scale=a.filter_scale)
    parameters = sum(t.numel() for t in net.parameters())
    memory_format = torch.channels_last if a.channels_last else torch.contiguous_format
    if a.channels_last:
        net = net.to(memory_format=torch.channels_last)

    pool = max(a.patterns, a.batch)
    diff, probe = make_data(pool, n, c, a.seed)
    scale = intensity_scale(diff, n)
    x_all = (diff / scale).contiguous(memory_format=memory_format)

    def forward(x):
        if a.bf16:
            # the network alone in bf16; its output is cast to fp32 inside forward()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return net(x)
        return net(x)

    extra = {}
    if a.mode == "train":
        net.train()
        opt = torch.optim.Adam(net.parameters(), lr=a.lr)
        gen = torch.Generator().manual_seed(a.seed)
        order = torch.randperm(pool, generator=gen)
        cursor = [0]

        def next_batch():
            nonlocal order
            if cursor[0] + a.batch > pool:
                order = torch.randperm(pool, generator=gen)
                cursor[0] = 0
            rows = order[cursor[0]:cursor[0] + a.batch]
            cursor[0] += a.batch
            return x_all.index_select(0, rows).contiguous(memory_format=memory_format)

        def step(x):
            opt.zero_grad()
            patches = forward(x)
            loss = poisson_nll(intensity(patches, probe), x)
            value = loss.item()
            loss.backward()
            opt.step()
            return value

        first = None
        for _ in range(a.warmup):
            v = step(next_batch())
            first = v if first is None else first
        batches = [next_batch() for _ in range(a.steps)]
        t0 = time.perf_counter()
        last = None
        for x in batches:
            last = step(x)
            first = last if first is None else first
        seconds = time.perf_counter() - t0
        samples = a.batch * a.steps
        extra = {"steps": a.steps, "first_loss": first, "last_loss": last}
    else:
        net.eval()  # no train/eval difference in this network
        batches = [x_all[i:i + a.batch] for i in range(0, a.patterns, a.batch)]
        with torch.inference_mode():
            for i in range(a.warmup):
                forward(batches[i % len(batches)])
            t0 = time.perf_counter()
            for x in batches:
                out = forward(x)
            seconds = time.perf_counter() - t0
            extra = {"output_mean_abs": float(out.abs().mean())}
        samples = a.patterns

    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    result = {
        "impl": "pytorch",
        "torch": torch.__version__,
        "mode": a.mode,
        "batch": a.batch,
        "threads": a.threads,
        "precision": "bf16" if a.bf16 else "fp32",
        "samples_per_s": round(samples / seconds, 3),
        "seconds": round(seconds, 4),
        "peak_rss_mb": round(peak_kb / 1024.0, 1),
        "parameters": parameters,
        "n": n,
        "channels": c,
        "channels_last": a.channels_last,
        "samples": samples,
    }
    result.update(extra)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
