// ONNX rewrites for OpenCV 4.6 (see onnx_rewrite.hpp). Field numbers are from
// onnx/onnx.proto3:
//   ModelProto:  graph=7
//   GraphProto:  node=1, initializer=5, input=11, output=12, value_info=13
//   NodeProto:   input=1, output=2, name=3, op_type=4, attribute=5, domain=7
//   AttributeProto: name=1, i=3, t=5, g=6, graphs=11
//   TensorProto: dims=1, data_type=2, segment=3, float_data=4, int32_data=5,
//                int64_data=7, name=8, raw_data=9, external_data=13, data_location=14
//   ValueInfoProto: name=1, type=2 -> tensor_type=1 -> shape=2 -> dim=1 -> dim_value=1
#include "inference/onnx_rewrite.hpp"

#include <deque>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "inference/onnx_wire.hpp"

namespace osprey::inference {
namespace {

using namespace onnx_wire;

// Indexes one parsed graph, plans the rules' edits (nodes and initializers
// to drop, replace or add) and emits the new GraphProto. Names are views into
// the model bytes or into `owned`.
struct Rewriter {
  Graph& g;
  std::unordered_map<Sv, size_t> producer;            // tensor -> node index
  std::unordered_map<Sv, std::vector<size_t>> users;  // tensor -> consuming nodes (one per use)
  // What the rules may treat as constant: initializers that are not also graph
  // inputs (those are overridable defaults), and Constant nodes' values.
  std::unordered_map<Sv, const Tensor*> constants;
  std::unordered_map<const Tensor*, size_t> init_at;  // initializer -> index in g.inits
  std::unordered_map<Sv, const ValueInfo*> infos;
  std::unordered_set<Sv> outputs, names, node_names;
  std::deque<Tensor> constant_node_values;
  std::deque<std::string> owned;  // storage for new names

  // The plan, applied by emit().
  std::vector<char> drop_node, drop_init;
  std::unordered_map<size_t, std::pair<Node, std::string>> replace_node;  // node -> (new node, bytes)
  std::unordered_map<size_t, std::string> replace_init;                   // init -> new TensorProto
  std::unordered_map<size_t, std::vector<std::string>> insert_before;     // graph entry -> new inits
  std::vector<std::string> appended_inits;

  explicit Rewriter(Graph& graph) : g(graph) {
    drop_node.assign(g.nodes.size(), 0);
    drop_init.assign(g.inits.size(), 0);
    std::unordered_set<Sv> graph_inputs;
    for (auto& v : g.inputs) graph_inputs.insert(v.name), names.insert(v.name), infos.emplace(v.name, &v);
    for (auto& v : g.outputs) outputs.insert(v.name), names.insert(v.name), infos.emplace(v.name, &v);
    for (auto& v : g.infos) infos.emplace(v.name, &v), names.insert(v.name);
    for (size_t i = 0; i < g.inits.size(); ++i) {
      const Tensor& t = g.inits[i];
      names.insert(t.name);
      init_at.emplace(&t, i);
      if (!graph_inputs.count(t.name)) constants.emplace(t.name, &t);
    }
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& n = g.nodes[i];
      node_names.insert(n.name);
      for (Sv in : n.in) users[in].push_back(i), names.insert(in);
      for (Sv out : n.out) producer.emplace(out, i), names.insert(out);
      if (n.op == "Constant" && n.domain.empty() && n.out.size() == 1) {
        for (Sv a : n.attrs) {
          Attr at = parse_attr(a);
          if (at.name == "value" && at.has_t) {
            constant_node_values.push_back(parse_tensor(at.t));
            constants.emplace(n.out[0], &constant_node_values.back());
          }
        }
      }
    }
  }

