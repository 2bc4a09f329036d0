/** A configuration problem: its message is one line, fit to print as is and exit. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(message: string) {
    super(message.startsWith('config') ? message : `config: ${message}`);
  }
}
