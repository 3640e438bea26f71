// Minimal protobuf wire-format reader for ONNX ModelProto. Field numbers are
// from onnx/onnx.proto3 (stable since IR v3):
//   ModelProto:  graph=7, metadata_props=14 (StringStringEntryProto key=1 value=2)
//   GraphProto:  node=1, initializer=5, input=11, output=12
//   NodeProto:   input=1, output=2, name=3, op_type=4
//   TensorProto: dims=1, name=8
//   ValueInfoProto: name=1, type=2 -> TypeProto.tensor_type=1 -> shape=2 ->
//   TensorShapeProto.dim=1 -> Dimension dim_value=1 | dim_param=2
#include "inference/onnx_info.hpp"

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <stdexcept>
#include <string_view>

namespace osprey::inference {
namespace {

struct Reader {
  const uint8_t* p;
  const uint8_t* end;

  bool done() const { return p >= end; }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= end) throw std::runtime_error("onnx: truncated varint");
      uint8_t b = *p++;
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    throw std::runtime_error("onnx: bad varint");
  }
  // Reads one field key; returns field number and wire type.
  std::pair<uint32_t, int> key() {
    uint64_t k = varint();
    return {uint32_t(k >> 3), int(k & 7)};
  }
  std::string_view bytes() {
    uint64_t n = varint();
    if (n > uint64_t(end - p)) throw std::runtime_error("onnx: truncated field");
    std::string_view s(reinterpret_cast<const char*>(p), n);
    p += n;
    return s;
  }
  void skip(int wire) {
    switch (wire) {
      case 0: varint(); break;
      case 1: advance(8); break;
      case 2: bytes(); break;
      case 5: advance(4); break;
      default: throw std::runtime_error("onnx: unsupported wire type");
    }
  }
  void advance(size_t n) {
    if (n > size_t(end - p)) throw std::runtime_error("onnx: truncated field");
    p += n;
  }
};

Reader sub(std::string_view s) {
  auto b = reinterpret_cast<const uint8_t*>(s.data());
  return Reader{b, b + s.size()};
}

OnnxValue parse_value_info(std::string_view msg) {
  OnnxValue v;
  Reader r = sub(msg);
  while (!r.done()) {
    auto [f, w] = r.key();
    if (f == 1 && w == 2) {
      v.name = std::string(r.bytes());
    } else if (f == 2 && w == 2) {  // TypeProto
      Reader t = sub(r.bytes());
      while (!t.done()) {
        auto [tf, tw] = t.key();
        if (tf != 1 || tw != 2) { t.skip(tw); continue; }
        Reader tt = sub(t.bytes());  // TypeProto.Tensor
        while (!tt.done()) {
          auto [sf, sw] = tt.key();
          if (sf != 2 || sw != 2) { tt.skip(sw); continue; }
          Reader sh = sub(tt.bytes());  // TensorShapeProto
          while (!sh.done()) {
            auto [df, dw] = sh.key();
            if (df != 1 || dw != 2) { sh.skip(dw); continue; }
            Reader d = sub(sh.bytes());
            int64_t dim = -1;
            while (!d.done()) {
              auto [xf, xw] = d.key();
              if (xf == 1 && xw == 0) dim = int64_t(d.varint());
              else d.skip(xw);
            }
            v.shape.push_back(dim);
          }
        }
      }
    } else {
      r.skip(w);
    }
  }
  return v;
}

struct Node {
  std::vector<std::string> inputs, outputs;
  std::string name, op;
};

Node parse_node(std::string_view msg) {
  Node n;
  Reader r = sub(msg);
  while (!r.done()) {
    auto [f, w] = r.key();
    if (w != 2) { r.skip(w); continue; }
    auto s = std::string(r.bytes());
    if (f == 1) n.inputs.push_back(std::move(s));
    else if (f == 2) n.outputs.push_back(std::move(s));
    else if (f == 3) n.name = std::move(s);
    else if (f == 4) n.op = std::move(s);
  }
  return n;
}

// Returns {name, element count} of a TensorProto without touching its data.
std::pair<std::string, int64_t> parse_tensor_header(std::string_view msg) {
  std::string name;
  int64_t count = 1;
  Reader r = sub(msg);
  while (!r.done()) {
    auto [f, w] = r.key();
    if (f == 1 && w == 0) {
      count *= int64_t(r.varint());
    } else if (f == 1 && w == 2) {  // packed dims
      Reader d = sub(r.bytes());
      while (!d.done()) count *= int64_t(d.varint());
    } else if (f == 8 && w == 2) {
      name = std::string(r.bytes());
    } else {
      r.skip(w);
    }
  }
  return {name, count};
}

}  // namespace