  const Tensor* constant(Sv name) const {
    auto it = constants.find(name);
    return it == constants.end() ? nullptr : it->second;
  }
  const Node* made_by(Sv name, Sv op) const {
    auto it = producer.find(name);
    if (it == producer.end() || drop_node[it->second]) return nullptr;
    const Node& n = g.nodes[it->second];
    return n.op == op && n.domain.empty() ? &n : nullptr;
  }
  // The single node reading `name` (and `name` is not a graph output), if it is `op`.
  const Node* only_user(Sv name, Sv op) const {
    auto it = users.find(name);
    if (outputs.count(name) || it == users.end() || it->second.size() != 1) return nullptr;
    const Node& n = g.nodes[it->second[0]];
    return n.op == op && n.domain.empty() && !drop_node[it->second[0]] ? &n : nullptr;
  }
  Sv unique(std::string base, std::unordered_set<Sv>& taken) {
    std::string name = base;
    for (int k = 1; taken.count(name); ++k) name = base + "_" + std::to_string(k);
    owned.push_back(std::move(name));
    taken.insert(owned.back());
    return owned.back();
  }

  // Rule 1. A per-channel operand of the chain (W_scale after the x_scale
  // product, the bias) must broadcast along axis 1 of the rank-`rank` conv
  // output: right-aligned, every dim is 1 except axis 1, which may be M. A
  // plain [M] vector would broadcast along the LAST axis, so it is refused.
  static bool channel_shaped(const std::vector<int64_t>& dims, int64_t m, size_t rank) {
    if (dims.size() > rank) return false;
    for (size_t j = 0; j < dims.size(); ++j) {
      size_t axis = rank - dims.size() + j;
      if (dims[j] != 1 && !(axis == 1 && dims[j] == m)) return false;
    }
    return true;
  }

  // The Add operand as a per-channel bias: a float constant, or Reshape of
  // one by a constant shape (what quantize_dynamic emits: bias [M] ->
  // [1,M,1,1]). *source names that constant if Conv can take it as it is ([M]).
  std::optional<std::vector<float>> bias_values(Sv name, int64_t m, size_t rank, Sv* source) const {
    Sv src = name;
    const Tensor* t = constant(name);
    std::optional<std::vector<int64_t>> dims;
    if (t) {
      dims = t->dims;
    } else if (const Node* r = made_by(name, "Reshape");
               r && r->in.size() == 2 && attr_int(*r, "allowzero", 0) == 0) {
      src = r->in[0];
      t = constant(src);
      const Tensor* shape = constant(r->in[1]);
      auto want = shape ? int64s(*shape) : std::nullopt;
      auto n = t ? numel(t->dims) : std::nullopt;
      if (want && n) dims = reshaped(t->dims, *want, *n);
    }
    if (!t || !dims || t->dtype != kFloat || !channel_shaped(*dims, m, rank)) return std::nullopt;
    auto v = floats(*t);
    if (!v || (v->size() != size_t(m) && v->size() != 1)) return std::nullopt;
    *source = t->dims == std::vector<int64_t>{m} ? src : Sv();
    return v;
  }

