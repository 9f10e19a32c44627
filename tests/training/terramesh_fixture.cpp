#include "terramesh_fixture.h"

#include <cpl_conv.h>
#include <cpl_json.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal_priv.h>
#include <ogr_spatialref.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <memory>
#include <stdexcept>

#include "test_paths.h"
#include "tm/ascii_strings.h"
#include "tm/registry.h"

namespace terramind::testing {

using shards::Array;

namespace {

void register_gdal() {
  static const bool done = [] {
    GDALAllRegister();
    return true;
  }();
  (void)done;
}

std::unique_ptr<GDALDataset> open_tif(const std::string& tif) {
  register_gdal();
  std::unique_ptr<GDALDataset> ds(
      GDALDataset::Open(tif.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr));
  if (!ds) throw std::runtime_error(tif + ": cannot open");
  return ds;
}

// "2021-07-23T13:22:41.000000000" -> nanoseconds since the epoch (UTC).
std::int64_t parse_datetime_ns(const std::string& text) {
  std::tm tm{};
  int fraction_digits_end = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &fraction_digits_end) != 6)
    throw std::runtime_error("not an ISO date-time: " + text);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::int64_t ns = static_cast<std::int64_t>(timegm(&tm)) * 1000000000;
  if (static_cast<std::size_t>(fraction_digits_end) < text.size() &&
      text[fraction_digits_end] == '.') {
    std::int64_t scale = 100000000;
    for (std::size_t i = fraction_digits_end + 1; i < text.size() && scale > 0; ++i, scale /= 10)
      ns += (text[i] - '0') * scale;
  }
  return ns;
}

std::vector<std::string> band_names(const std::string& modality, int count) {
  std::vector<std::string> out;
  const Modality* m = ModalityRegistry::instance().find(modality);
  if (m && m->channels() == count) {
    // The published S-1 stores name their bands in lower case ('vv', 'vh').
    const bool lower = starts_with(m->name, "S1");
    for (const auto& band : m->bands) out.push_back(lower ? to_lower(band.name) : band.name);
  } else {
    for (int i = 0; i < count; ++i) out.push_back("band_" + std::to_string(i + 1));
  }
  return out;
}

std::shared_ptr<GDALMDArray> create_array(const std::shared_ptr<GDALGroup>& group,
                                          const std::string& name,
                                          const std::vector<std::shared_ptr<GDALDimension>>& dims,
                                          const GDALExtendedDataType& type,
                                          const std::vector<std::string>& options = {}) {
  CPLStringList list;
  for (const auto& o : options) list.AddString(o.c_str());
  auto array = group->CreateMDArray(name, dims, type, list.List());
  if (!array) throw std::runtime_error("cannot create Zarr array " + name);
  return array;
}

void write_all(const std::shared_ptr<GDALMDArray>& array, const GDALExtendedDataType& type,
               const void* data) {
  const auto dims = array->GetDimensions();
  std::vector<GUInt64> start(dims.size(), 0);
  std::vector<std::size_t> count;
  for (const auto& d : dims) count.push_back(static_cast<std::size_t>(d->GetSize()));
  if (!array->Write(start.data(), count.data(), nullptr, nullptr, type, data))
    throw std::runtime_error("cannot write Zarr array " + array->GetName());
}

template <typename T>
void write_scalar(const std::shared_ptr<GDALGroup>& group, const std::string& name,
                  GDALDataType type, T value) {
  auto array = create_array(group, name, {}, GDALExtendedDataType::Create(type));
  write_all(array, GDALExtendedDataType::Create(type), &value);
}

std::string read_mem_file(const std::string& path) {
  vsi_l_offset size = 0;
  GByte* data = VSIGetMemFileBuffer(path.c_str(), &size, FALSE);
  return data ? std::string(reinterpret_cast<const char*>(data), static_cast<std::size_t>(size))
              : std::string();
}

