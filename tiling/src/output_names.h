// Internal: names of output files and of the hidden temporary files beside them.
#pragma once
#include <string>

namespace terramind {

std::string parent_folder(const std::string& path);  // "." for a bare name
std::string base_name(const std::string& path);
// ".<name>.<tag>-<pid>-<n>" beside `path`: what remove_stale_partials() recognises for the tags
// "tm-partial" and "tm-final".
std::string temp_name_for(const std::string& path, const char* tag);

}  // namespace terramind