  bool dequantize_chain(size_t ci) {
    const Node& conv = g.nodes[ci];
    if (conv.op != "ConvInteger" || !conv.domain.empty() || conv.in.size() < 3 || conv.out.size() != 1) return false;
    const Node* dq = made_by(conv.in[0], "DynamicQuantizeLinear");
    // ConvInteger's x_zp must be the zero point DynamicQuantizeLinear chose for
    // the same x: then (xq - x_zp) * x_scale is x up to rounding, and the
    // chain computes Conv(x, W) in integer arithmetic.
    if (!dq || dq->in.empty() || dq->in[0].empty() || dq->out.size() != 3 || dq->out[0] != conv.in[0] ||
        conv.in[2] != dq->out[2]) {
      return false;
    }
    const Tensor* w = constant(conv.in[1]);
    if (!w || (w->dtype != kUint8 && w->dtype != kInt8) || w->dims.size() < 3 || w->dims[0] <= 0) return false;
    const int64_t m = w->dims[0];
    const size_t rank = w->dims.size();
    std::vector<float> zp{0.0f};
    if (conv.in.size() > 3 && !conv.in[3].empty()) {
      const Tensor* z = constant(conv.in[3]);
      auto v = z && z->dtype == w->dtype ? floats(*z) : std::nullopt;
      if (!v || (v->size() != 1 && v->size() != size_t(m))) return false;  // spec: scalar or [M]
      zp = *v;
    }
    const Node* cast = only_user(conv.out[0], "Cast");
    if (!cast || cast->out.size() != 1 || attr_int(*cast, "to", 0) != kFloat) return false;
    const Node* mul = only_user(cast->out[0], "Mul");
    if (!mul || mul->in.size() != 2 || mul->out.size() != 1 || mul->in[0] == mul->in[1]) return false;
    const Node* scales = made_by(mul->in[0] == cast->out[0] ? mul->in[1] : mul->in[0], "Mul");
    if (!scales || scales->in.size() != 2) return false;
    const int xs = scales->in[0] == dq->out[1] ? 0 : scales->in[1] == dq->out[1] ? 1 : -1;
    const Tensor* ws = xs < 0 ? nullptr : constant(scales->in[1 - xs]);
    auto scale = ws && ws->dtype == kFloat && channel_shaped(ws->dims, m, rank) ? floats(*ws) : std::nullopt;
    if (!scale || (scale->size() != 1 && scale->size() != size_t(m))) return false;
    auto q = floats(*w);
    if (!q || q->empty()) return false;

    // Optional bias Add right after the scale Mul.
    const Node* last = mul;
    Sv bias_name;
    std::optional<std::vector<float>> bias;
    if (const Node* add = only_user(mul->out[0], "Add"); add && add->in.size() == 2 && add->out.size() == 1) {
      Sv other = add->in[0] == mul->out[0] ? add->in[1] : add->in[0];
      if (other != mul->out[0] && (bias = bias_values(other, m, rank, &bias_name))) last = add;
    }

    // W = (Wq - W_zp) * W_scale per output channel (axis 0), in float: the
    // difference is an exact small integer, so this equals numpy's float32 result.
    std::vector<float> wf(q->size());
    const size_t per = q->size() / size_t(m);
    for (size_t i = 0; i < wf.size(); ++i) {
      size_t c = i / per;
      wf[i] = (*q)[i] - zp[zp.size() == 1 ? 0 : c];
      wf[i] *= (*scale)[scale->size() == 1 ? 0 : c];
    }
    Sv wname = w->name;
    std::string base = std::string(wname.ends_with("_quantized") ? wname.substr(0, wname.size() - 10) : wname);
    Sv new_w = unique(base + "_dequant", names);
    std::string w_bytes = tensor_bytes(new_w, w->dims, wf);
    if (bias && bias_name.empty()) {
      std::vector<float> b(size_t(m), (*bias)[0]);
      if (bias->size() == size_t(m)) b = *bias;
      bias_name = unique(base + "_bias", names);
      appended_inits.push_back(tensor_bytes(bias_name, {m}, b));
    }
    auto wi = init_index(w);
    if (wi) insert_before[g.init_entry[*wi]].push_back(std::move(w_bytes));
    else appended_inits.push_back(std::move(w_bytes));

    Node fp;
    fp.op = "Conv";
    Sv nm = conv.name.ends_with("_quant") ? conv.name.substr(0, conv.name.size() - 6) : conv.name;
    fp.name = nm.empty() ? nm : unique(std::string(nm), node_names);
    fp.in = {dq->in[0], new_w};
    if (bias) fp.in.push_back(bias_name);
    fp.out = {last->out[0]};
    fp.attrs = conv.attrs;
    size_t last_index = size_t(last - g.nodes.data());
    for (const Node* n : {&conv, cast, mul, last}) drop_node[size_t(n - g.nodes.data())] = 1;
    std::string bytes = node_bytes(fp);
    replace_node[last_index] = {std::move(fp), std::move(bytes)};
    return true;
  }

  std::optional<size_t> init_index(const Tensor* t) const {
    auto it = init_at.find(t);
    return it == init_at.end() ? std::nullopt : std::optional<size_t>(it->second);
  }

