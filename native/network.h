// The PtychoPINN network of SPEC section 5: a shared encoder and two decoders (amplitude and
// phase), each decoder ending in a centre path and a full-patch ("probe_big") path.
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

namespace ptpinn {

enum class Activation { kSilu, kSigmoid, kSoftplus, kRelu };

// Precision of the convolutions. bf16 runs them at twice the fp32 rate on CPUs with AVX512_BF16
// (oneDNN's bf16 kernels) with fp32 weights kept; the network's output, the physics and the loss
// stay fp32.
enum class Precision { kFloat32, kBFloat16 };

// LibTorch's CPU autocast for the scope of one call, on the thread that runs it (autocast state is
// thread-local), restored on exit.
class PrecisionScope {
 public:
  explicit PrecisionScope(Precision precision);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  bool active_;
  bool wasEnabled_ = false;
  at::ScalarType previousType_ = at::kBFloat16;
};

struct NetworkConfig {
  int64_t n = 64;           // pattern size N: 64, 128 or 256
  int64_t channels = 1;     // C = gridsize^2
  int64_t filterScale = 2;  // n_filters_scale f
  Activation ampActivation = Activation::kSilu;
  bool probeBig = true;
  // Each of the C members through the same single-pattern network (batch B * C, one channel):
  // the members then meet only in the object_big merge. On a Siemens star under a compact probe
  // the C-channel network fits the data no better than a constant object while this one resolves
  // the spokes (README, "member_network").
  bool sharedMembers = false;
  // the channels the convolutions see and return
  int64_t NetworkChannels() const { return sharedMembers ? 1 : channels; }
};

// conv -> ReLU -> conv -> ReLU (3x3, padding 1, biases).
struct ConvBlockImpl : torch::nn::Module {
  ConvBlockImpl(int64_t in, int64_t out);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
};
TORCH_MODULE(ConvBlock);

struct EncoderImpl : torch::nn::Module {
  explicit EncoderImpl(const NetworkConfig& config);
  torch::Tensor forward(torch::Tensor x);
  torch::nn::ModuleList blocks;
};
TORCH_MODULE(Encoder);

enum class DecoderKind { kAmplitude, kPhase };

// A decoder's last stage, on 32f channels at N/2 x N/2 (names as the reference's Decoder_last):
// path 1 (conv1) on all but the last c_outer channels fills the patch centre; path 2
// (conv_up_block, conv2) on the last c_outer channels covers the whole patch.
struct DecoderLastImpl : torch::nn::Module {
  DecoderLastImpl(const NetworkConfig& config, DecoderKind kind);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Conv2d conv1{nullptr};
  ConvBlock conv_up_block{nullptr};
  torch::nn::Conv2d conv2{nullptr};
  DecoderKind kind;
  Activation activation;
  int64_t n, outerChannels;
  bool probeBig;
  // conv1's weights cover all 32f input channels, the last c_outer of them zero (inference copies
  // only: see ChannelsLastCopy), so path 1 reads x whole instead of a channel slice
  bool conv1TakesAll = false;
};
TORCH_MODULE(DecoderLast);

struct DecoderImpl : torch::nn::Module {
  DecoderImpl(const NetworkConfig& config, DecoderKind kind);
  // (B, 128f, 8, 8) features -> (B, C, N, N)
  torch::Tensor forward(torch::Tensor x);

  torch::nn::ModuleList blocks;
  DecoderLast last{nullptr};  // registered as "amp" or "phase"
};
TORCH_MODULE(Decoder);

struct PtychoPinnImpl : torch::nn::Module {
  explicit PtychoPinnImpl(const NetworkConfig& config);
  // (B, C, N, N) normalised amplitudes -> complex (B, C, N, N) object patches
  torch::Tensor forward(const torch::Tensor& x);

  NetworkConfig config;
  Encoder encoder{nullptr};
  Decoder decoder_amp{nullptr}, decoder_phase{nullptr};
};
TORCH_MODULE(PtychoPinn);

// Copies of the weights by name, in registration order (not views: training goes on changing them).
std::vector<std::pair<std::string, torch::Tensor>> CopyParameters(PtychoPinn& net);

// Builds the network with weights drawn from `seed`: LibTorch's default initialisation draws from
// the global generator, so construction is serialised and the generator re-seeded. Its
// convolution weights are stored in the layout training runs in (ChannelsLastLayout).
PtychoPinn MakeNetwork(const NetworkConfig& config, uint64_t seed);

// A copy of the network for inference, its convolution weights in channels-last (NHWC) layout:
// oneDNN then runs every convolution on NHWC activations without reordering them in and out of
// its blocked layout at each layer (the network itself is built NHWC where training runs so: see MakeNetwork). With
// `dtype` bf16 the weights are stored rounded to bf16, as autocast would round them at every convolution: the same
// numbers, without autocast's casts (LibTorch 2.13 does not cache them in inference mode: 44
// casts a batch, 4.5 % of a bf16 prediction's time on an AMX CPU). Such a copy runs only inside a
// PrecisionScope of bf16 (Predict opens one): an fp32 input would not meet its bf16 weights.
PtychoPinn ChannelsLastCopy(PtychoPinn& net, torch::ScalarType dtype = torch::kFloat);

// contiguous(ChannelsLast), except that a one-channel (B, 1, H, W) tensor gets NHWC strides
// (H W, 1, W, 1): it counts as contiguous in both layouts, contiguous(ChannelsLast) keeps its NCHW
// strides, and LibTorch then runs the first convolution NCHW and copies its output to NHWC before
// the second (LibTorch 2.13, bf16, gridsize 1: one 8 MB copy a batch of 16). The same for the
// first convolution's (O, 1, 3, 3) weights.
torch::Tensor ToChannelsLast(const torch::Tensor& x);

// Whether training and inference run channels-last: every LibTorch 2.x, and 1.x except on x86
// CPUs without AVX-512. The oneDNN of LibTorch 1.13 (Debian's links oneDNN 2.6) has slower NHWC than NCHW
// convolutions on AVX2 alone. Network rates at batch 16, N = 64, fp32, NCHW -> NHWC: 1.13 on AVX2
// 57 -> 48 patterns/s; 2.13 on the same CPU 48 -> 70; on an AVX-512 CPU the whole infer 8.3 -> 7.4
// s with 1.13 and 10.2 -> 7.1 s with 2.13. Training on an AVX-512 CPU (AMD, 1.13, gridsize 1,
// samples/s): fp32 batch 4 about 40 -> 46, batch 16 about 49 -> 54, bf16 batch 16 71 -> 91. A
// fixed rule, not a timing at run time: the two layouts' kernels round differently, and the same
// call must give the same numbers.
bool ChannelsLastLayout();

}  // namespace ptpinn
