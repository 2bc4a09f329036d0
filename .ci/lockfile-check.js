#!/usr/bin/env node
// The offline stand-in for `npm audit --omit=dev`, for when the registry does not answer audit
// requests (the one this machine reaches answers 405). It cannot know advisories, which live only
// on the registry; it checks what the lockfile itself can show about what ships in the image:
// every production package is a registry tarball pinned by a sha512 integrity (no git, file, link
// or plain-http sources that bypass it), and only the packages named below run install scripts.
//
//   node .ci/lockfile-check.js [package-lock.json]
//
// Prints one line per problem and exits 1 if there is any.
'use strict';
const { readFileSync } = require('node:fs');

// bcrypt compiles or picks its native binding at install time; anything else doing so is new code
// running as root on every machine that installs Berth, and should be looked at first.
const INSTALL_SCRIPTS_ALLOWED = new Set(['bcrypt']);

function packageName(key) {
  return key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
}

function problemsOf(lock) {
  const problems = [];
  if (!(lock.lockfileVersion >= 2)) problems.push(`lockfileVersion ${lock.lockfileVersion}: npm 7 or later writes 2 or 3, with integrity for every package`);
  let production = 0;
  for (const [key, entry] of Object.entries(lock.packages ?? {})) {
    if (key === '' || entry.dev === true) continue;
    production++;
    const name = packageName(key);
    if (entry.link === true) problems.push(`${name}: a link to ${entry.resolved}, not a registry package`);
    else if (entry.resolved !== undefined && !/^https:\/\/[^/]+\/.+\.tgz$/.test(entry.resolved)) problems.push(`${name}: resolved from ${entry.resolved}, not a registry tarball over https`);
    else if (!/^sha512-[A-Za-z0-9+/]{86}==$/.test(entry.integrity ?? '')) problems.push(`${name}: no sha512 integrity (${entry.integrity ?? 'none'})`);
    if (entry.hasInstallScript === true && !INSTALL_SCRIPTS_ALLOWED.has(name)) problems.push(`${name}: runs an install script`);
  }
  if (production === 0) problems.push('no production package in the lockfile: is this the right file?');
  return { problems, production };
}

const file = process.argv[2] ?? 'package-lock.json';
const { problems, production } = problemsOf(JSON.parse(readFileSync(file, 'utf8')));
for (const p of problems) console.log(`lockfile: ${p}`);
console.log(`lockfile: ${production} production packages checked, ${problems.length} problem(s)`);
process.exitCode = problems.length === 0 ? 0 : 1;
