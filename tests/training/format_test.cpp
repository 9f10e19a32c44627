// The shard format's pieces: .npy arrays, gzip, ustar tars, records, manifests; and that
// Python's tarfile + gzip + NumPy (what WebDataset uses) read what tm writes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "test_paths.h"
#include "tm/shards.h"

namespace fs = std::filesystem;
using namespace terramind::shards;
using terramind::testing::contains;
using terramind::testing::error_of;
using terramind::testing::ScratchDir;

namespace {

Array ramp(DType type, int bands, int h, int w) {
  Array a;
  a.dtype = type;
  a.bands = bands;
  a.height = h;
  a.width = w;
  a.data.resize(a.byte_size());
  std::mt19937 rng(7);
  for (auto& b : a.data) b = static_cast<std::uint8_t>(rng());
  return a;
}

}  // namespace

TEST(shard_format, npy_round_trips_every_dtype) {
  for (DType t : {DType::kUInt8, DType::kInt8, DType::kUInt16, DType::kInt16, DType::kUInt32,
                  DType::kInt32, DType::kFloat32, DType::kFloat64}) {
    const Array a = ramp(t, 3, 5, 7);
    const auto npy = encode_npy(a);
    EXPECT_EQ((npy[8] | (npy[9] << 8)) % 64, 54) << "header padded so data starts at 64";
    const Array b = decode_npy(npy.data(), npy.size(), "x");
    EXPECT_TRUE(a == b) << to_string(t);
    EXPECT_EQ(dtype_from_numpy_descr(numpy_descr(t)), t);
    EXPECT_EQ(dtype_from_gdal_name(gdal_type_name(t)), t);
  }
  Array f = ramp(DType::kFloat32, 1, 1, 2);
  const float v[2] = {-1.5f, 3.25f};
  std::memcpy(f.data.data(), v, sizeof v);
  EXPECT_EQ(f.value(0), -1.5);
  EXPECT_EQ(f.value(0, 0, 1), 3.25);
}

TEST(shard_format, npy_refuses_what_it_cannot_read) {
  auto npy = encode_npy(ramp(DType::kInt16, 2, 4, 4));
  auto bad = [&](std::vector<std::uint8_t> bytes) {
    return error_of<FormatError>([&] { decode_npy(bytes.data(), bytes.size(), "m.npy"); });
  };
  auto with_header = [&](const std::string& from, const std::string& to) {
    std::string s(npy.begin(), npy.end());
    s.replace(s.find(from), from.size(), to);
    return std::vector<std::uint8_t>(s.begin(), s.end());
  };
  EXPECT_TRUE(contains(bad({'x', 'y'}), "m.npy"));
  EXPECT_TRUE(contains(bad(std::vector<std::uint8_t>(npy.begin(), npy.end() - 3)), "needs"));
  EXPECT_TRUE(contains(bad(with_header("'<i2'", "'>i2'")), "unsupported dtype"));
  EXPECT_TRUE(contains(bad(with_header("False", "True ")), "Fortran"));
  EXPECT_TRUE(contains(bad(with_header("(2, 4, 4)", "(2, 4, 5)")), "needs"));
}

TEST(shard_format, gzip_round_trip_and_damage) {
  const Array a = ramp(DType::kUInt8, 1, 100, 100);
  const auto z = gzip_compress(a.data.data(), a.data.size(), 6);
  EXPECT_EQ(z[0], 0x1f);
  EXPECT_EQ(z[1], 0x8b);
  EXPECT_EQ(gzip_decompress(z.data(), z.size(), "x"), a.data);
  std::string e = error_of<FormatError>([&] { gzip_decompress(z.data(), z.size() / 2, "m.gz"); });
  EXPECT_TRUE(contains(e, "m.gz") && contains(e, "truncated")) << e;
  auto broken = z;
  broken[20] ^= 0xff;
  broken[21] ^= 0xff;
  e = error_of<FormatError>([&] { gzip_decompress(broken.data(), broken.size(), "m.gz"); });
  EXPECT_TRUE(contains(e, "m.gz")) << e;
  e = error_of<FormatError>([&] { gzip_decompress(z.data(), z.size(), "m.gz", 1000); });
  EXPECT_TRUE(contains(e, "beyond 1000")) << e;
}

TEST(shard_format, tar_round_trip_long_names_skips_and_damage) {
  ScratchDir scratch;
  const std::string path = scratch.file("t.tar");
  const std::string long_name = std::string(120, 'd') + "/" + std::string(90, 'f') + ".npy.gz";
  {
    TarWriter w(path);
    w.add("a.json", std::vector<std::uint8_t>{'{', '}'});
    w.add(long_name, std::vector<std::uint8_t>(1000, 7));
    w.add("empty.bin", nullptr, 0);
    w.add("c.json", std::vector<std::uint8_t>(513, 1));
    w.close();
  }
  EXPECT_EQ(fs::file_size(path) % 512, 0u);
  TarReader r(path);
  TarMember m;
  std::vector<std::uint8_t> data;
  ASSERT_TRUE(r.next(m, &data));
  EXPECT_EQ(m.name, "a.json");
  EXPECT_EQ(data.size(), 2u);
  ASSERT_TRUE(r.next(m, nullptr));  // skipped, not read
  EXPECT_EQ(m.name, long_name);
  EXPECT_EQ(m.size, 1000u);
  ASSERT_TRUE(r.next(m, &data));
  EXPECT_EQ(m.name, "empty.bin");
  EXPECT_TRUE(data.empty());
  ASSERT_TRUE(r.next(m, &data));
  EXPECT_EQ(data, std::vector<std::uint8_t>(513, 1));
  EXPECT_FALSE(r.next(m, &data));
  EXPECT_EQ(r.bytes_read(), 2u + 513u);

  fs::resize_file(path, 1600);  // inside the long member
  TarReader cut(path);
  cut.next(m, &data);
  const std::string e = error_of<FormatError>([&] { cut.next(m, &data); });
  EXPECT_TRUE(contains(e, path) && contains(e, "truncated")) << e;
  std::ofstream(scratch.file("x.tar")) << std::string(1024, 'x');
  TarReader junk(scratch.file("x.tar"));
  EXPECT_TRUE(contains(error_of<FormatError>([&] { junk.next(m, &data); }), "not a tar archive"));
  EXPECT_TRUE(contains(error_of<FormatError>([&] { TarReader none(scratch.file("none.tar")); }),
                       "no such shard file"));
}

