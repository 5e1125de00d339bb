// examples/common/run_util.hpp: write_flat_json (eval.json, backbone.json) must escape what it
// writes; paths may hold quotes and backslashes.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "../../examples/common/run_util.hpp"

TEST_CASE("write_flat_json escapes quotes and backslashes and keeps numbers as numbers") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "vdiv_test_run_util";
  fs::create_directories(dir);
  const fs::path file = dir / "eval.json";
  const std::string encoder = "/data/runs/\"quoted\" run\\v1/backbone.pt";
  vdiv::train::write_flat_json(file, {{"encoder", encoder},
                                      {"dataset", "scenes dir with \"quotes\""},
                                      {"knn_acc", "0.8125"},
                                      {"k", "20"},
                                      {"lr", "-1e-4"},
                                      {"version", "1.2.3"},  // looks numeric, is not a number
                                      {"missing", "nan"}});
  std::ifstream in(file);
  const nlohmann::json j = nlohmann::json::parse(in);  // throws if the file is not JSON
  CHECK(j.at("encoder") == encoder);
  CHECK(j.at("dataset") == "scenes dir with \"quotes\"");
  CHECK(j.at("knn_acc").is_number());
  CHECK(j.at("knn_acc").get<double>() == 0.8125);
  CHECK(j.at("k") == 20);
  CHECK(j.at("lr").get<double>() == -1e-4);
  CHECK(j.at("version") == "1.2.3");
  CHECK(j.at("missing") == "nan");
  CHECK(j.size() == 7);
  fs::remove_all(dir);
}
