// tm/shards.h — TerraMesh-style training shards (public header of training/'s tm_shards).
//
// The data half of the training subsystem: building WebDataset shards from co-registered
// rasters (ShardBuilder, `tm_shards build`), checking them (inspect, verify) and streaming their
// samples to a training loop (SampleStream): shard shuffling per epoch, a bounded shuffle
// buffer, exactly-once splitting across ranks and loader threads, crop/flip augmentations that
// keep modalities aligned, background prefetch. Two layouts are read the same way:
//
//   tm shards   <root>/<split>/<dataset>-<split>-NNNNNN.tar; one tar holds every modality of a
//               sample: "<key>.json" (SampleRecord) and "<key>.<modality>.npy.gz" (a gzip'd
//               NumPy .npy array, bands x height x width, C order, little endian, the source
//               data type), members of one sample adjacent; <root>/manifest.json lists the
//               shards with their sha256 and the per-band statistics.
//   TerraMesh   as published: <root>/<split>/<MODALITY>/<name>.tar, one tar per modality with
//               the same name and the same samples in the same order, each member
//               "<key>.zarr.zip" a zipped Zarr v2 store read with GDAL's Zarr driver
//               (training/README.md names the fields relied on).
//
// Everything reads through GDAL's virtual file systems: local paths, /vsicurl/, /vsis3/ and
// /vsitar/ shards take the same code path. Plain C++ on GDAL and tm_registry: no LibTorch
// (training loops turn Batch arrays into tensors themselves).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace terramind::shards {

// A shard, member or manifest that cannot be read as what it claims to be. The message names
// the path (and member) and the problem.
class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------------------------------------
// Arrays

// Element types of sample arrays.
enum class DType { kUInt8, kInt8, kUInt16, kInt16, kUInt32, kInt32, kFloat32, kFloat64 };

std::size_t dtype_size(DType type);
const char* to_string(DType type);       // "uint8", "int16", "float32" ...
const char* numpy_descr(DType type);     // "|u1", "<i2", "<f4" ...
const char* gdal_type_name(DType type);  // "Byte", "Int16", "Float32" ...
std::optional<DType> dtype_from_numpy_descr(const std::string& descr);
std::optional<DType> dtype_from_gdal_name(const std::string& gdal_name);

// One modality of one sample: bands x height x width, C order, little-endian values.
struct Array {
  DType dtype = DType::kUInt8;
  int bands = 0;
  int height = 0;
  int width = 0;
  std::vector<std::uint8_t> data;  // bands * height * width * dtype_size(dtype) bytes

  std::size_t count() const {
    return static_cast<std::size_t>(bands) * static_cast<std::size_t>(height) *
           static_cast<std::size_t>(width);
  }
  std::size_t byte_size() const { return count() * dtype_size(dtype); }
  double value(std::size_t index) const;  // element `index` (C order) as double
  double value(int band, int row, int col) const {
    return value((static_cast<std::size_t>(band) * height + row) * width + col);
  }
  bool operator==(const Array& other) const {
    return dtype == other.dtype && bands == other.bands && height == other.height &&
           width == other.width && data == other.data;
  }
};

// A NumPy .npy file (format 1.0) holding `array` with shape (bands, height, width).
std::vector<std::uint8_t> encode_npy(const Array& array);
// Parses an .npy of 3 dimensions (2 dimensions are read as one band) in a supported dtype,
// C order. Throws FormatError naming `what`.
Array decode_npy(const std::uint8_t* data, std::size_t size, const std::string& what);

// gzip (RFC 1952) streams, as Python's gzip module and WebDataset's ".gz" decoder read them.
std::vector<std::uint8_t> gzip_compress(const std::uint8_t* data, std::size_t size, int level);
// Throws FormatError naming `what` for a corrupt or truncated stream, or one that would
// inflate beyond `max_size` bytes (a guard against decompression bombs).
std::vector<std::uint8_t> gzip_decompress(const std::uint8_t* data, std::size_t size,
                                          const std::string& what,
                                          std::size_t max_size = std::size_t{1} << 31);

// ---------------------------------------------------------------------------------------------
// Samples