void write_mem_file(const std::string& path, const std::string& text) {
  VSILFILE* file = VSIFOpenL(path.c_str(), "wb");
  if (!file) throw std::runtime_error("cannot write " + path);
  VSIFWriteL(text.data(), 1, text.size(), file);
  VSIFCloseL(file);
}

// xarray requires _ARRAY_DIMENSIONS on every array; GDAL 3.6 omits it on 0-d arrays (and on
// arrays whose dimensions lack indexing variables). Adds "_ARRAY_DIMENSIONS": [] to the 0-d
// arrays, in their .zattrs and in the consolidated .zmetadata.
void add_scalar_dimensions(const std::string& store) {
  CPLJSONDocument consolidated;
  if (!consolidated.LoadMemory(read_mem_file(store + "/.zmetadata"))) return;
  CPLJSONObject metadata = consolidated.GetRoot().GetObj("metadata");
  const auto children = metadata.GetChildren();  // keys hold '/': no path look-ups
  for (const auto& child : children) {
    const std::string key = child.GetName();
    if (!ends_with(key, "/.zarray") || child.GetArray("shape").Size() != 0) continue;
    const std::string array = key.substr(0, key.size() - 8);
    CPLJSONObject attributes;
    bool found = false;
    for (const auto& other : children)
      if (other.GetName() == array + "/.zattrs") {
        attributes = other;
        found = true;
      }
    attributes.Delete("_ARRAY_DIMENSIONS");
    attributes.Add("_ARRAY_DIMENSIONS", CPLJSONArray());
    if (!found) metadata.AddNoSplitName(array + "/.zattrs", attributes);
    write_mem_file(store + "/" + array + "/.zattrs",
                   attributes.Format(CPLJSONObject::PrettyFormat::Pretty));
  }
  write_mem_file(store + "/.zmetadata",
                 consolidated.GetRoot().Format(CPLJSONObject::PrettyFormat::Pretty));
}

// Zips every file of the /vsimem folder `store` (stored, as zarr's ZipStore writes them), with
// paths relative to it, and returns the zip's bytes.
std::vector<std::uint8_t> zip_folder(const std::string& store, const std::string& zip_path,
                                     bool deflate) {
  char** files = VSIReadDirRecursive(store.c_str());
  std::vector<std::string> names;
  for (int i = 0; files && files[i]; ++i) {
    const std::string name = files[i];
    if (!name.empty() && name.back() != '/') names.push_back(name);
  }
  CSLDestroy(files);
  std::sort(names.begin(), names.end());
  void* zip = CPLCreateZip(zip_path.c_str(), nullptr);
  if (!zip) throw std::runtime_error("cannot create " + zip_path);
  const char* const stored[] = {deflate ? "COMPRESSED=YES" : "COMPRESSED=NO", nullptr};
  for (const auto& name : names) {
    const std::string content = read_mem_file(store + "/" + name);
    if (CPLCreateFileInZip(zip, name.c_str(), const_cast<char**>(stored)) != CE_None ||
        CPLWriteFileInZip(zip, content.data(), static_cast<int>(content.size())) != CE_None ||
        CPLCloseFileInZip(zip) != CE_None) {
      CPLCloseZip(zip);
      throw std::runtime_error("cannot add " + name + " to " + zip_path);
    }
  }
  CPLCloseZip(zip);
  vsi_l_offset size = 0;
  GByte* data = VSIGetMemFileBuffer(zip_path.c_str(), &size, TRUE);
  std::vector<std::uint8_t> out(data, data + size);
  VSIFree(data);
  return out;
}

}  // namespace

std::string terramesh_examples_dir() { return data_dir() + "/terramesh_examples"; }

std::vector<std::string> terramesh_example_ids() {
  return {"282D_485L_3_3", "38D_378R_2_3", "433D_629L_3_1", "609U_541L_3_0", "637U_59R_1_3"};
}

