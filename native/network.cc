#include "network.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <cmath>
#include <mutex>
#include <stdexcept>

namespace ptpinn {

namespace F = torch::nn::functional;

namespace {

torch::nn::Conv2d Conv3x3(int64_t in, int64_t out) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(true));
}

torch::Tensor Activate(const torch::Tensor& x, Activation a) {
  switch (a) {
    case Activation::kSilu:
      return torch::silu(x);
    case Activation::kSigmoid:
      return torch::sigmoid(x);
    case Activation::kSoftplus:
      return F::softplus(x);
    case Activation::kRelu:
      return torch::relu(x);
  }
  return x;
}

// The pre-activation at which the amplitude activation gives 1 (sigmoid, bounded by 1: 0.9).
double AmplitudeBias(Activation a) {
  switch (a) {
    case Activation::kSilu:
      return 1.2785;  // silu(1.2785) = 1.000
    case Activation::kSoftplus:
      return 0.5413;  // log(e - 1)
    case Activation::kRelu:
      return 1.0;
    case Activation::kSigmoid:
      return 2.1972;  // logit(0.9)
  }
  return 0.0;
}

torch::Tensor Upsample2(const torch::Tensor& x) { return torch::upsample_nearest2d(x, {x.size(2) * 2, x.size(3) * 2}); }

// A 3 x 3 convolution to a few output channels (the decoders' heads: C of them from 28f or 32f
// inputs), in fp32 inference: a 1 x 1 convolution to the nine taps' partial sums, then their
// shifted sum. oneDNN pads output channels to its vector block (8 on AVX2, 16 on AVX-512), so as a
// 3 x 3 convolution a one-channel head did 8-16 times its multiply-adds: on AVX2 at n_filters_scale
// 1 the heads took 17 % of the convolutions' time for 1.4 % of their work. The 1 x 1 convolution
// calls oneDNN directly: for 1 x 1 kernels on one thread below batch 16 LibTorch picks its
// im2col path, which runs on the reference BLAS in Debian's build. Training's steps keep the plain
// convolution (its backward, and the trajectories the tests were tuned on; the validation loss,
// without autograd, takes this path where training runs NCHW: differences near 1e-7), as does bf16, whose oneDNN path
// depends on the CPU. At 16 outputs (gridsize 4) nothing is padded and the taps measured 0.94 times
// the plain convolution's rate at n_filters_scale 2 (gridsize 3's nine: 1.02-1.03 times, within the
// noise). That was NCHW on Debian's 1.13. Channels-last inference (LibTorch 2.x; 1.x with AVX-512,
// not measured) keeps the plain convolution: against the wheel's 2.13 the taps measured 0.92 and 0.99
// times its rate at n_filters_scale 2, gridsize 2, one thread (gridsize 1 there: not settled).
torch::Tensor HeadConv(torch::nn::Conv2d& conv, const torch::Tensor& x) {
  const torch::Tensor& w = conv->weight;  // (O, I, 3, 3)
  const int64_t out = w.size(0), h = x.size(2), width = x.size(3);
  if (out >= 16 || torch::GradMode::is_enabled() || x.scalar_type() != torch::kFloat || !at::hasMKLDNN() ||
      x.suggest_memory_format() == at::MemoryFormat::ChannelsLast)
    return conv(x);
  // tap-major (ky, kx, O, I): tap k's O outputs are channels k O ... k O + O - 1
  const torch::Tensor taps = w.permute({2, 3, 0, 1}).reshape({9 * out, w.size(1), 1, 1});
  const torch::Tensor z =
      torch::constant_pad_nd(at::mkldnn_convolution(x, taps, {}, {0, 0}, {1, 1}, {1, 1}, 1), {1, 1, 1, 1});
  torch::Tensor y = conv->bias.view({1, out, 1, 1}) + z.narrow(1, 0, out).narrow(2, 0, h).narrow(3, 0, width);
  for (int64_t k = 1; k < 9; ++k) y.add_(z.narrow(1, k * out, out).narrow(2, k / 3, h).narrow(3, k % 3, width));
  return y;
}

