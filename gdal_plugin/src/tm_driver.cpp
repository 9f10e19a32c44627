// Registration of the TM driver. Kept to metadata and two function pointers: every GDAL process
// (QGIS at start-up included) loads the plugin, so nothing here touches the model runtime, the
// modality registry or any file.
#include <gdal_priv.h>

#include <cctype>
#include <string>

#include "generation_settings.h"
#include "shared_model.h"
#include "tm/ascii_strings.h"
#include "tm_dataset.h"
#include "tm_runtime_api.h"

namespace {

using terramind::gdal_plugin::SettingKey;

std::string xml_escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// GDAL_DMD_OPENOPTIONLIST from the settings table (generation_settings.cpp): every setting but
// descriptor=, and the TerraMind runtime's opt.* options, with upper-case names (-oo WINDOW=448,
// -oo OPT.TEMPERATURE=0). Inputs and other opt.* keys work too, undeclared.
std::string open_option_list() {
  std::string xml = "<OpenOptionList>";
  for (const SettingKey& key : terramind::gdal_plugin::setting_table()) {
    if (!key.open_option) continue;
    const std::string name = terramind::to_upper(key.name);
    xml += "<Option name='" + xml_escaped(name) + "' type='" + key.type + "' description='" +
           xml_escaped(key.description) + "'";
    if (!key.default_value.empty()) xml += " default='" + xml_escaped(key.default_value) + "'";
    if (key.values.empty()) {
      xml += "/>";
      continue;
    }
    xml += ">";
    for (const std::string& value : key.values) xml += "<Value>" + xml_escaped(value) + "</Value>";
    xml += "</Option>";
  }
  return xml + "</OpenOptionList>";
}

void UnloadDriver(GDALDriver*) { terramind::gdal_plugin::release_idle_models(); }

}  // namespace

extern "C" CPL_DLL void GDALRegister_TM();

void GDALRegister_TM() {
  if (!GDAL_CHECK_VERSION("TM")) return;  // refuses a GDAL of another major.minor
  if (GDALGetDriverByName("TM") != nullptr) return;
  auto* driver = new GDALDriver();
  driver->SetDescription("TM");
  driver->SetMetadataItem(GDAL_DCAP_RASTER, "YES");
  driver->SetMetadataItem(GDAL_DMD_LONGNAME, "TerraMind generated modalities (virtual raster)");
  driver->SetMetadataItem(GDAL_DMD_EXTENSIONS, "tmgen");
  driver->SetMetadataItem(GDAL_DMD_CONNECTION_PREFIX, "TM:");
  driver->SetMetadataItem(GDAL_DMD_SUBDATASETS, "YES");
  driver->SetMetadataItem(GDAL_DCAP_VIRTUALIO, "YES");
  driver->SetMetadataItem(GDAL_DMD_OPENOPTIONLIST, open_option_list().c_str());
  driver->SetMetadataItem("TM_RUNTIME_API_VERSION", CPLSPrintf("%u", TM_RUNTIME_API_VERSION));
  driver->pfnIdentify = terramind::gdal_plugin::TMDataset::Identify;
  driver->pfnOpen = terramind::gdal_plugin::TMDataset::Open;
  driver->pfnUnloadDriver = UnloadDriver;
  GetGDALDriverManager()->RegisterDriver(driver);
}