// What is known about a sample besides its pixels: "<key>.json" in tm shards; the Zarr
// store's coordinates and attributes in the TerraMesh layout.
struct SampleRecord {
  std::string key;    // WebDataset key: no '.', no '/'
  std::string split;  // "train" or "val"
  std::string crs;    // "EPSG:32722" when the CRS has an EPSG code, else WKT; empty: none
  std::array<double, 6> geotransform{0, 1, 0, 0, 0, 1};  // GDAL order
  int width = 0;
  int height = 0;
  std::string date;  // ISO 8601 date (or date-time) of acquisition; empty when unknown
  double center_lon = std::numeric_limits<double>::quiet_NaN();
  double center_lat = std::numeric_limits<double>::quiet_NaN();
  // modality -> source file, with "#col,row" when the sample is a chip of a larger scene
  std::map<std::string, std::string> sources;
};

std::string to_json(const SampleRecord& record);
// Throws FormatError naming `what` for invalid JSON or a missing/ill-typed field.
SampleRecord record_from_json(const std::string& text, const std::string& what);

struct Sample {
  SampleRecord record;
  std::map<std::string, Array> arrays;  // canonical modality name -> pixels
  // canonical modality name -> token ids (views x grid_h x grid_w; view 0 of the sample as
  // stored, view 1, when tokenised with flips, of its horizontal flip). The stream delivers one
  // view (bands = 1): the one matching its flip of the pixels.
  std::map<std::string, Array> tokens;
  std::string shard;  // the shard it came from (for messages)

  bool has(const std::string& modality) const { return arrays.count(modality) != 0; }
  bool has_tokens(const std::string& modality) const { return tokens.count(modality) != 0; }
};

// WebDataset member names in tm shards: "<key>.json", "<key>.<lower-case modality>.npy.gz",
// and for token shards "<key>.<lower-case modality>.tokens.npy.gz".
std::string record_member_name(const std::string& key);
std::string array_member_name(const std::string& key, const std::string& modality);
std::string token_member_name(const std::string& key, const std::string& modality);

// Deterministic split from the key alone: "val" when the first 8 bytes of SHA-256(key), as a
// fraction of 2^64, fall below `val_fraction`, else "train". Adding samples never moves others.
std::string split_for_key(const std::string& key, double val_fraction);

// ---------------------------------------------------------------------------------------------
// Tar (POSIX ustar, as WebDataset and Python's tarfile write and read them)

struct TarMember {
  std::string name;
  std::uint64_t size = 0;
  std::uint64_t data_offset = 0;  // of the member's bytes in the archive
};

// Writes a tar to a GDAL path (VSIFOpenL). Names longer than 100 bytes use the ustar prefix
// field (up to 255 bytes). close() writes the end-of-archive blocks; the destructor of an
// unclosed writer only closes the file.
class TarWriter {
 public:
  explicit TarWriter(const std::string& path);
  ~TarWriter();
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  void add(const std::string& name, const std::uint8_t* data, std::size_t size);
  void add(const std::string& name, const std::vector<std::uint8_t>& data) {
    add(name, data.data(), data.size());
  }
  void close();
  std::uint64_t bytes_written() const { return offset_; }

 private:
  void write(const void* data, std::size_t size);
  std::string path_;
  void* file_ = nullptr;  // VSILFILE*
  std::uint64_t offset_ = 0;
};

// Reads a tar sequentially from a GDAL path; regular files only (directories, links and pax
// headers are skipped; GNU long names are understood). Throws FormatError naming the archive
// for a bad header checksum, a member running past the end (truncated archive) or a file that
// is not a tar.
class TarReader {
 public:
  explicit TarReader(const std::string& path);
  ~TarReader();
  TarReader(const TarReader&) = delete;
  TarReader& operator=(const TarReader&) = delete;

  // The next member, or false at the end. With `data`, its bytes are read into it; without,
  // they are skipped (a seek).
  bool next(TarMember& member, std::vector<std::uint8_t>* data);
  // The same in two steps: the next member's header, then, if wanted, its bytes (before the
  // next call to next_header or next; otherwise they are skipped).
  bool next_header(TarMember& member);
  void read_data(std::vector<std::uint8_t>& data);
  const std::string& path() const { return path_; }
  std::uint64_t bytes_read() const { return bytes_read_; }  // member bytes read (not skipped)