// 2 x 2 max pooling. In inference, the maximum of the four strided quarter grids: LibTorch's CPU
// max_pool2d also computes the indices that only its backward needs, and was 5 times as slow
// (16 x 32 x 64 x 64 fp32 on one AVX2 core: 12.3 against 2.4 ms), 8 % of inference's time. The
// same values: a maximum is exact. Training keeps max_pool2d and its backward.
torch::Tensor MaxPool2(const torch::Tensor& x) {
  const int64_t h = x.size(2), w = x.size(3);
  if (torch::GradMode::is_enabled() || h % 2 != 0 || w % 2 != 0) return torch::max_pool2d(x, 2);
  auto quarter = [&](int64_t dy, int64_t dx) { return x.slice(2, dy, h, 2).slice(3, dx, w, 2); };
  return torch::maximum(torch::maximum(quarter(0, 0), quarter(0, 1)), torch::maximum(quarter(1, 0), quarter(1, 1)));
}

}  // namespace

torch::Tensor ToChannelsLast(const torch::Tensor& x) {
  if (x.dim() != 4 || x.size(1) != 1) return x.contiguous(at::MemoryFormat::ChannelsLast);
  const torch::Tensor c = x.contiguous();
  return c.as_strided(c.sizes(), {c.size(2) * c.size(3), 1, c.size(3), 1}, c.storage_offset());
}

namespace {

// Number of encoder blocks: N / 2^blocks = 8.
int64_t EncoderDepth(int64_t n) {
  if (n != 64 && n != 128 && n != 256) {
    throw std::invalid_argument("N must be 64, 128 or 256, got " + std::to_string(n));
  }
  return static_cast<int64_t>(std::lround(std::log2(static_cast<double>(n)))) - 3;
}

}  // namespace

ConvBlockImpl::ConvBlockImpl(int64_t in, int64_t out)
    : conv1(register_module("conv1", Conv3x3(in, out))), conv2(register_module("conv2", Conv3x3(out, out))) {}

// In place: autograd needs neither convolution's output, only the ReLU's, and the nested
// expression kept all four temporaries alive to its end where two now are (fp32 inference at
// N = 64, gridsize 1: 3.3 against 9.8 MB a pattern, the same numbers).
torch::Tensor ConvBlockImpl::forward(const torch::Tensor& x) { return conv2(conv1(x).relu_()).relu_(); }

EncoderImpl::EncoderImpl(const NetworkConfig& c) {
  const int64_t depth = EncoderDepth(c.n);
  int64_t in = c.NetworkChannels();
  for (int64_t i = 0; i < depth; ++i) {
    // channels double each block and end at 128f
    const int64_t out = 128 * c.filterScale >> (depth - 1 - i);
    blocks->push_back(ConvBlock(in, out));
    in = out;
  }
  register_module("blocks", blocks);
}

torch::Tensor EncoderImpl::forward(torch::Tensor x) {
  for (const auto& block : *blocks) {
    x = MaxPool2(block->as<ConvBlock>()->forward(x));
  }
  return x;
}

DecoderLastImpl::DecoderLastImpl(const NetworkConfig& c, DecoderKind k)
    : kind(k),
      activation(k == DecoderKind::kAmplitude ? c.ampActivation : Activation::kSilu),
      n(c.n),
      outerChannels(32 * c.filterScale / 8),
      probeBig(c.probeBig) {
  const int64_t channels = 32 * c.filterScale;
  conv1 = register_module("conv1", Conv3x3(channels - outerChannels, c.NetworkChannels()));
  if (k == DecoderKind::kAmplitude) {
    // The object is normalised to amplitude ~1 (the probe is scaled to the data): start the
    // amplitude there, on the rising side of the activation. From ~0 a SiLU amplitude can slide
    // into its negative lobe, where |O| = 0.28 and the gradient vanishes.
    torch::NoGradGuard noGrad;
    conv1->bias.fill_(AmplitudeBias(c.ampActivation));
  }
  if (probeBig) {
    conv_up_block = register_module("conv_up_block", ConvBlock(outerChannels, channels));
    conv2 = register_module("conv2", Conv3x3(channels, c.NetworkChannels()));
  }
}

