// A corpus of malformed inputs for the command line, every file made here by code from the valid
// fixture (fixtures/run1084_sim.npz) and a tiny model bundle trained through the CLI:
//
//   npx tsx scripts/make-bad-inputs.ts OUTDIR
//
// writes OUTDIR/files/* (the inputs), OUTDIR/model/model.ptpinn (the trained bundle) and
// OUTDIR/cases.json: a list of { name, args, code, message, ... } where `args` is the CLI's argv
// (absolute paths), `code` the exit code the package's convention asks for (2: the call was wrong;
// 1: a file's contents are wrong, or the run failed; 0: accepted), and `message` a regular
// expression source the stderr must match. Each case that writes has its own output folder,
// OUTDIR/out/<name>, which does not exist beforehand (except where the case needs it to).
//
// The files are made with the package's own writers (writeNpz, encodeNpy, writeZip,
// encodeSafetensors) and, for corruptions, raw edits of the bytes they wrote.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readManifest } from '../lib/bundle.js';
import type { NdArray } from '../lib/ndarray.js';
import { encodeNpy } from '../lib/npy.js';
import { readNpz, writeNpz } from '../lib/npz.js';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from '../lib/safetensors.js';
import { writeZip, ZipArchive, type ZipMember } from '../lib/zip.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist/lib/cli/bin.js');
const FIXTURE = join(ROOT, 'fixtures/run1084_sim.npz');

export interface BadCase {
  name: string;
  /** The CLI's argv (after `node dist/lib/cli/bin.js`). */
  args: string[];
  /** The exit code the convention asks for. */
  code: number;
  /** A regular expression source the stderr must match. */
  message: string;
  /** A regular expression source the stdout must match (accepted files). */
  stdout?: string;
  /** The case's output folder (every write of the run must stay inside it). */
  outputDir: string;
  /** Files (relative to outputDir) the run must leave, and must not leave. */
  present?: string[];
  absent?: string[];
  /** A case whose reconstruction (reconstruction.npz's object) and metrics.json numbers this one must equal. */
  sameAs?: string;
  /** Why the case cannot run as root (permissions do not apply there). */
  skipAsRoot?: string;
  /** What the case checks, for the reader. */
  what: string;
}

/** What the good files read as: inspect's numbers, so an accepted variant must give the same. */
export interface Facts {
  meanPhotons: string;
  xRange: string;
  yRange: string;
  patterns: number;
}

/** Patterns in the small datasets made from the fixture. */
export const PATTERNS = 16;

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The cases, as a function of the folder only (the test declares one test per name before the
 * files exist); `facts` fills the accepted cases' stdout expectations.
 */
