// The chaos containers' image, built locally (no registry is reachable): a rootfs holding
// only the host's node binary and the shared libraries `ldd` lists, imported with
// `docker import`. The checkout (sources and node_modules) is bind-mounted read-only at run
// time, so the image depends on node alone and is tagged by a hash of what goes in; a
// second run finds it and builds nothing.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { docker, run } from './docker-cli.js';

export const IMAGE_REPOSITORY = 'flotilla-chaos-node';

/** Files that go into the image: node and its libraries, each with its path in the image. */
async function imageFiles(): Promise<string[]> {
  const node = realpathSync(process.execPath);
  const ldd = await run('ldd', [node]);
  const libraries = [...ldd.matchAll(/(\/\S+)\s+\(0x/g)].map((match) => match[1] ?? '');
  const files = [node, ...libraries.filter((path) => path.length > 0)];
  if (files.length < 2) throw new Error(`ldd ${node} listed no libraries: ${ldd}`);
  return files;
}

/** Returns the image tag, building the image first if this docker engine lacks it. */
export async function ensureImage(log: (line: string) => void): Promise<string> {
  const files = await imageFiles();
  const hash = createHash('sha256');
  for (const file of files) hash.update(file).update(readFileSync(file));
  const tag = `${IMAGE_REPOSITORY}:${hash.digest('hex').slice(0, 16)}`;
  try {
    await docker(['image', 'inspect', tag]);
    return tag;
  } catch {
    // Not built yet.
  }
  const startedMs = performance.now();
  const root = mkdtempSync(join(tmpdir(), 'flotilla-chaos-rootfs-'));
  try {
    for (const file of files) {
      // node sits at /usr/bin/node in the image whatever its real path on the host.
      const target = join(root, file === files[0] ? '/usr/bin/node' : file);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(file, target);
    }
    for (const dir of ['tmp', 'data', 'app', 'etc']) mkdirSync(join(root, dir), { recursive: true });
    const tarball = join(tmpdir(), `${tag.replace(/[:/]/g, '-')}.tar`);
    await run('tar', ['-C', root, '-cf', tarball, '.']);
    await docker(['import', '--change', 'ENTRYPOINT ["/usr/bin/node"]', tarball, tag]);
    rmSync(tarball, { force: true });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  log(`built image ${tag} in ${Math.round(performance.now() - startedMs)} ms`);
  return tag;
}
