// rmc-robust native kernels: oneDNN convolutions on NHWC float32 buffers shared with tfjs-backend-cpu.
//
// Every entry point is synchronous, takes the tfjs tensors' Float32Arrays without copying and writes
// into an output Float32Array allocated by the caller. Primitive descriptors and primitives are cached
// per shape; oneDNN's OpenMP runtime uses every core.
#include <node_api.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace {

using dnnl::algorithm;
using dnnl::memory;
using dnnl::prop_kind;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

dnnl::engine& cpuEngine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& cpuStream() {
  static dnnl::stream stream(cpuEngine());
  return stream;
}

// Geometry of a 2-D convolution in tfjs terms (NHWC activations, HWIO filters).
struct ConvGeometry {
  int64_t n, h, w, c;       // input
  int64_t kh, kw, o;        // filter (in channels = c)
  int64_t oh, ow;           // output
  int64_t sh, sw, dh, dw;   // strides, dilations (1 = none)
  int64_t pt, pl, pb, pr;   // padding
  int64_t activation;       // 0 none, 1 relu (forward only)
  int64_t hasBias;          // forward only

  memory::dims src() const { return {n, c, h, w}; }
  memory::dims weights() const { return {o, c, kh, kw}; }
  memory::dims dst() const { return {n, o, oh, ow}; }
  memory::dims strides() const { return {sh, sw}; }
  memory::dims dilates() const { return {dh - 1, dw - 1}; }
  memory::dims padL() const { return {pt, pl}; }
  memory::dims padR() const { return {pb, pr}; }
  std::string key(const char* kind) const {
    std::string k(kind);
    for (int64_t v : {n, h, w, c, kh, kw, o, oh, ow, sh, sw, dh, dw, pt, pl, pb, pr, activation, hasBias}) {
      k += ',';
      k += std::to_string(v);
    }
    return k;
  }
};

memory::desc nhwc(const memory::dims& d) { return memory::desc(d, dt::f32, tag::nhwc); }
memory::desc any(const memory::dims& d) { return memory::desc(d, dt::f32, tag::any); }
memory::desc hwio(const memory::dims& d) { return memory::desc(d, dt::f32, tag::hwio); }

dnnl::convolution_forward::primitive_desc forwardDesc(const ConvGeometry& g, prop_kind kind, bool bias, int64_t activation) {
  auto biasDesc = bias ? memory::desc({g.o}, dt::f32, tag::a) : memory::desc();
  dnnl::convolution_forward::desc d(kind, algorithm::convolution_direct, nhwc(g.src()), any(g.weights()), biasDesc,
                                    nhwc(g.dst()), g.strides(), g.dilates(), g.padL(), g.padR());
  dnnl::primitive_attr attr;
  if (activation == 1) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(ops);
  }
  return dnnl::convolution_forward::primitive_desc(d, attr, cpuEngine());
}

struct ForwardEntry {
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  memory weights;  // in the primitive's layout
  bool reorderWeights;
};

struct BackwardDataEntry {
  dnnl::convolution_backward_data::primitive_desc pd;
  dnnl::convolution_backward_data prim;
  memory weights;
  bool reorderWeights;
};

struct BackwardWeightsEntry {
  dnnl::convolution_backward_weights::primitive_desc pd;
  dnnl::convolution_backward_weights prim;
  memory diffWeights;
  bool reorderWeights;
};

std::mutex cacheMutex;

// The cached entry for `key`, made by `make()` on first use.
template <typename Entry, typename Make>
std::shared_ptr<Entry> cached(std::unordered_map<std::string, std::shared_ptr<Entry>>& cache, const std::string& key, Make make) {
  std::lock_guard<std::mutex> lock(cacheMutex);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  auto entry = std::make_shared<Entry>(make());
  cache.emplace(key, entry);
  return entry;
}

