// The plugin tests run as a GDAL client would: GDAL_DRIVER_PATH and TM_RUNTIME set before
// GDALAllRegister().
#include <gtest/gtest.h>

#include "plugin_test_support.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  terramind::testing::register_plugin();
  return RUN_ALL_TESTS();
}