std::vector<std::string> parse_names_literal(const std::string& text) {
  std::vector<std::string> out;
  // Either "0: 'person'" pairs or bare quoted strings in a list.
  static const std::regex pair_re(R"((\d+)\s*:\s*['"]([^'"]*)['"])");
  std::map<int, std::string> by_index;
  for (std::sregex_iterator it(text.begin(), text.end(), pair_re), e; it != e; ++it) {
    by_index[std::stoi((*it)[1].str())] = (*it)[2].str();
  }
  if (!by_index.empty()) {
    int n = by_index.rbegin()->first + 1;
    if (n > 100000) return {};
    out.resize(n);
    for (int i = 0; i < n; ++i) {
      auto f = by_index.find(i);
      out[i] = f != by_index.end() ? f->second : "class_" + std::to_string(i);
    }
    return out;
  }
  static const std::regex str_re(R"(['"]([^'"]*)['"])");
  for (std::sregex_iterator it(text.begin(), text.end(), str_re), e; it != e; ++it) {
    out.push_back((*it)[1].str());
  }
  return out;
}

OnnxInfo read_onnx_info(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::string buf((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  OnnxInfo info;
  Reader r = sub(buf);
  std::vector<OnnxValue> inputs;
  std::set<std::string> initializers;
  std::map<std::string, int64_t> init_count;
  std::vector<Node> nodes;
  while (!r.done()) {
    auto [f, w] = r.key();
    if (f == 14 && w == 2) {
      Reader m = sub(r.bytes());
      std::string k, v;
      while (!m.done()) {
        auto [mf, mw] = m.key();
        if (mf == 1 && mw == 2) k = std::string(m.bytes());
        else if (mf == 2 && mw == 2) v = std::string(m.bytes());
        else m.skip(mw);
      }
      if (k == "names") info.names = parse_names_literal(v);
    } else if (f == 7 && w == 2) {
      Reader g = sub(r.bytes());
      while (!g.done()) {
        auto [gf, gw] = g.key();
        if (gw != 2) { g.skip(gw); continue; }
        auto msg = g.bytes();
        if (gf == 1) nodes.push_back(parse_node(msg));
        else if (gf == 5) {
          auto [name, count] = parse_tensor_header(msg);
          initializers.insert(name);
          init_count[name] = count;
        } else if (gf == 11) inputs.push_back(parse_value_info(msg));
        else if (gf == 12) info.outputs.push_back(parse_value_info(msg));
      }
    } else {
      r.skip(w);
    }
  }
  for (auto& in : inputs) {
    if (!initializers.count(in.name)) info.inputs.push_back(std::move(in));
  }

  // Scalar constants: 1-element initializers and Constant node outputs.
  std::set<std::string> scalars;
  for (auto& [name, count] : init_count) {
    if (count <= 1) scalars.insert(name);
  }
  for (auto& n : nodes) {
    if (n.op == "Constant" && n.outputs.size() == 1) scalars.insert(n.outputs[0]);
  }
  std::set<std::string> constants = initializers;
  for (auto& n : nodes) {
    if (n.op == "Constant") constants.insert(n.outputs.begin(), n.outputs.end());
  }
  std::map<std::string, std::vector<const Node*>> consumers;
  for (auto& n : nodes) {
    for (auto& in : n.inputs) consumers[in].push_back(&n);
  }
  for (auto& n : nodes) {
    if (n.op != "MatMul" || n.inputs.size() != 2 || n.outputs.size() != 1) continue;
    if (constants.count(n.inputs[0]) || constants.count(n.inputs[1])) continue;
    for (const Node* c : consumers[n.outputs[0]]) {
      if (c->op != "Mul" || c->inputs.size() != 2) continue;
      const std::string& other = c->inputs[0] == n.outputs[0] ? c->inputs[1] : c->inputs[0];
      if (scalars.count(other)) {
        info.scaled_matmuls.push_back(n.name.empty() ? n.outputs[0] : n.name);
        break;
      }
    }
  }
  return info;
}

}  // namespace osprey::inference