// Filters reordered into a primitive's layout, attached to the filter's Float32Array (napi_wrap) and
// freed with it. An attack runs the same weights through tens to hundreds of forward and backward
// passes; reordering them once per layout instead of once per call saves a good part of each step.
// A layout is kept only from its second use on, so training (fresh weights every step, each layout
// used once) allocates nothing extra. Safe because tfjs never writes into a tensor's values in place:
// new weights (an optimizer step, Variable.assign) arrive in a new Float32Array.
struct ReorderedWeights {
  std::unordered_map<std::string, memory> byLayout;
  std::unordered_map<std::string, bool> seen;
  int64_t bytes = 0;
};

void freeReordered(napi_env env, void* data, void*) {
  auto* cache = static_cast<ReorderedWeights*>(data);
  int64_t unused;
  if (cache->bytes) napi_adjust_external_memory(env, -cache->bytes, &unused);
  delete cache;
}

// The filter `user` (HWIO, the data of the Float32Array `filterArray`) in the primitive's layout
// `key`: the user memory itself, a cached reorder, or `scratch` after a reorder.
memory weightsFor(napi_env env, napi_value filterArray, const std::string& key, memory user, memory scratch, bool reorder,
                  dnnl::stream& stream) {
  if (!reorder) return user;
  ReorderedWeights* cache = nullptr;
  if (napi_unwrap(env, filterArray, reinterpret_cast<void**>(&cache)) != napi_ok || cache == nullptr) {
    cache = new ReorderedWeights();
    if (napi_wrap(env, filterArray, cache, freeReordered, nullptr, nullptr) != napi_ok) {
      delete cache;
      cache = nullptr;
    }
  }
  if (cache) {
    auto hit = cache->byLayout.find(key);
    if (hit != cache->byLayout.end()) return hit->second;
    if (cache->seen[key]) {
      memory kept(scratch.get_desc(), cpuEngine());
      dnnl::reorder(user, kept).execute(stream, user, kept);
      const int64_t bytes = static_cast<int64_t>(scratch.get_desc().get_size());
      int64_t unused;
      napi_adjust_external_memory(env, bytes, &unused);
      cache->bytes += bytes;
      cache->byLayout.emplace(key, kept);
      return kept;
    }
    cache->seen[key] = true;
  }
  dnnl::reorder(user, scratch).execute(stream, user, scratch);
  return scratch;
}
std::unordered_map<std::string, std::shared_ptr<ForwardEntry>> forwardCache;
std::unordered_map<std::string, std::shared_ptr<BackwardDataEntry>> backwardDataCache;
std::unordered_map<std::string, std::shared_ptr<BackwardWeightsEntry>> backwardWeightsCache;

// ---- N-API helpers -------------------------------------------------------------------------------

struct Failure {
  std::string message;
};

float* floatData(napi_env env, napi_value value, size_t expected, const char* name) {
  bool isTyped = false;
  napi_is_typedarray(env, value, &isTyped);
  if (!isTyped) throw Failure{std::string(name) + ": expected a Float32Array"};
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr);
  if (type != napi_float32_array) throw Failure{std::string(name) + ": expected a Float32Array"};
  if (length != expected) {
    throw Failure{std::string(name) + ": has " + std::to_string(length) + " elements, expected " + std::to_string(expected)};
  }
  return static_cast<float*>(data);
}

ConvGeometry geometry(napi_env env, napi_value value) {
  bool isTyped = false;
  napi_is_typedarray(env, value, &isTyped);
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (isTyped) napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr);
  if (!isTyped || type != napi_int32_array || length != 19) throw Failure{"geometry: expected an Int32Array of 19 values"};
  const int32_t* v = static_cast<const int32_t*>(data);
  ConvGeometry g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15], v[16], v[17], v[18]};
  for (int i = 0; i < 17; i++) {
    if (v[i] < 0 || (i < 13 && v[i] < 1)) throw Failure{"geometry: invalid value at " + std::to_string(i)};
  }
  return g;
}