torch::Tensor DecoderLastImpl::forward(const torch::Tensor& x) {
  const int64_t channels = x.size(1);
  torch::Tensor inner = HeadConv(conv1, conv1TakesAll ? x : x.narrow(1, 0, channels - outerChannels));
  inner = kind == DecoderKind::kPhase ? M_PI * torch::tanh(inner) : Activate(inner, activation);
  const int64_t pad = n / 4;
  torch::Tensor out = torch::constant_pad_nd(inner, {pad, pad, pad, pad}, 0);
  if (probeBig) {
    torch::Tensor full = Upsample2(conv_up_block(x.narrow(1, channels - outerChannels, outerChannels)));
    out = out + torch::silu(HeadConv(conv2, full));
  }
  return out;
}

DecoderImpl::DecoderImpl(const NetworkConfig& c, DecoderKind kind) {
  const int64_t depth = EncoderDepth(c.n) - 1;
  int64_t in = 128 * c.filterScale;
  for (int64_t i = 0; i < depth; ++i) {
    // 32f * 2^(depth-1-i): 64f, 32f at N = 64; 128f, 64f, 32f at N = 128
    const int64_t out = 32 * c.filterScale << (depth - 1 - i);
    blocks->push_back(ConvBlock(in, out));
    in = out;
  }
  register_module("blocks", blocks);
  last = register_module(kind == DecoderKind::kAmplitude ? "amp" : "phase", DecoderLast(c, kind));
}

torch::Tensor DecoderImpl::forward(torch::Tensor x) {
  for (const auto& block : *blocks) x = Upsample2(block->as<ConvBlock>()->forward(x));
  return last(x);
}

PtychoPinnImpl::PtychoPinnImpl(const NetworkConfig& c)
    : config(c),
      encoder(register_module("encoder", Encoder(c))),
      decoder_amp(register_module("decoder_amp", Decoder(c, DecoderKind::kAmplitude))),
      decoder_phase(register_module("decoder_phase", Decoder(c, DecoderKind::kPhase))) {}

torch::Tensor PtychoPinnImpl::forward(const torch::Tensor& x) {
  const auto sizes = x.sizes().vec();
  torch::Tensor in = config.sharedMembers ? x.flatten(0, 1).unsqueeze(1) : x;
  // the weights are NHWC there (MakeNetwork, ChannelsLastCopy); once, after the members' flatten
  if (ChannelsLastLayout()) in = ToChannelsLast(in);
  torch::Tensor features = encoder(in);
  // fp32 from here on whatever precision the convolutions ran in: the physics needs it
  const torch::Tensor amplitude = decoder_amp(features).to(torch::kFloat);
  const torch::Tensor phase = decoder_phase(features).to(torch::kFloat);
  // not torch::polar: SiLU amplitudes may be slightly negative
  const torch::Tensor out = torch::complex(amplitude * torch::cos(phase), amplitude * torch::sin(phase));
  return config.sharedMembers ? out.reshape(sizes) : out;
}

std::vector<std::pair<std::string, torch::Tensor>> CopyParameters(PtychoPinn& net) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : net->named_parameters()) out.emplace_back(item.key(), item.value().detach().clone());
  return out;
}

namespace {
// LibTorch's initialisation draws from the global generator
std::mutex initMutex;
}  // namespace

