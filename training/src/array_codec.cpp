// Sample arrays: element types, NumPy .npy encoding and gzip streams (tm/shards.h).
#include <zlib.h>

#include <cstring>
#include <sstream>

#include "tm/shards.h"

namespace terramind::shards {
namespace {

struct DTypeInfo {
  DType type;
  std::size_t size;
  const char* name;
  const char* descr;
  const char* gdal;
};

// '|' marks byte types (no byte order); the rest are little endian, as the arrays are stored.
constexpr DTypeInfo kTypes[] = {
    {DType::kUInt8, 1, "uint8", "|u1", "Byte"},
    {DType::kInt8, 1, "int8", "|i1", "Int8"},
    {DType::kUInt16, 2, "uint16", "<u2", "UInt16"},
    {DType::kInt16, 2, "int16", "<i2", "Int16"},
    {DType::kUInt32, 4, "uint32", "<u4", "UInt32"},
    {DType::kInt32, 4, "int32", "<i4", "Int32"},
    {DType::kFloat32, 4, "float32", "<f4", "Float32"},
    {DType::kFloat64, 8, "float64", "<f8", "Float64"},
};

const DTypeInfo& info(DType type) {
  for (const auto& t : kTypes)
    if (t.type == type) return t;
  throw std::logic_error("unknown DType");
}

template <typename T>
double load(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return static_cast<double>(v);
}

constexpr char kNpyMagic[] = "\x93NUMPY";

}  // namespace

std::size_t dtype_size(DType type) { return info(type).size; }
const char* to_string(DType type) { return info(type).name; }
const char* numpy_descr(DType type) { return info(type).descr; }
const char* gdal_type_name(DType type) { return info(type).gdal; }

std::optional<DType> dtype_from_numpy_descr(const std::string& descr) {
  for (const auto& t : kTypes) {
    if (descr == t.descr) return t.type;
    // Byte types may be written with '<' or '=' too; little-endian types with '='.
    if (descr.size() == 3 && std::string(t.descr).substr(1) == descr.substr(1) &&
        (descr[0] == '=' || (t.size == 1 && (descr[0] == '<' || descr[0] == '>'))))
      return t.type;
  }
  return std::nullopt;
}

std::optional<DType> dtype_from_gdal_name(const std::string& gdal_name) {
  for (const auto& t : kTypes)
    if (gdal_name == t.gdal) return t.type;
  return std::nullopt;
}

double Array::value(std::size_t index) const {
  const std::uint8_t* p = data.data() + index * dtype_size(dtype);
  switch (dtype) {
    case DType::kUInt8:
      return load<std::uint8_t>(p);
    case DType::kInt8:
      return load<std::int8_t>(p);
    case DType::kUInt16:
      return load<std::uint16_t>(p);
    case DType::kInt16:
      return load<std::int16_t>(p);
    case DType::kUInt32:
      return load<std::uint32_t>(p);
    case DType::kInt32:
      return load<std::int32_t>(p);
    case DType::kFloat32:
      return load<float>(p);
    case DType::kFloat64:
      return load<double>(p);
  }
  return 0;
}

std::vector<std::uint8_t> encode_npy(const Array& array) {
  if (array.data.size() != array.byte_size())
    throw std::invalid_argument("encode_npy: data holds " + std::to_string(array.data.size()) +
                                " bytes, the shape needs " + std::to_string(array.byte_size()));
  std::ostringstream header;
  header << "{'descr': '" << numpy_descr(array.dtype) << "', 'fortran_order': False, 'shape': ("
         << array.bands << ", " << array.height << ", " << array.width << "), }";
  std::string h = header.str();
  // Magic (6) + version (2) + length (2) + header, padded with spaces to a multiple of 64 and
  // ended by '\n' (format 1.0).
  const std::size_t total = 10 + h.size() + 1;
  h.append((64 - total % 64) % 64, ' ');
  h.push_back('\n');
  std::vector<std::uint8_t> out(10 + h.size() + array.data.size());
  std::memcpy(out.data(), kNpyMagic, 6);
  out[6] = 1;  // format 1.0
  out[7] = 0;
  out[8] = static_cast<std::uint8_t>(h.size() & 0xff);
  out[9] = static_cast<std::uint8_t>(h.size() >> 8);
  std::memcpy(out.data() + 10, h.data(), h.size());
  if (!array.data.empty())
    std::memcpy(out.data() + 10 + h.size(), array.data.data(), array.data.size());
  return out;
}

namespace {

// The value of `key` in a NumPy header dict ("'descr': '<i2'" -> "'<i2'", "'shape': (2, 3)" ->
// "(2, 3)"), or "".
std::string dict_value(const std::string& header, const std::string& key) {
  const auto k = header.find("'" + key + "'");
  if (k == std::string::npos) return "";
  auto p = header.find(':', k);
  if (p == std::string::npos) return "";
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  if (p >= header.size()) return "";
  std::size_t end;
  if (header[p] == '(') {
    end = header.find(')', p);
    return end == std::string::npos ? "" : header.substr(p, end - p + 1);
  }
  if (header[p] == '\'' || header[p] == '"') {
    end = header.find(header[p], p + 1);
    return end == std::string::npos ? "" : header.substr(p + 1, end - p - 1);
  }
  end = header.find_first_of(",}", p);
  return header.substr(p, end == std::string::npos ? std::string::npos : end - p);
}

}  // namespace

Array decode_npy(const std::uint8_t* data, std::size_t size, const std::string& what) {
  auto fail = [&](const std::string& why) -> FormatError {
    return FormatError(what + ": not a readable NumPy array (" + why + ")");
  };
  if (size < 10 || std::memcmp(data, kNpyMagic, 6) != 0) throw fail("no .npy magic");
  const int major = data[6];
  std::size_t header_len, offset;
  if (major == 1) {
    header_len = data[8] | (static_cast<std::size_t>(data[9]) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) throw fail("truncated header");
    header_len = data[8] | (static_cast<std::size_t>(data[9]) << 8) |
                 (static_cast<std::size_t>(data[10]) << 16) |
                 (static_cast<std::size_t>(data[11]) << 24);
    offset = 12;
  } else {
    throw fail("format version " + std::to_string(major));
  }
  if (header_len > size - offset) throw fail("truncated header");
  const std::string header(reinterpret_cast<const char*>(data + offset), header_len);
  const std::string descr = dict_value(header, "descr");
  const auto dtype = dtype_from_numpy_descr(descr);
  if (!dtype) throw fail("unsupported dtype '" + descr + "'");
  if (dict_value(header, "fortran_order") != "False") throw fail("Fortran order");
  const std::string shape = dict_value(header, "shape");
  if (shape.size() < 2) throw fail("no shape");
  std::vector<long long> dims;
  std::string inner = shape.substr(1, shape.size() - 2);
  std::istringstream in(inner);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto first = item.find_first_not_of(' ');
    if (first == std::string::npos) continue;
    try {
      std::size_t used = 0;
      const long long v = std::stoll(item.substr(first), &used);
      if (v < 0 || v > (1LL << 31)) throw fail("shape " + shape);
      dims.push_back(v);
    } catch (const std::logic_error&) {
      throw fail("shape " + shape);
    }
  }
  if (dims.size() == 2) dims.insert(dims.begin(), 1);
  if (dims.size() != 3) throw fail("shape " + shape + " is not (bands, height, width)");
  Array array;
  array.dtype = *dtype;
  array.bands = static_cast<int>(dims[0]);
  array.height = static_cast<int>(dims[1]);
  array.width = static_cast<int>(dims[2]);
  const std::size_t body = offset + header_len;
  const double needed = static_cast<double>(dims[0]) * static_cast<double>(dims[1]) *
                        static_cast<double>(dims[2]) * static_cast<double>(dtype_size(*dtype));
  if (needed != static_cast<double>(size - body))
    throw fail("shape " + shape + " needs " + std::to_string(static_cast<long long>(needed)) +
               " bytes, the file holds " + std::to_string(size - body));
  array.data.assign(data + body, data + size);
  return array;
}