template <size_t N>
void arguments(napi_env env, napi_callback_info info, napi_value (&argv)[N], size_t minimum) {
  size_t argc = N;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < minimum) throw Failure{"expected " + std::to_string(minimum) + " arguments"};
}

napi_value fail(napi_env env, const std::string& message) {
  napi_throw_error(env, "RMC_NATIVE", message.c_str());
  return nullptr;
}

template <typename F>
napi_value guarded(napi_env env, F&& body) {
  try {
    body();
  } catch (const Failure& f) {
    return fail(env, f.message);
  } catch (const dnnl::error& e) {
    return fail(env, std::string("oneDNN: ") + e.what());
  } catch (const std::exception& e) {
    return fail(env, e.what());
  }
  return nullptr;
}

// ---- kernels ---------------------------------------------------------------------------------------

// conv2dForward(geometry, x, filter, bias | null, out)
napi_value Conv2dForward(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    napi_value argv[5];
    arguments(env, info, argv, 5);
    ConvGeometry g = geometry(env, argv[0]);
    float* x = floatData(env, argv[1], g.n * g.h * g.w * g.c, "x");
    float* filter = floatData(env, argv[2], g.kh * g.kw * g.c * g.o, "filter");
    float* bias = g.hasBias ? floatData(env, argv[3], g.o, "bias") : nullptr;
    float* out = floatData(env, argv[4], g.n * g.oh * g.ow * g.o, "out");

    const std::string key = g.key("fwd");
    auto entry = cached(forwardCache, key, [&] {
      auto pd = forwardDesc(g, prop_kind::forward_inference, g.hasBias, g.activation);
      bool reorder = pd.weights_desc() != hwio(g.weights());
      return ForwardEntry{pd, dnnl::convolution_forward(pd), reorder ? memory(pd.weights_desc(), cpuEngine()) : memory(), reorder};
    });
    auto& engine = cpuEngine();
    auto& stream = cpuStream();
    memory src(nhwc(g.src()), engine, x);
    memory dst(nhwc(g.dst()), engine, out);
    memory weights = weightsFor(env, argv[2], key, memory(hwio(g.weights()), engine, filter), entry->weights, entry->reorderWeights, stream);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}};
    if (bias) args.insert({DNNL_ARG_BIAS, memory(memory::desc({g.o}, dt::f32, tag::a), engine, bias)});
    entry->prim.execute(stream, args);
    stream.wait();
  });
}

// conv2dBackwardData(geometry, dy, filter, dx): dx = gradient of the input.
napi_value Conv2dBackwardData(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    napi_value argv[4];
    arguments(env, info, argv, 4);
    ConvGeometry g = geometry(env, argv[0]);
    float* dy = floatData(env, argv[1], g.n * g.oh * g.ow * g.o, "dy");
    float* filter = floatData(env, argv[2], g.kh * g.kw * g.c * g.o, "filter");
    float* dx = floatData(env, argv[3], g.n * g.h * g.w * g.c, "dx");

    const std::string key = g.key("bwd_data");
    auto entry = cached(backwardDataCache, key, [&] {
      auto hint = forwardDesc(g, prop_kind::forward_training, false, 0);
      dnnl::convolution_backward_data::desc d(algorithm::convolution_direct, nhwc(g.src()), any(g.weights()), nhwc(g.dst()),
                                              g.strides(), g.dilates(), g.padL(), g.padR());
      dnnl::convolution_backward_data::primitive_desc pd(d, cpuEngine(), hint);
      bool reorder = pd.weights_desc() != hwio(g.weights());
      return BackwardDataEntry{pd, dnnl::convolution_backward_data(pd), reorder ? memory(pd.weights_desc(), cpuEngine()) : memory(), reorder};
    });
    auto& engine = cpuEngine();
    auto& stream = cpuStream();
    memory diffDst(nhwc(g.dst()), engine, dy);
    memory diffSrc(nhwc(g.src()), engine, dx);
    memory weights = weightsFor(env, argv[2], key, memory(hwio(g.weights()), engine, filter), entry->weights, entry->reorderWeights, stream);
    entry->prim.execute(stream, {{DNNL_ARG_DIFF_DST, diffDst}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DIFF_SRC, diffSrc}});
    stream.wait();
  });
}

