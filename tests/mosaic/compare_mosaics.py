"""compare_mosaics.py A B: exit 0 when two mosaics agree bit for bit where both have tiles.

The rasters may cover different extents on one pixel grid (other tile sizes): every pixel of the
common window must have the same validity and, where valid, the same value.
"""
import sys

import numpy as np
from osgeo import gdal


def load(path):
    ds = gdal.Open(path)
    values = ds.ReadAsArray().astype(np.float64)
    if values.ndim == 2:
        values = values[None]
    return values, ds.GetGeoTransform(), ds.GetRasterBand(1).GetNoDataValue()


a, ga, na = load(sys.argv[1])
b, gb, nb = load(sys.argv[2])
if ga[1] != gb[1] or ga[5] != gb[5]:
    sys.exit(f"different pixel sizes: {ga} / {gb}")
ox, oy = round((gb[0] - ga[0]) / ga[1]), round((gb[3] - ga[3]) / ga[5])
x0, y0 = max(0, ox), max(0, oy)
x1, y1 = min(a.shape[2], ox + b.shape[2]), min(a.shape[1], oy + b.shape[1])
A, B = a[:, y0:y1, x0:x1], b[:, y0 - oy:y1 - oy, x0 - ox:x1 - ox]
va, vb = A != na, B != nb
both = va & vb
differing = int((A != B)[both].sum())
print(f"common window {A.shape}, valid {int(va.sum())} / {int(vb.sum())}, "
      f"validity differs at {int((va != vb).sum())}, values differ at {differing}")
if both.sum() == 0 or (va != vb).any() or differing:
    sys.exit(1)
