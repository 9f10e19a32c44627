// tm_runtime_api.h — the boundary between the thin GDAL plugin (gdal_TM.so) and the model runtime
// it loads on the first Open (libtm_runtime.so: TerraMind, tokenizers, LibTorch).
//
// GDAL 3.6 loads every plugin into every GDAL process (QGIS at start-up included), so gdal_TM.so
// links neither libtm's model nor LibTorch. On the first Open it dlopen()s the runtime library and
// calls its single C entry point, TM_RUNTIME_ENTRY_POINT, which hands back a versioned table of
// functions. The models it opens implement terramind::WindowModel (tm/window_model.h), the same
// interface generate_scene drives, so the plugin and tm_generate produce the same pixels.
//
// Writing a runtime:
//
//   #include "tm_runtime_api.h"
//   static terramind::WindowModel* open_model(const char* settings_json, char* error,
//                                             std::size_t error_size) noexcept;
//   static void close_model(terramind::WindowModel* model) noexcept { delete model; }
//   TM_RUNTIME_EXPORT const TmRuntimeApi* tm_runtime_get_api(std::uint32_t wanted_version) {
//     static const TmRuntimeApi api =
//         terramind::make_runtime_api("TerraMind 1.0 (LibTorch, CPU)", open_model, close_model);
//     return wanted_version == TM_RUNTIME_API_VERSION ? &api : nullptr;
//   }
//
// The library must be built with the same compiler family and standard library as the plugin
// (C++ objects cross the boundary); the ABI tag below lets the plugin refuse a mismatch cleanly.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tm/window_model.h"  // the C++ types TM_RUNTIME_TILING_INTERFACE covers

// Version of the function table. Bump when TmRuntimeApi or the settings JSON change incompatibly.
#define TM_RUNTIME_API_VERSION 1u
// Version of the C++ types that cross the boundary (tm/window_model.h: WindowModel, TargetSpec,
// InputBatch, OutputBatch, PixelWindow, LulcClass). Bump whenever one of them changes layout or
// virtual functions.
#define TM_RUNTIME_TILING_INTERFACE 2  // 2: WindowModel::provenance, TargetSpec::units

#define TM_RUNTIME_STRINGIFY_(x) #x
#define TM_RUNTIME_STRINGIFY(x) TM_RUNTIME_STRINGIFY_(x)
// Compiler C++ ABI, libstdc++ string ABI and interface version, e.g. "gxx1017-cxx11abi1-tiling1".
#define TM_RUNTIME_ABI_TAG                                                        \
  "gxx" TM_RUNTIME_STRINGIFY(__GXX_ABI_VERSION) "-cxx11abi" TM_RUNTIME_STRINGIFY( \
      _GLIBCXX_USE_CXX11_ABI) "-tiling" TM_RUNTIME_STRINGIFY(TM_RUNTIME_TILING_INTERFACE)

// The one symbol the plugin resolves in the runtime library.
#define TM_RUNTIME_ENTRY_POINT "tm_runtime_get_api"
#define TM_RUNTIME_EXPORT extern "C" __attribute__((visibility("default")))

extern "C" {

struct TmRuntimeApi {
  std::uint32_t api_version;  // TM_RUNTIME_API_VERSION the runtime was built with
  std::uint32_t struct_size;  // sizeof(TmRuntimeApi) of the runtime's build
  const char* abi_tag;        // TM_RUNTIME_ABI_TAG of the runtime's build
  const char* description;    // one line for messages, e.g. "TerraMind 1.0 (LibTorch 1.13, CPU)"

  // Opens a model from `settings_json` (UTF-8, see below). Returns a model owned by the runtime,
  // or nullptr with a one-line reason in `error` (NUL-terminated, at most error_size bytes), e.g.
  // "model file not found: /data/TerraMind_v1_base.pt". Must not throw. May be called from any
  // thread; the plugin serialises all calls into one model (WindowModel::infer and the others).
  //
  // settings_json is an object with these members, each present only when the user set it:
  //   "model":   string  checkpoint path or model name, as given (relative paths already resolved)
  //   "steps":   integer diffusion / sampling steps
  //   "seed":    integer random seed
  //   "device":  string  "cpu", "cuda", "cuda:1" ...
  //   "threads": integer intra-op threads (0: the runtime's default)
  //   "options": object  string -> string, runtime-specific settings passed through untouched
  // A runtime refuses members it does not understand in "options" with a clear error.
  terramind::WindowModel* (*open_model)(const char* settings_json, char* error,
                                        std::size_t error_size);
  // Releases a model returned by open_model. Never called while the model is in use.
  void (*close_model)(terramind::WindowModel* model);
};

// The entry point: returns the function table for `wanted_version`, or nullptr when the runtime
// cannot serve that version.
typedef const TmRuntimeApi* (*TmRuntimeGetApi)(std::uint32_t wanted_version);

}  // extern "C"

namespace terramind {

inline TmRuntimeApi make_runtime_api(const char* description,
                                     WindowModel* (*open_model)(const char*, char*, std::size_t),
                                     void (*close_model)(WindowModel*)) {
  return TmRuntimeApi{TM_RUNTIME_API_VERSION,
                      static_cast<std::uint32_t>(sizeof(TmRuntimeApi)),
                      TM_RUNTIME_ABI_TAG,
                      description,
                      open_model,
                      close_model};
}

}  // namespace terramind
