// Field numbers: see onnx_rewrite.cpp's header comment (onnx/onnx.proto3).
#include "inference/onnx_wire.hpp"

#include <bit>
#include <cstring>
#include <stdexcept>

namespace osprey::inference::onnx_wire {
namespace {

static_assert(std::endian::native == std::endian::little, "raw_data and float_data are little-endian");

[[noreturn]] void fail(const char* what) { throw std::runtime_error(std::string("onnx: ") + what); }

void want_len(const Field& f) {
  if (f.wire != 2) fail("message field is not length-delimited");
}

}  // namespace

uint64_t Reader::varint() {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    if (p_ == end_) fail("truncated varint");
    auto b = static_cast<uint8_t>(*p_++);
    if (shift == 63 && b > 1) fail("varint overflows 64 bits");
    v |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
}

Sv Reader::take(uint64_t n) {
  if (n > uint64_t(end_ - p_)) fail("truncated field");
  Sv s(p_, size_t(n));
  p_ += n;
  return s;
}

bool Reader::next(Field& f) {
  if (p_ == end_) return false;
  const char* start = p_;
  uint64_t key = varint();
  if ((key >> 3) == 0 || (key >> 3) > 0x1fffffff) fail("bad field number");
  f.num = uint32_t(key >> 3);
  f.wire = int(key & 7);
  f.value = 0;
  f.data = {};
  switch (f.wire) {
    case 0: f.value = varint(); break;
    case 1: f.data = take(8); break;
    case 2: f.data = take(varint()); break;
    case 5: f.data = take(4); break;
    default: fail("unsupported wire type");  // groups (3, 4) are not used by ONNX
  }
  f.whole = Sv(start, size_t(p_ - start));
  return true;
}

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char(v | 0x80));
    v >>= 7;
  }
  out.push_back(char(v));
}

void put_int(std::string& out, uint32_t num, uint64_t v) {
  put_varint(out, uint64_t(num) << 3);
  put_varint(out, v);
}

void put_len(std::string& out, uint32_t num, Sv payload) {
  put_varint(out, uint64_t(num) << 3 | 2);
  put_varint(out, payload.size());
  out.append(payload);
}

Tensor parse_tensor(Sv msg) {
  Tensor t;
  Reader r(msg);
  Field f;
  while (r.next(f)) {
    t.fields.push_back(f);
    const bool len = f.wire == 2, var = f.wire == 0;
    switch (f.num) {
      case 1:
        if (var) {
          t.dims.push_back(int64_t(f.value));
        } else if (len) {
          Reader d(f.data);
          while (!d.done()) t.dims.push_back(int64_t(d.varint()));
        } else {
          t.opaque = true;
        }
        break;
      case 2: var ? void(t.dtype = int32_t(f.value)) : void(t.opaque = true); break;
      case 8: len ? void(t.name = f.data) : void(t.opaque = true); break;
      case 9: len ? void((t.raw = f.data, t.has_raw = true)) : void(t.opaque = true); break;
      case 4: case 5: case 7: t.typed.push_back(f); break;
      case 3: case 13: t.opaque = true; break;  // a segment, or external data
      case 14: t.opaque |= !(var && f.value == 0); break;
      default: break;
    }
  }
  return t;
}

Attr parse_attr(Sv msg) {
  Attr a;
  Reader r(msg);
  Field f;
  while (r.next(f)) {
    if (f.num == 1 && f.wire == 2) a.name = f.data;
    else if (f.num == 3 && f.wire == 0) a.i = int64_t(f.value), a.has_i = true;
    else if (f.num == 5 && f.wire == 2) a.t = f.data, a.has_t = true;
    else if (f.num == 6 || f.num == 11) a.subgraph = true;
  }
  return a;
}

Node parse_node(Sv msg) {
  Node n;
  Reader r(msg);
  Field f;
  while (r.next(f)) {
    if (f.num > 7 || f.num == 6) continue;  // doc_string, metadata
    want_len(f);
    switch (f.num) {
      case 1: n.in.push_back(f.data); break;
      case 2: n.out.push_back(f.data); break;
      case 3: n.name = f.data; break;
      case 4: n.op = f.data; break;
      case 5: n.attrs.push_back(f.data), n.subgraph |= parse_attr(f.data).subgraph; break;
      case 7: n.domain = f.data == "ai.onnx" ? Sv() : f.data; break;
    }
  }
  return n;
}

