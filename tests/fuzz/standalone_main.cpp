// Runs a libFuzzer target without libFuzzer: replays every file in the seed
// folders given on the command line, then N inputs made by mutating them
// (byte flips, truncations, splices, random bytes) with a fixed seed, so a
// failure reproduces. Usage: <target>_replay N [seed-dir...]

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  long iterations = argc > 1 ? std::atol(argv[1]) : 10000;
  std::vector<std::string> seeds;
  for (int i = 2; i < argc; ++i) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(argv[i], ec)) {
      if (!e.is_regular_file()) continue;
      std::ifstream in(e.path(), std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      seeds.push_back(ss.str());
    }
  }
  if (seeds.empty()) seeds.push_back("");
  for (const auto& s : seeds) LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  std::mt19937_64 rng(12345);
  for (long i = 0; i < iterations; ++i) {
    std::string in = seeds[rng() % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < edits; ++k) {
      switch (rng() % 5) {
        case 0:
          if (!in.empty()) in[rng() % in.size()] = static_cast<char>(rng());
          break;
        case 1:
          if (!in.empty()) in.resize(rng() % in.size());
          break;
        case 2: {
          const auto& other = seeds[rng() % seeds.size()];
          if (!other.empty()) in.insert(rng() % (in.size() + 1), other.substr(rng() % other.size(), 64));
          break;
        }
        case 3:
          in.insert(rng() % (in.size() + 1), std::string(1 + rng() % 16, static_cast<char>(rng())));
          break;
        default:
          if (in.size() > 2) in.erase(rng() % in.size(), 1 + rng() % 8);
      }
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(in.data()), in.size());
  }
  std::cout << "replayed " << seeds.size() << " seeds and " << iterations << " mutations: no crash\n";
  return 0;
}
