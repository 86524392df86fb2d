// Builds the addon with cmake-js, offline: binary.napi_versions in package.json makes cmake-js take the
// Node-API headers from the node-api-headers npm package instead of downloading Node's headers.
// STEPWISE_CUDA=AUTO|ON|OFF (default AUTO: CUDA objects are compiled whenever nvcc is found).
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const cuda = (process.env.STEPWISE_CUDA ?? 'AUTO').toUpperCase();
if (!['AUTO', 'ON', 'OFF'].includes(cuda)) {
  console.error(`STEPWISE_CUDA must be AUTO, ON or OFF, got '${process.env.STEPWISE_CUDA}'`);
  process.exit(2);
}
const args = ['cmake-js', 'compile', '--log-level', 'warn', '-G', 'Ninja', `--CDSTEPWISE_CUDA=${cuda}`];
if (process.env.CMAKE_CUDA_ARCHITECTURES) args.push(`--CDCMAKE_CUDA_ARCHITECTURES=${process.env.CMAKE_CUDA_ARCHITECTURES}`);
if (process.env.STEPWISE_BLAS) args.push(`--CDSTEPWISE_BLAS=${process.env.STEPWISE_BLAS}`);
if (process.env.STEPWISE_NATIVE_TESTS) args.push('--CDSTEPWISE_NATIVE_TESTS=ON');
args.push('--parallel', String(Math.max(1, cpus().length)));
const r = spawnSync('npx', args, { cwd: pkgDir, stdio: 'inherit' });
process.exit(r.status ?? 1);
