// Image metrics on plain arrays: MAE, RMSE, PSNR, SSIM and confusion matrices (tm/evaluation.h).
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "tm/evaluation.h"

namespace terramind::eval {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<double> gaussian_kernel(int size, double sigma) {
  std::vector<double> k(static_cast<std::size_t>(size));
  const double centre = (size - 1) / 2.0;
  double sum = 0;
  for (int i = 0; i < size; ++i)
    sum += k[i] = std::exp(-(i - centre) * (i - centre) / (2 * sigma * sigma));
  for (double& v : k) v /= sum;
  return k;
}

// Gaussian-weighted mean of `v` over the window whose top-left corner is (r, c): separable,
// "valid" positions only ([H - n + 1] x [W - n + 1]).
std::vector<double> filter_valid(const std::vector<double>& v, int h, int w,
                                 const std::vector<double>& k) {
  const int n = static_cast<int>(k.size()), oh = h - n + 1, ow = w - n + 1;
  std::vector<double> rows(static_cast<std::size_t>(h) * ow),
      out(static_cast<std::size_t>(oh) * ow);
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < ow; ++c) {
      double s = 0;
      for (int i = 0; i < n; ++i) s += k[i] * v[static_cast<std::size_t>(r) * w + c + i];
      rows[static_cast<std::size_t>(r) * ow + c] = s;
    }
  for (int r = 0; r < oh; ++r)
    for (int c = 0; c < ow; ++c) {
      double s = 0;
      for (int i = 0; i < n; ++i) s += k[i] * rows[static_cast<std::size_t>(r + i) * ow + c];
      out[static_cast<std::size_t>(r) * ow + c] = s;
    }
  return out;
}

void require_same_shape(const Image& a, const Image& b) {
  if (a.bands != b.bands || a.height != b.height || a.width != b.width)
    throw std::invalid_argument("images differ in shape: " + std::to_string(a.bands) + "x" +
                                std::to_string(a.height) + "x" + std::to_string(a.width) + " vs " +
                                std::to_string(b.bands) + "x" + std::to_string(b.height) + "x" +
                                std::to_string(b.width));
  if (a.values.size() != static_cast<std::size_t>(a.bands) * a.height * a.width ||
      b.values.size() != a.values.size())
    throw std::invalid_argument("image values do not match the image's shape");
}

}  // namespace

double ssim(const float* x, const float* y, int height, int width, double range,
            const SsimOptions& o) {
  if (height <= 0 || width <= 0) throw std::invalid_argument("ssim: empty image");
  if (o.window < 1 || o.window % 2 == 0) throw std::invalid_argument("ssim: odd window expected");
  if (!(range > 0)) throw std::invalid_argument("ssim: the data range must be positive");
  const int n = o.window;
  if (height < n || width < n) return kNaN;
  const std::size_t count = static_cast<std::size_t>(height) * width;
  std::vector<double> xs(count), ys(count), xx(count), yy(count), xy(count), bad(count);
  for (std::size_t i = 0; i < count; ++i) {
    const bool invalid = std::isnan(x[i]) || std::isnan(y[i]);
    const double a = invalid ? 0.0 : x[i], b = invalid ? 0.0 : y[i];
    xs[i] = a, ys[i] = b, xx[i] = a * a, yy[i] = b * b, xy[i] = a * b, bad[i] = invalid;
  }
  const auto k = gaussian_kernel(n, o.sigma);
  const auto mx = filter_valid(xs, height, width, k), my = filter_valid(ys, height, width, k);
  const auto sxx = filter_valid(xx, height, width, k), syy = filter_valid(yy, height, width, k);
  const auto sxy = filter_valid(xy, height, width, k);
  const auto any_bad = filter_valid(bad, height, width, std::vector<double>(n, 1.0 / n));
  const double c1 = (o.k1 * range) * (o.k1 * range), c2 = (o.k2 * range) * (o.k2 * range);
  double sum = 0;
  std::size_t windows = 0;
  for (std::size_t i = 0; i < mx.size(); ++i) {
    if (any_bad[i] > 1e-12) continue;
    const double vx = sxx[i] - mx[i] * mx[i], vy = syy[i] - my[i] * my[i],
                 cov = sxy[i] - mx[i] * my[i];
    sum += ((2 * mx[i] * my[i] + c1) * (2 * cov + c2)) /
           ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2));
    ++windows;
  }
  return windows ? sum / static_cast<double>(windows) : kNaN;
}