ValueInfo parse_value_info(Sv msg) {
  ValueInfo v;
  Reader r(msg);
  Field f;
  // Descends name / type -> tensor_type -> shape -> dim -> dim_value.
  while (r.next(f)) {
    if (f.num == 1 && f.wire == 2) v.name = f.data;
    if (f.num != 2 || f.wire != 2) continue;
    Reader t(f.data);
    Field tf;
    while (t.next(tf)) {
      if (tf.num != 1 || tf.wire != 2) continue;
      Reader tt(tf.data);
      Field sf;
      while (tt.next(sf)) {
        if (sf.num != 2 || sf.wire != 2) continue;
        v.known = true;
        v.shape.clear();
        Reader sh(sf.data);
        Field df;
        while (sh.next(df)) {
          if (df.num != 1 || df.wire != 2) continue;
          Reader d(df.data);
          Field xf;
          int64_t dim = -1;
          while (d.next(xf)) {
            if (xf.num == 1 && xf.wire == 0) dim = int64_t(xf.value);
          }
          v.shape.push_back(dim);
        }
      }
    }
  }
  return v;
}

Graph parse_graph(Sv msg) {
  Graph g;
  Reader r(msg);
  Field f;
  while (r.next(f)) {
    g.entries.push_back(f);
    const size_t e = g.entries.size() - 1;
    switch (f.num) {
      case 1: want_len(f), g.nodes.push_back(parse_node(f.data)), g.node_entry.push_back(e); break;
      case 5: want_len(f), g.inits.push_back(parse_tensor(f.data)), g.init_entry.push_back(e); break;
      case 11: want_len(f), g.inputs.push_back(parse_value_info(f.data)); break;
      case 12: want_len(f), g.outputs.push_back(parse_value_info(f.data)); break;
      case 13: want_len(f), g.infos.push_back(parse_value_info(f.data)); break;
      default: break;
    }
  }
  return g;
}

std::optional<int64_t> numel(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || d > kMaxElems) return std::nullopt;
    n *= d;  // both factors <= 2^31: no overflow
    if (n > kMaxElems) return std::nullopt;
  }
  return n;
}

