// libFuzzer target for the gateway's chunk scan (gateway/chat_chunk.hpp):
// whatever the bytes, it must stay inside them (ASan sees a read past the
// copy), count no more characters than there are bytes, and give what the
// byte-at-a-time walk gives, with AVX2 (where the CPU has it) and without.
//
//   cmake -DOSPREY_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ... && ./fuzz_chat_chunk -max_total_time=60

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "gateway/chat_chunk.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A heap copy of exactly `size` bytes, so that a read past them is caught.
  auto copy = std::make_unique<char[]>(size ? size : 1);
  for (std::size_t i = 0; i < size; ++i) copy[i] = static_cast<char>(data[i]);
  const std::string_view text(copy.get(), size);
  const auto fast = osprey::gateway::inspect_chunk(text);
  const auto slow = osprey::gateway::detail::inspect_chunk_bytewise(text);
  const auto sse2 = osprey::gateway::detail::inspect_chunk_sse2(text);
  if (fast.has_usage != slow.has_usage || fast.text_chars != slow.text_chars) std::abort();
  if (sse2.has_usage != slow.has_usage || sse2.text_chars != slow.text_chars) std::abort();
  if (fast.text_chars > size) std::abort();
  return 0;
}
