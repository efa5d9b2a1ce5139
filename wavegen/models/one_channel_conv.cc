// CPU kernels for strided convolutions with ONE channel on one side: WaveGAN's first critic
// layer (1 -> C) and last generator layer (C -> 1), as XLA FFI custom calls.
//
// Why: XLA:CPU runs these as GEMMs with one dimension of 25-64 against B*T/s rows, where its
// kernels reach 30-60% of a large matmul's rate. Here the three linear maps of such a layer are
// written directly, register-blocked over 8-wide float vectors (GCC/Clang vector extensions, so
// no ISA intrinsics), and split across XLA's own intra-op thread pool.
//
// x [B, T] is a one-channel signal that the maps see zero-padded by `pad` samples on the left
// (and by as many as needed on the right): v[b, t] = x[b, t - pad] inside x, 0 outside. With
// w [K, C], y [B, N, C] and stride s:
//   conv:        y[b, n, c] = bias[c] + sum_k v[b, s n + k] w[k, c]
//   transpose:   x[b, t]    = sum_{n, k : s n + k = t + pad} sum_c y[b, n, c] w[k, c]
//                (the adjoint of conv in x: computed on the padded axis, cropped to x)
//   kernel_grad: w[k, c]    = sum_{b, n} v[b, s n + k] y[b, n, c]  (the adjoint of conv in w)
// The padding and cropping happen inside the kernels: as separate XLA ops they were an extra
// pass over the data and a hand-over between thunks (~0.2 ms each, measured at batch 8).
// Each map is linear in each argument and their adjoints are each other, so
// wavegen/models/one_channel_conv.py differentiates them to any order in reverse mode. Every
// output element is summed in an order fixed by the shapes alone (not by thread timing): results
// are bit-for-bit repeatable, as the trainer's resume test demands.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

typedef float v8 __attribute__((vector_size(32)));

