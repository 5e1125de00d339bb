#pragma once
/// @file
/// Atomic LibTorch checkpoints and module state archives for the trainers.
///
/// A checkpoint is one torch::serialize archive: sub-archives per module / optimiser plus plain
/// tensors and integers. On disk it is wrapped in an outer archive that holds its bytes and
/// their CRC-32, so a damaged file (bit rot, a bad copy, a torn write on a file system that
/// lies about fsync) is refused on load instead of resuming from different weights. It is
/// written to a temporary file, fsync'ed and renamed over `<file>`, so a run killed at any
/// moment leaves either the previous or the new checkpoint, never half of one.
///
/// Checkpoints are portable between CPU and CUDA runs: tensors are stored with the device they
/// were on, and load_archive(file, device) maps every one of them to `device` as it reads
/// (torch.load's map_location), so a CPU checkpoint resumes a CUDA run and the other way round,
/// on machines without the other device too.
/// Needs LibTorch and zlib.

#include <torch/torch.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "../core/error.hpp"
#include "../io/detail/file.hpp"

namespace vdiv::train {

namespace detail {
inline std::uint32_t crc32_of(const void* data, std::size_t size) {
  return static_cast<std::uint32_t>(
      crc32_z(crc32(0L, Z_NULL, 0), static_cast<const Bytef*>(data), size));
}
inline std::string hex32(std::uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}
}  // namespace detail

/// Writes `archive` to `file` atomically with a CRC-32 of its bytes (see the file comment).
inline void save_atomic(::torch::serialize::OutputArchive& archive,
                        const std::filesystem::path& file) {
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
  std::string payload;
  archive.save_to([&payload](const void* data, std::size_t size) {
    payload.append(static_cast<const char*>(data), size);
    return size;
  });
  ::torch::serialize::OutputArchive outer;
  outer.write("vdiv_checkpoint_payload",
              ::torch::from_blob(payload.data(), {std::int64_t(payload.size())}, ::torch::kUInt8));
  outer.write("vdiv_checkpoint_crc32",
              ::torch::tensor(std::int64_t(detail::crc32_of(payload.data(), payload.size())),
                              ::torch::kInt64));
  std::string bytes;
  outer.save_to([&bytes](const void* data, std::size_t size) {
    bytes.append(static_cast<const char*>(data), size);
    return size;
  });
  vdiv::detail::write_file_atomic(file, bytes.data(), bytes.size());
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

/// Loads a module's parameters and buffers from sub-archive `key` (shapes must match). The
/// module stays on its device whatever device the archive's tensors were mapped to
/// (torch::nn::Module::load would move a parameter to the stored tensor's device).
inline void read_module(::torch::serialize::InputArchive& a, const std::string& key,
                        ::torch::nn::Module& m) {
  ::torch::serialize::InputArchive sub;
  if (!a.try_read(key, sub)) throw io_error("checkpoint: module '" + key + "' is missing");
  const auto params = m.parameters();
  const auto device = params.empty() ? ::torch::Device(::torch::kCPU) : params.front().device();
  m.load(sub);
  bool moved = false;
  for (const auto& p : m.parameters()) moved = moved || p.device() != device;
  for (const auto& b : m.buffers()) moved = moved || b.device() != device;
  if (moved) m.to(device);
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

/// Loads an archive written by save_atomic from `file` after checking its CRC-32. With
/// `map_location`, every tensor of the archive is created on that device (whatever device it
/// was saved from); without, on the device it was saved from.
/// @throws vdiv::io_error naming the file when it cannot be read, was written without a
///         checksum, or its bytes do not match their checksum (corrupt).
inline ::torch::serialize::InputArchive load_archive(
    const std::filesystem::path& file, std::optional<::torch::Device> map_location = std::nullopt) {
  ::torch::serialize::InputArchive outer, a;
  ::torch::Tensor payload, crc;
  try {
    outer.load_from(file.string(), ::torch::Device(::torch::kCPU));
  } catch (const std::exception& e) {
    throw io_error("checkpoint: cannot read " + file.string() + ": " + e.what());
  }
  if (!outer.try_read("vdiv_checkpoint_payload", payload) ||
      !outer.try_read("vdiv_checkpoint_crc32", crc)) {
    throw io_error("checkpoint " + file.string() +
                   " has no checksum (written by an older vdiv, or not a vdiv checkpoint); "
                   "start over with --no-resume");
  }
  payload = payload.contiguous();
  if (payload.scalar_type() != ::torch::kUInt8 || payload.dim() != 1 || crc.numel() != 1) {
    throw io_error("checkpoint " + file.string() + " is damaged (malformed checksum record); "
                   "start over with --no-resume");
  }
  const auto* data = static_cast<const char*>(payload.data_ptr());
  const auto size = static_cast<std::size_t>(payload.numel());
  const std::uint32_t stored = static_cast<std::uint32_t>(crc.item<std::int64_t>());
  const std::uint32_t actual = detail::crc32_of(data, size);
  if (stored != actual) {
    throw io_error("checkpoint " + file.string() + " is corrupt: its CRC-32 is " +
                   detail::hex32(actual) + " but it was written with " + detail::hex32(stored) +
                   "; restore it or start over with --no-resume");
  }
  try {
    if (map_location) a.load_from(data, size, *map_location);
    else a.load_from(data, size);
  } catch (const std::exception& e) {
    throw io_error("checkpoint: cannot read " + file.string() + ": " + e.what());
  }
  return a;
}

/// Stores a string in an archive (as a uint8 tensor of its bytes).
inline void write_string(::torch::serialize::OutputArchive& a, const std::string& key,
                         const std::string& value) {
  a.write(key, ::torch::tensor(std::vector<std::uint8_t>(value.begin(), value.end()), ::torch::kUInt8));
}

/// Reads a string stored by write_string; throws io_error naming the key when it is missing.
inline std::string read_string(::torch::serialize::InputArchive& a, const std::string& key) {
  ::torch::Tensor t;
  if (!a.try_read(key, t))
    throw io_error("checkpoint: key '" + key + "' is missing (written by another version?)");
  t = t.contiguous();
  if (t.scalar_type() != ::torch::kUInt8 || t.dim() != 1)
    throw io_error("checkpoint: key '" + key + "' is not a string");
  const auto* p = static_cast<const char*>(t.data_ptr());
  return std::string(p, p + t.numel());
}

}  // namespace vdiv::train