// conv2dBackwardFilter(geometry, x, dy, dw): dw = gradient of the filter (HWIO).
napi_value Conv2dBackwardFilter(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    napi_value argv[4];
    arguments(env, info, argv, 4);
    ConvGeometry g = geometry(env, argv[0]);
    float* x = floatData(env, argv[1], g.n * g.h * g.w * g.c, "x");
    float* dy = floatData(env, argv[2], g.n * g.oh * g.ow * g.o, "dy");
    float* dw = floatData(env, argv[3], g.kh * g.kw * g.c * g.o, "dw");

    auto entry = cached(backwardWeightsCache, g.key("bwd_weights"), [&] {
      auto hint = forwardDesc(g, prop_kind::forward_training, false, 0);
      dnnl::convolution_backward_weights::desc d(algorithm::convolution_direct, nhwc(g.src()), any(g.weights()), nhwc(g.dst()),
                                                 g.strides(), g.dilates(), g.padL(), g.padR());
      dnnl::convolution_backward_weights::primitive_desc pd(d, cpuEngine(), hint);
      // oneDNN 2.6's jit_1x1 backward-weights kernel corrupts the heap for strided 1x1 convolutions
      // with fewer than 16 input channels (its reduce-to-unit-stride path): take the next
      // implementation for strided 1x1 problems.
      if (g.kh == 1 && g.kw == 1 && (g.sh > 1 || g.sw > 1)) {
        while (std::string(pd.impl_info_str()).find("1x1") != std::string::npos && pd.next_impl()) {
        }
      }
      bool reorder = pd.diff_weights_desc() != hwio(g.weights());
      return BackwardWeightsEntry{pd, dnnl::convolution_backward_weights(pd), reorder ? memory(pd.diff_weights_desc(), cpuEngine()) : memory(), reorder};
    });
    auto& engine = cpuEngine();
    auto& stream = cpuStream();
    memory src(nhwc(g.src()), engine, x);
    memory diffDst(nhwc(g.dst()), engine, dy);
    memory userDiffWeights(hwio(g.weights()), engine, dw);
    memory diffWeights = entry->reorderWeights ? entry->diffWeights : userDiffWeights;
    entry->prim.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diffDst}, {DNNL_ARG_DIFF_WEIGHTS, diffWeights}});
    if (entry->reorderWeights) dnnl::reorder(diffWeights, userDiffWeights).execute(stream, diffWeights, userDiffWeights);
    stream.wait();
  });
}

// ---- element-wise and batch-norm kernels (OpenMP over rows) -------------------------------------

template <typename T>
T* typedData(napi_env env, napi_value value, napi_typedarray_type wanted, const char* name, size_t* length) {
  bool isTyped = false;
  napi_is_typedarray(env, value, &isTyped);
  napi_typedarray_type type;
  void* data = nullptr;
  if (isTyped) napi_get_typedarray_info(env, value, &type, length, &data, nullptr, nullptr);
  if (!isTyped || type != wanted) throw Failure{std::string(name) + ": wrong typed array type"};
  return static_cast<T*>(data);
}

int64_t intArg(napi_env env, napi_value value, const char* name) {
  int64_t v = 0;
  if (napi_get_value_int64(env, value, &v) != napi_ok) throw Failure{std::string(name) + ": expected an integer"};
  return v;
}

double numberArg(napi_env env, napi_value value, const char* name) {
  double v = 0;
  if (napi_get_value_double(env, value, &v) != napi_ok) throw Failure{std::string(name) + ": expected a number"};
  return v;
}

