#pragma once
/// @file
/// Atomic LibTorch checkpoints and module state archives for the trainers.
///
/// A checkpoint is one torch::serialize archive: sub-archives per module / optimiser plus plain
/// tensors and integers. It is written to `<file>.tmp` and renamed over `<file>`, so a run
/// killed at any moment leaves either the previous or the new checkpoint, never half of one.
/// Needs LibTorch.

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "../core/error.hpp"

namespace vdiv::train {

/// Writes `archive` to `file` atomically (temp file in the same directory, then rename).
inline void save_atomic(::torch::serialize::OutputArchive& archive,
                        const std::filesystem::path& file) {
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
  auto tmp = file;
  tmp += ".tmp";
  archive.save_to(tmp.string());
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec)
    throw io_error("checkpoint: cannot rename " + tmp.string() + " to " + file.string() + ": " +
                   ec.message());
}

/// Stores an integer in an archive (as a 0-d int64 tensor).
inline void write_int(::torch::serialize::OutputArchive& a, const std::string& key,
                      std::int64_t value) {
  a.write(key, ::torch::tensor(value, ::torch::kInt64));
}

/// Reads an integer stored by write_int; throws io_error naming the key when it is missing.
inline std::int64_t read_int(::torch::serialize::InputArchive& a, const std::string& key) {
  ::torch::Tensor t;
  if (!a.try_read(key, t))
    throw io_error("checkpoint: key '" + key + "' is missing (written by another version?)");
  return t.item<std::int64_t>();
}

/// Reads a tensor; throws io_error naming the key when it is missing.
inline ::torch::Tensor read_tensor(::torch::serialize::InputArchive& a, const std::string& key) {
  ::torch::Tensor t;
  if (!a.try_read(key, t)) throw io_error("checkpoint: key '" + key + "' is missing");
  return t;
}

/// Saves a module's parameters and buffers into a sub-archive `key`.
inline void write_module(::torch::serialize::OutputArchive& a, const std::string& key,
                         const ::torch::nn::Module& m) {
  ::torch::serialize::OutputArchive sub;
  m.save(sub);
  a.write(key, sub);
}

/// Loads a module's parameters and buffers from sub-archive `key` (shapes must match).
inline void read_module(::torch::serialize::InputArchive& a, const std::string& key,
                        ::torch::nn::Module& m) {
  ::torch::serialize::InputArchive sub;
  if (!a.try_read(key, sub)) throw io_error("checkpoint: module '" + key + "' is missing");
  m.load(sub);
}

/// Saves an optimiser's state (momentum buffers, Adam moments, step counts, param groups).
inline void write_optimizer(::torch::serialize::OutputArchive& a, const std::string& key,
                            const ::torch::optim::Optimizer& opt) {
  ::torch::serialize::OutputArchive sub;
  opt.save(sub);
  a.write(key, sub);
}

inline void read_optimizer(::torch::serialize::InputArchive& a, const std::string& key,
                           ::torch::optim::Optimizer& opt) {
  ::torch::serialize::InputArchive sub;
  if (!a.try_read(key, sub)) throw io_error("checkpoint: optimiser '" + key + "' is missing");
  opt.load(sub);
}

/// Loads an archive from `file`, with an io_error that names the file on failure.
inline ::torch::serialize::InputArchive load_archive(const std::filesystem::path& file) {
  ::torch::serialize::InputArchive a;
  try {
    a.load_from(file.string());
  } catch (const std::exception& e) {
    throw io_error("checkpoint: cannot read " + file.string() + ": " + e.what());
  }
  return a;
}

}  // namespace vdiv::train
