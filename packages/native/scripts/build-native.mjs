// Builds the addon with cmake-js, offline: binary.napi_versions in package.json makes cmake-js take the
// Node-API headers from the node-api-headers npm package instead of downloading Node's headers.
//
// Environment: STEPWISE_CUDA=AUTO|ON|OFF (default AUTO: CUDA objects are compiled whenever nvcc is found),
// CMAKE_CUDA_ARCHITECTURES, STEPWISE_BLAS=AUTO|OFF, STEPWISE_NATIVE_TESTS=1 (also build native/tests).
//
// Every option is passed explicitly on every build and the project is re-configured each time: `cmake-js
// compile` alone skips configuring an existing build directory, so a changed option would silently keep its
// old cached value (cmake-js issue #56). Re-configuring costs a few seconds; ninja rebuilds only what changed.
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');

function choice(name, allowed, fallback) {
  const raw = process.env[name];
  const value = (raw === undefined || raw === '' ? fallback : raw).toUpperCase();
  if (!allowed.includes(value)) {
    console.error(`${name} must be one of ${allowed.join(', ')}, got '${raw}'`);
    process.exit(2);
  }
  return value;
}

const cuda = choice('STEPWISE_CUDA', ['AUTO', 'ON', 'OFF'], 'AUTO');
const blas = choice('STEPWISE_BLAS', ['AUTO', 'OFF'], 'AUTO');
const tests = ['1', 'ON', 'TRUE', 'YES'].includes((process.env.STEPWISE_NATIVE_TESTS ?? '').toUpperCase()) ? 'ON' : 'OFF';
const defs = [`--CDSTEPWISE_CUDA=${cuda}`, `--CDSTEPWISE_BLAS=${blas}`, `--CDSTEPWISE_NATIVE_TESTS=${tests}`];
if (process.env.CMAKE_CUDA_ARCHITECTURES) defs.push(`--CDCMAKE_CUDA_ARCHITECTURES=${process.env.CMAKE_CUDA_ARCHITECTURES}`);
const common = ['--log-level', 'warn', '-G', 'Ninja'];

function cmakeJs(args) {
  const r = spawnSync('npx', ['cmake-js', ...args], { cwd: pkgDir, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

console.log(`stepwise native build: STEPWISE_CUDA=${cuda} STEPWISE_BLAS=${blas} STEPWISE_NATIVE_TESTS=${tests}`);
cmakeJs(['configure', ...common, ...defs]);
cmakeJs(['build', ...common, '--parallel', String(Math.max(1, cpus().length))]);
