// Bounded LRU of generated windows, so panning and neighbouring blocks do not recompute them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace terramind::gdal_plugin {

// The model output of one window of the grid, all channels of the target.
struct GeneratedWindow {
  bool skipped = false;             // every input was nodata there: the window adds nothing
  std::vector<float> values;        // [channel][row][col], window_size^2 per channel
  std::vector<std::uint8_t> valid;  // [row][col]: some input held data

  std::size_t bytes() const { return sizeof(*this) + values.size() * sizeof(float) + valid.size(); }
};

// Which window: overview level and grid cell.
struct WindowKey {
  int level = 0;
  int row = 0;
  int col = 0;
  bool operator==(const WindowKey& o) const {
    return level == o.level && row == o.row && col == o.col;
  }
};

struct WindowKeyHash {
  std::size_t operator()(const WindowKey& k) const {
    return (static_cast<std::size_t>(k.level) << 48) ^ (static_cast<std::size_t>(k.row) << 24) ^
           static_cast<std::size_t>(k.col);
  }
};

// Thread-safe. Entries are shared, so one evicted while a reader blends it stays valid for it.
class WindowCache {
 public:
  explicit WindowCache(std::size_t capacity_bytes) : capacity_(capacity_bytes) {}

  std::shared_ptr<const GeneratedWindow> find(const WindowKey& key);
  void insert(const WindowKey& key, std::shared_ptr<const GeneratedWindow> window);
  // Capacity only grows: datasets sharing a cache may ask for different sizes.
  void reserve(std::size_t capacity_bytes);

  std::size_t bytes() const;
  std::size_t entries() const;
  std::size_t hits() const;

 private:
  void evict_locked();
  using Entry = std::pair<WindowKey, std::shared_ptr<const GeneratedWindow>>;
  mutable std::mutex mutex_;
  std::size_t capacity_;
  std::size_t bytes_ = 0;
  std::size_t hits_ = 0;
  std::list<Entry> order_;  // most recently used first
  std::unordered_map<WindowKey, std::list<Entry>::iterator, WindowKeyHash> index_;
};

}  // namespace terramind::gdal_plugin