 private:
  bool read_exact(void* out, std::size_t size);
  void skip_to(std::uint64_t offset);
  std::string path_;
  void* file_ = nullptr;  // VSILFILE*
  std::uint64_t offset_ = 0;
  std::uint64_t file_size_ = 0;
  bool skip_pending_ = false;
  std::uint64_t pending_end_ = 0;
  TarMember pending_;
  std::uint64_t bytes_read_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Shards and their samples

enum class Layout {
  kTmShards,   // tm_shards build output
  kTerraMesh,  // the published TerraMesh layout
};

// One shard: a tar (tm shards) or the tars of the same name in each modality folder
// (TerraMesh).
struct ShardRef {
  Layout layout = Layout::kTmShards;
  std::string name;  // "train/tm-train-000003.tar", "majortom_shard_000001.tar"
  std::string path;  // tm shards: the tar
  std::map<std::string, std::string> modality_paths;  // TerraMesh: modality -> tar
  std::int64_t samples = -1;                          // from the manifest; -1: unknown
};

// The shards of one split of a dataset: `root` is a tm shards folder (with manifest.json), a
// TerraMesh root (with <split>/<MODALITY>/ folders) or a TerraMesh split folder; the layout is
// recognised. For TerraMesh only the modalities asked (all when empty) are paired, by shard file
// name. A folder holding some shards of a subset (the name up to its last '_', e.g.
// "majortom_shard") must hold all of that subset's: else an error. A folder holding none of a
// subset is not paired for it (published: S1RTC only for majortom_*, S1GRD only for
// ssl4eos12_*), so those samples lack the modality. Throws FormatError naming the folder.
std::vector<ShardRef> list_shards(const std::string& root, const std::string& split,
                                  const std::vector<std::string>& modalities = {});

// Reads one shard's samples in order.
class SampleSource {
 public:
  virtual ~SampleSource() = default;
  // The next sample, with the requested modalities (all when the list given at open is empty)
  // that it holds, or false at the end. Throws FormatError naming the shard and member.
  virtual bool next(Sample& sample) = 0;
  // Skips the next sample without decoding its arrays; false at the end.
  virtual bool skip() = 0;
  // Shard bytes read so far (members read, not those skipped).
  virtual std::uint64_t bytes_read() const = 0;
};

// Pixels of `modalities` (all when empty, none when empty and token_modalities is not) and
// tokens of `token_modalities` (none when empty). Token members exist in tm shards only.
std::unique_ptr<SampleSource> open_shard(const ShardRef& shard,
                                         const std::vector<std::string>& modalities = {},
                                         const std::vector<std::string>& token_modalities = {});

// The TerraMesh layout: one "<key>.zarr.zip" member (held in memory) decoded through GDAL's
// Zarr driver into the sample's modality array and record (key, CRS, geotransform, date,
// centre). Throws FormatError naming `what`.
void decode_terramesh_zarr(const std::vector<std::uint8_t>& zip_bytes, const std::string& modality,
                           const std::string& what, Sample& sample);

// ---------------------------------------------------------------------------------------------
// Manifest

struct BandStatistics {
  std::string band;
  std::int64_t count = 0;  // valid values
  double mean = 0;
  double std = 0;
  double min = 0;
  double max = 0;
  double nodata_fraction = 0;  // of all values: NaN or the source's nodata value
};

struct ShardEntry {
  std::string file;  // relative to the manifest's folder
  std::string split;
  std::int64_t samples = 0;
  std::uint64_t bytes = 0;
  std::string sha256;
};

struct SplitSummary {
  std::int64_t samples = 0;
  std::map<std::string, std::int64_t> modality_samples;           // modality -> samples holding it
  std::map<std::string, std::vector<BandStatistics>> statistics;  // modality -> per band
};

// The token arrays of one modality (tm_tokenize_shards).
struct TokenInfo {
  std::string tokenizer;  // what made them: a checkpoint's file name or the tokenizer's name
  std::int64_t vocabulary = 0;
  int grid_h = 0, grid_w = 0;
  int views = 1;                 // 2: view 1 holds the tokens of the horizontally flipped sample
  DType dtype = DType::kUInt16;  // uint16 when the vocabulary fits, else int32
};

struct Manifest {
  std::string format = "tm-shards/1";
  std::string dataset;
  std::string created;  // UTC ISO 8601
  std::string tm_version;
  double val_fraction = 0;
  std::vector<std::string> modalities;
  std::map<std::string, SplitSummary> splits;  // "train", "val"
  std::vector<ShardEntry> shards;
  std::map<std::string, std::int64_t> skipped;  // reason -> samples skipped (--skip-invalid)
  std::vector<std::string> sources;             // the build's inputs
  std::map<std::string, TokenInfo> tokens;      // modality -> its token arrays (token shards)
};

std::string to_json(const Manifest& manifest);
Manifest manifest_from_json(const std::string& text, const std::string& what);
// Reads <root>/manifest.json (or the file itself). Throws FormatError naming it.
Manifest read_manifest(const std::string& root_or_file);

// ---------------------------------------------------------------------------------------------
// Building

// Where the samples come from. Each modality has a folder (or a file): samples pair across
// modalities by key, the file name without extension and without a suffix shared by every
// file of that folder ("Spain_7370579_S1Hand.tif" in S1Hand/ -> "Spain_7370579").
struct ModalityInput {
  std::string modality;  // registry name or alias
  std::string path;      // a folder of rasters, or one raster (a scene cut into chips)
};

struct BuildOptions {
  // Inputs: either `inputs` (explicit), or `root` whose sub-folders named after modalities
  // (registry names or aliases, any case) are the inputs, or whose S2/ and S1/ folders hold
  // BigEarthNet patch folders (one file per band; 20/60 m bands repeated onto the 10 m grid).
  std::string root;
  std::vector<ModalityInput> inputs;
  std::string out;
  std::string dataset;  // name in the manifest and the shard names; default: out's name
  int chip = 0;         // cut rasters larger than this into chips (0: take them whole)
  int stride = 0;       // chip stride (0: = chip)
  double val_fraction = 0.1;
  std::uint64_t shard_bytes = std::uint64_t{256} << 20;  // target shard size (compressed)
  int max_samples_per_shard = 10240;
  int compression_level = 3;         // gzip level: 3 is as fast as 1 here and 1-6 % smaller
  double max_nodata_fraction = 0.5;  // per modality; more is "too much nodata"
  bool skip_invalid = false;   // skip invalid samples (counted per reason) instead of refusing
  bool allow_partial = false;  // keep samples that miss some modality
  // Add NDVI = (B08 - B04) / (B08 + B04) to samples that have S2L2A or S2L1C but no NDVI
  // (NaN where either band is nodata or the sum is 0): labels for every Sentinel-2 input.
  bool derive_ndvi = false;
  bool overwrite = false;      // replace an existing dataset in `out`
  // Called after each sample with (samples done, samples total).
  std::function<void(std::int64_t, std::int64_t)> progress;
};

// One problem found while building: the file (or sample) and why.
struct Problem {
  std::string path;
  std::string reason;  // the counting key: "misaligned", "missing modality", "band count", ...
  std::string detail;  // the whole message
};

struct BuildReport {
  Manifest manifest;
  std::vector<Problem> problems;  // every one, also those that made the build refuse
  bool refused = false;           // problems found and skip_invalid was off: nothing written
};

// Builds the dataset into options.out (shards written to temporary names, renamed, manifest
// last; on refusal or error nothing is left under a final name). Throws std::invalid_argument
// for unusable options or inputs (no samples, unknown modality, an existing dataset without
// overwrite), FormatError/std::runtime_error for I/O failures.
BuildReport build_shards(const BuildOptions& options);

// ---------------------------------------------------------------------------------------------
// Checking

struct VerifyReport {
  std::int64_t shards = 0;
  std::int64_t samples = 0;
  std::int64_t members = 0;
  std::vector<Problem> problems;  // checksum mismatches, unreadable members, count mismatches
  bool ok() const { return problems.empty(); }
};

// Recomputes every shard's sha256 against the manifest and decodes every member.
VerifyReport verify_dataset(const std::string& root);

// ---------------------------------------------------------------------------------------------
// Streaming

enum class MissingModality {
  kSkip,    // a sample without a requested modality is not delivered
  kAbsent,  // it is delivered without it (Sample::has() is false)
};

struct StreamOptions {
  std::vector<ShardRef> shards;
  std::vector<std::string> modalities;        // canonical names; empty: all a sample holds (none
                                              // when token_modalities is set)
  std::vector<std::string> token_modalities;  // token arrays to read (tm shards); missing
                                              // ones are handled as `missing` says
  MissingModality missing = MissingModality::kSkip;
  std::uint64_t seed = 0;
  int epoch = 0;
  bool shuffle_shards = true;      // shard order permuted per (seed, epoch)
  std::size_t shuffle_buffer = 0;  // samples held per loader thread for shuffling; 0: none
  int rank = 0;
  int world_size = 1;
  int threads = 1;  // loader threads of this rank
  // Augmentations, one draw per sample applied to every modality alike. With tokens only the
  // horizontal flip is possible (their second view; shards tokenised with --flips).
  int crop = 0;  // random crop to crop x crop (0: none); samples smaller are an error
  bool horizontal_flip = false;  // with probability 1/2
  bool vertical_flip = false;    // with probability 1/2
  int batch_size = 1;
  bool drop_last = false;    // drop this rank's last, smaller batch
  int prefetch_batches = 2;  // batches assembled ahead of the consumer
};

struct Batch {
  std::vector<Sample> samples;
};

// Splitting: the epoch's shard order is dealt to the world's workers (rank * threads + thread);
// when there are fewer shards than workers, every worker reads every shard and keeps every
// n-th sample instead. Either way each sample of the shards is delivered exactly once per
// epoch across the world. Samples come in batches of batch_size; order across loader threads
// is not deterministic, the set per rank is.
class SampleStream {
 public:
  explicit SampleStream(StreamOptions options);
  ~SampleStream();
  SampleStream(const SampleStream&) = delete;
  SampleStream& operator=(const SampleStream&) = delete;

