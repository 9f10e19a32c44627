// TensorMap: an insertion-ordered name -> tensor map.
#include "tm/model.h"

namespace terramind {

void TensorMap::insert(std::string name, at::Tensor tensor) {
  if (index_.count(name)) throw std::invalid_argument("TensorMap: duplicate key '" + name + "'");
  index_.emplace(name, items_.size());
  items_.emplace_back(std::move(name), std::move(tensor));
}

const at::Tensor* TensorMap::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &items_[it->second].second;
}

const at::Tensor& TensorMap::at(const std::string& name) const {
  const at::Tensor* tensor = find(name);
  if (!tensor) throw std::out_of_range("TensorMap: no tensor named '" + name + "'");
  return *tensor;
}

std::vector<std::string> TensorMap::names() const {
  std::vector<std::string> result;
  result.reserve(items_.size());
  for (const auto& item : items_) result.push_back(item.first);
  return result;
}

}  // namespace terramind