export function badCases(dir: string, facts: Facts = { meanPhotons: '?', xRange: '?', yRange: '?', patterns: PATTERNS }): BadCase[] {
  const f = (name: string) => join(dir, 'files', name);
  const out = (name: string) => join(dir, 'out', name);
  const model = join(dir, 'model', 'model.ptpinn');
  const good = f('good.npz');
  const cases: BadCase[] = [];
  const add = (c: Omit<BadCase, 'outputDir'> & { outputDir?: string }) => cases.push({ outputDir: out(c.name), ...c });

  // ---- inspect: datasets whose contents break the contract (SPEC section 2) ----
  const inspect = (name: string, file: string, message: string, what: string, code = 1) =>
    add({ name, args: ['inspect', f(file)], code, message, what });
  const dataset = `${facts.patterns} patterns of 64 x 64; x ${esc(facts.xRange)}, y ${esc(facts.yRange)} \\(object pixels\\); mean photons per pattern ${esc(facts.meanPhotons)}`;
  const accepted = (name: string, file: string, what: string, extra = '') =>
    add({ name, args: ['inspect', f(file)], code: 0, message: '^(?![\\s\\S]*error)', stdout: `${extra}dataset: ${dataset}`, what });

  accepted('inspect-good', 'good.npz', 'control: the small valid dataset every bad file is made from');
  inspect('missing-diffraction', 'missing-diffraction.npz', "missing-diffraction\\.npz: no diffraction: expected a key 'diffraction' \\(or the legacy 'diff3d'\\)", 'no diffraction key');
  for (const key of ['probeGuess', 'xcoords', 'ycoords']) {
    inspect(`missing-${key}`, `missing-${key}.npz`, `missing-${key}\\.npz: ${key}: missing: a dataset needs diffraction, probeGuess, xcoords and ycoords`, `no ${key} key`);
  }
  inspect('real-probe', 'real-probe.npz', 'real-probe\\.npz: probeGuess: expected complex64 or complex128, found float32', 'a real (float32) probe');
  inspect('complex-diffraction', 'complex-diffraction.npz', 'complex-diffraction\\.npz: diffraction: expected real amplitudes \\(float32\\), found complex64', 'complex diffraction');
  inspect('object-dtype-diffraction', 'object-dtype-diffraction.npz', "member 'diffraction\\.npy' of .*object-dtype-diffraction\\.npz: unsupported dtype '\\|O' \\(object arrays\\)", "diffraction.npy of dtype '|O' (pickled objects)");
  inspect('unicode-xcoords', 'unicode-xcoords.npz', "member 'xcoords\\.npy' of .*unicode-xcoords\\.npz: unsupported dtype '<U5' \\(unicode string arrays\\)", "xcoords.npy of dtype '<U5'");
  inspect('bytes-probe', 'bytes-probe.npz', "member 'probeGuess\\.npy' of .*bytes-probe\\.npz: unsupported dtype '\\|S8' \\(byte string arrays\\)", "probeGuess.npy of dtype '|S8'");
  inspect('structured-diffraction', 'structured-diffraction.npz', "member 'diffraction\\.npy' of .*structured-diffraction\\.npz: unsupported dtype a structured dtype", 'diffraction.npy of a structured dtype');
  inspect('diffraction-rank-2', 'diffraction-rank-2.npz', 'diffraction-rank-2\\.npz: diffraction: expected shape \\(n, N, N\\) = \\(16, 64, 64\\), found \\(1024, 64\\)', 'diffraction of rank 2');
  inspect('diffraction-rank-4', 'diffraction-rank-4.npz', 'diffraction-rank-4\\.npz: diffraction: expected shape \\(n, N, N\\) = \\(16, 64, 64\\), found \\(16, 1, 64, 64\\)', 'diffraction of rank 4');
  inspect('probe-rank-3', 'probe-rank-3.npz', 'probe-rank-3\\.npz: probeGuess: expected a square \\(N, N\\) array, found shape \\(1, 64, 64\\)', 'probe of rank 3');
  inspect('probe-not-square', 'probe-not-square.npz', 'probe-not-square\\.npz: probeGuess: expected a square \\(N, N\\) array, found shape \\(64, 32\\)', 'a 64 x 32 probe');
  inspect('xcoords-rank-2', 'xcoords-rank-2.npz', 'xcoords-rank-2\\.npz: xcoords: expected a real 1-d array \\(n,\\), found float64 \\(16, 1\\)', 'xcoords of rank 2');
  inspect('complex-ycoords', 'complex-ycoords.npz', 'complex-ycoords\\.npz: ycoords: expected a real 1-d array \\(n,\\), found complex128 \\(16,\\)', 'complex ycoords');
  inspect('xcoords-ycoords-lengths', 'xcoords-ycoords-lengths.npz', 'xcoords-ycoords-lengths\\.npz: ycoords: expected 16 values to match xcoords, found 15', '16 xcoords, 15 ycoords');
  inspect('coords-patterns-lengths', 'coords-patterns-lengths.npz', 'coords-patterns-lengths\\.npz: diffraction: expected shape \\(n, N, N\\) = \\(15, 64, 64\\) to match 15 positions and the 64 x 64 probe, found \\(16, 64, 64\\)', '15 positions, 16 patterns');
  inspect('probe-diffraction-sizes', 'probe-diffraction-sizes.npz', 'probe-diffraction-sizes\\.npz: diffraction: expected shape \\(n, N, N\\) = \\(16, 128, 128\\) to match 16 positions and the 128 x 128 probe, found \\(16, 64, 64\\)', 'a 128 x 128 probe with 64 x 64 patterns');
  inspect('nan-diffraction', 'nan-diffraction.npz', 'nan-diffraction\\.npz: diffraction: expected finite, non-negative amplitudes, found NaN in pattern 3 \\(pixel 10, 20\\)', 'NaN in diffraction');
  inspect('inf-diffraction', 'inf-diffraction.npz', 'inf-diffraction\\.npz: diffraction: expected finite, non-negative amplitudes, found Infinity in pattern 15 \\(pixel 63, 63\\)', '+Inf in diffraction');
  inspect('negative-diffraction', 'negative-diffraction.npz', 'negative-diffraction\\.npz: diffraction: expected finite, non-negative amplitudes, found -0\\.5 in pattern 0 \\(pixel 32, 32\\)', 'a negative amplitude');
  inspect('nan-xcoords', 'nan-xcoords.npz', 'nan-xcoords\\.npz: xcoords: expected finite positions, found NaN at index 5', 'NaN in xcoords');
  inspect('inf-ycoords', 'inf-ycoords.npz', 'inf-ycoords\\.npz: ycoords: expected finite positions, found -Infinity at index 0', '-Inf in ycoords');
  inspect('nan-probe', 'nan-probe.npz', 'nan-probe\\.npz: probeGuess: expected finite values, found NaN at element 100', 'NaN in the probe');
  inspect('inf-probe', 'inf-probe.npz', 'inf-probe\\.npz: probeGuess: expected finite values, found Infinity at element 7', '+Inf in the probe (imaginary part)');
  inspect('nan-objectGuess', 'nan-objectGuess.npz', 'nan-objectGuess\\.npz: objectGuess: expected finite values, found NaN at element 0', 'NaN in objectGuess');
  inspect('n48', 'n48.npz', 'n48\\.npz: probeGuess: expected N in 64, 128, 256, found 48 x 48', 'an unsupported N = 48');
  inspect('n32', 'n32.npz', 'n32\\.npz: probeGuess: expected N in 64, 128, 256, found 32 x 32', 'an unsupported N = 32');
  inspect('empty-dataset', 'zero-length.npz', 'zero-length\\.npz: .*(no patterns|0 patterns|empty|at least one)', 'zero patterns: (0, 64, 64), (0,) coordinates');

  // ---- inspect: broken zips and npy members ----
  inspect('truncated-zip-half', 'truncated-zip-half.npz', 'truncated-zip-half\\.npz is not a complete zip file \\(expected an \\.npz archive of \\.npy arrays\\)', 'the good dataset cut at half its length');
  inspect('truncated-zip-head', 'truncated-zip-head.npz', 'truncated-zip-head\\.npz is not a complete zip file', 'the first 100 bytes of the good dataset');
  inspect('empty-file', 'empty-file.npz', 'empty-file\\.npz is not a complete zip file', 'a 0-byte file');
  inspect('not-a-zip', 'not-a-zip.npz', 'not-a-zip\\.npz is not a complete zip file', 'a text file named .npz');
  inspect('bad-crc', 'bad-crc.npz', "member 'diffraction\\.npy' of .*bad-crc\\.npz: corrupt member: CRC-32 0x[0-9a-f]{8} does not match the expected 0x[0-9a-f]{8}", 'one byte flipped inside the stored diffraction member');
  inspect('stored-size-lie', 'stored-size-lie.npz', 'stored-size-lie\\.npz: member "diffraction\\.npy" claims \\d+ bytes from \\d+ stored bytes in a \\d+-byte file: its header is corrupt', 'a stored member whose central directory claims 1 MiB more than it stores');
  inspect('zip64-huge-member', 'zip64-huge-member.npz', 'zip64-huge-member\\.npz: member "diffraction\\.npy" claims 1099511627776 bytes from \\d+ stored bytes in a \\d+-byte file: its header is corrupt', 'a deflated member claiming 1 TiB through a zip64 extra field');
  inspect('deflate-size-lie', 'deflate-size-lie.npz', 'deflate-size-lie\\.npz: member "xcoords\\.npy" claims 4294967040 bytes from \\d+ stored bytes in a \\d+-byte file: its header is corrupt', 'a deflated member claiming ~4 GiB, more than deflate can expand to');
  inspect('npy-shape-lie', 'npy-shape-lie.npz', "member 'diffraction\\.npy' of .*npy-shape-lie\\.npz: truncated \\.npy data: shape \\(32, 64, 64\\) of float32 needs 524288 bytes of data, found 262144", 'an npy header claiming 32 patterns over the data of 16');
  inspect('npy-bad-magic', 'npy-bad-magic.npz', "member 'probeGuess\\.npy' of .*npy-bad-magic\\.npz: not a \\.npy file: expected the magic string", "probeGuess.npy starting 'XNUMPY'");
  inspect('npy-header-length-past-end', 'npy-header-length-past-end.npz', "member 'xcoords\\.npy' of .*npy-header-length-past-end\\.npz: corrupt \\.npy header: header length 65535 runs past the end of the data", 'an npy header length of 65535 in a 256-byte member');
  inspect('npy-header-garbage', 'npy-header-garbage.npz', "member 'ycoords\\.npy' of .*npy-header-garbage\\.npz: corrupt \\.npy header", 'an npy header that is no Python dict');
  inspect('npy-version-9', 'npy-version-9.npz', "member 'ycoords\\.npy' of .*npy-version-9\\.npz: unsupported \\.npy format version 9\\.0", 'an npy of format version 9.0');
  inspect('npy-negative-shape', 'npy-negative-shape.npz', "member 'xcoords\\.npy' of .*npy-negative-shape\\.npz: corrupt \\.npy header: expected 'shape' to be a tuple of non-negative integers, found \\(-16,?\\)", 'an npy header with shape (-16,)');
  inspect('npy-huge-shape', 'npy-huge-shape.npz', "member 'diffraction\\.npy' of .*npy-huge-shape\\.npz: truncated \\.npy data", 'an npy header claiming shape (1048576, 1048576, 64): 2^46 floats, never allocated');

  // ---- inspect: accepted layouts (SPEC: either byte order, either memory order) ----
  accepted('big-endian', 'big-endian.npz', 'every array big-endian (>f4, >c8, >f8): accepted, same numbers');
  accepted('fortran-order', 'fortran-order.npz', 'diffraction, probe and objectGuess in Fortran order: accepted, same numbers');
  accepted('big-endian-fortran', 'big-endian-fortran.npz', 'diffraction big-endian and Fortran order at once: accepted, same numbers');
  accepted('legacy-layout', 'legacy-layout.npz', 'diffraction in the legacy (N, N, n) layout: accepted with a warning, same numbers',
    'warning: .*diffraction has the legacy \\(N, N, n\\) layout \\(64, 64, 16\\); transposed to \\(n, N, N\\)[\\s\\S]*');

  // ---- train: training data ----
  const trainArgs = (data: string, name: string, more: string[] = []) => ['train', '--train_data_file', data, '--output_dir', out(name),
    '--max_epochs', '1', '--n_images', '8', '--batch_size', '8', '--gridsize', '1', '--n_filters_scale', '1', '--disable_mlflow', '--threads', '1', ...more];
  const train = (name: string, data: string, code: number, message: string, what: string, more: string[] = []) =>
    add({ name, args: trainArgs(data, name, more), code, message, what });
  train('train-good', good, 0, '^(?![\\s\\S]*error)', 'control: train on the small valid dataset', []);
  cases.at(-1)!.present = ['model.ptpinn', 'history.json', 'train.log'];
  train('train-missing-diffraction', f('missing-diffraction.npz'), 1, "missing-diffraction\\.npz: no diffraction: expected a key 'diffraction'", 'train on a file without diffraction');
  train('train-nan-diffraction', f('nan-diffraction.npz'), 1, 'nan-diffraction\\.npz: diffraction: expected finite, non-negative amplitudes, found NaN', 'train on NaN diffraction');
  train('train-all-zero', f('dark.npz'), 1, 'dark\\.npz: diffraction: .*(zero|no signal|no photons|no light)', 'every diffraction value 0: no signal to train on (the intensity scale would divide by zero)');
  train('train-zero-probe', f('blank-probe.npz'), 1, 'blank-probe\\.npz: probeGuess: .*(zero|no intensity|no light)', 'a probe of zeros: nothing illuminates the object');
  train('train-n48', f('n48.npz'), 1, 'n48\\.npz: probeGuess: expected N in 64, 128, 256, found 48 x 48', 'train at N = 48');
  train('train-validation-n128', good, 1, 'n128\\.npz: .*128.*64|n128\\.npz: .*64.*128', 'a validation set of N = 128 for a training set of N = 64', ['--test_data_file', f('n128.npz')]);
  train('train-data-is-folder', f('a-folder.npz'), 2, 'a-folder\\.npz.* is a folder', 'a folder given as --train_data_file (a value the flag cannot take)');
  train('train-data-missing-file', f('no-such-file.npz'), 2, 'no-such-file\\.npz.* (does not exist|no such file)', 'a --train_data_file that does not exist (as --model_path: a usage error)');
  train('train-data-empty-name', '', 2, '--train_data_file is empty', "--train_data_file ''");
  train('train-empty-dataset', f('zero-length.npz'), 1, 'zero-length\\.npz: .*(no patterns|0 patterns|empty|at least one)', 'train on zero patterns');
  train('train-validation-nan-probe', good, 1, 'nan-probe\\.npz: probeGuess: expected finite values, found NaN at element 100', 'a validation set with a NaN in its probe', ['--test_data_file', f('nan-probe.npz')]);
  add({ name: 'train-resume-truncated', args: ['train', '--resume', f('bundle-truncated.ptpinn'), '--output_dir', out('train-resume-truncated'), '--disable_mlflow'], code: 1,
    message: 'bundle-truncated\\.ptpinn: not a model bundle: .*is not a complete zip file', what: '--resume of a truncated bundle' });
  train('train-data-text', f('not-a-zip.npz'), 1, 'not-a-zip\\.npz is not a complete zip file', 'train on a text file');

  // ---- train: impossible flags and output folders (usage errors, exit 2) ----
  const flag = (name: string, more: string[], message: string, what: string) => {
    const args = trainArgs(good, name);
    for (let i = 0; i < more.length; i += 2) {
      const at = args.indexOf(more[i]);
      if (at >= 0) args.splice(at, 2, more[i], more[i + 1]);
      else args.push(more[i], more[i + 1]);
    }
    add({ name, args, code: 2, message, what });
  };
  flag('batch-size-0', ['--batch_size', '0'], "--batch_size must be an integer from 1 to 1048576, got '0'", '--batch_size 0');
  flag('threads-100000', ['--threads', '100000'], "--threads must be an integer from 1 to 1024, got '100000'", '--threads 100000');
  flag('gridsize-9', ['--gridsize', '9'], "--gridsize must be an integer from 1 to 4, got '9'", '--gridsize 9');
  flag('learning-rate-negative', ['--learning_rate', '-1'], "--learning_rate must be a positive finite number, got '-1'", '--learning_rate -1');
  flag('n-images-abc', ['--n_images', 'abc'], "--n_images must be an integer from 1 to 2147483647, got 'abc'", '--n_images abc');
  flag('max-epochs-1.5', ['--max_epochs', '1.5'], "--max_epochs must be an integer from 1 to 1000000, got '1\\.5'", '--max_epochs 1.5');
  flag('n-filters-scale-0', ['--n_filters_scale', '0'], "--n_filters_scale must be an integer from 1 to 8, got '0'", '--n_filters_scale 0');
  flag('learning-rate-nan', ['--learning_rate', 'NaN'], "--learning_rate must be a positive finite number, got 'NaN'", '--learning_rate NaN');
  flag('output-dir-is-file', ['--output_dir', f('good.npz')], '--output_dir .*good\\.npz is a file, expected a folder', 'an output folder that is a file');
  cases.at(-1)!.outputDir = out('output-dir-is-file');
  flag('output-dir-proc', ['--output_dir', '/proc/ptychopinn-bad-inputs/out'], '--output_dir /proc/ptychopinn-bad-inputs/out lies on a kernel pseudo file system', 'an output folder under /proc');
  cases.at(-1)!.outputDir = out('output-dir-proc');
  flag('output-dir-sys', ['--output_dir', '/sys/ptychopinn-bad-inputs'], '--output_dir /sys/ptychopinn-bad-inputs lies on a kernel pseudo file system', 'an output folder under /sys');
  cases.at(-1)!.outputDir = out('output-dir-sys');
  flag('output-dir-unwritable', ['--output_dir', join(out('output-dir-unwritable'), 'run')], '--output_dir .*output-dir-unwritable/run cannot be written: EACCES',
    'an output folder inside a folder of mode 0o500');
  cases.at(-1)!.skipAsRoot = 'running as root: permissions do not apply to root, so a 0o500 folder is writable and the case cannot be made (and no read-only location is available)';
  flag('output-dir-empty', ['--output_dir', ''], '--output_dir is empty: name the folder for the outputs', "--output_dir ''");
  flag('output-dir-under-file', ['--output_dir', join(f('good.npz'), 'run')], '--output_dir .*good\\.npz/run cannot be written: ENOTDIR|--output_dir .*good\\.npz/run.*(not a folder|is a file)', 'an output folder below a file');
  cases.at(-1)!.outputDir = out('output-dir-under-file');
  flag('unknown-flag', ['--max_epoch', '3'], "unknown option '--max_epoch'[\\s\\S]*Did you mean --max_epochs\\?", 'a misspelt flag');
  add({ name: 'train-no-output-dir', args: ['train', '--train_data_file', good], code: 2, message: "required option '--output_dir <dir>' not specified", what: 'train without --output_dir' });

  // ---- infer: model bundles ----
  const infer = (name: string, bundle: string, data: string, code: number, message: string, what: string, more: string[] = []) =>
    add({ name, args: ['infer', '--model_path', bundle, '--test_data', data, '--output_dir', out(name), '--threads', '1', ...more], code, message, what });
  const bad = (name: string, message: string, what: string) => infer(`bundle-${name}`, f(`bundle-${name}.ptpinn`), good, 1, `bundle-${esc(name)}\\.ptpinn: (.*: )?${message}`, what);
  infer('infer-good', model, good, 0, '^(?![\\s\\S]*error)', 'control: infer with the trained bundle on the small valid dataset');
  cases.at(-1)!.present = ['reconstruction.npz', 'reconstructed_amplitude.png', 'reconstructed_phase.png', 'metrics.json', 'infer.log'];
  // accepted layouts decode to the same numbers: the same reconstruction, the same metrics
  for (const [file, what] of [['big-endian', 'every array big-endian'], ['fortran-order', 'diffraction, probe and objectGuess in Fortran order'],
    ['big-endian-fortran', 'diffraction big-endian and in Fortran order'], ['legacy-layout', 'diffraction in the legacy (N, N, n) layout']]) {
    infer(`infer-${file}`, model, f(`${file}.npz`), 0, '^(?![\\s\\S]*error)', `${what}: the reconstruction and metrics of the plain file`);
    Object.assign(cases.at(-1)!, { present: ['reconstruction.npz', 'metrics.json'], sameAs: 'infer-good' });
  }
  bad('no-manifest', 'not a ptychopinn model bundle: no manifest\\.json \\(the zip holds weights\\.safetensors, probe\\.npy\\)', 'a zip of weights and probe without manifest.json');
  bad('manifest-not-json', 'manifest\\.json is damaged: .*JSON', 'manifest.json holding text that is not JSON');
  bad('manifest-array', 'manifest\\.json must hold a JSON object, found an array', 'manifest.json holding a JSON array');
  bad('manifest-no-entries', 'manifest\\.json: entries: ', 'manifest.json without entries');
  bad('manifest-no-config', 'manifest\\.json: config: ', 'manifest.json without config');
  bad('manifest-gridsize-x', 'manifest\\.json holds an invalid configuration: config\\.model\\.gridsize must be an integer from 1 to 4, got "x"', "config.model.gridsize 'x'");
  bad('manifest-epochloss-string', 'manifest\\.json: history\\.epochLoss: ', "history.epochLoss a string");
  bad('manifest-intensityscale-string', 'manifest\\.json: intensityScale: ', 'intensityScale a string');
  bad('manifest-format', 'not a ptychopinn model bundle: manifest\\.json says format "something-else", expected "ptychopinn-model"', 'manifest.json of another format');
  bad('newer-format', 'written by a newer ptychopinn \\(9\\.9\\.9\\) in bundle format 2; this ptychopinn .* reads format 1 at most: upgrade ptychopinn to load it', 'formatVersion 2');
  bad('dotdot-entry', '(member "\\.\\./x" has a path outside the archive|invalid relative path: \\.\\./x)', 'a zip member named ../x');
  bad('duplicate-entry', 'the zip holds two members named "weights\\.safetensors"', 'weights.safetensors twice');
  bad('unlisted-entry', 'the zip holds "extra\\.bin", which manifest\\.json does not list', 'a member the manifest does not list');
  bad('missing-probe', 'incomplete bundle: probe\\.npy is missing from the zip', 'probe.npy listed in the manifest, absent from the zip');
  bad('sha-mismatch', 'weights\\.safetensors is corrupt: its SHA-256 [0-9a-f]{16}… \\(\\d+ bytes\\) does not match the manifest\'s', 'one weight byte changed, the manifest not updated');
  bad('truncated', 'not a model bundle: .*is not a complete zip file', 'the bundle cut at half its length');
  bad('safetensors-offsets-past-end', "weights\\.safetensors: tensor '[^']+': data_offsets \\[\\d+, \\d+\\] do not hold \\d+ float32 values within the \\d+ data bytes", 'safetensors data cut short: the last tensor\'s offsets run past the end (SHA-256 updated)');
  bad('safetensors-header-length', 'weights\\.safetensors: header length 1099511627776 does not fit in the file\'s \\d+ bytes', 'a safetensors header length of 1 TiB (SHA-256 updated)');
  bad('safetensors-empty', 'weights\\.safetensors: expected at least 8 bytes \\(the header length\\), found 0', 'an empty weights.safetensors (SHA-256 updated)');
  bad('safetensors-no-tensors', 'weights\\.safetensors holds no tensors', 'a weights.safetensors with a header and no tensors (SHA-256 updated)');
  bad('safetensors-bad-json', 'weights\\.safetensors: the header is not valid JSON', 'a safetensors header that is not JSON (SHA-256 updated)');
  bad('weights-wrong-shape', "weights\\.safetensors cannot be loaded into the network its manifest describes: .*encoder\\.blocks\\.0\\.conv1\\.weight", 'encoder.blocks.0.conv1.weight with its dimensions swapped (SHA-256 updated)');
  bad('weights-missing-tensor', "weights\\.safetensors cannot be loaded into the network its manifest describes: .*decoder_amp", 'the last tensor dropped (SHA-256 updated)');
  bad('nan-weights', "weights\\.safetensors.* holds a non-finite value \\(NaN\\) at element 5", 'a NaN weight, SHA-256 updated consistently');
  bad('nan-probe', 'probe\\.npy holds a non-finite value \\(NaN\\) at element 0', 'a NaN in the bundle\'s probe, SHA-256 updated');
  bad('probe-wrong-shape', 'probe\\.npy: expected complex64 \\(64, 64\\), found complex64 \\(32, 32\\)', 'a 32 x 32 probe in a bundle of N = 64 (SHA-256 updated)');
  // inspect verifies a bundle without LibTorch: it must refuse what loading refuses
  add({ name: 'inspect-bundle-good', args: ['inspect', model], code: 0, message: '^(?![\\s\\S]*error)', stdout: 'ptychopinn model bundle, format 1[\\s\\S]*585,244 parameters[\\s\\S]*\\(verified\\)', what: 'control: inspect of the trained bundle' });
  add({ name: 'inspect-bundle-nan-weights', args: ['inspect', f('bundle-nan-weights.ptpinn')], code: 1, message: 'bundle-nan-weights\\.ptpinn: weights\\.safetensors: encoder\\.blocks\\.0\\.conv1\\.weight holds a non-finite value \\(NaN\\) at element 5', what: 'inspect of a bundle with a NaN weight (SHA-256 updated)' });
  add({ name: 'inspect-bundle-nan-probe', args: ['inspect', f('bundle-nan-probe.ptpinn')], code: 1, message: 'bundle-nan-probe\\.ptpinn: probe\\.npy holds a non-finite value \\(NaN\\) at element 0', what: 'inspect of a bundle with a NaN in its probe (SHA-256 updated): infer refuses it, inspect must not call it verified' });
  // inspect needs no LibTorch and so knows no parameter shapes: it checks hashes, the value count
  // and finiteness; the shapes are checked when a model is built from the bundle (the infer case above)
  add({ name: 'inspect-bundle-weights-wrong-shape', args: ['inspect', f('bundle-weights-wrong-shape.ptpinn')], code: 0, message: '^$', stdout: 'weights\\.safetensors: .* \\(verified\\)', what: 'inspect of a bundle whose weight has swapped dimensions (same count, SHA-256 updated): the count and hashes hold; infer refuses it' });
  add({ name: 'inspect-bundle-newer-format', args: ['inspect', f('bundle-newer-format.ptpinn')], code: 1, message: 'bundle-newer-format\\.ptpinn: written by a newer ptychopinn \\(9\\.9\\.9\\) in bundle format 2', what: 'inspect of a bundle of format 2' });
  infer('bundle-is-dataset', good, good, 1, 'good\\.npz: not a ptychopinn model bundle: no manifest\\.json', 'a dataset given as --model_path');
  infer('bundle-folder-without-model', f('a-folder.npz'), good, 2, '--model_path .*a-folder\\.npz is a folder without model\\.ptpinn', 'a folder without model.ptpinn as --model_path');

  // ---- infer: test data ----
  infer('infer-far-xcoord', model, f('far-xcoord.npz'), 1, 'far-xcoord\\.npz: xcoords: .*(10000000|1e\\+?7)', 'one xcoord at 1e7 object pixels: refused naming the file and key, nothing allocated');
  infer('infer-far-ycoord', model, f('far-ycoord.npz'), 1, 'far-ycoord\\.npz: ycoords: .*(10000000|1e\\+?7)', 'one ycoord at -1e7 object pixels');
  infer('infer-nan-xcoords', model, f('nan-xcoords.npz'), 1, 'nan-xcoords\\.npz: xcoords: expected finite positions, found NaN at index 5', 'NaN coordinates in the test data');
  infer('infer-n128', model, f('n128.npz'), 1, 'n128\\.npz: .*128.*64|n128\\.npz: .*64.*128', 'a test set of N = 128 for a model of N = 64');
  infer('infer-no-objectguess', model, f('no-objectGuess.npz'), 0, '^(?![\\s\\S]*error)', 'test data without objectGuess: a reconstruction and no metrics.json');
  cases.at(-1)!.present = ['reconstruction.npz', 'reconstructed_amplitude.png', 'reconstructed_phase.png', 'infer.log'];
  cases.at(-1)!.absent = ['metrics.json'];
  infer('infer-all-zero', model, f('dark.npz'), 1, 'dark\\.npz: diffraction: .*(zero|no signal|no photons|no light)', 'test data of all-zero diffraction');
  infer('infer-empty-dataset', model, f('zero-length.npz'), 1, 'zero-length\\.npz: .*(no patterns|0 patterns|empty|at least one)', 'infer on zero patterns');
  infer('infer-model-path-empty', '', good, 2, '--model_path (is empty|.*does not exist)', "--model_path ''");
  infer('infer-test-data-empty-name', model, '', 2, '--test_data is empty', "--test_data ''");
  infer('infer-test-data-folder', model, f('a-folder.npz'), 2, 'a-folder\\.npz.* is a folder', 'a folder given as --test_data');
  infer('infer-batch-size-0', model, good, 2, "--inference_batch_size must be an integer from 1 to 65536, got '0'", '--inference_batch_size 0', ['--inference_batch_size', '0']);
  infer('infer-n-images-0', model, good, 2, "--n_images must be an integer from 1 to 2147483647, got '0'", '--n_images 0', ['--n_images', '0']);
  infer('infer-output-dir-empty', model, good, 2, '--output_dir is empty', "infer --output_dir ''");
  cases.at(-1)!.args.splice(cases.at(-1)!.args.indexOf('--output_dir') + 1, 1, '');
  add({ name: 'infer-no-test-data', args: ['infer', '--model_path', model, '--output_dir', out('infer-no-test-data')], code: 2, message: "required option '--test_data <file>' not specified", what: 'infer without --test_data' });
  add({ name: 'inspect-missing-file', args: ['inspect', f('no-such-file.npz')], code: 2, message: 'no-such-file\\.npz.* (does not exist|no such file)', what: 'inspect of a file that does not exist (a value the argument cannot take, as for --model_path)' });
  add({ name: 'inspect-folder', args: ['inspect', f('a-folder.npz')], code: 2, message: 'a-folder\\.npz.* is a folder', what: 'inspect of a folder (a value the argument cannot take, as for --model_path)' });
  add({ name: 'inspect-no-file', args: ['inspect'], code: 2, message: "missing required argument 'file'", what: 'inspect without its argument' });
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Making the files

type Arrays = Record<string, NdArray>;

const copy = (a: NdArray): NdArray => ({ dtype: a.dtype, shape: [...a.shape], data: a.data.slice() } as NdArray);
const f32 = (shape: number[], data: Float32Array): NdArray => ({ dtype: 'float32', shape, data });
const f64 = (shape: number[], data: Float64Array): NdArray => ({ dtype: 'float64', shape, data });
const c64 = (shape: number[], data: Float32Array): NdArray => ({ dtype: 'complex64', shape, data });
const c128 = (shape: number[], data: Float64Array): NdArray => ({ dtype: 'complex128', shape, data });
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The npy bytes with its header dict replaced (padded to the same length, so the data stays put). */
function withHeader(npy: Uint8Array, edit: (dict: string) => string): Buffer {
  const b = Buffer.from(npy);
  const length = b.readUInt16LE(8);
  const dict = b.subarray(10, 10 + length).toString('latin1').trimEnd();
  const next = edit(dict);
  if (next.length + 1 > length) throw new Error(`header ${next} does not fit in ${length} bytes`);
  b.write(`${next.padEnd(length - 1, ' ')}\n`, 10, 'latin1');
  return b;
}

/** The npy's data bytes, swapped to big-endian for lanes of `width` bytes. */
function bigEndian(npy: Uint8Array, width: 2 | 4 | 8): Buffer {
  const b = withHeader(npy, (d) => d.replace(/'descr': '<(\w+)'/, "'descr': '>$1'"));
  const length = 10 + b.readUInt16LE(8);
  const body = b.subarray(length);
  if (width === 4) body.swap32();
  else if (width === 8) body.swap64();
  else body.swap16();
  return b;
}

/** An array's values in Fortran order, and its npy saying so. */
function fortranNpy(a: NdArray): Buffer {
  const lanes = a.dtype === 'complex64' || a.dtype === 'complex128' ? 2 : 1;
  const shape = a.shape;
  const src = a.data as Float32Array;
  const dst = new (src.constructor as Float32ArrayConstructor)(src.length);
  const total = src.length / lanes;
  const cStride = new Array<number>(shape.length);
  for (let k = shape.length - 1, s = 1; k >= 0; k--) { cStride[k] = s; s *= shape[k]; }
  const idx = new Array<number>(shape.length).fill(0);
  for (let fi = 0; fi < total; fi++) {
    // fi walks Fortran order: the first index fastest
    let ci = 0;
    for (let k = 0; k < shape.length; k++) ci += idx[k] * cStride[k];
    for (let l = 0; l < lanes; l++) dst[fi * lanes + l] = src[ci * lanes + l];
    for (let k = 0; k < shape.length; k++) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
  }
  return withHeader(encodeNpy({ ...a, data: dst } as NdArray), (d) => d.replace("'fortran_order': False", "'fortran_order': True"));
}

/** Writes an npz from raw npy members (for members no NdArray can express). */
async function writeRawNpz(path: string, members: Record<string, Uint8Array>, compress = false): Promise<void> {
  await writeZip(path, Object.entries(members).map(([key, bytes]): ZipMember => ({ name: `${key}.npy`, parts: [bytes], compress })));
}

const npyMembers = (arrays: Arrays): Record<string, Uint8Array> => Object.fromEntries(Object.entries(arrays).map(([k, a]) => [k, encodeNpy(a)]));

// Zip structures (APPNOTE.TXT): the end of central directory record and the central directory.
interface CentralEntry { at: number; name: string; method: number; compressedSize: number; size: number; nameLength: number; extraLength: number; commentLength: number; localOffset: number }
function centralDirectory(zip: Buffer): { eocd: number; cdOffset: number; cdSize: number; entries: CentralEntry[] } {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('no end of central directory');
  const count = zip.readUInt16LE(eocd + 10);
  const cdSize = zip.readUInt32LE(eocd + 12);
  const cdOffset = zip.readUInt32LE(eocd + 16);
  const entries: CentralEntry[] = [];
  for (let at = cdOffset, i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`no central directory entry at ${at}`);
    const e: CentralEntry = {
      at, method: zip.readUInt16LE(at + 10), compressedSize: zip.readUInt32LE(at + 20), size: zip.readUInt32LE(at + 24),
      nameLength: zip.readUInt16LE(at + 28), extraLength: zip.readUInt16LE(at + 30), commentLength: zip.readUInt16LE(at + 32),
      localOffset: zip.readUInt32LE(at + 42), name: '',
    };
    e.name = zip.subarray(at + 46, at + 46 + e.nameLength).toString('utf8');
    entries.push(e);
    at += 46 + e.nameLength + e.extraLength + e.commentLength;
  }
  return { eocd, cdOffset, cdSize, entries };
}
function entryOf(zip: Buffer, name: string): CentralEntry {
  const e = centralDirectory(zip).entries.find((x) => x.name === name);
  if (!e) throw new Error(`no member ${name}`);
  return e;
}
/** Where a member's data starts (after its local header). */
function dataOffset(zip: Buffer, e: CentralEntry): number {
  return e.localOffset + 30 + zip.readUInt16LE(e.localOffset + 26) + zip.readUInt16LE(e.localOffset + 28);
}