// binary(op, a, b, out, aPeriod, bPeriod): out[i] = a[i % aPeriod] op b[i % bPeriod], where each
// period is the full length, 1 (scalar) or a trailing block (per-channel vector). Ops: 0 add, 1 sub,
// 2 mul, 3 div, 4 Relu's gradient a * step(b) (full operands only; NaN b gives NaN).
napi_value Binary(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    napi_value argv[6];
    arguments(env, info, argv, 6);
    int64_t op = intArg(env, argv[0], "op");
    size_t na, nb, n;
    const float* a = typedData<float>(env, argv[1], napi_float32_array, "a", &na);
    const float* b = typedData<float>(env, argv[2], napi_float32_array, "b", &nb);
    float* out = typedData<float>(env, argv[3], napi_float32_array, "out", &n);
    int64_t pa = intArg(env, argv[4], "aPeriod"), pb = intArg(env, argv[5], "bPeriod");
    if (op == 4 && (pa != (int64_t)n || pb != (int64_t)n)) throw Failure{"binary: op 4 takes full operands"};
    if (pa < 1 || pb < 1 || (size_t)pa > na || (size_t)pb > nb || (n % pa) || (n % pb) || ((size_t)pa != n && (size_t)pb != n)) {
      throw Failure{"binary: inconsistent periods"};
    }
    const int64_t total = (int64_t)n;
    if (pa == total && pb == total) {
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < total; i++) {
        float x = a[i], y = b[i];
        out[i] = op == 0 ? x + y : op == 1 ? x - y : op == 2 ? x * y : op == 3 ? x / y : x * (y > 0 ? 1.f : y != y ? y : 0.f);
      }
      return;
    }
    const int64_t block = std::min(pa, pb);
    const bool aFull = pa == total;
    const int64_t rows = total / block;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const int64_t start = r * block;
      for (int64_t j = 0; j < block; j++) {
        float x = aFull ? a[start + j] : a[j];
        float y = aFull ? b[j] : b[start + j];
        out[start + j] = op == 0 ? x + y : op == 1 ? x - y : op == 2 ? x * y : x / y;
      }
    }
  });
}

// sgdStep(w, g, buf | null, outW, outBuf | null, lr, momentum, weightDecay, nesterov): PyTorch's SGD
// update in one pass, with float32 rounding after each operation as tfjs's composite ops round:
// d = g + w * wd; buf' = buf ? buf * m + d : d; d = nesterov ? d + buf' * m : buf'; w' = w - d * lr.
// Without momentum (outBuf null) d is used directly.
napi_value SgdStep(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    napi_value argv[9];
    arguments(env, info, argv, 9);
    size_t n, ng, nb = 0, no, nob = 0;
    const float* w = typedData<float>(env, argv[0], napi_float32_array, "w", &n);
    const float* g = typedData<float>(env, argv[1], napi_float32_array, "g", &ng);
    napi_valuetype bufType, outBufType;
    napi_typeof(env, argv[2], &bufType);
    napi_typeof(env, argv[4], &outBufType);
    const float* buf = bufType == napi_null ? nullptr : typedData<float>(env, argv[2], napi_float32_array, "buf", &nb);
    float* outW = typedData<float>(env, argv[3], napi_float32_array, "outW", &no);
    float* outBuf = outBufType == napi_null ? nullptr : typedData<float>(env, argv[4], napi_float32_array, "outBuf", &nob);
    const float lr = (float)numberArg(env, argv[5], "lr");
    const float momentum = (float)numberArg(env, argv[6], "momentum");
    const float wd = (float)numberArg(env, argv[7], "weightDecay");
    const bool nesterov = numberArg(env, argv[8], "nesterov") != 0;
    if (ng != n || no != n || (buf && nb != n) || (outBuf && nob != n) || (buf && !outBuf)) throw Failure{"sgdStep: sizes differ"};
    const int64_t total = (int64_t)n;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < total; i++) {
      float d = wd != 0.f ? g[i] + w[i] * wd : g[i];
      if (outBuf) {
        const float b = buf ? buf[i] * momentum + d : d;
        outBuf[i] = b;
        d = nesterov ? d + b * momentum : b;
      }
      outW[i] = w[i] - d * lr;
    }
  });
}

