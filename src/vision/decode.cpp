#include "vision/decode.hpp"

#include <memory>

#include <fmt/format.h>
#include <turbojpeg.h>
#include <webp/decode.h>

#include "common/error.hpp"
#include "vision/codecs.hpp"
#include "vision/exif.hpp"
#include "vision/image_format.hpp"

namespace osprey::vision {
namespace {

ApiError image_error(int status, std::string msg, std::string code) {
  return ApiError(status, std::move(msg), "invalid_request_error", std::move(code), "image");
}

struct TjDeleter {
  void operator()(void* h) const { tjDestroy(h); }
};
using TjHandle = std::unique_ptr<void, TjDeleter>;

// Picks the strongest DCT scaling (1/8, 1/4, 1/2) that keeps the longer side
// at or above `target`; 1/1 when no target or the image is small already.
tjscalingfactor pick_scale(int w, int h, int target) {
  tjscalingfactor best{1, 1};
  if (target <= 0) return best;
  const int longer = std::max(w, h);
  for (int denom : {2, 4, 8}) {
    tjscalingfactor sf{1, denom};
    if (TJSCALED(longer, sf) >= target) best = sf;
  }
  return best;
}

cv::Mat cmyk_to_bgr(const cv::Mat& cmyk) {
  // libjpeg hands Adobe CMYK JPEGs over inverted (0 = full ink), which is what
  // virtually every CMYK JPEG in the wild is; R = C*K/255 then undoes it.
  cv::Mat out(cmyk.rows, cmyk.cols, CV_8UC3);
  for (int y = 0; y < cmyk.rows; ++y) {
    const auto* s = cmyk.ptr<unsigned char>(y);
    auto* d = out.ptr<unsigned char>(y);
    for (int x = 0; x < cmyk.cols; ++x, s += 4, d += 3) {
      const int k = s[3];
      d[0] = static_cast<unsigned char>(s[2] * k / 255);
      d[1] = static_cast<unsigned char>(s[1] * k / 255);
      d[2] = static_cast<unsigned char>(s[0] * k / 255);
    }
  }
  return out;
}

cv::Mat decode_jpeg(std::string_view b, int target, double& scale) {
  TjHandle h(tjInitDecompress());
  if (!h) throw server_error("cannot initialise the JPEG decoder");
  auto* buf = reinterpret_cast<const unsigned char*>(b.data());
  auto size = static_cast<unsigned long>(b.size());
  int w = 0, ht = 0, subsamp = 0, cs = 0;
  if (tjDecompressHeader3(h.get(), buf, size, &w, &ht, &subsamp, &cs) != 0)
    throw image_error(400, "corrupt JPEG header", "corrupt_image");
  tjscalingfactor sf = pick_scale(w, ht, target);
  const int sw = TJSCALED(w, sf), sh = TJSCALED(ht, sf);
  const bool cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
  cv::Mat out(sh, sw, cmyk ? CV_8UC4 : CV_8UC3);
  // LIMITSCANS: a progressive JPEG with thousands of tiny scans is a CPU bomb.
  const int flags = TJFLAG_LIMITSCANS;
  if (tjDecompress2(h.get(), buf, size, out.data, sw, static_cast<int>(out.step[0]), sh,
                    cmyk ? TJPF_CMYK : TJPF_BGR, flags) != 0) {
    std::string why = tjGetErrorStr2(h.get());
    // Warnings leave a complete (if slightly damaged) picture; libjpeg emits
    // them for harmless quirks like extraneous bytes before a marker, which
    // real cameras produce. A stream that ends early is rejected, though: the
    // rest of the picture would be grey filler.
    const bool fatal = tjGetErrorCode(h.get()) == TJERR_FATAL;
    if (why.find("remature end") != std::string::npos || why.find("ended prematurely") != std::string::npos)
      throw image_error(400, "JPEG data is truncated", "truncated_image");
    if (fatal) throw image_error(400, fmt::format("corrupt JPEG data: {}", why), "corrupt_image");
  }
  scale = static_cast<double>(sf.num) / sf.denom;
  return cmyk ? cmyk_to_bgr(out) : out;
}

cv::Mat decode_webp(std::string_view b, const ImageHeader& hdr) {
  WebPBitstreamFeatures f;
  auto* data = reinterpret_cast<const std::uint8_t*>(b.data());
  if (WebPGetFeatures(data, b.size(), &f) != VP8_STATUS_OK)
    throw image_error(400, "corrupt WebP header", "corrupt_image");
  if (f.has_animation)
    throw image_error(415, "animated WebP is not supported", "unsupported_image_format");
  cv::Mat out(hdr.height, hdr.width, CV_8UC3);
  if (!WebPDecodeBGRInto(data, b.size(), out.data, out.total() * out.elemSize(), static_cast<int>(out.step[0])))
    throw image_error(400, "corrupt WebP data", "corrupt_image");
  return out;
}

cv::Mat decode_with_opencv(std::string_view b, const ImageHeader& hdr) {
  cv::Mat out;
  // IGNORE_ORIENTATION: we decide about orientation, not the codec.
  if (!codecs_decode(b, out)) out.release();
  if (out.empty() || out.cols != hdr.width || out.rows != hdr.height || out.type() != CV_8UC3)
    throw image_error(400, fmt::format("corrupt or truncated {} data", format_name(hdr.format)), "corrupt_image");
  return out;
}

}  // namespace

DecodedImage decode_image(std::string_view bytes, const DecodeOptions& opt) {
  if (bytes.empty()) throw image_error(400, "the image is empty (0 bytes)", "empty_image");
  const ImageFormat fmt = sniff_format(bytes);
  if (fmt == ImageFormat::unknown)
    throw image_error(415, "not a supported image: expected JPEG, PNG, BMP or WebP", "unsupported_image_format");
  const auto hdr = probe_header(bytes);
  if (!hdr) throw image_error(400, fmt::format("corrupt or truncated {} header", format_name(fmt)), "corrupt_image");

  // The decompression-bomb guard: checked on the header, before allocating.
  const std::int64_t pixels = std::int64_t(hdr->width) * hdr->height;
  if (hdr->width > kMaxImageSide || hdr->height > kMaxImageSide || pixels > opt.max_pixels)
    throw image_error(413,
                      fmt::format("image is {}x{} = {} pixels; the limit is {} pixels", hdr->width, hdr->height,
                                  pixels, opt.max_pixels),
                      "image_too_large");

  if (hdr->min_size > bytes.size())
    throw image_error(400, fmt::format("truncated {} data", format_name(fmt)), "truncated_image");

  DecodedImage img;
  img.format = format_name(fmt);
  switch (fmt) {
    case ImageFormat::jpeg:
      img.bgr = decode_jpeg(bytes, opt.target_max_side, img.scale);
      img.orientation = exif_orientation(bytes);
      apply_orientation(img.bgr, img.orientation);
      break;
    case ImageFormat::webp: img.bgr = decode_webp(bytes, *hdr); break;
    default: img.bgr = decode_with_opencv(bytes, *hdr); break;
  }
  const bool swap = orientation_swaps_axes(img.orientation);
  img.original_width = swap ? hdr->height : hdr->width;
  img.original_height = swap ? hdr->width : hdr->height;
  return img;
}

}  // namespace osprey::vision
