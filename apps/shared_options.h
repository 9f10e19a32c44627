// The shared generation settings (tm/settings.h) as Boost options, for the tools that generate
// (tm_generate, tm_mosaic): --window, --steps, --top-p ..., with the table's names, defaults and
// help.
#pragma once

#include <boost/program_options.hpp>
#include <map>
#include <string>

#include "tm/settings.h"

namespace terramind {

// Values stay text until read, as the plugin reads its keys. A boolean is a switch turning its
// default around (--chain-targets; --no-clamp for a setting that is on by default).
void add_shared_options(boost::program_options::options_description& options);

// Reads the shared options given on the command line; std::invalid_argument names the option.
void apply_shared_options(const boost::program_options::variables_map& vm, TilingOptions& tiling,
                          RuntimeSettings& runtime);

// The shared options given on the command line as the table's keys and text values
// (booleans as "true"/"false"), checked as apply_shared_options checks them.
std::map<std::string, std::string> given_shared_settings(
    const boost::program_options::variables_map& vm);

}  // namespace terramind