// unary(op, x, out, alpha): op 0 = relu, 1 = step (x > 0 ? 1 : alpha); NaN stays NaN.
napi_value Unary(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    napi_value argv[4];
    arguments(env, info, argv, 4);
    int64_t op = intArg(env, argv[0], "op");
    size_t nx, n;
    const float* x = typedData<float>(env, argv[1], napi_float32_array, "x", &nx);
    float* out = typedData<float>(env, argv[2], napi_float32_array, "out", &n);
    float alpha = (float)numberArg(env, argv[3], "alpha");
    if (nx != n) throw Failure{"unary: sizes differ"};
    const int64_t total = (int64_t)n;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < total; i++) {
      float v = x[i];
      out[i] = v != v ? v : op == 0 ? (v > 0 ? v : 0.f) : (v > 0 ? 1.f : alpha);
    }
  });
}

// bnMoments(x, channels, meanVar Float64Array[2C]): per-channel mean and biased variance (two-pass).
napi_value BnMoments(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    napi_value argv[3];
    arguments(env, info, argv, 3);
    size_t n, m;
    const float* x = typedData<float>(env, argv[0], napi_float32_array, "x", &n);
    int64_t C = intArg(env, argv[1], "channels");
    double* out = typedData<double>(env, argv[2], napi_float64_array, "meanVar", &m);
    if (C < 1 || n % C || m != (size_t)(2 * C)) throw Failure{"bnMoments: inconsistent sizes"};
    const int64_t rows = (int64_t)n / C;
    std::vector<double> mean(C, 0.0), var(C, 0.0);
#pragma omp parallel
    {
      std::vector<double> local(C, 0.0);
#pragma omp for schedule(static)
      for (int64_t r = 0; r < rows; r++) {
        const float* row = x + r * C;
        for (int64_t c = 0; c < C; c++) local[c] += row[c];
      }
#pragma omp critical
      for (int64_t c = 0; c < C; c++) mean[c] += local[c];
#pragma omp barrier
#pragma omp single
      for (int64_t c = 0; c < C; c++) mean[c] /= (double)rows;
      std::fill(local.begin(), local.end(), 0.0);
#pragma omp for schedule(static)
      for (int64_t r = 0; r < rows; r++) {
        const float* row = x + r * C;
        for (int64_t c = 0; c < C; c++) {
          double d = row[c] - mean[c];
          local[c] += d * d;
        }
      }
#pragma omp critical
      for (int64_t c = 0; c < C; c++) var[c] += local[c];
    }
    for (int64_t c = 0; c < C; c++) {
      out[c] = mean[c];
      out[C + c] = var[c] / (double)rows;
    }
  });
}

// bnAffine(a, scale, shift, relu, out, b | null, bScale | null):
//   out = [relu]( a * scale[c] + (b ? b * bScale[c] : 0) + shift[c] ), scale/shift/bScale float64 [C].
napi_value BnAffine(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    napi_value argv[7];
    arguments(env, info, argv, 7);
    size_t n, C, Cs, no;
    const float* a = typedData<float>(env, argv[0], napi_float32_array, "a", &n);
    const double* scale = typedData<double>(env, argv[1], napi_float64_array, "scale", &C);
    const double* shift = typedData<double>(env, argv[2], napi_float64_array, "shift", &Cs);
    int64_t relu = intArg(env, argv[3], "relu");
    float* out = typedData<float>(env, argv[4], napi_float32_array, "out", &no);
    napi_valuetype bType;
    napi_typeof(env, argv[5], &bType);
    const float* b = nullptr;
    const double* bScale = nullptr;
    if (bType != napi_null) {
      size_t nb, Cb;
      b = typedData<float>(env, argv[5], napi_float32_array, "b", &nb);
      bScale = typedData<double>(env, argv[6], napi_float64_array, "bScale", &Cb);
      if (nb != n || Cb != C) throw Failure{"bnAffine: b sizes differ"};
    }
    if (C < 1 || Cs != C || n % C || no != n) throw Failure{"bnAffine: inconsistent sizes"};
    const int64_t rows = (int64_t)(n / C), channels = (int64_t)C;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const int64_t o = r * channels;
      for (int64_t c = 0; c < channels; c++) {
        double v = a[o + c] * scale[c] + shift[c];
        if (b) v += b[o + c] * bScale[c];
        float f = (float)v;
        out[o + c] = relu ? (f > 0 ? f : (f != f ? f : 0.f)) : f;
      }
    }
  });
}

