// The CUDA provider check names exactly what is missing or broken (EP files, CUDA 12 / cuDNN 9
// libraries, where it searched) and `auto` falls back with that reason, which the run record keeps.
// No CUDA here: fake library folders (empty files named like the libraries, missing ones, files of
// the wrong size against the install record).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CUDA_EP_FILES,
  CUDA_INSTALL_RECORD,
  CUDA_SYSTEM_LIBRARIES,
  checkCudaLibraries,
  cudaLibrariesReason,
  type CudaSearch,
} from '../../../../src/native/runtime/cuda-libraries';
import { ExecutionProviderUnavailableError, resolveExecutionProvider } from '../../../../src/native/runtime/providers';
import { deviceRecord } from '../../../../src/native/runtime/device-record';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

afterAll(removeTmpDirs);

/** A file that passes for a shared library: the ELF magic and some bytes. */
function fakeElf(file: string, size = 4096): void {
  const b = Buffer.alloc(size);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(b);
  fs.writeFileSync(file, b);
}

/** An EP folder and a CUDA lib folder with every file in place. */
function complete(): CudaSearch {
  const epDir = tmpDir('cleft-ep-');
  const lib = tmpDir('cleft-cuda-lib-');
  for (const f of CUDA_EP_FILES) fakeElf(path.join(epDir, f));
  for (const f of CUDA_SYSTEM_LIBRARIES) fakeElf(path.join(lib, f));
  return { epDir, dirs: [lib], ldCache: new Map() };
}

describe('checkCudaLibraries', () => {
  it('finds nothing wrong when every file is there', () => {
    const s = complete();
    expect(checkCudaLibraries(s).problems).toEqual([]);
    expect(cudaLibrariesReason(s)).toBeUndefined();
  });

  it('names each missing CUDA library and the folders searched', () => {
    const s = complete();
    fs.rmSync(path.join(s.dirs[0]!, 'libcudnn.so.9'));
    fs.rmSync(path.join(s.dirs[0]!, 'libcublasLt.so.12'));
    const why = cudaLibrariesReason(s)!;
    expect(why).toContain('libcublasLt.so.12 not found');
    expect(why).toContain('libcudnn.so.9 not found');
    expect(why).not.toContain('libcudart.so.12');
    expect(why).toContain(`searched ${s.dirs[0]}`);
    expect(why).toMatch(/install CUDA 12 and cuDNN 9 or add their lib folder to LD_LIBRARY_PATH/);
  });

  it('finds a library through the ldconfig cache', () => {
    const s = complete();
    const elsewhere = tmpDir('cleft-ld-');
    fs.renameSync(path.join(s.dirs[0]!, 'libcudnn.so.9'), path.join(elsewhere, 'libcudnn.so.9'));
    expect(cudaLibrariesReason(s)).toContain('libcudnn.so.9 not found');
    s.ldCache.set('libcudnn.so.9', path.join(elsewhere, 'libcudnn.so.9'));
    expect(cudaLibrariesReason(s)).toBeUndefined();
  });

  it('refuses empty files and files that are not ELF libraries, naming them', () => {
    const s = complete();
    fs.writeFileSync(path.join(s.dirs[0]!, 'libcudart.so.12'), '');
    fs.writeFileSync(path.join(s.epDir, 'libonnxruntime_providers_cuda.so'), '<html>404</html>');
    const r = checkCudaLibraries(s);
    expect(r.problems).toEqual([
      {
        file: 'libonnxruntime_providers_cuda.so',
        problem: `${path.join(s.epDir, 'libonnxruntime_providers_cuda.so')} is not an ELF shared library (16 bytes)`,
      },
      { file: 'libcudart.so.12', problem: `${path.join(s.dirs[0]!, 'libcudart.so.12')} is empty (0 bytes), not a shared library` },
    ]);
    expect(cudaLibrariesReason(s)).toMatch(/^CUDA EP files: .* \(run `npm run gpu:install`\); CUDA 12 \/ cuDNN 9 libraries: /);
  });

  it('names a missing EP file and one of the wrong size against the install record', () => {
    const s = complete();
    fs.rmSync(path.join(s.epDir, 'libonnxruntime_providers_shared.so'));
    fs.writeFileSync(
      path.join(s.epDir, CUDA_INSTALL_RECORD),
      JSON.stringify({ files: { 'libonnxruntime_providers_cuda.so': { size: 9000, sha256: 'x' } } }),
    );
    const r = checkCudaLibraries(s);
    expect(r.problems.map((p) => p.problem)).toEqual([
      `libonnxruntime_providers_shared.so missing in ${s.epDir}`,
      `${path.join(s.epDir, 'libonnxruntime_providers_cuda.so')} is 4096 bytes, the install recorded 9000 (damaged: run \`npm run gpu:install\` again)`,
    ]);
  });
});

describe('the CUDA probe with fake folders', () => {
  it('auto falls back with the precise reason, and the run record keeps it', async () => {
    const s = complete();
    fs.rmSync(path.join(s.dirs[0]!, 'libcudnn.so.9'));
    const p = await resolveExecutionProvider('auto', { search: s });
    expect(p.name).not.toBe('cuda');
    const record = deviceRecord(p, { forward: { provider: p.name, allNodesOnProvider: true } });
    expect(record.reason).toMatch(/^auto: CUDA unavailable: CUDA 12 \/ cuDNN 9 libraries: libcudnn\.so\.9 not found \(searched /);
  });

  it('an explicit cuda:0 fails naming the broken file', async () => {
    const s = complete();
    fs.writeFileSync(path.join(s.dirs[0]!, 'libcublas.so.12'), '');
    const err = await resolveExecutionProvider('cuda:0', { search: s }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecutionProviderUnavailableError);
    expect((err as Error).message).toContain(`${path.join(s.dirs[0]!, 'libcublas.so.12')} is empty (0 bytes), not a shared library`);
  });
});
