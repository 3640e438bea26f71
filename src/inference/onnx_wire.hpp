#pragma once
// onnx_wire: the protobuf wire format and the few ONNX messages that
// onnx_rewrite needs, without a protobuf library. Parsed messages are views
// into the caller's bytes (which must outlive them); nothing is decoded until
// asked for, so a 100 MB weight costs nothing unless a rule reads it.
//
//   Graph g = parse_graph(model_graph_field_bytes);
//   for (const Node& n : g.nodes) if (n.op == "Conv") ...
//   auto w = floats(g.inits[0]);   // nullopt if the tensor is not readable here
//
// Reader::next() and the parse_* functions throw std::runtime_error on
// malformed bytes (truncation, bad varints, unsupported wire types, a message
// field that is not length-delimited). Counts and sizes are checked against
// the bytes actually present before anything is allocated.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace osprey::inference::onnx_wire {

using Sv = std::string_view;

inline constexpr size_t kMaxModelBytes = size_t(2) << 30;  // protobuf's own limit
inline constexpr int64_t kMaxElems = int64_t(1) << 31;     // per tensor, and per dim
enum : int32_t { kFloat = 1, kUint8 = 2, kInt8 = 3, kInt64 = 7 };  // TensorProto.DataType

struct Field {
  uint32_t num = 0;
  int wire = 0;
  uint64_t value = 0;  // wire type 0
  Sv data;             // wire types 1, 2, 5: the payload
  Sv whole;            // key and payload, for copying the field verbatim
};

class Reader {
 public:
  explicit Reader(Sv s) : p_(s.data()), end_(s.data() + s.size()) {}
  bool done() const { return p_ == end_; }
  bool next(Field& f);  // false at the end
  uint64_t varint();

 private:
  Sv take(uint64_t n);
  const char* p_;
  const char* end_;
};

void put_varint(std::string& out, uint64_t v);
void put_int(std::string& out, uint32_t num, uint64_t v);
void put_len(std::string& out, uint32_t num, Sv payload);

struct Tensor {
  Sv name;
  std::vector<int64_t> dims;
  int32_t dtype = 0;
  bool has_raw = false;
  Sv raw;
  std::vector<Field> typed;  // float_data / int32_data / int64_data, in file order
  std::vector<Field> fields;  // every field, for re-encoding with new dims and data
  bool opaque = false;  // external data, a segment, or a field with a wrong wire type
};

struct Attr {
  Sv name;
  bool has_i = false, has_t = false, subgraph = false;
  int64_t i = 0;
  Sv t;  // TensorProto bytes
};

struct Node {
  Sv name, op, domain;
  std::vector<Sv> in, out;
  std::vector<Sv> attrs;  // AttributeProto bytes
  bool subgraph = false;  // has a graph-valued attribute (If, Loop, Scan)
};

struct ValueInfo {
  Sv name;
  std::vector<int64_t> shape;  // -1 for a symbolic or missing dim
  bool known = false;          // has a shape at all
};

struct Graph {
  std::vector<Field> entries;  // every GraphProto field, in order
  std::vector<Node> nodes;
  std::vector<size_t> node_entry;  // nodes[i] is entries[node_entry[i]]
  std::vector<Tensor> inits;
  std::vector<size_t> init_entry;
  std::vector<ValueInfo> inputs, outputs, infos;
};

Tensor parse_tensor(Sv msg);
Attr parse_attr(Sv msg);
Node parse_node(Sv msg);
ValueInfo parse_value_info(Sv msg);
Graph parse_graph(Sv msg);

// Element count, nullopt for a negative dim or more than kMaxElems.
std::optional<int64_t> numel(const std::vector<int64_t>& dims);
// Values of a FLOAT, UINT8 or INT8 tensor (exact in float); nullopt if the
// type, the storage or the count does not fit.
std::optional<std::vector<float>> floats(const Tensor& t);
std::optional<std::vector<int64_t>> int64s(const Tensor& t);
// Reshape's output shape (0 copies the input dim, one -1 is inferred).
std::optional<std::vector<int64_t>> reshaped(const std::vector<int64_t>& in, const std::vector<int64_t>& shape,
                                             int64_t count);
int64_t attr_int(const Node& n, Sv name, int64_t fallback);

// A FLOAT tensor: dims, data_type, name, raw_data (the order onnx writes).
std::string tensor_bytes(Sv name, const std::vector<int64_t>& dims, const std::vector<float>& values);
// `t` with new dims and FLOAT data: its other fields keep their order, the
// data becomes raw_data where the old data was, and a default data_location
// (0) is dropped, as a proto3 writer would.
std::string retensor(const Tensor& t, const std::vector<int64_t>& dims, const std::vector<float>& values);
std::string node_bytes(const Node& n);

}  // namespace osprey::inference::onnx_wire