  // The next batch, or nullopt at the end of the epoch. A loader error (corrupt shard) is
  // rethrown here.
  std::optional<Batch> next();

  struct Counters {
    std::int64_t samples = 0;             // delivered
    std::int64_t skipped_missing = 0;     // dropped for a missing modality
    std::uint64_t bytes_read = 0;         // shard bytes read by the loaders (compressed)
    std::uint64_t decoded_bytes = 0;      // array bytes decoded, before crops
    std::size_t peak_buffered_bytes = 0;  // high-water mark of decoded samples held
  };
  Counters counters() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// ---------------------------------------------------------------------------------------------
// Token shards

// Turns one modality's pixels into token ids (a tokenizer; tm_shards wires the LibTorch ones).
struct TokenEncoder {
  std::string tokenizer_name;  // recorded in the manifest
  std::int64_t vocabulary = 0;
  // Row-major ids of the grid it sets; ids must lie in [0, vocabulary).
  std::function<std::vector<std::int64_t>(const Array& pixels, int& grid_h, int& grid_w)> encode;
};

struct TokenizeOptions {
  std::string dataset;  // a tm shards dataset (with manifest.json)
  std::string out;      // the token dataset: every member of the input plus token members
  std::map<std::string, TokenEncoder> encoders;  // modality -> its tokenizer
  bool flips = false;      // also tokenise each sample's horizontal flip (view 1)
  bool overwrite = false;  // replace an existing dataset in `out`
  int compression_level = 3;
  std::function<void(std::int64_t, std::int64_t)> progress;  // (samples done, total)
};

struct TokenizeReport {
  Manifest manifest;
  std::int64_t samples = 0;
  std::map<std::string, std::int64_t> tokenised;  // modality -> samples holding its tokens
};

// Writes the token dataset all or nothing, as build_shards does. Samples lacking a modality get
// no tokens for it. Throws std::invalid_argument for bad options (no encoders, an unknown
// modality or one the dataset lacks, out == dataset, an existing dataset without overwrite),
// FormatError for an unreadable input, std::runtime_error for an encoder's failure or bad ids.
TokenizeReport tokenize_dataset(const TokenizeOptions& options);

// Applies a crop at (row, col) and flips to every array of `sample` (and its record's size and
// geotransform). The stream's augmentation, exposed for tests.
void crop_and_flip(Sample& sample, int row, int col, int size, bool horizontal, bool vertical);

}  // namespace terramind::shards