inline v8 load8(const float* p) {
  v8 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void store8(float* p, v8 v) { std::memcpy(p, &v, sizeof(v)); }
inline v8 splat(float a) { return v8{a, a, a, a, a, a, a, a}; }

// Runs fn(chunk) for every chunk in [0, n_chunks) on the calling thread and XLA's intra-op pool.
// The caller claims chunks as well and then waits only for chunks that other threads have
// claimed (and so are running): a helper task that starts after the work is gone returns at
// once, so a pool busy with other thunks can delay this call but never deadlock it.
template <typename Fn>
void parallel_chunks(ffi::ThreadPool& pool, int64_t n_chunks, Fn fn) {
  struct State {
    std::atomic<int64_t> next{0};
    int64_t remaining = 0;
    std::mutex mu;
    std::condition_variable cv;
  };
  auto state = std::make_shared<State>();
  state->remaining = n_chunks;
  auto body = std::make_shared<Fn>(std::move(fn));
  auto work = [state, body, n_chunks]() {
    int64_t done = 0;
    for (int64_t c; (c = state->next.fetch_add(1)) < n_chunks; ++done) (*body)(c);
    if (done) {
      std::lock_guard<std::mutex> lock(state->mu);
      state->remaining -= done;
      if (state->remaining == 0) state->cv.notify_all();
    }
  };
  const int64_t helpers = std::min<int64_t>(pool.num_threads(), n_chunks) - 1;
  for (int64_t i = 0; i < helpers; ++i) pool.Schedule([work] { work(); });
  work();
  std::unique_lock<std::mutex> lock(state->mu);
  state->cv.wait(lock, [&] { return state->remaining == 0; });
}

// Calls fn(v, n_a, n_b) over sub-ranges of the rows [n0, n1) of one padded signal, where
// v + s (n - n_a) + k is the padded sample s n + k for n in [n_a, n_b), k < K. Rows whose taps
// lie inside x read x in place; the few rows at either end read a zero-padded copy.
template <typename Fn>
void for_padded_rows(const float* xb, int64_t T, int64_t pad, int64_t s, int64_t K, int64_t n0,
                     int64_t n1, Fn fn) {
  // Rows [lo, hi) have all taps inside x: s n >= pad and s n + K <= pad + T.
  const int64_t lo = std::clamp<int64_t>((pad + s - 1) / s, n0, n1);
  const int64_t hi = std::clamp<int64_t>(pad + T >= K ? (pad + T - K) / s + 1 : 0, lo, n1);
  auto edge = [&](int64_t a, int64_t b) {
    if (a >= b) return;
    const int64_t start = s * a, len = s * (b - 1 - a) + K;  // padded samples [start, start+len)
    std::vector<float> buf(len, 0.f);
    for (int64_t i = 0; i < len; ++i) {
      const int64_t t = start + i - pad;
      if (t >= 0 && t < T) buf[i] = xb[t];
    }
    fn(buf.data(), a, b);
  };
  edge(n0, lo);
  if (lo < hi) fn(xb + s * lo - pad, lo, hi);
  edge(std::max(hi, n0), n1);
}

// ---------------------------------------------------------------------------------------------
// conv. A tile is R output rows x 16 channels: 2R accumulators, and per tap 2 weight loads and R
// broadcasts feed 2R multiply-adds (R = 6 fits AVX2's 16 registers).

template <int R>
inline void conv_tile(const float* v, int64_t s, const float* w, const float* bias, int64_t K,
                      int64_t C, float* y) {
  for (int64_t c = 0; c < C; c += 16) {
    v8 acc[R][2];
    for (int r = 0; r < R; ++r) acc[r][0] = load8(bias + c), acc[r][1] = load8(bias + c + 8);
    for (int64_t k = 0; k < K; ++k) {
      const v8 w0 = load8(w + k * C + c), w1 = load8(w + k * C + c + 8);
      for (int r = 0; r < R; ++r) {
        const v8 xv = splat(v[r * s + k]);
        acc[r][0] += xv * w0;
        acc[r][1] += xv * w1;
      }
    }
    for (int r = 0; r < R; ++r) {
      store8(y + r * C + c, acc[r][0]);
      store8(y + r * C + c + 8, acc[r][1]);
    }
  }
}

ffi::Error ConvImpl(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> w,
                    ffi::Buffer<ffi::F32> bias, ffi::ResultBuffer<ffi::F32> y, int64_t stride,
                    int64_t pad) {
  const auto xd = x.dimensions(), wd = w.dimensions(), bd = bias.dimensions();
  const auto yd = y->dimensions();
  if (xd.size() != 2 || wd.size() != 2 || yd.size() != 3 || bd.size() != 1)
    return ffi::Error::InvalidArgument("one_channel_conv: bad ranks");
  const int64_t B = xd[0], T = xd[1], K = wd[0], C = wd[1], N = yd[1];
  if (yd[0] != B || yd[2] != C || bd[0] != C || C % 16 != 0 || stride < 1 || pad < 0)
    return ffi::Error::InvalidArgument("one_channel_conv: incompatible shapes");
  const float* xp = x.typed_data();
  const float* wp = w.typed_data();
  const float* bp = bias.typed_data();
  float* yp = y->typed_data();
  const int64_t rows = 192;  // per chunk: a few hundred KB of output, enough to amortise a task
  const int64_t per_b = (N + rows - 1) / rows;
  parallel_chunks(pool, B * per_b, [=](int64_t chunk) {
    const int64_t b = chunk / per_b, n0 = (chunk % per_b) * rows;
    for_padded_rows(xp + b * T, T, pad, stride, K, n0, std::min(N, n0 + rows),
                    [&](const float* v, int64_t na, int64_t nb) {
                      float* yb = yp + (b * N + na) * C;
                      int64_t n = 0;
                      for (; n + 6 <= nb - na; n += 6)
                        conv_tile<6>(v + n * stride, stride, wp, bp, K, C, yb + n * C);
                      for (; n < nb - na; ++n)
                        conv_tile<1>(v + n * stride, stride, wp, bp, K, C, yb + n * C);
                    });
  });
  return ffi::Error::Success();
}

// ---------------------------------------------------------------------------------------------
// transpose. z[n, :] = y[n, :] @ w^T (taps padded with zeros to KP, a multiple of 8) for a block
// of R = 12 rows, then added into a padded row buffer at s n; the buffer is cropped into x. One
// batch row per task, so the overlapping additions of consecutive rows happen in order.

constexpr int64_t kMaxTransposeTaps = 256;
constexpr int64_t kMaxWindowStride = 64;
constexpr int kTransposeRows = 12;
constexpr int64_t kMaxWindowVectors =
    (kMaxWindowStride * (kTransposeRows - 1) + kMaxTransposeTaps + 4 + 7) / 8;

typedef float v4 __attribute__((vector_size(16)));

inline float hsum(v8 v) {  // a tree of three shuffles and adds
  v4 a = __builtin_shufflevector(v, v, 0, 1, 2, 3) + __builtin_shufflevector(v, v, 4, 5, 6, 7);
  a += __builtin_shufflevector(a, a, 2, 3, 0, 1);
  a += __builtin_shufflevector(a, a, 1, 0, 3, 2);
  return a[0];
}

// z[r][0:KP) = y_r @ w^T for the R rows yr[r] of a block (wt [C, KP] = w^T padded with zeros).
// Taps go in tiles of 16 (two halves of 6 rows: 12 accumulators each), then of 8 (all 12 rows),
// and the last K mod 8 taps, if 1-4, as dot products over the channels: as a vector tile they
// would be mostly zeros (K = 25 padded to 32 wasted 22% of the multiply-adds).
inline void transpose_block(const float* const* yr, const float* wt, const float* w, int64_t C,
                            int64_t K, int64_t KP, float (*z)[kMaxTransposeTaps]) {
  constexpr int R = kTransposeRows, H = R / 2;
  int64_t k0 = 0;
  for (; k0 + 16 <= K; k0 += 16) {
    for (int h = 0; h < R; h += H) {
      v8 acc[H][2];
      for (int r = 0; r < H; ++r) acc[r][0] = acc[r][1] = splat(0.f);
      for (int64_t c = 0; c < C; ++c) {
        const v8 w0 = load8(wt + c * KP + k0), w1 = load8(wt + c * KP + k0 + 8);
        for (int r = 0; r < H; ++r) {
          const v8 yv = splat(yr[h + r][c]);
          acc[r][0] += yv * w0;
          acc[r][1] += yv * w1;
        }
      }
      for (int r = 0; r < H; ++r) {
        store8(&z[h + r][k0], acc[r][0]);
        store8(&z[h + r][k0 + 8], acc[r][1]);
      }
    }
  }
  // Tiles of 8 taps, and a last one reaching into the zero padding if 5-7 taps remain.
  for (; k0 < KP && (k0 + 8 <= K || K - k0 > 4); k0 += 8) {
    v8 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = splat(0.f);
    for (int64_t c = 0; c < C; ++c) {
      const v8 w0 = load8(wt + c * KP + k0);
      for (int r = 0; r < R; ++r) acc[r] += splat(yr[r][c]) * w0;
    }
    for (int r = 0; r < R; ++r) store8(&z[r][k0], acc[r]);
  }
  if (k0 < KP) {  // 1-4 taps left: dot products over the channels, then zeros up to KP
    for (int64_t k = k0; k < K; ++k) {
      v8 acc[R];  // all rows at once: one dependent chain per row would stall on latency
      for (int r = 0; r < R; ++r) acc[r] = splat(0.f);
      for (int64_t c = 0; c < C; c += 8) {
        const v8 wv = load8(w + k * C + c);
        for (int r = 0; r < R; ++r) acc[r] += load8(yr[r] + c) * wv;
      }
      for (int r = 0; r < R; ++r) z[r][k] = hsum(acc[r]);
    }
    for (int r = 0; r < R; ++r)
      for (int64_t k = K; k < KP; ++k) z[r][k] = 0.f;
  }
}

ffi::Error TransposeImpl(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> y, ffi::Buffer<ffi::F32> w,
                         ffi::ResultBuffer<ffi::F32> x, int64_t stride, int64_t pad) {
  const auto yd = y.dimensions(), wd = w.dimensions();
  const auto xd = x->dimensions();
  if (xd.size() != 2 || wd.size() != 2 || yd.size() != 3)
    return ffi::Error::InvalidArgument("one_channel_conv_transpose: bad ranks");
  const int64_t B = yd[0], N = yd[1], C = yd[2], K = wd[0], T = xd[1];
  const int64_t KP = (K + 7) / 8 * 8;
  if (xd[0] != B || wd[1] != C || C % 16 != 0 || KP > kMaxTransposeTaps || stride < 1 || pad < 0)
    return ffi::Error::InvalidArgument("one_channel_conv_transpose: incompatible shapes");
  auto wt = std::make_shared<std::vector<float>>(C * KP, 0.f);  // wt[c, k] = w[k, c]
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < C; ++c) (*wt)[c * KP + k] = w.typed_data()[k * C + c];
  const float* yp = y.typed_data();
  float* xp = x->typed_data();
  // The padded axis holds every s n + k (n < N, k < KP) and the crop [pad, pad + T).
  const int64_t full_len = (std::max(stride * (N - 1) + KP, pad + T) + 7) / 8 * 8 + 8;
  const float* wp = w.typed_data();
  parallel_chunks(pool, B, [=](int64_t b) {
    constexpr int R = kTransposeRows;
    const float* wtp = wt->data();
    const float* yb = yp + b * N * C;
    // 32-byte aligned, so that row blocks at multiples of 8 samples use aligned vectors.
    std::vector<v8> full_vecs(full_len / 8, splat(0.f));
    float* full = reinterpret_cast<float*>(full_vecs.data());
    alignas(32) float z[R][kMaxTransposeTaps];
    // Rows at offsets 0 or 4 mod 8 (s a multiple of 4), whole-vector window of the block.
    const bool aligned_blocks = stride % 4 == 0 && stride <= kMaxWindowStride;
    const int64_t window = (stride * (R - 1) + KP + 4 + 7) / 8 * 8;
    for (int64_t n = 0; n < N; n += R) {
      const int rows = static_cast<int>(std::min<int64_t>(R, N - n));
      const float* yr[R];
      for (int r = 0; r < R; ++r) yr[r] = yb + std::min<int64_t>(n + r, N - 1) * C;
      transpose_block(yr, wtp, wp, C, K, KP, z);
      float* xr = full + n * stride;
      if (aligned_blocks && rows == R && n * stride + window <= full_len) {
        // The block's rows land at offsets s·r, each 0 or 4 mod 8: add them into a window of
        // whole vectors at fixed offsets (a row at 4 mod 8 as its vectors shifted by half), so
        // no load reads a partly overlapping earlier store (a store-forwarding stall per load).
        v8 win[kMaxWindowVectors];
        for (int64_t v = 0; v < window / 8; ++v) win[v] = load8(xr + 8 * v);
        for (int r = 0; r < R; ++r) {
          const int64_t o = r * stride, q0 = o / 8, nz = KP / 8;
          if (o % 8 == 0) {
            for (int64_t v = 0; v < nz; ++v) win[q0 + v] += load8(&z[r][8 * v]);
          } else {
            v8 prev = splat(0.f);
            for (int64_t v = 0; v <= nz; ++v) {
              const v8 cur = v < nz ? load8(&z[r][8 * v]) : splat(0.f);
              win[q0 + v] += __builtin_shufflevector(prev, cur, 4, 5, 6, 7, 8, 9, 10, 11);
              prev = cur;
            }
          }
        }
        for (int64_t v = 0; v < window / 8; ++v) store8(xr + 8 * v, win[v]);
      } else {
        for (int r = 0; r < rows; ++r)  // taps K..KP-1 are zero; full_len has room for them
          for (int64_t k = 0; k < KP; k += 8)
            store8(xr + r * stride + k, load8(xr + r * stride + k) + load8(&z[r][k]));
      }
    }
    std::memcpy(xp + b * T, full + pad, T * sizeof(float));
  });
  return ffi::Error::Success();
}

