#!/usr/bin/env node
// Builds the Berth image without pulling anything from a public image registry: the two base images
// the Dockerfile builds FROM (BUILD_IMAGE and BASE_IMAGE) are assembled out of this machine's own
// files and imported with `docker import`, then `docker build` runs the Dockerfile on them. Only
// `npm ci` inside the build reaches the network (the npm registry, as the host reaches it).
//
//   node scripts/build-image.mjs [--tag berth:local] [--node PATH] [--base-prefix berth-base]
//                                [--build-arg KEY=VALUE]... [--bases-only]
//   npm run build-image -- --tag registry.example.com/berth:0.1.0
//
// The node in the image is --node (default: the node running this script), so run it with the
// Node 24 Berth targets. The runtime base holds that node, the libraries `ldd` lists for it, the
// host's CA bundle and a `node` user (uid 1000), and no shell; the build base adds npm (the one
// shipped beside that node, else the one on PATH) and busybox (Debian's busybox-static) for the
// Dockerfile's RUN lines. The image is labelled with package.json's version, the git revision when
// there is one, and the build time; --build-arg overrides them or passes any other build argument.
// The docker CLI is taken from PATH and honours DOCKER_HOST. The test suites assemble their bases
// with this script (--bases-only, test/helpers/base-image.ts), so there is one way of doing it.
import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import process from 'node:process';
import console from 'node:console';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Busybox applets that npm's lifecycle scripts and the Dockerfile's RUN lines may call.
const APPLETS = ['sh', 'env', 'mkdir', 'cp', 'rm', 'ls', 'cat', 'chmod', 'chown', 'test', 'true', 'ln', 'mv', 'find', 'grep', 'sed', 'uname', 'printf', 'xargs'];
// sbin directories hold some of the tools but are not on every user's PATH.
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
const USAGE = `usage: node scripts/build-image.mjs [--tag TAG] [--node PATH] [--base-prefix PREFIX] [--build-arg KEY=VALUE]... [--bases-only]
  --tag TAG             the image's tag (default berth:local)
  --node PATH           the node binary the image runs (default: the one running this script)
  --base-prefix PREFIX  the bases are tagged PREFIX:local and PREFIX-builder:local (default berth-base)
  --build-arg K=V       passed to docker build (after the defaults, so it wins)
  --bases-only          import the two bases and stop; prints their tags as JSON`;

function fail(message) {
  console.error(`build-image: ${message}`);
  process.exit(message.startsWith('usage') ? 2 : 1);
}

function parseArgs(argv) {
  const opts = { tag: 'berth:local', node: process.execPath, prefix: 'berth-base', buildArgs: [], basesOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => argv[++i] ?? fail(`usage: ${a} needs a value\n${USAGE}`);
    if (a === '--tag') opts.tag = value();
    else if (a === '--node') opts.node = value();
    else if (a === '--base-prefix') opts.prefix = value();
    else if (a === '--build-arg') opts.buildArgs.push(value());
    else if (a === '--bases-only') opts.basesOnly = true;
    else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else fail(`usage: unknown argument ${a}\n${USAGE}`);
  }
  return opts;
}

function findTool(name) {
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...EXTRA_DIRS]) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return fail(`${name} is not installed${name === 'busybox' ? ' (Debian: apt-get install busybox-static)' : ''}`);
}