PtychoPinn MakeNetwork(const NetworkConfig& config, uint64_t seed) {
  std::lock_guard<std::mutex> lock(initMutex);
  torch::manual_seed(seed);
  PtychoPinn net(config);
  // Drawn in NCHW order as LibTorch draws them (the same values in either layout), then stored in
  // the layout training runs in, so that gradients and Adam's moments follow it and each step
  // runs its convolutions NHWC. Done here, on the JS thread before any job holds the network,
  // rather than in Train: no job changes a parameter's storage while another reads its sizes.
  // Bundles load by copy_, which keeps the layout.
  if (ChannelsLastLayout()) {
    torch::NoGradGuard noGrad;
    for (auto& p : net->parameters()) {
      if (p.dim() == 4) p.set_data(ToChannelsLast(p.detach()));
    }
  }
  return net;
}

PtychoPinn ChannelsLastCopy(PtychoPinn& net, torch::ScalarType dtype) {
  PtychoPinn copy{nullptr};
  {
    // the copy's own initial values are overwritten below; the lock keeps its draws from the
    // global generator from interleaving with a seeded MakeNetwork on another thread
    std::lock_guard<std::mutex> lock(initMutex);
    copy = PtychoPinn(net->config);
  }
  torch::NoGradGuard noGrad;
  const auto source = net->named_parameters();
  for (auto& item : copy->named_parameters()) {
    const torch::Tensor& from = source[item.key()];
    // a copy, never the training network's storage, which training goes on changing
    const torch::Tensor owned = from.to(dtype, false, true);
    item.value().set_data(from.dim() == 4 ? ToChannelsLast(owned) : owned);
  }
  // A channel slice of NHWC activations is not contiguous, and LibTorch copies it before the
  // convolution (the 28f channels at N/2 x N/2 a pattern, twice: 79 ms of a 1.44 s bf16 prediction
  // on an AMX CPU). Zero weights for the channels path 1 does not use make the slice unnecessary:
  // their products are exact zeros.
  for (DecoderLast last : {copy->decoder_amp->last, copy->decoder_phase->last}) {
    TORCH_CHECK(!last->conv1TakesAll, "ChannelsLastCopy of a copy");
    const torch::Tensor& w = last->conv1->weight;
    torch::Tensor all = torch::zeros({w.size(0), w.size(1) + last->outerChannels, w.size(2), w.size(3)}, w.options());
    all.narrow(1, 0, w.size(1)).copy_(w);
    last->conv1->weight.set_data(ToChannelsLast(all));
    last->conv1->options.in_channels(all.size(1));
    last->conv1TakesAll = true;
  }
  return copy;
}

bool ChannelsLastLayout() {
#if TORCH_VERSION_MAJOR < 2 && (defined(__x86_64__) || defined(__i386__))
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  return avx512;
#else
  return true;
#endif
}

// LibTorch 2.4 replaced the CPU-specific autocast calls by ones taking the device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define PTPINN_AUTOCAST_DEVICE_API 1
#endif

PrecisionScope::PrecisionScope(Precision precision) : active_(precision == Precision::kBFloat16) {
  if (!active_) return;
#ifdef PTPINN_AUTOCAST_DEVICE_API
  wasEnabled_ = at::autocast::is_autocast_enabled(at::kCPU);
  previousType_ = at::autocast::get_autocast_dtype(at::kCPU);
  at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCPU, true);
#else
  wasEnabled_ = at::autocast::is_cpu_enabled();
  previousType_ = at::autocast::get_autocast_cpu_dtype();
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  at::autocast::set_cpu_enabled(true);
#endif
}

PrecisionScope::~PrecisionScope() {
  if (!active_) return;
#ifdef PTPINN_AUTOCAST_DEVICE_API
  at::autocast::set_autocast_enabled(at::kCPU, wasEnabled_);
  at::autocast::set_autocast_dtype(at::kCPU, previousType_);
#else
  at::autocast::set_cpu_enabled(wasEnabled_);
  at::autocast::set_autocast_cpu_dtype(previousType_);
#endif
  // the bf16 copies of the weights autocast cached for this call
  at::autocast::clear_cache();
}

}  // namespace ptpinn