async function readMembers(path: string): Promise<Map<string, Uint8Array>> {
  const zip = await ZipArchive.open(path, 'a bundle');
  try {
    const out = new Map<string, Uint8Array>();
    for (const [name, entry] of zip.entries) out.set(name, await zip.read(entry, name));
    return out;
  } finally {
    zip.close();
  }
}

/** Runs the generator: the files, the model, and cases.json. */
export async function makeBadInputs(dir: string): Promise<BadCase[]> {
  dir = resolve(dir);
  const files = join(dir, 'files');
  rmSync(files, { recursive: true, force: true });
  rmSync(join(dir, 'out'), { recursive: true, force: true });
  mkdirSync(files, { recursive: true });
  mkdirSync(join(dir, 'out'), { recursive: true });
  const f = (name: string) => join(files, name);

  // the tiny model, trained through the CLI
  const modelDir = join(dir, 'model');
  rmSync(modelDir, { recursive: true, force: true });
  execFileSync(process.execPath, [CLI, 'train', '--train_data_file', FIXTURE, '--output_dir', modelDir, '--max_epochs', '1', '--n_images', '16',
    '--batch_size', '8', '--gridsize', '1', '--n_filters_scale', '1', '--disable_mlflow', '--threads', '2', '--quiet'],
  { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, MLFLOW_TRACKING_URI: '' }, timeout: 120_000 });
  const model = join(modelDir, 'model.ptpinn');
  await readManifest(model); // a bundle this package reads

  // the small valid dataset: the fixture's first PATTERNS patterns
  const fx = await readNpz(FIXTURE);
  const n = PATTERNS;
  const N = fx.probeGuess.shape[0];
  const base: Arrays = {
    diffraction: f32([n, N, N], (fx.diffraction.data as Float32Array).slice(0, n * N * N)),
    probeGuess: c64([N, N], (fx.probeGuess.data as Float32Array).slice()),
    xcoords: f64([n], (fx.xcoords.data as Float64Array).slice(0, n)),
    ycoords: f64([n], (fx.ycoords.data as Float64Array).slice(0, n)),
    objectGuess: c64([...fx.objectGuess.shape], (fx.objectGuess.data as Float32Array).slice()),
  };
  const variant = (edit: (a: Arrays) => void): Arrays => {
    const a: Arrays = Object.fromEntries(Object.entries(base).map(([k, v]) => [k, copy(v)]));
    edit(a);
    return a;
  };
  const npz = (name: string, arrays: Arrays, compress = false) => writeNpz(f(name), arrays, { compress });
  const without = (key: string) => variant((a) => { delete a[key]; });
  const set = (key: string, index: number, value: number) => variant((a) => { (a[key].data as Float32Array)[index] = value; });

  await npz('good.npz', base);
  const goodBytes = readFileSync(f('good.npz'));
  let total = 0;
  for (const v of base.diffraction.data as Float32Array) total += v * v;
  const range = (a: Float64Array) => `${a.reduce((m, v) => Math.min(m, v), Infinity).toFixed(1)} to ${a.reduce((m, v) => Math.max(m, v), -Infinity).toFixed(1)}`;
  const facts: Facts = { meanPhotons: (total / n).toPrecision(4), xRange: range(base.xcoords.data as Float64Array), yRange: range(base.ycoords.data as Float64Array), patterns: n };

  for (const key of ['diffraction', 'probeGuess', 'xcoords', 'ycoords']) await npz(`missing-${key}.npz`, without(key));
  await npz('no-objectGuess.npz', without('objectGuess'));
  await npz('real-probe.npz', variant((a) => {
    const p = a.probeGuess.data as Float32Array;
    a.probeGuess = f32([N, N], Float32Array.from({ length: N * N }, (_, i) => Math.hypot(p[2 * i], p[2 * i + 1])));
  }));
  await npz('complex-diffraction.npz', variant((a) => {
    const d = a.diffraction.data as Float32Array;
    const c = new Float32Array(2 * d.length);
    for (let i = 0; i < d.length; i++) c[2 * i] = d[i];
    a.diffraction = c64([n, N, N], c);
  }));
  // dtypes no NdArray holds: a header edit of a same-sized array ('|O' pickles 8-byte pointers)
  {
    const m = npyMembers(base);
    m.diffraction = withHeader(encodeNpy(f64([n, N, N], new Float64Array(n * N * N))), (d) => d.replace("'<f8'", "'|O'"));
    await writeRawNpz(f('object-dtype-diffraction.npz'), m);
  }
  {
    const m = npyMembers(base);
    // 16 strings of 5 UCS-4 characters: 20 bytes each
    const text = Buffer.alloc(n * 20);
    for (let i = 0; i < n; i++) for (let j = 0; j < 5; j++) text.writeUInt32LE('12345'.charCodeAt(j), i * 20 + j * 4);
    const header = withHeader(encodeNpy({ dtype: 'uint8', shape: [n * 20], data: new Uint8Array(n * 20) }), (d) => d.replace("'|u1'", "'<U5'").replace(`(${n * 20},)`, `(${n},)`));
    m.xcoords = Buffer.concat([header.subarray(0, header.length - n * 20), text]);
    await writeRawNpz(f('unicode-xcoords.npz'), m);
  }
  {
    const m = npyMembers(base);
    m.probeGuess = withHeader(encodeNpy(base.probeGuess), (d) => d.replace("'<c8'", "'|S8'"));
    await writeRawNpz(f('bytes-probe.npz'), m);
  }
  {
    const m = npyMembers(base);
    m.diffraction = withHeader(m.diffraction, (d) => d.replace("'<f4'", "[('a', '<f2'), ('b', '<f2')]"));
    await writeRawNpz(f('structured-diffraction.npz'), m);
  }
  await npz('diffraction-rank-2.npz', variant((a) => { a.diffraction.shape = [n * N, N]; }));
  await npz('diffraction-rank-4.npz', variant((a) => { a.diffraction.shape = [n, 1, N, N]; }));
  await npz('probe-rank-3.npz', variant((a) => { a.probeGuess.shape = [1, N, N]; }));
  await npz('probe-not-square.npz', variant((a) => { a.probeGuess = c64([N, N / 2], (a.probeGuess.data as Float32Array).slice(0, N * N)); }));
  await npz('xcoords-rank-2.npz', variant((a) => { a.xcoords.shape = [n, 1]; }));
  await npz('complex-ycoords.npz', variant((a) => {
    const y = a.ycoords.data as Float64Array;
    a.ycoords = c128([n], Float64Array.from({ length: 2 * n }, (_, i) => (i % 2 ? 0 : y[i / 2])));
  }));
  await npz('xcoords-ycoords-lengths.npz', variant((a) => { a.ycoords = f64([n - 1], (a.ycoords.data as Float64Array).slice(0, n - 1)); }));
  await npz('coords-patterns-lengths.npz', variant((a) => {
    a.xcoords = f64([n - 1], (a.xcoords.data as Float64Array).slice(0, n - 1));
    a.ycoords = f64([n - 1], (a.ycoords.data as Float64Array).slice(0, n - 1));
  }));

  // N = 128: the 64 x 64 patterns and probe padded with zeros (centred)
  const pad = (src: Float32Array, count: number, lanes: number, M: number) => {
    const dst = new Float32Array(count * M * M * lanes);
    const o = (M - N) / 2;
    for (let k = 0; k < count; k++) for (let i = 0; i < N; i++) {
      dst.set(src.subarray(((k * N + i) * N) * lanes, ((k * N + i) * N + N) * lanes), ((k * M + i + o) * M + o) * lanes);
    }
    return dst;
  };
  const n128 = variant((a) => {
    a.diffraction = f32([n, 128, 128], pad(a.diffraction.data as Float32Array, n, 1, 128));
    a.probeGuess = c64([128, 128], pad(a.probeGuess.data as Float32Array, 1, 2, 128));
  });
  await npz('n128.npz', n128);
  await npz('probe-diffraction-sizes.npz', variant((a) => { a.probeGuess = n128.probeGuess; }));
  await npz('nan-diffraction.npz', set('diffraction', (3 * N + 10) * N + 20, NaN));
  await npz('inf-diffraction.npz', set('diffraction', n * N * N - 1, Infinity));
  await npz('negative-diffraction.npz', set('diffraction', 32 * N + 32, -0.5));
  await npz('nan-xcoords.npz', set('xcoords', 5, NaN));
  await npz('inf-ycoords.npz', set('ycoords', 0, -Infinity));
  await npz('nan-probe.npz', set('probeGuess', 200, NaN));
  await npz('inf-probe.npz', set('probeGuess', 15, Infinity));
  await npz('nan-objectGuess.npz', set('objectGuess', 1, NaN));
  await npz('far-xcoord.npz', set('xcoords', 7, 1e7));
  await npz('far-ycoord.npz', set('ycoords', 2, -1e7));
  await npz('dark.npz', variant((a) => { (a.diffraction.data as Float32Array).fill(0); }));
  await npz('blank-probe.npz', variant((a) => { (a.probeGuess.data as Float32Array).fill(0); }));
  for (const M of [48, 32]) {
    await npz(`n${M}.npz`, variant((a) => {
      const o = (N - M) / 2;
      const d = new Float32Array(n * M * M);
      const p = new Float32Array(2 * M * M);
      const sd = a.diffraction.data as Float32Array;
      const sp = a.probeGuess.data as Float32Array;
      for (let k = 0; k < n; k++) for (let i = 0; i < M; i++) d.set(sd.subarray((k * N + i + o) * N + o, (k * N + i + o) * N + o + M), (k * M + i) * M);
      for (let i = 0; i < M; i++) p.set(sp.subarray(2 * ((i + o) * N + o), 2 * ((i + o) * N + o + M)), 2 * i * M);
      a.diffraction = f32([n, M, M], d);
      a.probeGuess = c64([M, M], p);
    }));
  }
  await npz('zero-length.npz', variant((a) => {
    a.diffraction = f32([0, N, N], new Float32Array(0));
    a.xcoords = f64([0], new Float64Array(0));
    a.ycoords = f64([0], new Float64Array(0));
  }));

  // broken zips
  writeFileSync(f('truncated-zip-half.npz'), goodBytes.subarray(0, goodBytes.length >> 1));
  writeFileSync(f('truncated-zip-head.npz'), goodBytes.subarray(0, 100));
  writeFileSync(f('empty-file.npz'), '');
  writeFileSync(f('not-a-zip.npz'), 'diffraction,probeGuess,xcoords,ycoords\n1,2,3,4\n');
  {
    const b = Buffer.from(goodBytes);
    const e = entryOf(b, 'diffraction.npy');
    b[dataOffset(b, e) + 128 + 4 * (5 * N * N + 100)] ^= 0x01; // inside the data, not the npy header
    writeFileSync(f('bad-crc.npz'), b);
  }
  {
    const b = Buffer.from(goodBytes);
    const e = entryOf(b, 'diffraction.npy');
    b.writeUInt32LE(e.size + (1 << 20), e.at + 24);
    writeFileSync(f('stored-size-lie.npz'), b);
  }
  {
    // the central directory entry's uncompressed size becomes 0xffffffff plus a zip64 extra field of 2^40
    // (in a deflated member: a stored one is refused by yauzl's own size check first, see stored-size-lie)
    await npz('deflated.npz', base, true);
    const b = readFileSync(f('deflated.npz'));
    const { eocd, cdSize } = centralDirectory(b);
    const e = entryOf(b, 'diffraction.npy');
    const extra = Buffer.alloc(12);
    extra.writeUInt16LE(0x0001, 0);
    extra.writeUInt16LE(8, 2);
    extra.writeBigUInt64LE(2n ** 40n, 4);
    const insertAt = e.at + 46 + e.nameLength + e.extraLength;
    const zip = Buffer.concat([b.subarray(0, insertAt), extra, b.subarray(insertAt)]);
    zip.writeUInt32LE(0xffffffff, e.at + 24);
    zip.writeUInt16LE(e.extraLength + 12, e.at + 30);
    zip.writeUInt32LE(cdSize + 12, eocd + 12 + 12);
    writeFileSync(f('zip64-huge-member.npz'), zip);
  }
  {
    const b = readFileSync(f('deflated.npz'));
    const e = entryOf(b, 'xcoords.npy');
    b.writeUInt32LE(0xffffff00, e.at + 24);
    writeFileSync(f('deflate-size-lie.npz'), b);
    rmSync(f('deflated.npz'));
  }
  {
    const m = npyMembers(base);
    m.diffraction = withHeader(m.diffraction, (d) => d.replace(`(${n}, ${N}, ${N})`, `(${2 * n}, ${N}, ${N})`));
    await writeRawNpz(f('npy-shape-lie.npz'), m);
  }
  {
    const m = npyMembers(base);
    m.probeGuess = Buffer.from(m.probeGuess);
    m.probeGuess[0] = 'X'.charCodeAt(0);
    await writeRawNpz(f('npy-bad-magic.npz'), m);
  }
  {
    const m = npyMembers(base);
    const x = Buffer.from(m.xcoords);
    x.writeUInt16LE(0xffff, 8);
    m.xcoords = x;
    await writeRawNpz(f('npy-header-length-past-end.npz'), m);
  }
  {
    const m = npyMembers(base);
    m.ycoords = withHeader(m.ycoords, () => "{'descr': '<f8', 'fortran_order': False, 'shape': (16,) ]]");
    await writeRawNpz(f('npy-header-garbage.npz'), m);
  }
  {
    const m = npyMembers(base);
    const y = Buffer.from(m.ycoords);
    y[6] = 9;
    m.ycoords = y;
    await writeRawNpz(f('npy-version-9.npz'), m);
  }
  {
    const m = npyMembers(base);
    m.xcoords = withHeader(m.xcoords, (d) => d.replace(`(${n},)`, `(-${n},)`));
    await writeRawNpz(f('npy-negative-shape.npz'), m);
  }
  {
    const m = npyMembers(base);
    m.diffraction = withHeader(m.diffraction, (d) => d.replace(`(${n}, ${N}, ${N})`, '(1048576, 1048576, 64)'));
    await writeRawNpz(f('npy-huge-shape.npz'), m);
  }

  // accepted layouts
  {
    const m = npyMembers(base);
    m.diffraction = bigEndian(m.diffraction, 4);
    m.probeGuess = bigEndian(m.probeGuess, 4);
    m.objectGuess = bigEndian(m.objectGuess, 4);
    m.xcoords = bigEndian(m.xcoords, 8);
    m.ycoords = bigEndian(m.ycoords, 8);
    await writeRawNpz(f('big-endian.npz'), m);
  }
  {
    const m = npyMembers(base);
    m.diffraction = fortranNpy(base.diffraction);
    m.probeGuess = fortranNpy(base.probeGuess);
    m.objectGuess = fortranNpy(base.objectGuess);
    await writeRawNpz(f('fortran-order.npz'), m, true);
  }
  {
    const m = npyMembers(base);
    m.diffraction = bigEndian(fortranNpy(base.diffraction), 4);
    await writeRawNpz(f('big-endian-fortran.npz'), m);
  }
  await npz('legacy-layout.npz', variant((a) => {
    const d = a.diffraction.data as Float32Array;
    const t = new Float32Array(d.length);
    for (let k = 0; k < n; k++) for (let p = 0; p < N * N; p++) t[p * n + k] = d[k * N * N + p];
    a.diffraction = f32([N, N, n], t);
  }));

  mkdirSync(f('a-folder.npz'));

  // ---- bundles ----
  const members = await readMembers(model);
  const manifestText = Buffer.from(members.get('manifest.json')!).toString('utf8');
  // biome-ignore lint/suspicious/noExplicitAny: manifests are edited into every malformed shape here
  const manifest = (): Record<string, any> => JSON.parse(manifestText);
  const weights = members.get('weights.safetensors')!;
  const probe = members.get('probe.npy')!;
  const bundle = async (name: string, entries: [string, Uint8Array][]) =>
    writeZip(f(`bundle-${name}.ptpinn`), entries.map(([member, bytes]) => ({ name: member, parts: [bytes], compress: member === 'manifest.json' })));
  const json = (m: unknown) => Buffer.from(JSON.stringify(m, null, 2));
  /** A bundle with new weights and/or probe, the manifest's SHA-256s and sizes updated to match. */
  const consistent = async (name: string, w: Uint8Array, p: Uint8Array = probe) => {
    const m = manifest();
    m.entries['weights.safetensors'] = { sha256: sha256(w), size: w.length };
    m.entries['probe.npy'] = { sha256: sha256(p), size: p.length };
    await bundle(name, [['manifest.json', json(m)], ['weights.safetensors', w], ['probe.npy', p]]);
  };
  // biome-ignore lint/suspicious/noExplicitAny: as above
  const edited = async (name: string, edit: (m: Record<string, any>) => void) => {
    const m = manifest();
    edit(m);
    await bundle(name, [['manifest.json', json(m)], ['weights.safetensors', weights], ['probe.npy', probe]]);
  };

  await bundle('no-manifest', [['weights.safetensors', weights], ['probe.npy', probe]]);
  await bundle('manifest-not-json', [['manifest.json', Buffer.from(manifestText.slice(0, manifestText.length >> 1))], ['weights.safetensors', weights], ['probe.npy', probe]]);
  await bundle('manifest-array', [['manifest.json', Buffer.from('[1, 2, 3]')], ['weights.safetensors', weights], ['probe.npy', probe]]);
  await edited('manifest-no-entries', (m) => { delete m.entries; });
  await edited('manifest-no-config', (m) => { delete m.config; });
  await edited('manifest-gridsize-x', (m) => { m.config.model.gridsize = 'x'; });
  await edited('manifest-epochloss-string', (m) => { m.history.epochLoss = '7484.1'; });
  await edited('manifest-intensityscale-string', (m) => { m.intensityScale = String(m.intensityScale); });
  await edited('manifest-format', (m) => { m.format = 'something-else'; });
  await edited('newer-format', (m) => { m.formatVersion = 2; m.package.version = '9.9.9'; });
  {
    await bundle('dotdot-entry', [['manifest.json', Buffer.from(manifestText)], ['weights.safetensors', weights], ['probe.npy', probe], ['zz/x', Buffer.from('outside')]]);
    // yazl refuses '..' (rightly): rename the member in its local header and the central directory
    const path = f('bundle-dotdot-entry.ptpinn');
    const b = readFileSync(path);
    const e = entryOf(b, 'zz/x');
    b.write('../x', e.at + 46, 'utf8');
    b.write('../x', e.localOffset + 30, 'utf8');
    writeFileSync(path, b);
  }
  await bundle('duplicate-entry', [['manifest.json', Buffer.from(manifestText)], ['weights.safetensors', weights], ['weights.safetensors', weights], ['probe.npy', probe]]);
  await bundle('unlisted-entry', [['manifest.json', Buffer.from(manifestText)], ['weights.safetensors', weights], ['probe.npy', probe], ['extra.bin', Buffer.from('extra')]]);
  await bundle('missing-probe', [['manifest.json', Buffer.from(manifestText)], ['weights.safetensors', weights]]);
  {
    const w = Buffer.from(weights);
    w[w.length - 3] ^= 0x10;
    await bundle('sha-mismatch', [['manifest.json', Buffer.from(manifestText)], ['weights.safetensors', w], ['probe.npy', probe]]);
  }
  {
    const whole = readFileSync(model);
    writeFileSync(f('bundle-truncated.ptpinn'), whole.subarray(0, whole.length >> 1));
  }
  const decoded = decodeSafetensors(weights, 'weights');
  const tensors = (): NamedTensor[] => decoded.tensors.map((t) => ({ name: t.name, shape: [...t.shape], data: t.data.slice() }));
  const encode = (ts: NamedTensor[]) => Buffer.concat(encodeSafetensors(ts, decoded.metadata));
  await consistent('safetensors-offsets-past-end', Buffer.from(weights).subarray(0, weights.length - 64));
  {
    const w = Buffer.from(weights);
    w.writeBigUInt64LE(2n ** 40n, 0);
    await consistent('safetensors-header-length', w);
  }
  await consistent('safetensors-empty', new Uint8Array(0));
  await consistent('safetensors-no-tensors', encode([]));
  {
    const w = Buffer.from(weights);
    w[8] = '['.charCodeAt(0); // the header's opening brace
    w[9] = '#'.charCodeAt(0);
    await consistent('safetensors-bad-json', w);
  }
  {
    const ts = tensors();
    const t = ts.find((x) => x.name === 'encoder.blocks.0.conv1.weight');
    if (t?.shape.length !== 4 || t.shape[0] === t.shape[1]) throw new Error(`encoder.blocks.0.conv1.weight has shape ${t?.shape}`);
    [t.shape[0], t.shape[1]] = [t.shape[1], t.shape[0]];
    await consistent('weights-wrong-shape', encode(ts));
  }
  {
    const ts = tensors();
    const amp = ts.filter((x) => x.name.startsWith('decoder_amp')).at(-1);
    if (!amp) throw new Error('no decoder_amp tensor');
    ts.splice(ts.indexOf(amp), 1);
    await consistent('weights-missing-tensor', encode(ts));
  }
  {
    const ts = tensors();
    ts[0].data[5] = NaN;
    await consistent('nan-weights', encode(ts));
  }
  {
    const p = Buffer.from(probe);
    p.writeFloatLE(NaN, p.length - (N * N * 8));
    await consistent('nan-probe', weights, p);
  }
  await consistent('probe-wrong-shape', weights, encodeNpy(c64([32, 32], (base.probeGuess.data as Float32Array).slice(0, 2 * 32 * 32))));

  // the output folders some cases need to exist beforehand
  const unwritable = join(dir, 'out', 'output-dir-unwritable');
  mkdirSync(unwritable, { recursive: true });
  chmodSync(unwritable, 0o500);

  const cases = badCases(dir, facts);
  writeFileSync(join(dir, 'cases.json'), `${JSON.stringify(cases, null, 2)}\n`);
  return cases;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: npx tsx scripts/make-bad-inputs.ts OUTDIR');
    process.exit(2);
  }
  const cases = await makeBadInputs(dir);
  console.log(`${cases.length} cases in ${join(resolve(dir), 'cases.json')}`);
}
