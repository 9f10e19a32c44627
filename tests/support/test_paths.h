// Where tests find their inputs. Defaults point beside the source tree; environment variables
// let the same tests run on other fixture sets (TM_FIXTURES) or data folders (TM_SHARED).
#pragma once
#include <exception>
#include <functional>
#include <string>
#include <vector>

namespace terramind::testing {

std::string shared_dir();    // $TM_SHARED or <repo>/../shared
std::string fixtures_dir();  // $TM_FIXTURES or <shared>/fixtures
std::string data_dir();      // <shared>/data
std::string spec_dir();      // <shared>/spec
std::string sample_scene();  // the generated S2L2A sample (build tree)
std::string sample_lulc();   // its true land cover

// The message of the exception of type E that `fn` throws, or "" when it throws none (one of
// another type escapes and fails the test).
template <typename E = std::exception>
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}
bool contains(const std::string& text, const std::string& part);

// A fresh empty folder for one test, removed by the ScratchDir destructor.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Names of the entries in the folder (hidden ones included), sorted.
  std::vector<std::string> entries() const;

 private:
  std::string path_;
};

}  // namespace terramind::testing
