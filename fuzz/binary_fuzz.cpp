// fuzz/binary_fuzz.cpp - libFuzzer target: ipc::binary decodes any bytes safely and canonically.
// SPDX-License-Identifier: BSL-1.0
//
// Each input is decoded as a `message`, a described struct that exercises the common kinds of
// value: strings, vectors on both the element-wise and the memcpy path, a map, an optional,
// an array, an enumeration, a nested described struct and a bool; and as a `tree`, which
// nests containers in containers (vectors of vectors, an optional map of described structs,
// a map of vectors). Decoding must never crash,
// read out of bounds or allocate without bound (ASan/UBSan watch that); when it succeeds,
// encoding the value must give back exactly the input, since the format is canonical.
//
// Build and run (clang):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude
//           fuzz/binary_fuzz.cpp -o binary_fuzz
//   cp -r fuzz/corpus/binary /tmp/corpus && ./binary_fuzz -max_total_time=60 /tmp/corpus
//
// Without libFuzzer (any compiler), define IPC_FUZZ_STANDALONE to get a main() that replays
// the files named on its command line, or with `--write-seeds DIR` regenerates the seed
// corpus in DIR from real values.
#include "ipc/serializers/binary.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#ifdef IPC_FUZZ_STANDALONE
#include <fstream>
#include <iterator>
#include <string_view>
#endif

namespace fuzz {

enum class level : std::uint8_t { low, mid, high };

struct inner {
  std::string label;
  std::vector<std::int16_t> samples; // memcpy path
  level priority = level::low;
};
IPC_DESCRIBE(inner, label, samples, priority)

struct message {
  std::vector<std::string> tags;
  std::map<std::string, std::int32_t> counts;
  std::optional<double> ratio;
  std::array<std::int32_t, 3> triple{};
  inner nested;
  bool flag = false;
};
IPC_DESCRIBE(message, tags, counts, ratio, triple, nested, flag)

struct tree {
  std::vector<std::vector<std::uint16_t>> grid;
  std::optional<std::map<std::string, inner>> by_name;
  std::map<std::int64_t, std::vector<std::string>> lists;
};
IPC_DESCRIBE(tree, grid, by_name, lists)

/// Decodes @p in as a T; when that works, the encoding must give back exactly the input.
template <class T>
void check_canonical(const ipc::byte_buffer& in, const std::uint8_t* data, std::size_t size)
{
  T value;
  if (ipc::binary::decode(in.span(), value)) return;

  ipc::byte_buffer out;
  if (ipc::binary::encode(value, out)) {
    std::fprintf(stderr, "binary_fuzz: a decoded value failed to encode\n");
    std::abort();
  }
  if (out.size() != size || (size != 0 && std::memcmp(out.data(), data, size) != 0)) {
    std::fprintf(stderr, "binary_fuzz: re-encoding gave %zu bytes, not the %zu input bytes\n",
                 out.size(), size);
    std::abort();
  }
}

} // namespace fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  // Decode from a padded buffer, as the channel does, so that ASan sees exactly the region a
  // real receive would expose.
  ipc::byte_buffer in;
  in.append(data, size);

  fuzz::check_canonical<fuzz::message>(in, data, size);
  fuzz::check_canonical<fuzz::tree>(in, data, size);
  return 0;
}

#ifdef IPC_FUZZ_STANDALONE

namespace {

struct seed {
  const char* file_name;
  fuzz::message value;
};

std::vector<seed> seed_values()
{
  std::vector<seed> seeds;
  seeds.push_back({"empty", {}}); // every field empty or zero

  fuzz::message m;
  m.tags = {"a", "", "longer tag"};
  m.flag = true;
  seeds.push_back({"tags", m});

  m = {};
  m.counts = {{"", 0}, {"one", 1}, {"minus", -1}, {"max", 2147483647}};
  seeds.push_back({"counts", m});

  m = {};
  m.ratio = 0.25;
  m.triple = {-1, 0, 1};
  seeds.push_back({"ratio_and_triple", m});

  m = {};
  m.nested = {"inner", {1, -2, 32767, -32768}, fuzz::level::high};
  seeds.push_back({"nested", m});

  m = {};
  m.tags = {"x"};
  m.counts = {{"k", 7}};
  m.ratio = -1e300;
  m.triple = {7, 8, 9};
  m.nested = {"n", {5}, fuzz::level::mid};
  m.flag = true;
  seeds.push_back({"every_field", m});

  m = {};
  m.nested.label = std::string("\0\xff non-utf8", 11);
  m.nested.samples.assign(64, 0x0101);
  seeds.push_back({"binary_label_and_samples", m});
  return seeds;
}

template <class T>
bool write_seed(const char* dir, const char* name, const T& value)
{
  ipc::byte_buffer out;
  if (ipc::binary::encode(value, out)) return false;
  std::ofstream file(std::string(dir) + "/" + name, std::ios::binary);
  file.write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
  return static_cast<bool>(file);
}

int write_seeds(const char* dir)
{
  for (const seed& s : seed_values())
    if (!write_seed(dir, s.file_name, s.value)) return 1;
  fuzz::tree t;
  t.grid = {{}, {1, 2, 3}, {65535}};
  t.by_name = std::map<std::string, fuzz::inner>{{"a", {"x", {1, 2}, fuzz::level::mid}}, {"b", {}}};
  t.lists = {{-1, {"", "one"}}, {1LL << 40, {"two"}}};
  if (!write_seed(dir, "tree", t)) return 1;
  t = {};
  t.grid.assign(3, std::vector<std::uint16_t>(5, 7));
  if (!write_seed(dir, "tree_grid", t)) return 1;
  return 0;
}

} // namespace

int main(int argc, char** argv)
{
  if (argc == 3 && std::string_view(argv[1]) == "--write-seeds") return write_seeds(argv[2]);
  for (int i = 1; i < argc; ++i) {
    std::ifstream file(argv[i], std::ios::binary);
    if (!file) {
      std::fprintf(stderr, "binary_fuzz: cannot open %s\n", argv[i]);
      return 1;
    }
    const std::string bytes{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  return 0;
}

#endif // IPC_FUZZ_STANDALONE
