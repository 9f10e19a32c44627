// tm/quicklook.h — PNG quicklooks of rasters (part of tm_tiling; included by tm/tiling.h).
//
// The picture an analyst looks at first: a small 8-bit PNG of a raster, drawn as its modality's
// "quicklook" style says (modalities.json): true colour, S-1 backscatter as grey over a fixed dB
// range, elevation as hillshade, land cover through its colour table, NDVI on a brown -> yellow ->
// green ramp. GDAL does not appear in this header.
#pragma once

#include <string>
#include <utility>

#include "tm/registry.h"

namespace terramind {

constexpr int kDefaultQuicklookSize = 1024;

// Width and height of the quicklook of a width x height raster: the longest side at most
// `max_size`, never larger than the raster, aspect kept (each side at least 1 px).
// Throws std::invalid_argument unless all three are positive.
std::pair<int, int> quicklook_size(int width, int height, int max_size = kDefaultQuicklookSize);

// Writes the quicklook of the raster at `raster_path`, read as `modality`, to `png_path`.
//
// The PNG has a grey + alpha (db_stretch, hillshade) or RGB + alpha (true_colour, palette,
// ndvi_ramp) layout; alpha is 0 where the raster holds nodata (or NaN) and 255 elsewhere. It
// carries no georeferencing and no .aux.xml sidecar. Bands are found by their descriptions
// ("B04", "VV") when the raster has them, else in the modality's band order.
//
// Written to a hidden temporary file beside `png_path` (".<name>.tm-partial-PID-N", removed on
// failure and by the Ctrl-C handler) and renamed into place, replacing an existing file; a stale
// `png_path`.aux.xml is removed.
//
// Throws RasterError (tm/raster_io.h) naming the file: missing or unreadable raster, too few bands,
// missing or unwritable output folder, output equal to the input, GDAL failures.
// Throws std::invalid_argument when the modality has no quicklook style or max_size < 1.
void write_quicklook(const std::string& raster_path, const Modality& modality,
                     const std::string& png_path, int max_size = kDefaultQuicklookSize);

}  // namespace terramind