std::vector<std::uint8_t> gzip_compress(const std::uint8_t* data, std::size_t size, int level) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip wrapper rather than zlib's.
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("gzip: cannot initialise deflate (level " + std::to_string(level) +
                             ")");
  std::vector<std::uint8_t> out(deflateBound(&zs, static_cast<uLong>(size)) + 32);
  zs.next_in = const_cast<Bytef*>(data);
  zs.avail_in = static_cast<uInt>(size);
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  const std::size_t produced = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("gzip: deflate failed");
  out.resize(produced);
  return out;
}

std::vector<std::uint8_t> gzip_decompress(const std::uint8_t* data, std::size_t size,
                                          const std::string& what, std::size_t max_size) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) throw FormatError(what + ": cannot initialise inflate");
  std::vector<std::uint8_t> out;
  // The gzip trailer holds the size modulo 2^32: a good first guess.
  std::size_t guess = size >= 4 ? (data[size - 4] | (data[size - 3] << 8) | (data[size - 2] << 16) |
                                   (static_cast<std::size_t>(data[size - 1]) << 24))
                                : 0;
  // DEFLATE expands at most ~1032:1: a damaged trailer must not make the guess a huge buffer.
  guess = std::min(guess, size * 1032 + 1024);
  out.resize(std::min(max_size, std::max<std::size_t>(guess, 1024)));
  zs.next_in = const_cast<Bytef*>(data);
  zs.avail_in = static_cast<uInt>(size);
  int rc = Z_OK;
  while (true) {
    zs.next_out = out.data() + zs.total_out;
    zs.avail_out = static_cast<uInt>(out.size() - zs.total_out);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) break;
    if (zs.avail_out == 0) {
      if (out.size() >= max_size) {
        inflateEnd(&zs);
        throw FormatError(what + ": gzip stream inflates beyond " + std::to_string(max_size) +
                          " bytes");
      }
      out.resize(std::min(max_size, out.size() * 2));
    } else if (zs.avail_in == 0) {
      break;  // input ended before the stream did
    }
  }
  const std::size_t produced = zs.total_out;
  inflateEnd(&zs);
  if (rc != Z_STREAM_END)
    throw FormatError(what +
                      (rc == Z_DATA_ERROR ? ": corrupt gzip stream" : ": truncated gzip stream"));
  out.resize(produced);
  return out;
}

}  // namespace terramind::shards