/** Runs a command, its output shown as it comes unless `capture`; exits on failure. */
function run(cmd, args, { capture = false } = {}) {
  const r = spawnSync(cmd, args, { stdio: capture ? ['ignore', 'pipe', 'inherit'] : 'inherit', encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) fail(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${path.basename(cmd)} ${args.slice(0, 2).join(' ')} exited with ${r.status ?? r.signal}`);
  return r.stdout ?? '';
}

function copyInto(root, file) {
  const dest = path.join(root, file);
  mkdirSync(path.dirname(dest), { recursive: true });
  copyFileSync(realpathSync(file), dest);
}

/** The shared libraries `ldd` lists for `binary`, the dynamic loader included. */
function sharedLibraries(binary) {
  const libs = [];
  for (const line of run(findTool('ldd'), [binary], { capture: true }).split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]);
  }
  return libs;
}

function runtimeTree(root, node) {
  const nodeDest = path.join(root, 'usr/local/bin/node');
  mkdirSync(path.dirname(nodeDest), { recursive: true });
  copyFileSync(node, nodeDest);
  chmodSync(nodeDest, 0o755);
  for (const lib of sharedLibraries(node)) copyInto(root, lib);
  copyInto(root, '/etc/ssl/certs/ca-certificates.crt');
  writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/sbin/nologin\nnode:x:1000:1000:node:/home/node:/sbin/nologin\n');
  writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nnode:x:1000:\n');
  mkdirSync(path.join(root, 'tmp'));
  chmodSync(path.join(root, 'tmp'), 0o1777);
  mkdirSync(path.join(root, 'home/node'), { recursive: true });
}

/** npm's package directory: the one shipped beside `node` (a Node tarball's layout), else the one on PATH. */
function npmDirectory(node) {
  const beside = path.resolve(path.dirname(node), '../lib/node_modules/npm');
  if (existsSync(path.join(beside, 'bin/npm-cli.js'))) return beside;
  return path.resolve(path.dirname(realpathSync(findTool('npm'))), '..');
}

function builderTree(root, node) {
  runtimeTree(root, node);
  mkdirSync(path.join(root, 'bin'), { recursive: true });
  copyFileSync(realpathSync(findTool('busybox')), path.join(root, 'bin/busybox'));
  chmodSync(path.join(root, 'bin/busybox'), 0o755);
  for (const applet of APPLETS) symlinkSync('busybox', path.join(root, 'bin', applet));
  mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  symlinkSync('/bin/env', path.join(root, 'usr/bin/env'));
  cpSync(npmDirectory(node), path.join(root, 'usr/local/lib/node_modules/npm'), { recursive: true, verbatimSymlinks: true });
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(root, 'usr/local/bin/npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', path.join(root, 'usr/local/bin/npx'));
}

/** `root` as a one-layer image, owned by root whoever runs this. */
function importTree(docker, root, tag, changes) {
  const tarball = `${root}.tar`;
  run(findTool('tar'), ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tarball, '.']);
  run(docker, ['import', ...changes.flatMap((c) => ['--change', c]), tarball, tag], { capture: true });
}

/**
 * The Dockerfile's two bases. The builder trusts the host's CA bundle so that `npm ci` works behind
 * the same TLS setup as the host; it never reaches the final image.
 */
function buildBases(node, prefix) {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-base-'));
  // fail() exits without unwinding, so the trees go on exit too, not only in the finally below.
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  process.on('exit', cleanup);
  const bases = { runtime: `${prefix}:local`, builder: `${prefix}-builder:local` };
  try {
    const env = 'ENV PATH=/usr/local/bin:/usr/bin:/bin';
    runtimeTree(path.join(dir, 'runtime'), node);
    importTree(findTool('docker'), path.join(dir, 'runtime'), bases.runtime, [env]);
    builderTree(path.join(dir, 'builder'), node);
    importTree(findTool('docker'), path.join(dir, 'builder'), bases.builder, [env, 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt']);
  } finally {
    cleanup();
    process.off('exit', cleanup);
  }
  return bases;
}

/** The release labels the Dockerfile asks for (its header): version, git revision, creation time. */
function labelArgs() {
  const args = [`VERSION=${JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).version}`];
  const git = spawnSync('git', ['-C', REPO, 'rev-parse', 'HEAD'], { encoding: 'utf8' });
  if (git.status === 0) args.push(`REVISION=${git.stdout.trim()}`);
  args.push(`CREATED=${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`);
  return args;
}

/** The image's node must be one Berth supports: package.json's engines (">=24"), checked before any work. */
function checkNodeVersion(node) {
  const wanted = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).engines?.node ?? '';
  const min = Number(/^>=\s*(\d+)/.exec(wanted)?.[1] ?? 0);
  const version = run(node, ['--version'], { capture: true }).trim();
  if (Number(/^v(\d+)/.exec(version)?.[1] ?? 0) < min) fail(`${node} is ${version}; Berth needs node ${wanted} (package.json engines): run this with that node or pass --node`);
  return version;
}

const opts = parseArgs(process.argv.slice(2));
const node = realpathSync(opts.node);
const nodeVersion = checkNodeVersion(node);
// Read first: the revision is the checkout's when the build starts.
const labels = labelArgs();
const bases = buildBases(node, opts.prefix);
if (opts.basesOnly) {
  console.log(JSON.stringify(bases));
} else {
  const buildArgs = [`BUILD_IMAGE=${bases.builder}`, `BASE_IMAGE=${bases.runtime}`, ...labels, ...opts.buildArgs];
  // --network host: npm ci in the build stages reaches the package registry the way the host does.
  run(findTool('docker'), ['build', '--network', 'host', ...buildArgs.flatMap((a) => ['--build-arg', a]), '-t', opts.tag, REPO]);
  console.log(`build-image: built ${opts.tag} (node ${nodeVersion}) on ${bases.builder} and ${bases.runtime}`);
}
