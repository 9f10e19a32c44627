// LRU bookkeeping.
#include "window_cache.h"

namespace terramind::gdal_plugin {

std::shared_ptr<const GeneratedWindow> WindowCache::find(const WindowKey& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  order_.splice(order_.begin(), order_, it->second);
  ++hits_;
  return it->second->second;
}

void WindowCache::insert(const WindowKey& key, std::shared_ptr<const GeneratedWindow> window) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (const auto it = index_.find(key); it != index_.end()) {  // generated twice: keep one
    bytes_ -= it->second->second->bytes();
    order_.erase(it->second);
    index_.erase(it);
  }
  bytes_ += window->bytes();
  order_.emplace_front(key, std::move(window));
  index_[key] = order_.begin();
  evict_locked();
}

void WindowCache::reserve(std::size_t capacity_bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (capacity_bytes > capacity_) capacity_ = capacity_bytes;
}

void WindowCache::evict_locked() {
  while (bytes_ > capacity_ && !order_.empty()) {
    bytes_ -= order_.back().second->bytes();
    index_.erase(order_.back().first);
    order_.pop_back();
  }
}

std::size_t WindowCache::bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_;
}

std::size_t WindowCache::entries() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return order_.size();
}

std::size_t WindowCache::hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return hits_;
}

}  // namespace terramind::gdal_plugin
