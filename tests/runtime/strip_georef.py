"""Copies a raster's pixels (and nothing else: no CRS, no geotransform) to a new GeoTIFF."""
import sys

from osgeo import gdal

src = gdal.Open(sys.argv[1])
band = src.GetRasterBand(1)
dst = gdal.GetDriverByName("GTiff").Create(
    sys.argv[2], src.RasterXSize, src.RasterYSize, src.RasterCount, band.DataType)
dst.WriteRaster(0, 0, src.RasterXSize, src.RasterYSize,
                src.ReadRaster(0, 0, src.RasterXSize, src.RasterYSize))
dst = None