  // Rule 2. Mul(X, C) with C a float initializer of shape [1,A] read only by
  // this Mul, and X's recorded shape exactly [1,4,A], where the single graph
  // output is [1,4+nc,A] (nc >= 1: the Ultralytics Detect head, A anchors, X
  // the decoded boxes). By numpy broadcasting, X * C == X * C' with
  // C'[0,k,a] = C[0,a] for k < 4, and the output shape stays [1,4,A]; nothing
  // else reads C, so giving C the shape [1,4,A] changes no value in the graph.
  // X's shape comes from value_info (onnx shape inference, as in every
  // Ultralytics/onnxruntime export seen): without it the rule does not fire.
  std::vector<std::string> materialise_strides() {
    std::vector<std::string> done;
    if (g.outputs.size() != 1 || !g.outputs[0].known) return done;
    const auto& os = g.outputs[0].shape;
    if (os.size() != 3 || os[0] != 1 || os[1] < 5 || os[2] <= 0) return done;
    const int64_t a = os[2];
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& n = g.nodes[i];
      if (drop_node[i] || n.op != "Mul" || !n.domain.empty() || n.in.size() != 2) continue;
      for (int k = 0; k < 2; ++k) {
        const Tensor* c = constant(n.in[k]);
        auto ci = init_index(c);
        auto xi = infos.find(n.in[1 - k]);
        if (!ci || drop_init[*ci] || replace_init.count(*ci) || c->dtype != kFloat ||
            c->dims != std::vector<int64_t>{1, a} || users[c->name].size() != 1 || outputs.count(c->name) ||
            xi == infos.end() || !xi->second->known || xi->second->shape != std::vector<int64_t>{1, 4, a}) {
          continue;
        }
        auto v = floats(*c);
        if (!v) continue;
        std::vector<float> tiled;
        for (int r = 0; r < 4; ++r) tiled.insert(tiled.end(), v->begin(), v->end());
        replace_init[*ci] = retensor(*c, {1, 4, a}, tiled);
        done.push_back("materialised " + std::string(c->name) + " [1," + std::to_string(a) + "] -> [1,4," +
                       std::to_string(a) + "] for OpenCV 4.6 broadcasting");
      }
    }
    return done;
  }

  // Drops what only the removed nodes used: nodes whose outputs all lost
  // their last reader (transitively, e.g. DynamicQuantizeLinear, the scale
  // Mul, the bias Reshape), initializers likewise, and value_info of tensors
  // that no longer exist. Nodes and initializers already unused in the file
  // are kept: the rewrite removes only what it made dead.
  void drop_dead(size_t* nodes_dropped, size_t* inits_dropped) {
    std::unordered_map<Sv, size_t> uses_before, uses;
    for (auto& [name, list] : users) uses_before[name] = list.size();
    auto node_at = [&](size_t i) -> const Node& {
      auto it = replace_node.find(i);
      return it == replace_node.end() ? g.nodes[i] : it->second.first;
    };
    std::vector<size_t> work;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      if (!drop_node[i] || replace_node.count(i)) {
        for (Sv in : node_at(i).in) ++uses[in];
      }
      if (drop_node[i]) {  // removed or replaced: what its old inputs came from may be dead now
        for (Sv in : g.nodes[i].in) if (auto p = producer.find(in); p != producer.end()) work.push_back(p->second);
      }
    }
    auto live = [&](Sv t) { return outputs.count(t) || uses[t] > 0; };
    while (!work.empty()) {
      size_t i = work.back();
      work.pop_back();
      const Node& n = g.nodes[i];
      if (drop_node[i] || replace_node.count(i) || n.out.empty()) continue;
      bool used_before = false, used_now = false;
      for (Sv o : n.out) used_before |= uses_before[o] > 0 || outputs.count(o), used_now |= live(o);
      if (!used_before || used_now) continue;
      drop_node[i] = 1;
      ++*nodes_dropped;
      for (Sv in : n.in) {
        if (--uses[in] == 0) if (auto p = producer.find(in); p != producer.end()) work.push_back(p->second);
      }
    }
    for (size_t i = 0; i < g.inits.size(); ++i) {
      Sv name = g.inits[i].name;
      if (uses_before[name] > 0 && !live(name)) drop_init[i] = 1, ++*inits_dropped;
    }
  }

  // Tensors that no longer exist: outputs of dropped nodes (unless a
  // replacement produces them) and dropped initializers.
  std::unordered_set<Sv> gone() const {
    std::unordered_set<Sv> gone, kept;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const auto& out = g.nodes[i].out;
      (drop_node[i] ? gone : kept).insert(out.begin(), out.end());
      if (auto it = replace_node.find(i); it != replace_node.end()) {
        kept.insert(it->second.first.out.begin(), it->second.first.out.end());
      }
    }
    for (size_t i = 0; i < g.inits.size(); ++i) if (drop_init[i]) gone.insert(g.inits[i].name);
    for (Sv k : kept) gone.erase(k);
    return gone;
  }

  std::string emit() const {
    std::string out;
    std::unordered_map<size_t, size_t> node_of_entry, init_of_entry;
    for (size_t i = 0; i < g.node_entry.size(); ++i) node_of_entry[g.node_entry[i]] = i;
    for (size_t i = 0; i < g.init_entry.size(); ++i) init_of_entry[g.init_entry[i]] = i;
    const auto removed = gone();
    for (size_t e = 0; e < g.entries.size(); ++e) {
      const Field& f = g.entries[e];
      if (auto it = insert_before.find(e); it != insert_before.end()) for (auto& t : it->second) put_len(out, 5, t);
      if (auto n = node_of_entry.find(e); n != node_of_entry.end()) {
        if (auto r = replace_node.find(n->second); r != replace_node.end()) put_len(out, 1, r->second.second);
        else if (!drop_node[n->second]) out.append(f.whole);
      } else if (auto t = init_of_entry.find(e); t != init_of_entry.end()) {
        if (auto r = replace_init.find(t->second); r != replace_init.end()) put_len(out, 5, r->second);
        else if (!drop_init[t->second]) out.append(f.whole);
      } else if ((f.num == 11 || f.num == 13) && f.wire == 2 && removed.count(parse_value_info(f.data).name)) {
        continue;  // a graph input naming a dropped initializer, or stale value_info
      } else {
        out.append(f.whole);
      }
    }
    for (auto& t : appended_inits) put_len(out, 5, t);
    return out;
  }
};

}  // namespace

