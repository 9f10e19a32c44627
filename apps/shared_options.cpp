// The shared generation settings as Boost options.
#include "shared_options.h"

namespace po = boost::program_options;

namespace terramind {

void add_shared_options(po::options_description& options) {
  for (const Setting& setting : settings_table()) {
    if (setting.option.empty()) continue;
    if (setting.type == SettingType::kBoolean) {
      const bool on = setting.default_value == "true";
      options.add_options()(setting.option.c_str(), po::bool_switch(),
                            ((on ? "do not " : "") + setting.help).c_str());
    } else {
      options.add_options()(setting.option.c_str(),
                            po::value<std::string>()->default_value(setting.default_value),
                            setting.help.c_str());
    }
  }
}

std::map<std::string, std::string> given_shared_settings(const po::variables_map& vm) {
  std::map<std::string, std::string> given;
  for (const Setting& setting : settings_table()) {
    if (setting.option.empty() || !vm.count(setting.option) || vm[setting.option].defaulted())
      continue;
    if (setting.type == SettingType::kBoolean) {
      if (vm[setting.option].as<bool>())
        given[setting.key] = setting.default_value == "true" ? "false" : "true";
    } else {
      given[setting.key] = vm[setting.option].as<std::string>();
    }
  }
  return given;
}

void apply_shared_options(const po::variables_map& vm, TilingOptions& tiling,
                          RuntimeSettings& runtime) {
  for (const auto& [key, value] : given_shared_settings(vm)) {
    const Setting* setting = find_setting(key);
    apply_setting(*setting, "--" + setting->option, value, tiling, runtime);
  }
}

}  // namespace terramind