// ---------------------------------------------------------------------------------------------
// kernel_grad. A tile is R taps x 16 channels; per row, 2 loads of y and R broadcasts of the
// signal feed 2R multiply-adds. The rows are cut into chunks fixed by the shapes; each chunk
// sums into its own slot, and the slots are added in chunk order at the end (deterministic).

template <int R>
inline void kernel_grad_tile(const float* v, int64_t s, const float* y, int64_t n_rows, int64_t C,
                             int64_t c, float* w) {
  v8 acc[R][2];
  for (int r = 0; r < R; ++r) {
    acc[r][0] = load8(w + r * C + c);
    acc[r][1] = load8(w + r * C + c + 8);
  }
  for (int64_t n = 0; n < n_rows; ++n) {
    const v8 y0 = load8(y + n * C + c), y1 = load8(y + n * C + c + 8);
    for (int r = 0; r < R; ++r) {
      const v8 xv = splat(v[n * s + r]);
      acc[r][0] += xv * y0;
      acc[r][1] += xv * y1;
    }
  }
  for (int r = 0; r < R; ++r) {
    store8(w + r * C + c, acc[r][0]);
    store8(w + r * C + c + 8, acc[r][1]);
  }
}

// kernel_grad_tile<R> for a run-time R in [1, 6].
inline void kernel_grad_taps(int64_t R, const float* v, int64_t s, const float* y, int64_t n_rows,
                             int64_t C, int64_t c, float* w) {
  switch (R) {
    case 6: return kernel_grad_tile<6>(v, s, y, n_rows, C, c, w);
    case 5: return kernel_grad_tile<5>(v, s, y, n_rows, C, c, w);
    case 4: return kernel_grad_tile<4>(v, s, y, n_rows, C, c, w);
    case 3: return kernel_grad_tile<3>(v, s, y, n_rows, C, c, w);
    case 2: return kernel_grad_tile<2>(v, s, y, n_rows, C, c, w);
    default: return kernel_grad_tile<1>(v, s, y, n_rows, C, c, w);
  }
}

