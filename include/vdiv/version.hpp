#pragma once
/// @file
/// vdiv's version: the one place it is written. CMake's project(VERSION), the package config,
/// pkg-config's vdiv.pc, the Python package and `vdiv --version` all read it from here.

#define VDIV_VERSION_MAJOR 0
#define VDIV_VERSION_MINOR 1
#define VDIV_VERSION_PATCH 0
/// Single integer for `#if VDIV_VERSION >= 100` style checks.
#define VDIV_VERSION (VDIV_VERSION_MAJOR * 10000 + VDIV_VERSION_MINOR * 100 + VDIV_VERSION_PATCH)