TEST(shard_format, records_and_manifests_round_trip) {
  SampleRecord r;
  r.key = "k1";
  r.split = "val";
  r.crs = "EPSG:32632";
  r.geotransform = {500000, 10, 0, 6000000, 0, -10};
  r.width = r.height = 224;
  r.date = "2020-01-11";
  r.center_lon = 9.8;
  r.center_lat = 57.2;
  r.sources["DEM"] = "/data/DEM/k1.tif";
  const SampleRecord b = record_from_json(to_json(r), "k1.json");
  EXPECT_EQ(b.key, r.key);
  EXPECT_EQ(b.geotransform, r.geotransform);
  EXPECT_EQ(b.center_lat, 57.2);
  EXPECT_EQ(b.sources, r.sources);
  SampleRecord unknown;
  unknown.key = "k2";
  const SampleRecord c = record_from_json(to_json(unknown), "k2.json");
  EXPECT_TRUE(std::isnan(c.center_lon));
  EXPECT_TRUE(c.date.empty());
  EXPECT_TRUE(contains(error_of<FormatError>([] { record_from_json("{", "x.json"); }), "x.json"));
  EXPECT_TRUE(contains(error_of<FormatError>([] { record_from_json("{\"key\":1}", "x.json"); }),
                       "not a sample record"));

  Manifest m;
  m.dataset = "d";
  m.modalities = {"DEM"};
  m.splits["train"].samples = 3;
  m.splits["train"].modality_samples["DEM"] = 3;
  BandStatistics s;
  s.band = "DEM";
  s.count = 10;
  s.mean = 1.5;
  s.std = std::nan("");  // an empty band: written as null, read back as NaN
  m.splits["train"].statistics["DEM"] = {s};
  m.shards.push_back({"train/d-train-000000.tar", "train", 3, 4096, std::string(64, 'a')});
  m.skipped["misaligned"] = 2;
  const Manifest n = manifest_from_json(to_json(m), "manifest.json");
  EXPECT_EQ(n.shards.size(), 1u);
  EXPECT_EQ(n.shards[0].sha256, m.shards[0].sha256);
  EXPECT_EQ(n.splits.at("train").statistics.at("DEM")[0].mean, 1.5);
  EXPECT_TRUE(std::isnan(n.splits.at("train").statistics.at("DEM")[0].std));
  EXPECT_EQ(n.skipped.at("misaligned"), 2);
  std::string bad = to_json(m);
  bad.replace(bad.find("train/d-train"), 5, "../..");
  EXPECT_TRUE(contains(error_of<FormatError>([&] { manifest_from_json(bad, "m.json"); }),
                       "leaves the dataset folder"));
  EXPECT_TRUE(
      contains(error_of<FormatError>([] { manifest_from_json("{\"format\":\"x\"}", "m.json"); }),
               "not a tm shards manifest"));
}

// WebDataset reads shards with Python's tarfile, and ".npy.gz" members with gzip + numpy.load:
// the same tools must read ours, with the values tm wrote.
TEST(shard_format, python_tarfile_gzip_and_numpy_read_tm_shards) {
  if (std::system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0)
    GTEST_SKIP() << "python3-numpy is not installed";
  ScratchDir scratch;
  const std::string path = scratch.file("s.tar");
  Array a = ramp(DType::kInt16, 2, 3, 4);
  const auto npy = encode_npy(a);
  {
    TarWriter w(path);
    SampleRecord r;
    r.key = "k0";
    const std::string json = to_json(r);
    w.add(record_member_name("k0"), std::vector<std::uint8_t>(json.begin(), json.end()));
    w.add(array_member_name("k0", "S1RTC"), gzip_compress(npy.data(), npy.size(), 6));
    w.close();
  }
  double sum = 0;
  for (std::size_t i = 0; i < a.count(); ++i) sum += a.value(i);
  const std::string script = scratch.file("read.py");
  std::ofstream(script)
      << "import gzip, io, json, sys, tarfile\nimport numpy as np\n"
         "t = tarfile.open(sys.argv[1])\n"
         "names = t.getnames()\n"
         "rec = json.load(t.extractfile('k0.json'))\n"
         "arr = np.load(io.BytesIO(gzip.decompress(t.extractfile('k0.s1rtc.npy.gz').read())))\n"
         "print(','.join(names), rec['key'], arr.dtype, arr.shape, "
         "int(arr.astype(np.int64).sum()))\n";
  const std::string out = scratch.file("out.txt");
  ASSERT_EQ(std::system(("/usr/bin/python3 " + script + " " + path + " > " + out).c_str()), 0);
  std::ifstream in(out);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "k0.json,k0.s1rtc.npy.gz k0 int16 (2, 3, 4) " +
                      std::to_string(static_cast<long long>(sum)));
}
