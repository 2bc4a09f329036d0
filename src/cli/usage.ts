/** The commands `berth help COMMAND` knows, each with its own usage. */
export const COMMAND_USAGE = {
  serve: `usage: berth [serve] [--config FILE]

Serves the registry (the default command).
  -c, --config FILE   the configuration file (else REGISTRY_CONFIGURATION_PATH; REGISTRY_* override its keys)`,
  config: `usage: berth config check [--config FILE] [--show-secrets]

Validates the configuration and prints it, as JSON that \`berth serve --config\` accepts as is.
Secrets are left out unless --show-secrets; what was left out and the values Berth derives
(storage.cache.ttl, http.workers, ...) are listed on stderr.
  -c, --config FILE   the configuration file
  --show-secrets      include passwords, keys and secrets in the printed configuration`,
  gc: `usage: berth gc [--dry-run] [--delete-untagged] [--grace DURATION] [--json] [--config FILE]

Deletes blobs (and with --delete-untagged manifests) that nothing references, while the registry serves.
  --dry-run           list what would be deleted, delete nothing
  --delete-untagged   also delete manifests no tag reaches
  --grace DURATION    spare what is younger than this (default 1h; 30m, 90s, 0s)
  --json              print the report as JSON instead of a summary
  -c, --config FILE   the configuration file`,
  check: `usage: berth check [--repair] [--verify-digests] [--json] [--config FILE]

Reports the store's inconsistencies; exit 0 when clean, 1 when findings remain.
  --repair            fix what is safe to fix
  --verify-digests    also hash every blob (reads the whole store)
  --json              print the report as JSON instead of a summary
  -c, --config FILE   the configuration file`,
  ls: `usage: berth ls [REPOSITORY] [--json] [--config FILE]
       berth ls [REPOSITORY] --registry URL [--user U --password P] [--json]

Lists repositories, or a repository's tags with digest, size and push time: from the configured
store (read only), or from a running registry.
  --registry URL      ask a running registry (its token or Basic auth, as docker does)
  -u, --user U        with -p, --password P: the registry's credentials
  --json              print JSON instead of a table
  -c, --config FILE   the configuration file (without --registry)`,
  healthcheck: `usage: berth healthcheck [--cert FILE --key FILE] [--config FILE]

Exits 0 when the configured server answers /healthz, 1 otherwise.
  --cert FILE, --key FILE   a client certificate for a listener that requires one
  -c, --config FILE         the configuration file`,
  insight: `usage: berth insight IMAGE [--json] [--registry URL] [--user U --password P] [--wait SECONDS] [--fail-on-secrets]
       berth insight REPOSITORY[:TAG|@DIGEST] --store [--config FILE] [--json] [--wait SECONDS] [--fail-on-secrets]
       berth insight --storage (--registry URL [--user U --password P] | --store [--config FILE]) [--json]

An image's report (layers, wasted bytes, secrets), or with --storage where the registry's bytes go.
Exit 0 with a report, 1 when none came, 2 on a usage error, 3 with --fail-on-secrets when it lists secrets.`,
  events: `usage: berth events list [ENDPOINT] [--json] [--config FILE]
       berth events retry ENDPOINT (SEGMENT... | --all) [--config FILE]
       berth events discard ENDPOINT (SEGMENT... | --all) [--config FILE]

Notification events an endpoint refused maxattempts times in a row are set aside in the store
(dead letters). list shows them with why; retry has the registry send them again at its next
delivery pass; discard gives them up for that endpoint for good. Works on the configured store
while the registry runs.
  --all               every segment set aside for the endpoint
  --json              print the list as JSON
  -c, --config FILE   the configuration file`,
  help: `usage: berth help [COMMAND]`,
} as const;

export type CommandName = keyof typeof COMMAND_USAGE;

export function isCommandName(name: string): name is CommandName {
  return Object.hasOwn(COMMAND_USAGE, name);
}

/** `berth help`: every command's first line. */
export const OVERVIEW = `usage: berth [serve] [--config FILE]
       berth config check [--config FILE] [--show-secrets]
       berth gc [--dry-run] [--delete-untagged] [--grace DURATION] [--json] [--config FILE]
       berth check [--repair] [--verify-digests] [--json] [--config FILE]
       berth ls [REPOSITORY] [--json] [--config FILE | --registry URL [--user U --password P]]
       berth healthcheck [--cert FILE --key FILE] [--config FILE]
       berth insight IMAGE [--json] [--registry URL] [--user U --password P] [--wait SECONDS] [--fail-on-secrets]
       berth insight REPOSITORY[:TAG|@DIGEST] --store [--config FILE] [--json] [--wait SECONDS] [--fail-on-secrets]
       berth insight --storage (--registry URL [--user U --password P] | --store [--config FILE]) [--json]
       berth events (list [ENDPOINT] [--json] | retry ENDPOINT (SEGMENT... | --all) | discard ENDPOINT (SEGMENT... | --all)) [--config FILE]
       berth help [COMMAND]
       berth --version

The config file may also be named by REGISTRY_CONFIGURATION_PATH; REGISTRY_* variables override its keys.
\`berth help COMMAND\` or \`berth COMMAND --help\` says more about one command.`;

/** The usage to print for a command line's error: the command's own, or the overview. */
export function usageOf(command: CommandName | undefined): string {
  return command === undefined ? OVERVIEW : COMMAND_USAGE[command];
}