// bnBackward(dy, x, scale, shift, mean, relu, sums Float64Array[2C], dx, xCoef, offset):
//   phase 1 (dx null): sums = [sum(dyM), sum(dyM * (x - mean))] with dyM = dy masked by the fused ReLU;
//   phase 2 (dx given): dx = dyM * scale + x * xCoef + offset.
// The two passes of bnBackward, written so that the compiler vectorises them over channels: restrict
// pointers (nothing aliases), the ReLU choice a template parameter, a select instead of a branch.
template <bool Relu>
void bnSums(const float* __restrict dy, const float* __restrict x, const double* __restrict scale, const double* __restrict shift,
            const double* __restrict mean, double* sums, int64_t rows, int64_t channels) {
#pragma omp parallel
  {
    std::vector<double> local(2 * channels, 0.0);
    double* __restrict sumDy = local.data();
    double* __restrict sumDyXc = local.data() + channels;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const float* __restrict dyRow = dy + r * channels;
      const float* __restrict xRow = x + r * channels;
#pragma omp simd
      for (int64_t c = 0; c < channels; c++) {
        float g = dyRow[c];
        if (Relu) g = (float)(xRow[c] * scale[c] + shift[c]) > 0 ? g : 0.f;
        sumDy[c] += g;
        sumDyXc[c] += g * (xRow[c] - mean[c]);
      }
    }
#pragma omp critical
    for (int64_t c = 0; c < 2 * channels; c++) sums[c] += local[c];
  }
}

template <bool Relu>
void bnDx(const float* __restrict dy, const float* __restrict x, const double* __restrict scale, const double* __restrict shift,
          const double* __restrict xCoef, const double* __restrict offset, float* __restrict dx, int64_t rows, int64_t channels) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const int64_t o = r * channels;
#pragma omp simd
    for (int64_t c = 0; c < channels; c++) {
      float g = dy[o + c];
      if (Relu) g = (float)(x[o + c] * scale[c] + shift[c]) > 0 ? g : 0.f;
      dx[o + c] = (float)(g * scale[c] + x[o + c] * xCoef[c] + offset[c]);
    }
  }
}

