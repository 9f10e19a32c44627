"""Reads a window of a TM virtual raster with Python's osgeo.gdal (Debian python3-gdal).

usage: read_window.py <connection string or descriptor> <source scene>
GDAL_DRIVER_PATH and TM_RUNTIME come from the environment. Checks the driver, the grid against
the source scene, and that a window read equals the same pixels of a whole-band read.
"""
import sys

from osgeo import gdal

gdal.UseExceptions()
name, source_path = sys.argv[1], sys.argv[2]

ds = gdal.Open(name)
source = gdal.Open(source_path)
assert ds.GetDriver().ShortName == "TM", ds.GetDriver().ShortName
assert (ds.RasterXSize, ds.RasterYSize) == (source.RasterXSize, source.RasterYSize)
assert ds.GetGeoTransform() == source.GetGeoTransform()
assert ds.GetSpatialRef().IsSame(source.GetSpatialRef())

band = ds.GetRasterBand(1)
window = band.ReadAsArray(300, 200, 250, 150)
assert window.shape == (150, 250), window.shape
whole = band.ReadAsArray()
assert (whole[200:350, 300:550] == window).all(), "window and whole-band reads differ"
nodata = band.GetNoDataValue()
valid = int((window != nodata).sum())
assert valid > window.size // 2, f"only {valid} of {window.size} pixels hold data"
print(f"read {window.shape[1]}x{window.shape[0]} {window.dtype} window of "
      f"{ds.GetMetadataItem('TM_TARGET')}: {valid} valid pixels, min {window.min()}, "
      f"max {window.max()}")
