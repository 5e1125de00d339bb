// Which JSON library parses a COCO-train2017-sized instances file fastest?
// Each benchmark reads the file from disk (page cache warm after the first run) and extracts
// what vdiv needs: per image (id, file_name, width, height), per annotation (image_id,
// category_id, bbox, iscrowd), categories (id, name).
//
// The input is generated once into /tmp (see coco_like.hpp), or set VDIV_BENCH_COCO to a real
// instances_train2017.json.
#include <benchmark/benchmark.h>

#include <vdiv/core/machine.hpp>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <simdjson.h>
#include <string>
#include <vector>

#include <vdiv/io/coco.hpp>

#include "coco_like.hpp"

namespace {

struct image_rec {
  std::int64_t id;
  std::string file_name;
  std::int64_t width, height;
};
struct ann_rec {
  std::int64_t image_id, category_id;
  double x, y, w, h;
  bool crowd;
};
struct extracted {
  std::vector<image_rec> images;
  std::vector<ann_rec> annotations;
  std::vector<std::pair<std::int64_t, std::string>> categories;
};

const std::filesystem::path& input_file() {
  static const std::filesystem::path file = [] {
    if (const char* env = std::getenv("VDIV_BENCH_COCO")) return std::filesystem::path(env);
    std::filesystem::path p = std::filesystem::temp_directory_path() / "vdiv_bench_coco_like.json";
    if (!std::filesystem::exists(p)) vdiv::bench::write_coco_like(p);
    return p;
  }();
  return file;
}

// The file's bytes, read once: the parser benchmarks below time parsing + extraction from
// memory; BM_read_file times the read on its own.
const simdjson::padded_string& input_text() {
  static const simdjson::padded_string text = simdjson::padded_string::load(input_file().string());
  return text;
}

void BM_read_file(benchmark::State& state) {
  for (auto _ : state) {
    simdjson::padded_string text = simdjson::padded_string::load(input_file().string());
    benchmark::DoNotOptimize(text.data());
  }
  state.SetBytesProcessed(std::int64_t(std::filesystem::file_size(input_file())) * state.iterations());
}

void set_counters(benchmark::State& state, const extracted& e) {
  const auto bytes = double(std::filesystem::file_size(input_file()));
  state.counters["MB"] = bytes / 1e6;
  state.counters["images"] = double(e.images.size());
  state.counters["annotations"] = double(e.annotations.size());
  state.SetBytesProcessed(std::int64_t(bytes) * state.iterations());
}

void ondemand_extract(simdjson::ondemand::parser& parser, extracted& e) {
    auto doc = parser.iterate(input_text());
    for (auto field : doc.get_object()) {
      const std::string_view key = field.unescaped_key();
      if (key == "images") {
        for (auto im : field.value().get_array()) {
          image_rec r{};
          for (auto f : im.get_object()) {
            const std::string_view k = f.unescaped_key();
            if (k == "id") r.id = f.value().get_int64();
            else if (k == "width") r.width = f.value().get_int64();
            else if (k == "height") r.height = f.value().get_int64();
            else if (k == "file_name") r.file_name = std::string_view(f.value().get_string());
          }
          e.images.push_back(std::move(r));
        }
      } else if (key == "annotations") {
        for (auto an : field.value().get_array()) {
          ann_rec r{};
          for (auto f : an.get_object()) {
            const std::string_view k = f.unescaped_key();
            if (k == "image_id") r.image_id = f.value().get_int64();
            else if (k == "category_id") r.category_id = f.value().get_int64();
            else if (k == "iscrowd") r.crowd = f.value().get_int64() != 0;
            else if (k == "bbox") {
              double v[4]{};
              int i = 0;
              for (auto x : f.value().get_array()) v[i++ & 3] = x.get_double();
              r.x = v[0], r.y = v[1], r.w = v[2], r.h = v[3];
            }
          }
          e.annotations.push_back(r);
        }
      } else if (key == "categories") {
        for (auto c : field.value().get_array()) {
          std::int64_t id = 0;
          std::string name;
          for (auto f : c.get_object()) {
            const std::string_view k = f.unescaped_key();
            if (k == "id") id = f.value().get_int64();
            else if (k == "name") name = std::string_view(f.value().get_string());
          }
          e.categories.emplace_back(id, std::move(name));
        }
      }
    }
}

// A fresh parser per parse, as a one-off load does: includes allocating and first touching the
// parser's buffers.
void BM_simdjson_ondemand(benchmark::State& state) {
  extracted e;
  for (auto _ : state) {
    e = {};
    simdjson::ondemand::parser parser;
    ondemand_extract(parser, e);
    benchmark::DoNotOptimize(e);
  }
  set_counters(state, e);
}

// The parser reused (buffers already touched): the parsing work alone.
void BM_simdjson_ondemand_reused_parser(benchmark::State& state) {
  extracted e;
  simdjson::ondemand::parser parser;
  ondemand_extract(parser, e);  // warm-up: allocate and touch the buffers
  for (auto _ : state) {
    e = {};
    ondemand_extract(parser, e);
    benchmark::DoNotOptimize(e);
  }
  set_counters(state, e);
}

// What a page fault costs on this machine: first touch of 1 GiB of fresh memory.
void BM_first_touch_1GiB(benchmark::State& state) {
  for (auto _ : state) {
    std::unique_ptr<char[]> p(new char[std::size_t(1) << 30]);
    std::memset(p.get(), 1, std::size_t(1) << 30);
    benchmark::DoNotOptimize(p.get());
  }
}

void BM_simdjson_dom(benchmark::State& state) {
  extracted e;
  for (auto _ : state) {
    e = {};
    simdjson::dom::parser parser;
    simdjson::dom::element doc = parser.parse(input_text());
    for (simdjson::dom::object im : doc["images"].get_array()) {
      e.images.push_back({im["id"].get_int64(), std::string(std::string_view(im["file_name"])),
                          im["width"].get_int64(), im["height"].get_int64()});
    }
    for (simdjson::dom::object an : doc["annotations"].get_array()) {
      simdjson::dom::array b = an["bbox"].get_array();
      e.annotations.push_back({an["image_id"].get_int64(), an["category_id"].get_int64(),
                               b.at(0).get_double(), b.at(1).get_double(), b.at(2).get_double(),
                               b.at(3).get_double(), an["iscrowd"].get_int64() != 0});
    }
    for (simdjson::dom::object c : doc["categories"].get_array()) {
      e.categories.emplace_back(c["id"].get_int64(), std::string(std::string_view(c["name"])));
    }
    benchmark::DoNotOptimize(e);
  }
  set_counters(state, e);
}

void BM_nlohmann(benchmark::State& state) {
  extracted e;
  for (auto _ : state) {
    e = {};
    const char* begin = input_text().data();
    const nlohmann::json doc = nlohmann::json::parse(begin, begin + input_text().size());
    for (const auto& im : doc.at("images")) {
      e.images.push_back({im.at("id").get<std::int64_t>(), im.at("file_name").get<std::string>(),
                          im.at("width").get<std::int64_t>(), im.at("height").get<std::int64_t>()});
    }
    for (const auto& an : doc.at("annotations")) {
      const auto& b = an.at("bbox");
      e.annotations.push_back({an.at("image_id").get<std::int64_t>(),
                               an.at("category_id").get<std::int64_t>(), b[0].get<double>(),
                               b[1].get<double>(), b[2].get<double>(), b[3].get<double>(),
                               an.at("iscrowd").get<int>() != 0});
    }
    for (const auto& c : doc.at("categories")) {
      e.categories.emplace_back(c.at("id").get<std::int64_t>(), c.at("name").get<std::string>());
    }
    benchmark::DoNotOptimize(e);
  }
  set_counters(state, e);
}

// The library's own loader, file read included (memory-mapped file, simdjson On Demand,
// validation, clipping and counting, grouping boxes by image).
void BM_vdiv_load_coco(benchmark::State& state) {
  vdiv::io::coco_dataset d;
  for (auto _ : state) {
    d = vdiv::io::load_coco(input_file(), "/tmp");
    benchmark::DoNotOptimize(d);
  }
  const auto bytes = double(std::filesystem::file_size(input_file()));
  state.counters["MB"] = bytes / 1e6;
  state.counters["images"] = double(d.images.size());
  state.counters["annotations"] = double(d.report.annotations);
  state.SetBytesProcessed(std::int64_t(bytes) * state.iterations());
}

}  // namespace

BENCHMARK(BM_first_touch_1GiB)->Unit(benchmark::kMillisecond)->Iterations(1)->Repetitions(3);
BENCHMARK(BM_read_file)->Unit(benchmark::kMillisecond)->Iterations(1)->Repetitions(3);
BENCHMARK(BM_simdjson_ondemand)->Unit(benchmark::kMillisecond)->Iterations(1)->Repetitions(3);
BENCHMARK(BM_simdjson_ondemand_reused_parser)->Unit(benchmark::kMillisecond)->Iterations(1)->Repetitions(3);
BENCHMARK(BM_simdjson_dom)->Unit(benchmark::kMillisecond)->Iterations(1)->Repetitions(3);
BENCHMARK(BM_vdiv_load_coco)->Unit(benchmark::kMillisecond)->Iterations(1)->Repetitions(3);
BENCHMARK(BM_nlohmann)->Unit(benchmark::kMillisecond)->Iterations(1)->Repetitions(3);

int main(int argc, char** argv) {
  // What the figures ran on (BLAS, threads, CPU features), in the JSON context and the header.
  benchmark::AddCustomContext("runtime", vdiv::machine::runtime_summary());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