OnnxRewrite rewrite_for_opencv(std::string_view bytes) {
  if (bytes.size() > kMaxModelBytes) throw std::runtime_error("onnx rewrite: model larger than 2 GiB");
  std::vector<Field> top;
  Reader r(bytes);
  Field f;
  size_t graph_at = 0, graphs = 0;
  while (r.next(f)) {
    if (f.num == 7) {
      if (f.wire != 2) throw std::runtime_error("onnx rewrite: graph is not a message");
      graph_at = top.size();
      ++graphs;
    }
    top.push_back(f);
  }
  if (graphs != 1) throw std::runtime_error(graphs ? "onnx rewrite: more than one graph" : "onnx rewrite: no graph");
  Graph g = parse_graph(top[graph_at].data);
  OnnxRewrite out;
  // Nodes with subgraphs (If, Loop, Scan) may read outer tensors that the use
  // counts here cannot see: leave such graphs alone.
  for (const Node& n : g.nodes) if (n.subgraph) return out;

  Rewriter rw(g);
  size_t chains = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) chains += rw.dequantize_chain(i);
  if (chains) {
    out.applied.push_back("dequantized " + std::to_string(chains) + " ConvInteger chain" + (chains == 1 ? "" : "s") +
                          " to fp32 Conv");
  }
  for (auto& s : rw.materialise_strides()) out.applied.push_back(std::move(s));
  if (out.applied.empty()) return out;
  size_t nodes_dropped = 0, inits_dropped = 0;
  rw.drop_dead(&nodes_dropped, &inits_dropped);
  if (nodes_dropped || inits_dropped) {
    auto count = [](size_t n, const char* what) { return std::to_string(n) + " " + what + (n == 1 ? "" : "s"); };
    out.applied.push_back("dropped " + count(nodes_dropped, "node") + " and " + count(inits_dropped, "initializer") +
                          " left unused");
  }
  std::string graph = rw.emit();
  for (size_t i = 0; i < top.size(); ++i) {
    if (i == graph_at) put_len(out.model, 7, graph);
    else out.model.append(top[i].whole);
  }
  return out;
}

OnnxRewrite rewrite_file_for_opencv(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("cannot open " + path);
  const std::streamoff size = in.tellg();
  if (size < 0 || uint64_t(size) > kMaxModelBytes) throw std::runtime_error("onnx rewrite: cannot size " + path);
  std::string bytes(size_t(size), '\0');
  if (!in.seekg(0) || !in.read(bytes.data(), size)) throw std::runtime_error("cannot read " + path);
  return rewrite_for_opencv(bytes);
}

}  // namespace osprey::inference
