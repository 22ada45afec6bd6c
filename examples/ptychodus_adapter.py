"""A ptychodus reconstructor backed by ptychopinn-node, through its command line.

It has the shape of ptychodus' ``TrainableReconstructor`` (``ptychodus/api/reconstructor.py``,
2025): ``export_training_data``, ``train(data_path)`` over ``train_data.npz`` and
``test_data.npz``, ``open_model``/``save_model``, and ``reconstruct``, which yields a
``ReconstructOutput`` per batch (progress) and the reconstructed product last. It runs
``ptychopinn train --json`` and ``ptychopinn infer --json`` and reads their JSON lines.

Inside ptychodus, register it in a reconstructor library::

    from ptychodus_adapter import PtychoPinnNodeReconstructor
    reconstructor = PtychoPinnNodeReconstructor(command=['npx', '--prefix', '/path/to/ptychopinn-node', 'ptychopinn'])

Outside ptychodus (no ``ptychodus`` package), the same shapes are defined below so that
``python3 examples/ptychodus_adapter.py --self-test`` runs the whole lifecycle on the fixture.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy

try:  # inside ptychodus
    from ptychodus.api.product import LossValue
    from ptychodus.api.reconstructor import ReconstructOutput, TrainableReconstructor, TrainOutput
except ImportError:  # standalone: ptychodus' dataclasses, field for field

    @dataclass(frozen=True)
    class LossValue:  # type: ignore[no-redef]
        epoch: int
        value: float

    @dataclass(frozen=True)
    class TrainOutput:  # type: ignore[no-redef]
        training_loss: Sequence[LossValue]
        validation_loss: Sequence[LossValue]
        result: int

    @dataclass(frozen=True)
    class ReconstructOutput:  # type: ignore[no-redef]
        product: Any
        progress: int = 0
        result: int = 0

    TrainableReconstructor = object  # type: ignore[misc,assignment]

TRAIN_FILE = 'train_data.npz'
TEST_FILE = 'test_data.npz'
MODEL_FILE = 'model.ptpinn'


class PtychoPinnNodeError(RuntimeError):
    """ptychopinn exited with an error: its code, exit code and message."""


def dataset_arrays(parameters: Any) -> dict[str, numpy.ndarray]:
    """ptychodus' ReconstructInput as the NPZ arrays ptychopinn reads: amplitudes (the square root of
    the counts) and the bad-pixel mask, the same file Reconstructor.exportTrainingData writes in Node."""
    product = parameters.product
    obj = product.object_
    geometry = obj.get_geometry()
    # positions in object pixels by ptychodus' own mapping, whatever convention its version has
    mapped = [geometry.map_coordinates_probe_to_object(p) for p in product.probe_positions]
    x_px = [m.coordinate_x_px for m in mapped]
    y_px = [m.coordinate_y_px for m in mapped]
    return {
        # amplitudes from counts; a background subtraction may have left negatives
        'diffraction': numpy.sqrt(numpy.clip(numpy.asarray(parameters.diffraction_patterns, dtype=numpy.float32), 0, None)),
        'bad_pixels': numpy.asarray(parameters.bad_pixels, dtype=bool),
        'probeGuess': numpy.asarray(product.probes.get_probe_no_opr().get_incoherent_mode(0), dtype=numpy.complex64),
        # the starting object: an initial guess, never written as ground truth
        'objectGuess': numpy.asarray(obj.get_layer(0), dtype=numpy.complex64),
        'xcoords': numpy.asarray(x_px, dtype=numpy.float64),
        'ycoords': numpy.asarray(y_px, dtype=numpy.float64),
    }


class PtychoPinnNodeReconstructor(TrainableReconstructor):  # type: ignore[misc,valid-type]
    def __init__(self, command: Sequence[str] = ('npx', 'ptychopinn'), data_path: Path | None = None,
                 train_flags: Sequence[str] = (), infer_flags: Sequence[str] = ()) -> None:
        self._command = list(command)
        self._data_path = Path(data_path) if data_path else Path.cwd()
        self._train_flags = list(train_flags)
        self._infer_flags = list(infer_flags)
        self._work = Path(tempfile.mkdtemp(prefix='ptychopinn-'))
        self._model: Path | None = None
        self._goal = 0

    # ptychodus' Reconstructor
    def get_name(self) -> str:
        return 'PtychoPINN (Node)'

    def get_progress_goal(self) -> int:
        return self._goal

    # ptychodus' TrainableReconstructor
    def get_model_file_filter(self) -> str:
        return 'PtychoPINN Model (*.ptpinn)'

    def get_training_data_file_filter(self) -> str:
        return 'NumPy Zipped Archive (*.npz)'

    def get_training_data_path(self) -> Path:
        return self._data_path

    def open_model(self, file_path: Path) -> None:
        self._model = Path(file_path)

    def save_model(self, file_path: Path) -> None:
        if self._model is None:
            raise PtychoPinnNodeError('no model: train or open one first')
        shutil.copyfile(self._model, file_path)

    def export_training_data(self, file_path: Path, parameters: Any) -> None:
        numpy.savez(file_path, **dataset_arrays(parameters))

    def train(self, data_path: Path) -> TrainOutput:
        data_path = Path(data_path)
        out = self._work / 'train'
        flags = ['--train_data_file', str(data_path / TRAIN_FILE), '--output_dir', str(out), '--logger', 'none']
        if (data_path / TEST_FILE).exists():
            flags += ['--test_data_file', str(data_path / TEST_FILE)]
        result = None
        for event in self._run(['train', *flags, *self._train_flags]):
            if event['event'] == 'result':
                result = event
        assert result is not None
        self._model = Path(result['model'])
        # a non-finite loss arrives as null
        losses = lambda values: [LossValue(i + 1, v) for i, v in enumerate(values) if v is not None]  # noqa: E731
        return TrainOutput(losses(result['trainingLoss']), losses(result['validationLoss']), 0)

    def reconstruct(self, parameters: Any) -> Iterator[ReconstructOutput]:
        if self._model is None:
            raise PtychoPinnNodeError('no model: train or open one first')
        data = self._work / 'reconstruct.npz'
        numpy.savez(data, **dataset_arrays(parameters))
        out = self._work / 'infer'
        result = None
        for event in self._run(['infer', '--model_path', str(self._model), '--test_data', str(data), '--output_dir', str(out),
                                *self._infer_flags]):
            if event['event'] == 'progress' and event['stage'] == 'infer':
                self._goal = event['total']
                yield ReconstructOutput(parameters.product, progress=event['done'], result=0)
            elif event['event'] == 'result':
                result = event
        assert result is not None
        yield ReconstructOutput(self._product(parameters.product, Path(result['reconstruction'])), progress=self._goal, result=0)

    def _product(self, product: Any, reconstruction: Path) -> Any:
        """The product with its object replaced, on its own grid: unlit pixels keep their values."""
        with numpy.load(reconstruction) as npz:
            stitched, origin = npz['object'], npz['origin']
        old = product.object_
        array = numpy.array(old.get_array(), copy=True)
        layer = array[0]
        r0, c0 = int(origin[0]), int(origin[1])
        rows = slice(max(r0, 0), min(r0 + stitched.shape[0], layer.shape[0]))
        cols = slice(max(c0, 0), min(c0 + stitched.shape[1], layer.shape[1]))
        patch = stitched[rows.start - r0:rows.stop - r0, cols.start - c0:cols.stop - c0]
        lit = patch != 0  # the stitch leaves 0 where no patch weighed in
        layer[rows, cols][lit] = patch[lit]
        new_object = type(old)(array, old.get_pixel_geometry(), old.get_center(), list(old.layer_spacing_m))
        return dataclasses.replace(product, object_=new_object)

    def _run(self, args: list[str]) -> Iterator[dict[str, Any]]:
        """Runs ptychopinn with --json and yields its events; an error event becomes an exception.

        stderr goes to a file (a pipe read only at the end would fill and stall the child), and a
        caller that stops iterating (ptychodus abandoning a reconstruction) ends the child.
        """
        with tempfile.TemporaryFile(mode='w+') as stderr:
            process = subprocess.Popen([*self._command, *args, '--json'], stdout=subprocess.PIPE, stderr=stderr, text=True)
            assert process.stdout is not None
            error = None
            try:
                for line in process.stdout:
                    event = json.loads(line)
                    if event['event'] == 'error':
                        error = event
                    else:
                        yield event
            finally:
                if process.poll() is None:
                    process.terminate()
                process.wait()
            if process.returncode != 0 or error:
                stderr.seek(0)
                message = error['message'] if error else stderr.read().strip()
                code = error['code'] if error else f'exit {process.returncode}'
                raise PtychoPinnNodeError(f'ptychopinn {args[0]} failed ({code}): {message}')


# ---------------------------------------------------------------------------------------------
# Self-test without ptychodus: minimal stand-ins with ptychodus' shapes, on the package's fixture.

def _self_test(root: Path) -> None:
    @dataclass(frozen=True)
    class PixelGeometry:
        width_m: float
        height_m: float

    @dataclass(frozen=True)
    class ObjectCenter:
        coordinate_x_m: float
        coordinate_y_m: float

    @dataclass(frozen=True)
    class ObjectPosition:
        index: int
        coordinate_x_px: float
        coordinate_y_px: float

    @dataclass(frozen=True)
    class ObjectGeometry:
        width_px: int
        height_px: int
        pixel_width_m: float
        pixel_height_m: float
        center_x_m: float
        center_y_m: float

        def map_coordinates_probe_to_object(self, position):  # ptychodus' of 2025
            return ObjectPosition(position.index, (position.coordinate_x_m - self.center_x_m) / self.pixel_width_m + self.width_px / 2,
                                  (position.coordinate_y_m - self.center_y_m) / self.pixel_height_m + self.height_px / 2)

    class Object:
        def __init__(self, array, pixel_geometry, center, layer_spacing_m=()):
            self._array = array if array.ndim == 3 else array[numpy.newaxis]
            self._pixel, self._center, self.layer_spacing_m = pixel_geometry, center, list(layer_spacing_m)

        def get_array(self):
            return self._array

        def get_layer(self, number):
            return self._array[number]

        def get_pixel_geometry(self):
            return self._pixel

        def get_center(self):
            return self._center

        def get_geometry(self):
            h, w = self._array.shape[-2:]
            return ObjectGeometry(w, h, self._pixel.width_m, self._pixel.height_m, self._center.coordinate_x_m, self._center.coordinate_y_m)

    @dataclass(frozen=True)
    class ProbePosition:
        index: int
        coordinate_x_m: float
        coordinate_y_m: float

    class Probes:
        def __init__(self, array):
            self._array = array

        def get_probe_no_opr(self):
            return self

        def get_incoherent_mode(self, number):
            return self._array

    @dataclass(frozen=True)
    class Product:
        metadata: Any
        probe_positions: Sequence[ProbePosition]
        probes: Probes
        object_: Object
        losses: Sequence[LossValue]

    @dataclass(frozen=True)
    class ReconstructInput:
        diffraction_patterns: numpy.ndarray
        bad_pixels: numpy.ndarray
        product: Product

    with numpy.load(root / 'fixtures' / 'run1084_sim.npz') as npz:
        amplitudes, probe, truth = npz['diffraction'], npz['probeGuess'], npz['objectGuess']
        x_px, y_px = npz['xcoords'], npz['ycoords']
    pixel, center = 10e-9, (1.5e-6, -2.25e-6)
    h, w = truth.shape
    positions = [ProbePosition(i, (x - w / 2) * pixel + center[0], (y - h / 2) * pixel + center[1]) for i, (x, y) in enumerate(zip(x_px, y_px))]
    start = Object(numpy.ones((h, w), dtype=numpy.complex64), PixelGeometry(pixel, pixel), ObjectCenter(*center))
    counts = amplitudes.astype(numpy.float64) ** 2
    bad = numpy.zeros(amplitudes.shape[1:], dtype=bool)
    bad[5, 7] = True
    counts[:, 5, 7] = 1e9
    parameters = ReconstructInput(counts, bad, Product(None, positions, Probes(probe), start, []))

    reconstructor = PtychoPinnNodeReconstructor(command=['node', str(root / 'dist' / 'lib' / 'cli' / 'bin.js')],
                                                data_path=Path(tempfile.mkdtemp(prefix='ptychopinn-data-')),
                                                train_flags=['--max_epochs', '2', '--n_images', '64', '--gridsize', '1', '--threads', '2'],
                                                infer_flags=['--threads', '2'])
    data_path = reconstructor.get_training_data_path()
    reconstructor.export_training_data(data_path / TRAIN_FILE, parameters)
    # ptychodus' validation set: here the same patterns, enough to see the losses come back
    reconstructor.export_training_data(data_path / TEST_FILE, parameters)
    trained = reconstructor.train(data_path)
    assert [v.epoch for v in trained.training_loss] == [1, 2], trained
    assert [v.epoch for v in trained.validation_loss] == [1, 2], trained
    assert all(numpy.isfinite(v.value) and v.value > 0 for v in trained.validation_loss), trained
    outputs = list(reconstructor.reconstruct(parameters))
    assert outputs[-2].progress == reconstructor.get_progress_goal() == 512, (outputs[-2].progress, reconstructor.get_progress_goal())
    result = outputs[-1].product.object_
    assert result.get_array().shape == (1, h, w)
    lit = result.get_layer(0) != 1
    assert lit.sum() > 10000, lit.sum()
    model = data_path / 'saved.ptpinn'
    reconstructor.save_model(model)
    other = PtychoPinnNodeReconstructor(command=reconstructor._command)
    other.open_model(model)
    again = list(other.reconstruct(parameters))[-1].product.object_
    assert numpy.array_equal(again.get_array(), result.get_array())

    # ptychodus cancels a reconstruction by no longer iterating: the child must stop, unfinished
    started = []
    popen = subprocess.Popen

    class Recorded(popen):  # type: ignore[misc,valid-type]
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    cancelled = PtychoPinnNodeReconstructor(command=reconstructor._command, infer_flags=['--threads', '1'])
    cancelled.open_model(model)
    subprocess.Popen = Recorded
    try:
        steps = cancelled.reconstruct(parameters)
        first = next(steps)
        steps.close()
    finally:
        subprocess.Popen = popen  # type: ignore[misc]
    assert first.progress < 512, first.progress
    assert started[-1].returncode not in (None, 0), started[-1].returncode
    assert not (cancelled._work / 'infer' / 'reconstruction.npz').exists()
    print(json.dumps({'self_test': 'passed', 'training_loss': [v.value for v in trained.training_loss],
                      'validation_loss': [v.value for v in trained.validation_loss],
                      'progress_goal': reconstructor.get_progress_goal(), 'lit_pixels': int(lit.sum()),
                      'cancelled_exit': started[-1].returncode}))


if __name__ == '__main__':
    if sys.argv[1:] == ['--self-test']:
        _self_test(Path(__file__).resolve().parent.parent)
    else:
        print(__doc__)