napi_value BnBackward(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    napi_value argv[10];
    arguments(env, info, argv, 10);
    size_t n, nx, C, c2, c3, ns;
    const float* dy = typedData<float>(env, argv[0], napi_float32_array, "dy", &n);
    const float* x = typedData<float>(env, argv[1], napi_float32_array, "x", &nx);
    const double* scale = typedData<double>(env, argv[2], napi_float64_array, "scale", &C);
    const double* shift = typedData<double>(env, argv[3], napi_float64_array, "shift", &c2);
    const double* mean = typedData<double>(env, argv[4], napi_float64_array, "mean", &c3);
    int64_t relu = intArg(env, argv[5], "relu");
    double* sums = typedData<double>(env, argv[6], napi_float64_array, "sums", &ns);
    if (C < 1 || nx != n || c2 != C || c3 != C || ns != 2 * C || n % C) throw Failure{"bnBackward: inconsistent sizes"};
    const int64_t rows = (int64_t)(n / C), channels = (int64_t)C;
    napi_valuetype dxType;
    napi_typeof(env, argv[7], &dxType);
    if (dxType == napi_null) {
      std::fill(sums, sums + 2 * C, 0.0);
      if (relu) bnSums<true>(dy, x, scale, shift, mean, sums, rows, channels);
      else bnSums<false>(dy, x, scale, shift, mean, sums, rows, channels);
      return;
    }
    size_t ndx, cx, co;
    float* dx = typedData<float>(env, argv[7], napi_float32_array, "dx", &ndx);
    const double* xCoef = typedData<double>(env, argv[8], napi_float64_array, "xCoef", &cx);
    const double* offset = typedData<double>(env, argv[9], napi_float64_array, "offset", &co);
    if (ndx != n || cx != C || co != C) throw Failure{"bnBackward: dx sizes"};
    if (relu) bnDx<true>(dy, x, scale, shift, xCoef, offset, dx, rows, channels);
    else bnDx<false>(dy, x, scale, shift, xCoef, offset, dx, rows, channels);
  });
}

// info() -> { version, isa } for backendInfo().
napi_value Info(napi_env env, napi_callback_info) {
  const dnnl_version_t* v = dnnl_version();
  napi_value result, version, isa;
  napi_create_object(env, &result);
  std::string text = std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  napi_create_string_utf8(env, text.c_str(), text.size(), &version);
  napi_set_named_property(env, result, "oneDNN", version);
  std::string isaName;
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::avx512_core_amx: isaName = "avx512_core_amx"; break;
    case dnnl::cpu_isa::avx512_core_bf16: isaName = "avx512_core_bf16"; break;
    case dnnl::cpu_isa::avx512_core_vnni: isaName = "avx512_core_vnni"; break;
    case dnnl::cpu_isa::avx512_core: isaName = "avx512_core"; break;
    case dnnl::cpu_isa::avx2: isaName = "avx2"; break;
    case dnnl::cpu_isa::avx: isaName = "avx"; break;
    case dnnl::cpu_isa::sse41: isaName = "sse41"; break;
    default: isaName = "other"; break;
  }
  napi_create_string_utf8(env, isaName.c_str(), isaName.size(), &isa);
  napi_set_named_property(env, result, "isa", isa);
  return result;
}

// keepFreedMemory() -> boolean. Makes glibc malloc serve every allocation from its heap and keep freed
// memory for reuse instead of returning it to the kernel. tfjs allocates a fresh Float32Array (calloc)
// for every tensor; by default glibc maps each large one with mmap and unmaps it on free, so every
// tensor of a training step is paged in afresh (about 30,000 page faults and 0.2 s of kernel time per
// ResNet18 PGD step at batch 32). With the heap reused the same memory is recycled. Returns false where
// the C library is not glibc (nothing changed).
napi_value KeepFreedMemory(napi_env env, napi_callback_info) {
  bool changed = false;
#if defined(__GLIBC__)
  changed = mallopt(M_MMAP_MAX, 0) == 1;                      // never mmap: large blocks come from the heap too
  changed = mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1 && changed; // keep up to 1 GiB of free heap top
  changed = mallopt(M_TOP_PAD, 64 << 20) == 1 && changed;       // grow the heap 64 MiB at a time
#endif
  napi_value result;
  napi_get_boolean(env, changed, &result);
  return result;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"conv2dForward", nullptr, Conv2dForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackwardData", nullptr, Conv2dBackwardData, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackwardFilter", nullptr, Conv2dBackwardFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"binary", nullptr, Binary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unary", nullptr, Unary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"bnMoments", nullptr, BnMoments, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"bnAffine", nullptr, BnAffine, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"bnBackward", nullptr, BnBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"keepFreedMemory", nullptr, KeepFreedMemory, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sgdStep", nullptr, SgdStep, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