ffi::Error KernelGradImpl(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> y,
                          ffi::ResultBuffer<ffi::F32> w, int64_t stride, int64_t pad) {
  const auto xd = x.dimensions(), yd = y.dimensions();
  const auto wd = w->dimensions();
  if (xd.size() != 2 || wd.size() != 2 || yd.size() != 3)
    return ffi::Error::InvalidArgument("one_channel_conv_kernel_grad: bad ranks");
  const int64_t B = xd[0], T = xd[1], N = yd[1], C = yd[2], K = wd[0];
  if (yd[0] != B || wd[1] != C || C % 16 != 0 || stride < 1 || pad < 0)
    return ffi::Error::InvalidArgument("one_channel_conv_kernel_grad: incompatible shapes");
  const float* xp = x.typed_data();
  const float* yp = y.typed_data();
  float* wp = w->typed_data();
  // Rows (b, n) flattened; at most 64 chunks of at least 512 rows (y chunk <= a few hundred KB).
  const int64_t total = B * N;
  const int64_t rows = std::max<int64_t>(512, (total + 63) / 64);
  const int64_t n_chunks = (total + rows - 1) / rows;
  auto slots = std::make_shared<std::vector<float>>(n_chunks * K * C, 0.f);
  // Tiles of 5-6 taps (25 = 5 x 5): a tile of one tap would run one chain of dependent
  // multiply-adds per vector, at a fifth of the rate, for as long as a full tile.
  const int64_t n_tiles = (K + 5) / 6;
  parallel_chunks(pool, n_chunks, [=](int64_t chunk) {
    float* part = slots->data() + chunk * K * C;
    for (int64_t i = chunk * rows, end = std::min(total, (chunk + 1) * rows); i < end;) {
      const int64_t b = i / N, n0 = i % N, n1 = std::min(N, n0 + (end - i));
      for_padded_rows(xp + b * T, T, pad, stride, K, n0, n1,
                      [&](const float* v, int64_t na, int64_t nb) {
                        const float* yb = yp + (b * N + na) * C;
                        for (int64_t c = 0; c < C; c += 16) {
                          for (int64_t t = 0, k = 0; t < n_tiles; ++t) {
                            const int64_t taps = (K - k) / (n_tiles - t);
                            kernel_grad_taps(taps, v + k, stride, yb, nb - na, C, c, part + k * C);
                            k += taps;
                          }
                        }
                      });
      i += n1 - n0;
    }
  });
  std::memset(wp, 0, K * C * sizeof(float));
  for (int64_t chunk = 0; chunk < n_chunks; ++chunk) {
    const float* part = slots->data() + chunk * K * C;
    for (int64_t i = 0; i < K * C; ++i) wp[i] += part[i];
  }
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(WavegenOneChannelConv, ConvImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()  // x
                                  .Arg<ffi::Buffer<ffi::F32>>()  // w
                                  .Arg<ffi::Buffer<ffi::F32>>()  // bias
                                  .Ret<ffi::Buffer<ffi::F32>>()  // y
                                  .Attr<int64_t>("stride")
                                  .Attr<int64_t>("pad"));

// transpose and kernel_grad: two input buffers, one output, the same attributes.
auto BindTwoInputs() {
  return ffi::Ffi::Bind()
      .Ctx<ffi::ThreadPool>()
      .Arg<ffi::Buffer<ffi::F32>>()
      .Arg<ffi::Buffer<ffi::F32>>()
      .Ret<ffi::Buffer<ffi::F32>>()
      .Attr<int64_t>("stride")
      .Attr<int64_t>("pad");
}

// (y, w) -> x
XLA_FFI_DEFINE_HANDLER_SYMBOL(WavegenOneChannelConvTranspose, TransposeImpl, BindTwoInputs());

// (x, y) -> w
XLA_FFI_DEFINE_HANDLER_SYMBOL(WavegenOneChannelConvKernelGrad, KernelGradImpl, BindTwoInputs());
