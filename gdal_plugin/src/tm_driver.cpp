// Registration of the TM driver. Kept to metadata and two function pointers: every GDAL process
// (QGIS at start-up included) loads the plugin, so nothing here touches the model runtime, the
// modality registry or any file.
#include <gdal_priv.h>

#include "shared_model.h"
#include "tm_dataset.h"
#include "tm_runtime_api.h"

namespace {

constexpr const char* kOpenOptions =
    "<OpenOptionList>"
    "  <Option name='TARGET' type='string' description='Target modality to generate, e.g. "
    "S1GRD or LULC'/>"
    "  <Option name='MODEL' type='string' description='Model checkpoint or name for the runtime'/>"
    "  <Option name='STEPS' type='int' description='Generation steps'/>"
    "  <Option name='SEED' type='int' description='Random seed'/>"
    "  <Option name='DEVICE' type='string' description='cpu, cuda, cuda:N'/>"
    "  <Option name='THREADS' type='int' description='Model threads (0: runtime default)'/>"
    "  <Option name='WINDOW' type='int' description='Window size in pixels' default='224'/>"
    "  <Option name='OVERLAP' type='int' description='Window overlap in pixels' default='32'/>"
    "  <Option name='BLEND' type='string-select' default='taper'>"
    "    <Value>taper</Value><Value>mean</Value></Option>"
    "  <Option name='EDGE' type='string-select' default='reflect'>"
    "    <Value>reflect</Value><Value>replicate</Value><Value>fill</Value></Option>"
    "  <Option name='BATCH' type='int' description='Windows per model call' default='8'/>"
    "  <Option name='CACHE_MB' type='int' description='Window cache per scene' default='256'/>"
    "  <Option name='OVERVIEWS' type='string' description='auto or a number of levels' "
    "default='auto'/>"
    "</OpenOptionList>";

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
  driver->SetMetadataItem(GDAL_DMD_OPENOPTIONLIST, kOpenOptions);
  driver->SetMetadataItem("TM_RUNTIME_API_VERSION", CPLSPrintf("%u", TM_RUNTIME_API_VERSION));
  driver->pfnIdentify = terramind::gdal_plugin::TMDataset::Identify;
  driver->pfnOpen = terramind::gdal_plugin::TMDataset::Open;
  driver->pfnUnloadDriver = UnloadDriver;
  GetGDALDriverManager()->RegisterDriver(driver);
}