std::vector<std::string> terramesh_example_modalities() {
  return {"DEM", "LULC", "NDVI", "S1RTC", "S2L1C", "S2L2A", "S2RGB"};
}

std::string terramesh_example_tif(const std::string& modality, const std::string& id) {
  // The examples have no S1GRD: S1RTC's pixels stand in for it (pairing tests only).
  const std::string folder = modality == "S1GRD" ? "S1RTC" : modality;
  return terramesh_examples_dir() + "/" + folder + "/" + id + ".tif";
}

std::int64_t terramesh_example_time_ns(const std::string& modality, const std::string& id) {
  if (modality == "DEM") return 0;
  auto tag = [&](const std::string& m) -> std::string {
    const auto ds = open_tif(terramesh_example_tif(m, id));
    const char* value = ds->GetMetadataItem("datetime");
    return value ? value : "";
  };
  std::string text = tag(modality);
  if (text.empty() && starts_with(modality, "S2")) text = tag("S2RGB");
  return text.empty() ? 0 : parse_datetime_ns(text);
}

std::string terramesh_key(const std::string& shard, const std::string& split,
                          const std::string& id) {
  const auto underscore = shard.find('_');
  const std::string subset = underscore == std::string::npos ? shard : shard.substr(0, underscore);
  return subset + "_" + split + "_" + id;
}

Array read_tif_array(const std::string& tif) {
  const auto ds = open_tif(tif);
  Array array;
  array.bands = ds->GetRasterCount();
  array.width = ds->GetRasterXSize();
  array.height = ds->GetRasterYSize();
  const GDALDataType type = ds->GetRasterBand(1)->GetRasterDataType();
  const auto dtype = shards::dtype_from_gdal_name(GDALGetDataTypeName(type));
  if (!dtype) throw std::runtime_error(tif + ": unsupported type");
  array.dtype = *dtype;
  array.data.resize(array.byte_size());
  if (ds->RasterIO(GF_Read, 0, 0, array.width, array.height, array.data.data(), array.width,
                   array.height, type, array.bands, nullptr, 0, 0, 0, nullptr) != CE_None)
    throw std::runtime_error(tif + ": cannot read");
  return array;
}

TifGeometry read_tif_geometry(const std::string& tif) {
  const auto ds = open_tif(tif);
  TifGeometry g;
  g.width = ds->GetRasterXSize();
  g.height = ds->GetRasterYSize();
  ds->GetGeoTransform(g.geotransform.data());
  const OGRSpatialReference* srs = ds->GetSpatialRef();
  if (!srs || !srs->GetAuthorityCode(nullptr)) throw std::runtime_error(tif + ": no EPSG code");
  g.crs = std::string("EPSG:") + srs->GetAuthorityCode(nullptr);
  OGRSpatialReference source(*srs);
  OGRSpatialReference wgs84;
  wgs84.importFromEPSG(4326);
  source.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  wgs84.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  std::unique_ptr<OGRCoordinateTransformation> transform(
      OGRCreateCoordinateTransformation(&source, &wgs84));
  double x = g.geotransform[0] + g.geotransform[1] * g.width / 2.0;
  double y = g.geotransform[3] + g.geotransform[5] * g.height / 2.0;
  if (!transform || !transform->Transform(1, &x, &y))
    throw std::runtime_error(tif + ": cannot compute the centre");
  g.center_lon = x;
  g.center_lat = y;
  return g;
}

