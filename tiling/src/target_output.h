// Internal: the rasters of one requested target and the conversion of blended rows into them.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "tm/tiling.h"

namespace terramind {

class TargetOutput {
 public:
  // Creates the (temporary) output rasters on `grid`'s georeferencing; refuses bad destinations.
  // continue_working_files: reopen the resumable working files of an interrupted run.
  TargetOutput(const TargetRequest& request, const TargetSpec& spec, const RasterInfo& grid,
               const TilingOptions& options, const OutputProvenance& provenance,
               bool continue_working_files = false);

  const TargetRequest& request() const { return request_; }
  const TargetSpec& spec() const { return spec_; }
  // Continuous: values, nodata where invalid. Classes: arg-max class index (and probabilities).
  // Writes nodata into `rows` in place.
  void write(FinishedRows& rows);
  void flush();   // rows written so far are in the working files
  void finish();  // slow, interruptible (see AtomicRasterWriter)
  // Renames into place; appends each path as it is in place, so a failure can say which are.
  void publish(std::vector<std::string>& published);
  std::vector<std::string> paths() const;

 private:
  void write_classes(FinishedRows& rows);
  TargetRequest request_;
  TargetSpec spec_;
  std::unique_ptr<AtomicRasterWriter> main_;
  std::unique_ptr<AtomicRasterWriter> probabilities_;
  std::vector<int> probability_channels_;  // the model channels written as probability bands
};

}  // namespace terramind
