import { backends } from '@stepwise/native';

export const help = `usage: stepwise backends

Prints, as JSON, what this process can use: CPU threads, AVX2/FMA, the BLAS in use, and whether CUDA code
was compiled in and a device is usable (with device names, or the reason it is not).`;

export async function run(args: string[]): Promise<number> {
  if (args.length > 0) {
    console.error(`stepwise backends: unexpected argument '${args[0]}'\n\n${help}`);
    return 2;
  }
  console.log(JSON.stringify(backends(), null, 2));
  return 0;
}
