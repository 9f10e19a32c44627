"""Loads a TM layer in QGIS (python3-qgis, headless: QT_QPA_PLATFORM=offscreen) and renders it.

usage: qgis_render.py <descriptor or connection string> <output.png>
GDAL_DRIVER_PATH and TM_RUNTIME come from the environment, as for a QGIS started from a shell.
Fails unless the layer is valid, comes from the TM driver and the PNG has non-empty pixels.
"""
import sys

from qgis.core import (QgsApplication, QgsMapRendererSequentialJob, QgsMapSettings,
                       QgsRasterLayer)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor, QImage


def render(source, png):
    """Returns an error message, or None when the layer rendered to a non-empty PNG."""
    layer = QgsRasterLayer(source, "generated", "gdal")
    if not layer.isValid():
        return f"QGIS could not load {source}: {layer.error().summary()}"
    details = layer.dataProvider().htmlMetadata()
    if "TerraMind generated modalities" not in details:
        return f"the layer was not opened by the TM driver:\n{details}"

    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setExtent(layer.extent())
    settings.setOutputSize(QSize(256, 256))
    settings.setBackgroundColor(QColor(0, 0, 0, 0))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    if not job.renderedImage().save(png, "PNG"):
        return f"cannot write {png}"

    image = QImage(png)
    pixels = [image.pixel(x, y) for y in range(image.height()) for x in range(image.width())]
    painted = sum(1 for p in pixels if p >> 24)  # alpha: nodata and background are transparent
    colours = len(set(pixels))
    print(f"rendered {layer.width()}x{layer.height()} {layer.renderer().type()} layer to {png}: "
          f"{painted} of {len(pixels)} pixels painted, {colours} colours")
    if painted < len(pixels) // 2 or colours < 3:
        return "the rendered image is empty or flat"
    return None


app = QgsApplication([], False)
app.initQgis()
# Layers and jobs must be gone before exitQgis() tears the providers down: render() owns them.
error = render(sys.argv[1], sys.argv[2])
app.exitQgis()
sys.exit(error)