std::vector<std::uint8_t> terramesh_zarr_zip(const std::string& tif, const std::string& modality,
                                             std::int64_t time_ns,
                                             const TerraMeshZarrOptions& options) {
  register_gdal();
  const auto src = open_tif(tif);
  const int width = src->GetRasterXSize();
  const int height = src->GetRasterYSize();
  const int bands = options.rank == 2 ? 1 : src->GetRasterCount();
  const GDALDataType type = options.type.value_or(src->GetRasterBand(1)->GetRasterDataType());
  const std::size_t plane = static_cast<std::size_t>(width) * height;
  const int type_size = GDALGetDataTypeSizeBytes(type);
  const int time_steps = options.rank == 4 ? options.time_steps : 1;
  std::vector<std::uint8_t> pixels(plane * bands * type_size * time_steps);
  if (src->RasterIO(GF_Read, 0, 0, width, height, pixels.data(), width, height, type, bands,
                    nullptr, 0, 0, 0, nullptr) != CE_None)
    throw std::runtime_error(tif + ": cannot read");
  for (int t = 1; t < time_steps; ++t)
    std::copy(pixels.begin(), pixels.begin() + plane * bands * type_size,
              pixels.begin() + plane * bands * type_size * t);
  const TifGeometry geometry = read_tif_geometry(tif);
  const auto& gt = geometry.geotransform;

  static std::atomic<int> counter{0};
  const std::string folder = "/vsimem/tm_terramesh_fixture_" + std::to_string(counter++);
  const std::string store = folder + "/sample.zarr";
  {
    auto* driver = GetGDALDriverManager()->GetDriverByName("Zarr");
    if (!driver) throw std::runtime_error("GDAL has no Zarr driver");
    std::unique_ptr<GDALDataset> ds(
        driver->CreateMultiDimensional(store.c_str(), nullptr, nullptr));
    if (!ds) throw std::runtime_error("cannot create " + store);
    auto root = ds->GetRootGroup();
    const auto int64 = GDALExtendedDataType::Create(GDT_Int64);
    const auto float64 = GDALExtendedDataType::Create(GDT_Float64);

    auto dim_time = root->CreateDimension("time", "TEMPORAL", "", time_steps);
    auto dim_band = root->CreateDimension("band", "", "", bands);
    auto dim_y = root->CreateDimension("y", "HORIZONTAL_Y", "", height);
    auto dim_x = root->CreateDimension("x", "HORIZONTAL_X", "", width);

    // Coordinates: time (int64 ns, or CF seconds), band names, x / y pixel centres.
    {
      auto time = create_array(root, "time", {dim_time}, int64);
      std::vector<std::int64_t> values(time_steps, time_ns);
      if (!options.time_units.empty()) {
        // CF: seconds since 2000-01-01 (946684800 s after the Unix epoch).
        for (auto& v : values) v = time_ns / 1000000000 - 946684800;
        auto units = time->CreateAttribute("units", {}, GDALExtendedDataType::CreateString());
        units->Write(options.time_units.c_str());
      }
      write_all(time, int64, values.data());
      dim_time->SetIndexingVariable(time);
    }
    {
      const auto names = band_names(modality, bands);
      std::size_t longest = 1;
      for (const auto& n : names) longest = std::max(longest, n.size());
      auto band =
          create_array(root, "band", {dim_band}, GDALExtendedDataType::CreateString(longest),
                       {"STRING_FORMAT=UNICODE"});
      std::vector<const char*> pointers;
      for (const auto& n : names) pointers.push_back(n.c_str());
      write_all(band, GDALExtendedDataType::CreateString(), pointers.data());
      dim_band->SetIndexingVariable(band);
    }
    if (options.coordinates) {
      std::vector<double> xs(width), ys(height);
      for (int i = 0; i < width; ++i) xs[i] = gt[0] + gt[1] * (i + 0.5);
      for (int j = 0; j < height; ++j) ys[j] = gt[3] + gt[5] * (j + 0.5);
      auto x = create_array(root, "x", {dim_x}, float64);
      write_all(x, float64, xs.data());
      dim_x->SetIndexingVariable(x);
      auto y = create_array(root, "y", {dim_y}, float64);
      write_all(y, float64, ys.data());
      dim_y->SetIndexingVariable(y);
    }

    // The pixels.
    std::vector<std::shared_ptr<GDALDimension>> dims;
    std::string blocksize = "BLOCKSIZE=";
    if (options.rank == 4) {
      dims = {dim_time, dim_band, dim_y, dim_x};
      blocksize += "1," + std::to_string(bands) + ",";
    } else if (options.rank == 3) {
      dims = {dim_band, dim_y, dim_x};
      blocksize += std::to_string(bands) + ",";
    } else if (options.rank == 2) {
      dims = {dim_y, dim_x};
    } else {  // an unusual rank, for the error test: (time, extra, band, y, x)
      auto extra = root->CreateDimension("extra", "", "", 1);
      dims = {dim_time, extra, dim_band, dim_y, dim_x};
      blocksize += "1,1," + std::to_string(bands) + ",";
    }
    blocksize += std::to_string(height) + "," + std::to_string(width);
    std::vector<std::string> creation{blocksize};
    if (options.compress != "NONE") creation.push_back("COMPRESS=" + options.compress);
    auto data =
        create_array(root, options.variable, dims, GDALExtendedDataType::Create(type), creation);
    write_all(data, GDALExtendedDataType::Create(type), pixels.data());

    // Metadata variables, as published.
    if (options.crs_variable)
      write_scalar<std::int64_t>(root, "crs", GDT_Int64, std::stoll(geometry.crs.substr(5)));
    if (options.spatial_ref) {
      auto ref = create_array(root, "spatial_ref", {}, int64);
      const std::int64_t zero = 0;
      write_all(ref, int64, &zero);
      OGRSpatialReference srs;
      srs.SetFromUserInput(geometry.crs.c_str());
      char* wkt = nullptr;
      srs.exportToWkt(&wkt);
      ref->CreateAttribute("crs_wkt", {}, GDALExtendedDataType::CreateString())->Write(wkt);
      CPLFree(wkt);
      data->CreateAttribute("grid_mapping", {}, GDALExtendedDataType::CreateString())
          ->Write("spatial_ref");
    }
    if (options.center) {
      write_scalar<double>(root, "center_lon", GDT_Float64, geometry.center_lon);
      write_scalar<double>(root, "center_lat", GDT_Float64, geometry.center_lat);
    }
    if (starts_with(modality, "S2")) {
      auto mask = create_array(root, "cloud_mask", {dim_time, dim_y, dim_x},
                               GDALExtendedDataType::Create(GDT_Byte),
                               {"COMPRESS=BLOSC", "BLOCKSIZE=1," + std::to_string(height) + "," +
                                                      std::to_string(width)});
      std::vector<std::uint8_t> zeros(plane * time_steps, 0);
      write_all(mask, GDALExtendedDataType::Create(GDT_Byte), zeros.data());
    }
    // Arrays flush their metadata when released, before the dataset writes .zmetadata.
  }
  add_scalar_dimensions(store);
  auto bytes = zip_folder(store, folder + "/sample.zarr.zip", options.deflate_zip);
  VSIRmdirRecursive(folder.c_str());
  return bytes;
}

void write_terramesh_dataset(const std::string& root, const std::string& split,
                             const std::vector<TerraMeshShardSpec>& shards,
                             const std::vector<std::string>& modalities,
                             const TerraMeshZarrOptions& options) {
  for (const auto& shard : shards) {
    const auto& wanted = shard.modalities.empty() ? modalities : shard.modalities;
    for (const auto& modality : wanted) {
      const std::string folder = root + "/" + split + "/" + modality;
      VSIMkdirRecursive(folder.c_str(), 0755);
      shards::TarWriter tar(folder + "/" + shard.name);
      for (const auto& id : shard.ids) {
        const auto bytes = terramesh_zarr_zip(terramesh_example_tif(modality, id), modality,
                                              terramesh_example_time_ns(modality, id), options);
        tar.add(terramesh_key(shard.name, split, id) + ".zarr.zip", bytes);
      }
      tar.close();
    }
  }
}

}  // namespace terramind::testing
