#pragma once
// What a streamed chat completion chunk (the data of one SSE event from
// /chat/completions) tells the gateway, found in one pass over its bytes
// without parsing it: this runs for every token of every stream.
//
//   ChunkFacts f = inspect_chunk(event.data);
//   if (f.has_usage) ...parse it properly (json_scan)...
//   chars_relayed += f.text_chars;  // for a token estimate
//
// It looks only where a key that matters can be: at each quote that
// "usage", "content" or "arguments", a quote and a colon follow, and that
// no backslash escapes (then it is inside a string). The quotes followed
// by u, c or a are found 32 places at a time with AVX2 (where the CPU has
// it), else 16 at a time with SSE2.
// has_usage: some "usage" key has an object for its value (the caller
// checks that it is the top-level one). text_chars: the characters of the
// string values of "content" and "arguments" keys (message text and tool
// call arguments), an escape or a UTF-8 sequence counting as one. Bytes
// that are not JSON give whatever the walk finds; it never reads outside
// `data`.

#include <cstddef>
#include <string_view>

namespace osprey::gateway {

struct ChunkFacts {
  bool has_usage = false;
  std::size_t text_chars = 0;
};

ChunkFacts inspect_chunk(std::string_view data);

namespace detail {
// The same, a byte at a time: what inspect_chunk does where it has no SIMD,
// and what its tests hold the SIMD path to.
ChunkFacts inspect_chunk_bytewise(std::string_view data);
// The same without AVX2 (16 places at a time), as on a CPU without it.
ChunkFacts inspect_chunk_sse2(std::string_view data);
}  // namespace detail

}  // namespace osprey::gateway