ImageMetrics image_metrics(const Image& generated, const Image& truth, const SsimOptions& o) {
  require_same_shape(generated, truth);
  const std::size_t plane = static_cast<std::size_t>(truth.height) * truth.width;
  // A pixel counts when every band of both images holds a value.
  std::vector<std::uint8_t> valid(plane, 1);
  for (int b = 0; b < truth.bands; ++b)
    for (std::size_t i = 0; i < plane; ++i)
      if (std::isnan(truth.values[b * plane + i]) || std::isnan(generated.values[b * plane + i]))
        valid[i] = 0;
  ImageMetrics m;
  m.pixels = std::count(valid.begin(), valid.end(), 1);
  if (m.pixels == 0) throw std::invalid_argument("no pixel is valid in both images");
  double mae = 0, rmse = 0, psnr = 0, ssim_sum = 0;
  int ssim_bands = 0;
  for (int b = 0; b < truth.bands; ++b) {
    const float* g = generated.values.data() + b * plane;
    const float* t = truth.values.data() + b * plane;
    double abs_sum = 0, sq_sum = 0, lo = std::numeric_limits<double>::infinity(), hi = -lo;
    std::vector<float> gm(g, g + plane), tm(t, t + plane);
    for (std::size_t i = 0; i < plane; ++i) {
      if (!valid[i]) {
        gm[i] = tm[i] = std::numeric_limits<float>::quiet_NaN();
        continue;
      }
      const double d = static_cast<double>(g[i]) - t[i];
      abs_sum += std::abs(d);
      sq_sum += d * d;
      lo = std::min(lo, static_cast<double>(t[i]));
      hi = std::max(hi, static_cast<double>(t[i]));
    }
    const double band_rmse = std::sqrt(sq_sum / static_cast<double>(m.pixels));
    // A constant truth has no dynamic range: PSNR and SSIM then use a range of 1 unit.
    const double range = hi > lo ? hi - lo : 1.0;
    mae += abs_sum / static_cast<double>(m.pixels);
    rmse += band_rmse;
    psnr += band_rmse > 0 ? 20 * std::log10(range / band_rmse)
                          : std::numeric_limits<double>::infinity();
    const double s = ssim(gm.data(), tm.data(), truth.height, truth.width, range, o);
    if (!std::isnan(s)) ssim_sum += s, ++ssim_bands;
  }
  m.mae = mae / truth.bands;
  m.rmse = rmse / truth.bands;
  m.psnr = psnr / truth.bands;
  m.ssim = ssim_bands ? ssim_sum / ssim_bands : kNaN;
  return m;
}

ConfusionMatrix::ConfusionMatrix(int classes)
    : classes_(classes), counts_(static_cast<std::size_t>(classes) * classes, 0) {
  if (classes < 1) throw std::invalid_argument("a confusion matrix needs at least one class");
}

void ConfusionMatrix::add(int truth, int predicted) {
  if (truth < 0 || truth >= classes_ || predicted < 0 || predicted >= classes_)
    throw std::out_of_range("class " +
                            std::to_string(truth < 0 || truth >= classes_ ? truth : predicted) +
                            " outside [0, " + std::to_string(classes_) + ")");
  ++counts_[static_cast<std::size_t>(truth) * classes_ + predicted];
  ++total_;
}

void ConfusionMatrix::add(const Image& predicted, const Image& truth, int ignore) {
  require_same_shape(predicted, truth);
  for (std::size_t i = 0; i < truth.values.size(); ++i) {
    const float t = truth.values[i], p = predicted.values[i];
    if (std::isnan(t) || std::isnan(p) || static_cast<int>(t) == ignore) continue;
    add(static_cast<int>(std::lround(t)), static_cast<int>(std::lround(p)));
  }
}

std::int64_t ConfusionMatrix::count(int truth, int predicted) const {
  return counts_.at(static_cast<std::size_t>(truth) * classes_ + predicted);
}

double ConfusionMatrix::accuracy() const {
  if (total_ == 0) return kNaN;
  std::int64_t diagonal = 0;
  for (int c = 0; c < classes_; ++c) diagonal += count(c, c);
  return static_cast<double>(diagonal) / static_cast<double>(total_);
}

namespace {
struct Counts {
  std::int64_t tp = 0, fp = 0, fn = 0;
};
Counts counts_of(const ConfusionMatrix& m, int c) {
  Counts k;
  k.tp = m.count(c, c);
  for (int o = 0; o < m.classes(); ++o) {
    if (o == c) continue;
    k.fp += m.count(o, c);
    k.fn += m.count(c, o);
  }
  return k;
}
double ratio(std::int64_t a, std::int64_t b) {
  return b == 0 ? kNaN : static_cast<double>(a) / static_cast<double>(b);
}
}  // namespace

double ConfusionMatrix::iou(int c) const {
  const Counts k = counts_of(*this, c);
  return ratio(k.tp, k.tp + k.fp + k.fn);
}
double ConfusionMatrix::precision(int c) const {
  const Counts k = counts_of(*this, c);
  return ratio(k.tp, k.tp + k.fp);
}
double ConfusionMatrix::recall(int c) const {
  const Counts k = counts_of(*this, c);
  return ratio(k.tp, k.tp + k.fn);
}
double ConfusionMatrix::f1(int c) const {
  const Counts k = counts_of(*this, c);
  return ratio(2 * k.tp, 2 * k.tp + k.fp + k.fn);
}
double ConfusionMatrix::mean_iou() const {
  double sum = 0;
  int n = 0;
  for (int c = 0; c < classes_; ++c) {
    const double v = iou(c);
    if (!std::isnan(v)) sum += v, ++n;
  }
  return n ? sum / n : kNaN;
}

}  // namespace terramind::eval