namespace {

// Calls put(uint64) for each varint of packed or unpacked `fields` (all with
// field number `num`); false on another field or more than `cap` values.
template <typename Put>
bool each_varint(const std::vector<Field>& fields, uint32_t num, size_t cap, Put put) {
  size_t count = 0;
  for (const Field& f : fields) {
    if (f.num != num) return false;
    if (f.wire == 0) {
      if (++count > cap) return false;
      put(f.value);
    } else if (f.wire == 2) {
      Reader d(f.data);
      while (!d.done()) {
        if (++count > cap) return false;
        put(d.varint());
      }
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<std::vector<float>> floats(const Tensor& t) {
  auto n = numel(t.dims);
  const bool byte = t.dtype == kUint8 || t.dtype == kInt8;
  if (t.opaque || !n || (t.dtype != kFloat && !byte)) return std::nullopt;
  const size_t count = size_t(*n), size = byte ? 1 : 4;
  std::vector<float> v;
  if (t.has_raw) {
    if (!t.typed.empty() || t.raw.size() / size != count || t.raw.size() % size) return std::nullopt;
    v.resize(count);
    if (!byte) std::memcpy(v.data(), t.raw.data(), t.raw.size());
    for (size_t i = 0; byte && i < count; ++i) {
      v[i] = t.dtype == kUint8 ? float(uint8_t(t.raw[i])) : float(int8_t(t.raw[i]));
    }
  } else if (byte) {  // int32_data, one int32 per element
    bool range = true;
    bool ok = each_varint(t.typed, 5, count, [&](uint64_t x) {
      auto i = int32_t(uint32_t(x));
      range &= t.dtype == kUint8 ? (i >= 0 && i <= 255) : (i >= -128 && i <= 127);
      v.push_back(float(i));
    });
    if (!ok || !range) return std::nullopt;
  } else {  // float_data: fixed32, packed or not
    for (const Field& f : t.typed) {
      if (f.num != 4 || (f.wire != 5 && f.wire != 2) || f.data.size() % 4) return std::nullopt;
      if (f.data.size() / 4 > count - v.size()) return std::nullopt;
      size_t at = v.size();
      v.resize(at + f.data.size() / 4);
      std::memcpy(v.data() + at, f.data.data(), f.data.size());
    }
  }
  if (v.size() != count) return std::nullopt;
  return v;
}

std::optional<std::vector<int64_t>> int64s(const Tensor& t) {
  auto n = numel(t.dims);
  if (t.opaque || !n || t.dtype != kInt64) return std::nullopt;
  const size_t count = size_t(*n);
  std::vector<int64_t> v;
  if (t.has_raw) {
    if (!t.typed.empty() || t.raw.size() / 8 != count || t.raw.size() % 8) return std::nullopt;
    v.resize(count);
    std::memcpy(v.data(), t.raw.data(), t.raw.size());
  } else if (!each_varint(t.typed, 7, count, [&](uint64_t x) { v.push_back(int64_t(x)); })) {
    return std::nullopt;
  }
  if (v.size() != count) return std::nullopt;
  return v;
}

std::optional<std::vector<int64_t>> reshaped(const std::vector<int64_t>& in, const std::vector<int64_t>& shape,
                                             int64_t count) {
  if (shape.size() > 8) return std::nullopt;
  std::vector<int64_t> out(shape.size());
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t d = shape[i] == 0 && i < in.size() ? in[i] : shape[i];
    if (d == -1 && infer < 0) {
      infer = int(i);
      continue;
    }
    if (d <= 0 || d > kMaxElems || (known *= d) > kMaxElems) return std::nullopt;
    out[i] = d;
  }
  if (infer >= 0) {
    if (count % known) return std::nullopt;
    out[size_t(infer)] = count / known;
  } else if (known != count) {
    return std::nullopt;
  }
  return out;
}

int64_t attr_int(const Node& n, Sv name, int64_t fallback) {
  for (Sv a : n.attrs) {
    Attr at = parse_attr(a);
    if (at.name == name && at.has_i) return at.i;
  }
  return fallback;
}

std::string tensor_bytes(Sv name, const std::vector<int64_t>& dims, const std::vector<float>& values) {
  std::string out;
  for (int64_t d : dims) put_int(out, 1, uint64_t(d));
  put_int(out, 2, kFloat);
  put_len(out, 8, name);
  put_len(out, 9, Sv(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
  return out;
}

std::string retensor(const Tensor& t, const std::vector<int64_t>& dims, const std::vector<float>& values) {
  const Sv data(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  std::string out;
  auto put_dims = [&] {
    for (int64_t d : dims) put_int(out, 1, uint64_t(d));
  };
  bool dims_done = true, data_done = false;
  for (const Field& f : t.fields) dims_done &= f.num != 1;
  if (dims_done) put_dims();  // a scalar had no dims field: lead with them
  for (const Field& f : t.fields) {
    if (f.num == 1) {
      if (!dims_done) put_dims();
      dims_done = true;
    } else if (f.num == 9 || f.num == 4) {
      if (!data_done) put_len(out, 9, data);
      data_done = true;
    } else if (!(f.num == 14 && f.wire == 0 && f.value == 0)) {
      out.append(f.whole);
    }
  }
  if (!data_done) put_len(out, 9, data);
  return out;
}

std::string node_bytes(const Node& n) {
  std::string out;
  for (Sv s : n.in) put_len(out, 1, s);
  for (Sv s : n.out) put_len(out, 2, s);
  if (!n.name.empty()) put_len(out, 3, n.name);
  put_len(out, 4, n.op);
  for (Sv a : n.attrs) put_len(out, 5, a);
  if (!n.domain.empty()) put_len(out, 7, n.domain);
  return out;
}

}  // namespace osprey::inference::onnx_wire
