// tm/pixel_window.h — a window of pixels of a raster and how pixels outside the raster are filled
// (part of tm_tiling; included by tm/tiling.h). Shared by raster I/O, blending and the window
// model.
#pragma once

namespace terramind {

struct PixelWindow {
  int x = 0;  // may lie partly outside the raster; the edge policy fills the outside
  int y = 0;
  int width = 0;
  int height = 0;
};

// How pixels outside the raster are filled when a window crosses an edge.
enum class EdgePolicy {
  kFill,       // constant fill value, marked invalid
  kReflect,    // mirror without repeating the edge pixel (numpy "reflect"), marked valid
  kReplicate,  // repeat the edge pixel, marked valid
};

}  // namespace terramind
